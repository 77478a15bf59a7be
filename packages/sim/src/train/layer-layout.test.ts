import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { balancedLayerSlots, chunkBalancedSplit, stageLoads, type BalancedLayoutInput } from './layer-layout';

/** The busiest stage of Megatron's even split (same number of layers per chunk, remainder at the end). */
function uniformMax(input: BalancedLayoutInput): number {
  const n = input.layerCostS.length;
  const chunks = input.pp * input.vpp;
  const perChunk = Math.ceil(n / chunks);
  const slots = input.layerCostS.map((_, layer) => {
    const v = Math.floor(layer / perChunk);
    return { layer, stage: v % input.pp, chunk: Math.floor(v / input.pp) };
  });
  return stageLoads(slots, input).max;
}

const layoutInput = fc
  .record({
    pp: fc.integer({ min: 1, max: 8 }),
    vpp: fc.integer({ min: 1, max: 4 }),
    layers: fc.array(fc.double({ min: 0.5, max: 2, noNaN: true }), { minLength: 1, maxLength: 64 }),
    first: fc.double({ min: 0, max: 3, noNaN: true }),
    last: fc.double({ min: 0, max: 6, noNaN: true }),
  })
  .map(({ pp, vpp, layers, first, last }) => {
    const extraCostS = new Array<number>(pp * vpp).fill(0);
    extraCostS[0]! += first;
    extraCostS[pp * vpp - 1]! += last;
    return { pp, vpp, layerCostS: layers, extraCostS };
  });

describe('balancedLayerSlots', () => {
  it('places every layer once, in pipeline order, and never does worse than the even split (property)', () => {
    fc.assert(
      fc.property(layoutInput, (input) => {
        const slots = balancedLayerSlots(input);
        expect(slots.map((s) => s.layer)).toEqual(input.layerCostS.map((_, i) => i));
        const virtual = slots.map((s) => s.chunk * input.pp + s.stage);
        for (let i = 1; i < virtual.length; i++) expect(virtual[i]!).toBeGreaterThanOrEqual(virtual[i - 1]!);
        for (const s of slots) {
          expect(s.stage).toBeLessThan(input.pp);
          expect(s.chunk).toBeLessThan(input.vpp);
        }
        const { max } = stageLoads(slots, input);
        const total = input.layerCostS.reduce((a, b) => a + b, 0) + input.extraCostS.reduce((a, b) => a + b, 0);
        expect(max).toBeGreaterThanOrEqual(total / input.pp - 1e-9);
        if (input.layerCostS.length % (input.pp * input.vpp) === 0) expect(max).toBeLessThanOrEqual(uniformMax(input) * (1 + 1e-6));
      }),
      { numRuns: 200 },
    );
  });

  it('moves layers off the stage that carries the head and MTP (Pangu Ultra: 61 layers on pp16 × vpp2)', () => {
    const extraCostS = new Array<number>(32).fill(0);
    extraCostS[31] = 4; // output head + one MTP module ≈ 4 layers of work
    const input = { pp: 16, vpp: 2, layerCostS: new Array<number>(61).fill(1), extraCostS };
    const slots = balancedLayerSlots(input);
    const onLast = slots.filter((s) => s.stage === 15).length;
    expect(onLast).toBeLessThanOrEqual(1);
    expect(stageLoads(slots, input).max).toBeLessThanOrEqual(5 + 1e-9);
  });

  it('names a cost that is not a finite number ≥ 0 (a NaN made it double its budget forever)', () => {
    const input = { pp: 2, vpp: 1, layerCostS: [1, Number.NaN, 1, 1], extraCostS: [0, 0] };
    expect(() => balancedLayerSlots(input)).toThrow(/layer layout:\n {2}- layerCostS\.1: got NaN, expected a finite cost ≥ 0/);
    expect(() => balancedLayerSlots({ ...input, layerCostS: [1, 1, 1, 1], extraCostS: [0, Infinity] })).toThrow(/extraCostS\.1: got Infinity/);
    expect(() => chunkBalancedSplit([1, -1, 1], 2)).toThrow(/costs\.1: got -1/);
  });
});

/** The smallest possible largest part of a contiguous split of `costs` into at most `parts` parts (dynamic programme). */
function optimalMinMax(costs: number[], parts: number): number {
  const n = costs.length;
  const prefix = [0];
  for (const c of costs) prefix.push(prefix.at(-1)! + c);
  // best[k][i]: the first i units in k parts.
  let best = prefix.map((p) => p);
  for (let k = 2; k <= parts; k++) {
    const next = best.slice();
    for (let i = 1; i <= n; i++) {
      for (let j = 0; j < i; j++) next[i] = Math.min(next[i]!, Math.max(best[j]!, prefix[i]! - prefix[j]!));
    }
    best = next;
  }
  return best[n]!;
}

describe('chunkBalancedSplit', () => {
  it('splits units contiguously, ends on the last part and reaches the optimal largest part (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0.1, max: 5, noNaN: true }), { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 12 }), (costs, parts) => {
        const part = chunkBalancedSplit(costs, parts);
        expect(part).toHaveLength(costs.length);
        for (let i = 1; i < part.length; i++) expect(part[i]!).toBeGreaterThanOrEqual(part[i - 1]!);
        for (const p of part) expect(p).toBeGreaterThanOrEqual(0);
        expect(part.at(-1)).toBe(parts - 1);
        const loads = new Array<number>(parts).fill(0);
        costs.forEach((c, i) => (loads[part[i]!]! += c));
        expect(Math.max(...loads)).toBeLessThanOrEqual(optimalMinMax(costs, parts) * (1 + 1e-6));
      }),
      { numRuns: 200 },
    );
  });

  it('gives Pangu Ultra on 32 virtual stages the layout Megatron-core\'s DeepSeek-V3 recipe writes by hand: two layers a stage, the MTP module beside the last layer, the loss alone', () => {
    // 61 layers of work 1 (the first with a light embedding), one MTP module (~1 layer), the loss (two heads, ~2 layers).
    const units = [...new Array<number>(61).fill(1), 1.1, 2.1];
    units[0]! += 0.05;
    const part = Array.from(chunkBalancedSplit(units, 32));
    expect(part.at(-1)).toBe(31);
    expect(part.at(-2)).toBe(30); // the MTP module
    expect(part[60]).toBe(30); // shares its stage with the last layer
    for (let v = 0; v < 30; v++) expect(part.slice(0, 61).filter((p) => p === v)).toHaveLength(2);
  });
});
