import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { inFlightProfiles } from './schedule';

const peakTotal = (profiles: number[][]) => Math.max(...profiles.map((p) => p.reduce((a, b) => a + b, 0)));

describe('micro-batches in flight', () => {
  it('1F1B: stage i holds min(pp − i, M) micro-batches', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 32 }), fc.integer({ min: 1, max: 64 }), (pp, m) => {
        for (let i = 0; i < pp; i++) if (inFlightProfiles(pp, 1, m, i)[0]![0] !== Math.min(pp - i, m)) return false;
        return true;
      }),
    );
  });

  it("interleaved: stage 0 holds pp·(1 + (pp − 1)/(pp·vpp)) stage-micro-batches (Megatron-LM's penalty)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 16 }), fc.integer({ min: 2, max: 6 }), fc.integer({ min: 2, max: 6 }), (pp, vpp, groups) => {
        const m = pp * groups; // Megatron's interleaved schedule runs micro-batches in groups of pp
        const chunkMicroBatches = peakTotal(inFlightProfiles(pp, vpp, m, 0));
        // chunk-micro-batches / vpp = whole-stage micro-batches
        expect(chunkMicroBatches / vpp).toBeCloseTo(pp * (1 + (pp - 1) / (pp * vpp)), 12);
      }),
    );
  });

  it('interleaved: every stage peaks at its warm-up + 1 chunk-micro-batches, never more than M per chunk', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 12 }), fc.integer({ min: 2, max: 5 }), fc.integer({ min: 1, max: 8 }), (pp, vpp, groups) => {
        const m = pp * groups;
        for (let i = 0; i < pp; i++) {
          const profiles = inFlightProfiles(pp, vpp, m, i);
          if (peakTotal(profiles) !== Math.min(m * vpp, (pp - i - 1) * 2 + (vpp - 1) * pp + 1)) return false;
          if (profiles.flat().some((n) => n < 0 || n > m)) return false;
        }
        return true;
      }),
      { numRuns: 60 },
    );
  });

  it('refuses inputs no schedule has, naming the field, rather than counting impossible micro-batches', () => {
    // One micro-batch over pp 4 × vpp 2 used to give chunk 0 two micro-batches in flight.
    expect(() => inFlightProfiles(4, 2, 1, 0)).toThrow(/numMicroBatches: got 1, expected a multiple of pp \(4\)/);
    expect(() => inFlightProfiles(4, 2, 6, 0)).toThrow(/numMicroBatches: got 6/);
    expect(() => inFlightProfiles(4, 1, 6, 4)).toThrow(/stage: got 4/);
    expect(() => inFlightProfiles(4, 1, 6, -1)).toThrow(/stage: got -1/);
    expect(() => inFlightProfiles(0, 1, 6, 0)).toThrow(/pp: got 0/);
    expect(() => inFlightProfiles(2, 1.5, 6, 0)).toThrow(/vpp: got 1.5/);
    expect(() => inFlightProfiles(2, 1, 0, 0)).toThrow(/numMicroBatches: got 0/);
    expect(inFlightProfiles(4, 1, 6, 0)).toEqual([[4]]); // 1F1B takes any count
  });

  it('interleaved: the first chunk holds more micro-batches than the others at stage 0', () => {
    // pp = 4, vpp = 2: warm-up 2·3 + 4 = 10 forwards, chunk 0 gets 4 + 3 of them plus the steady-state one.
    expect(inFlightProfiles(4, 2, 8, 0)).toContainEqual([7, 4]);
  });
});
