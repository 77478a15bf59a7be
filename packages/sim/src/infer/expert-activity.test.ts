import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { getPreset } from '@moge/model';
import { expertActivity } from './expert-activity';

describe('expertActivity', () => {
  const pro = getPreset('pangu-pro-moe');

  it('touches exactly one expert per device for one MoGE token with one group per device', () => {
    const a = expertActivity(pro, { kind: 'balanced' }, 8, 1, 1);
    expect(a.activeExperts).toBeCloseTo(1, 10);
    expect(a.loadFactor).toBe(1);
  });

  it('touches every local expert once the batch is large', () => {
    expect(expertActivity(pro, { kind: 'balanced' }, 4, 1, 4096).activeExperts).toBeCloseTo(16, 6);
  });

  it('stays within [0, E/ep] and grows with the tokens (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom(1, 2, 4, 8), fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 1, max: 500 }), fc.double({ min: 0, max: 1.5, noNaN: true }), (ep, tokens, extra, exponent) => {
        const routing = { kind: 'zipf' as const, exponent };
        const a = expertActivity(pro, routing, ep, 1, tokens).activeExperts;
        const b = expertActivity(pro, routing, ep, 1, tokens + extra).activeExperts;
        expect(a).toBeGreaterThanOrEqual(0);
        expect(b).toBeLessThanOrEqual(64 / ep + 1e-9);
        expect(b).toBeGreaterThanOrEqual(a - 1e-9);
      }),
      { numRuns: 60 },
    );
  });

  it('touches fewer distinct experts when popularity is skewed (hot experts absorb the picks)', () => {
    const topk = { ...pro, router: 'topk' as const, numExpertGroups: 1 };
    const uniform = expertActivity(topk, { kind: 'balanced' }, 1, 1, 16).activeExperts;
    const skewed = expertActivity(topk, { kind: 'zipf', exponent: 1.2 }, 1, 1, 16).activeExperts;
    expect(skewed).toBeLessThan(uniform);
  });

  it('uses measured routing statistics when given', () => {
    const counts = new Array<number>(64).fill(0);
    for (let i = 0; i < 8; i++) counts[i * 8] = 100; // only 8 experts ever chosen
    const stats = { router: 'moge' as const, numExperts: 64, topK: 8, numDevices: 8, tokens: 100, layers: [{ expertCounts: counts }] };
    expect(expertActivity(pro, { kind: 'trace', stats }, 1, 1, 1000).activeExperts).toBeCloseTo(8, 6);
    // A trace of another model is named by its path, as bad input (not an internal error).
    const other = { ...stats, numExperts: 32, layers: [stats.layers[0]!, { expertCounts: counts.slice(0, 32) }] };
    expect(() => expertActivity(pro, { kind: 'trace', stats: other }, 1, 1, 1000)).toThrow(/routing\.stats\.layers\.1\.expertCounts: got "32 counts", expected one count per expert of the architecture, 64/);
  });

  it('names an empty trace by its workload field, not the load matrix inside ep-planner', () => {
    const stats = { router: 'moge' as const, numExperts: 64, topK: 8, numDevices: 8, tokens: 0, layers: [] };
    expect(() => expertActivity(pro, { kind: 'trace', stats }, 2, 1, 1000)).toThrow(/routing\.stats\.layers: got \[\], expected at least one layer of expert counts/);
  });
});
