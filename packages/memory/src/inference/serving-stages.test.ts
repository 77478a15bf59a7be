import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GiB, ValidationError, type MoeArch } from '@moge/core';
import { estimateInferenceMemory, layerSlots, servingStages, vllmLayerPartition } from '../index';
import { stageParams, stageParamsOf } from '../training/static-memory';
import { archAndPlan } from '../training/test-arbitraries';
import { arch, PANGU_PRO_MOE, PANGU_ULTRA_MOE, plan } from '../training/test-archs';

const pro = arch(PANGU_PRO_MOE);
const ultra = arch(PANGU_ULTRA_MOE);
const node = { hbmBytes: 64 * GiB, contextLength: 2048, quantization: 'w8a8' } as const;

/** Megatron-LM's real layers per stage (layerSlots), the split training uses. */
const megatronLayers = (a: MoeArch, p: ReturnType<typeof plan>) => {
  const perStage = Array.from({ length: p.pp }, () => [] as number[]);
  for (const s of layerSlots(a, p)) if (s.layer < a.numLayers) perStage[s.stage]!.push(s.layer);
  return perStage;
};

describe("vLLM's layer split (get_pp_indices)", () => {
  it('gives 48 layers on pp 5 as 9, 10, 10, 10, 9: the 3 extra layers on the stages back from the second-to-last', () => {
    // vLLM: 48 // 5 = 9 each, remainder 3 → partitions[-2], [-3], [-4] += 1.
    expect(vllmLayerPartition(48, 5)).toEqual([9, 10, 10, 10, 9]);
    expect(vllmLayerPartition(61, 4)).toEqual([15, 15, 16, 15]); // one extra: the second-to-last
    expect(vllmLayerPartition(7, 4)).toEqual([2, 2, 2, 1]);
  });

  it('conserves the layers, differs by at most one between stages, and gives the last stage no more than any other (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 64 }), (layers, ppWant) => {
        const pp = Math.min(ppWant, layers);
        const split = vllmLayerPartition(layers, pp);
        expect(split).toHaveLength(pp);
        expect(split.reduce((a, n) => a + n, 0)).toBe(layers);
        expect(Math.max(...split) - Math.min(...split)).toBeLessThanOrEqual(1);
        expect(Math.min(...split)).toBeGreaterThan(0);
        for (const n of split) expect(split.at(-1)!).toBeLessThanOrEqual(n);
        if (layers % pp !== 0) expect(split.at(-1)!).toBeLessThan(Math.max(...split));
      }),
      { numRuns: 500, seed: 48 },
    );
  });

  it("equals Megatron-LM's split whenever pp divides the layers (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 12 }), (pp, perStage) => {
        const a = arch({ ...PANGU_PRO_MOE, numLayers: pp * perStage });
        const p = plan({ pp, tp: 8, ep: 8, globalBatchSize: 1 });
        expect(servingStages(a, p).map((s) => s.layers)).toEqual(megatronLayers(a, p));
        expect(vllmLayerPartition(a.numLayers, pp)).toEqual(megatronLayers(a, p).map((l) => l.length));
      }),
      { numRuns: 200, seed: 11 },
    );
  });
});

describe('servingStages', () => {
  it('splits Pangu Ultra 61 layers on pp 4 as vLLM does, dense layers first, head and MTP last', () => {
    const st = servingStages(ultra, plan({ tp: 8, pp: 4, ep: 8, globalBatchSize: 1 }));
    expect(st.map((s) => [s.layers[0], s.denseLayers, s.moeLayers, s.noopLayers, s.embedding, s.head, s.mtp])).toEqual([
      [0, 3, 12, 0, true, false, false],
      [15, 0, 15, 0, false, false, false],
      [30, 0, 16, 0, false, false, false],
      [46, 0, 15, 0, false, true, true],
    ]);
    // No MTP module, none on the last stage.
    expect(servingStages(pro, plan({ pp: 2, globalBatchSize: 1 })).map((s) => s.mtp)).toEqual([false, false]);
  });

  it('takes an explicit partition (VLLM_PP_LAYER_PARTITION) as given', () => {
    const a = arch({ ...PANGU_PRO_MOE, numLayers: 48 });
    const st = servingStages(a, plan({ pp: 4, globalBatchSize: 1 }), { ppLayerPartition: [12, 12, 11, 13] });
    expect(st.map((s) => [s.layers[0], s.layers.length])).toEqual([
      [0, 12],
      [12, 12],
      [24, 11],
      [35, 13],
    ]);
  });

  it("keeps Megatron's layout when the plan pads with no-op layers (their slots run nothing)", () => {
    const p = plan({ tp: 8, pp: 4, ep: 8, noopLayers: 3, globalBatchSize: 1 });
    const st = servingStages(ultra, p);
    expect(st.map((s) => [s.denseLayers + s.moeLayers, s.noopLayers])).toEqual([
      [16, 0],
      [16, 0],
      [16, 0],
      [13, 3],
    ]);
    expect(st.map((s) => s.layers)).toEqual(megatronLayers(ultra, p));
  });

  it('refuses a partition that does not fit the plan, naming the field and the fix', () => {
    const p4 = plan({ pp: 4, globalBatchSize: 1 });
    const run = (partition: number[], p = p4) => () => servingStages(pro, p, { ppLayerPartition: partition }, 'options.ppLayerPartition');
    expect(run([24, 24])).toThrow(/options\.ppLayerPartition: got \[24,24\], expected plan\.pp \(4\) entries, one per stage, e\.g\. \[12, 12, 12, 12\]/);
    expect(run([12, 12, 12, 11])).toThrow(/options\.ppLayerPartition: got .*, expected entries summing to numLayers \(48\), not 47; e\.g\. \[12, 12, 12, 12\]/);
    expect(run([16, 16, 16, 0])).toThrow(/options\.ppLayerPartition\.3: got 0, expected a positive whole number of layers/);
    expect(run([12, 12, 12, 12], plan({ pp: 4, noopLayers: 4, globalBatchSize: 1 }))).toThrow(/no partition with plan\.noopLayers 4 .*give one of the two/);
    expect(run([12, 12, 12, 12], p4)).not.toThrow();
    expect(() => servingStages(arch({ ...PANGU_PRO_MOE, numLayers: 3 }), p4)).toThrow(/plan\.pp: got 4, expected at most numLayers \(3\)/);
  });

  it("holds, for every plan memory's training property tests draw (noop padding or even splits), training's layers and weights bit for bit", () => {
    fc.assert(
      fc.property(archAndPlan(12), fc.boolean(), ({ arch: a, plan: p }, mtp) => {
        const served = mtp ? a : { ...a, mtpDepth: 0 };
        const st = servingStages(served, p);
        expect(st.map((s) => s.layers)).toEqual(megatronLayers(a, p));
        expect(stageParamsOf(served, p, st)).toEqual(stageParams(served, p));
      }),
      { numRuns: 300, seed: 7 },
    );
  });
});

describe("memory's serving estimate follows the serving split", () => {
  const one = plan({ tp: 8, ep: 8, globalBatchSize: 1 });
  const idle = (a: MoeArch, p: ReturnType<typeof plan>, ppLayerPartition?: number[]) => estimateInferenceMemory(a, p, { ...node, batch: 0, ppLayerPartition });
  // Pangu Pro's layers are all alike: one layer's weights and KV on a device, and the embedding + final norm + head.
  const oneLayer = idle(arch({ ...PANGU_PRO_MOE, numLayers: 1 }), one);
  const layerWeights = idle(arch({ ...PANGU_PRO_MOE, numLayers: 2 }), one).weightsBytes - oneLayer.weightsBytes;
  const tables = oneLayer.weightsBytes - layerWeights;

  it('serves Pangu Pro on pp 5 (48 layers, no padding): KV and weights per stage follow 9, 10, 10, 10, 9', () => {
    const e = idle(pro, plan({ tp: 8, pp: 5, ep: 8, globalBatchSize: 1 }));
    expect(e.stages.map((s) => s.kvBytesPerTokenPerDevice / oneLayer.kvBytesPerTokenPerDevice)).toEqual([9, 10, 10, 10, 9]);
    expect(e.stages.slice(1, 4).map((s) => s.weightsBytes)).toEqual([10, 10, 10].map((n) => n * layerWeights));
    expect(e.stages[0]!.weightsBytes + e.stages[4]!.weightsBytes).toBeCloseTo(18 * layerWeights + tables, 0);
  });

  it("per-stage weights and KV follow any explicit partition: a stage's layers times one layer's, plus the tables at the ends (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 6 }), (partition) => {
        const pp = partition.length;
        const a = arch({ ...PANGU_PRO_MOE, numLayers: partition.reduce((x, n) => x + n, 0) });
        const e = idle(a, plan({ tp: 8, pp, ep: 8, globalBatchSize: 1 }), partition);
        e.stages.forEach((s, i) => {
          expect(s.kvBytesPerTokenPerDevice).toBe(partition[i]! * oneLayer.kvBytesPerTokenPerDevice);
          if (i > 0 && i < pp - 1) expect(s.weightsBytes).toBeCloseTo(partition[i]! * layerWeights, 0);
        });
        const ends = pp === 1 ? e.stages[0]!.weightsBytes : e.stages[0]!.weightsBytes + e.stages[pp - 1]!.weightsBytes;
        const endLayers = pp === 1 ? partition[0]! : partition[0]! + partition[pp - 1]!;
        expect(ends).toBeCloseTo(endLayers * layerWeights + tables, 0);
      }),
      { numRuns: 100, seed: 3 },
    );
  });

  it('refuses a bad partition by its option name', () => {
    const p = plan({ tp: 8, pp: 5, ep: 8, globalBatchSize: 1 });
    expect(() => estimateInferenceMemory(pro, p, { ...node, ppLayerPartition: [10, 10, 10, 10, 10] })).toThrow(/ppLayerPartition: got .*expected entries summing to numLayers \(48\), not 50; e\.g\. \[9, 10, 10, 10, 9\]/);
    expect(() => estimateInferenceMemory(pro, p, { ...node, ppLayerPartition: [10, 10, 10, 10, -2] })).toThrow(ValidationError);
  });
});
