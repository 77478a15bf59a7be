import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError, type RecomputeModule, type SwapModule } from '@moge/core';
import { estimateTrainingMemory } from '../index';
import { arch, gptArch, PANGU_ULTRA_MOE, plan } from './test-archs';

/** A small MoGE model: 4 layers (1 dense), GQA 4/2 heads, 8 experts in 2 groups, top-2, shared expert. */
const tinyMoe = arch({
  numLayers: 4, hiddenSize: 64, numHeads: 4, numKvHeads: 2, headDim: 16, vocabSize: 100, denseFfnSize: 128,
  numDenseLayers: 1, numExperts: 8, numExpertGroups: 2, topK: 2, expertFfnSize: 32, sharedExpertFfnSize: 64,
});
const tinyMla = arch({
  ...tinyMoe, attention: 'mla', numKvHeads: 4, mla: { qLoraRank: 24, kvLoraRank: 16, qkRopeHeadDim: 8, qkNopeHeadDim: 16, vHeadDim: 16 },
});
const base = plan({ seqLength: 128, microBatchSize: 2, globalBatchSize: 2 });
const T = 256; // tokens of one micro-batch
const moeLayer = (e: ReturnType<typeof estimateTrainingMemory>) => e.perLayer.find((l) => l.kind === 'moe')!;

describe('MoE activations', () => {
  it('routed buffers scale with tokens × topK × the load-imbalance factor', () => {
    const even = moeLayer(estimateTrainingMemory(tinyMoe, base)).activationBytes;
    const skewed = moeLayer(estimateTrainingMemory(tinyMoe, base, { loadImbalanceFactor: 1.5 })).activationBytes;
    // expert input (h) + expert fc1 output (2·f) + activation output (f), bf16, on T·K copies.
    expect(skewed - even).toBe(0.5 * 2 * T * 2 * (64 + 3 * 32));
  });

  it('permute recompute frees exactly the dispatched expert input', () => {
    const kept = moeLayer(estimateTrainingMemory(tinyMoe, base)).activationBytes;
    const permuted = moeLayer(estimateTrainingMemory(tinyMoe, { ...base, recompute: ['permute'] })).activationBytes;
    expect(kept - permuted).toBe(2 * 64 * T * 2);
  });

  it('with SP and expert-TP, routed copies follow the sequence-parallel tokens times etp', () => {
    const p = plan({ ...base, tp: 2, dp: 2, ep: 2, etp: 2, sequenceParallel: true, globalBatchSize: 4 });
    const a = moeLayer(estimateTrainingMemory(tinyMoe, p, {}));
    const b = moeLayer(estimateTrainingMemory(tinyMoe, { ...p, recompute: ['permute'] }));
    expect(a.activationBytes - b.activationBytes).toBe(2 * 64 * (T / 2) * 2 * 2);
  });

  it('MLA up-projection recompute frees the per-head q, k and v', () => {
    const kept = moeLayer(estimateTrainingMemory(tinyMla, base)).activationBytes;
    const freed = moeLayer(estimateTrainingMemory(tinyMla, { ...base, recompute: ['mla-up-proj'] })).activationBytes;
    expect(kept - freed).toBe(2 * T * 4 * (2 * (16 + 8) + 16));
  });
});

const fine: RecomputeModule[] = ['norm', 'activation', 'attention-core', 'mla-up-proj', 'permute'];
const swaps: SwapModule[] = ['attention', 'mlp', 'moe', 'layer-input'];

describe('recompute and swap policies', () => {
  it('a larger set of fine-grained options never keeps more; swapped + device = kept', () => {
    fc.assert(
      fc.property(fc.subarray(fine), fc.subarray(fine), fc.subarray(swaps), (a, b, s) => {
        const small = estimateTrainingMemory(tinyMla, { ...base, recompute: a, swap: s });
        const large = estimateTrainingMemory(tinyMla, { ...base, recompute: [...new Set([...a, ...b])], swap: s });
        return small.perLayer.every((l, i) => {
          const big = large.perLayer[i]!;
          return big.activationBytes <= l.activationBytes && l.deviceBytes + l.swappedBytes === l.activationBytes;
        });
      }),
      { numRuns: 40 },
    );
  });

  it('block recompute of n layers per chunk recomputes the first n of every chunk', () => {
    const a = arch({ ...tinyMoe, numLayers: 8 });
    const e = estimateTrainingMemory(a, plan({ ...base, pp: 2, vpp: 2, globalBatchSize: 8, recompute: ['layer'], recomputeNumLayers: 1 }));
    expect(e.perLayer.filter((l) => l.wholeRecompute).map((l) => l.layer)).toEqual([0, 2, 4, 6]);
  });

  it('prices swap over the host link: bytes / bandwidth + transfers × latency', () => {
    const e = estimateTrainingMemory(tinyMoe, { ...base, swap: ['moe'] }, { hostLink: { bandwidth: 1e9, latencyS: 1e-5 } });
    const s = e.stages[0]!.swap;
    const swappedPerMicroBatch = e.perLayer.reduce((sum, l) => sum + l.swappedBytes, 0);
    expect(s.bytesPerStep).toBe(2 * swappedPerMicroBatch);
    expect(s.transfersPerStep).toBe(2 * 3); // three MoE layers, out and back
    expect(s.timePerStepS).toBeCloseTo(s.bytesPerStep / 1e9 + 6e-5, 12);
    expect(e.stages[0]!.hostBytes).toBe(swappedPerMicroBatch);
  });
});

describe('pipeline stages', () => {
  it('1F1B: stage 0 is the peak and holds pp micro-batches of its layers', () => {
    const a = gptArch(8, 8, 64);
    const e = estimateTrainingMemory(a, plan({ pp: 4, seqLength: 256, globalBatchSize: 8 }), { frameworkOverheadBytes: 1e9 });
    expect(e.peakStage).toBe(0);
    const layer = e.perLayer[0]!.activationBytes;
    expect(e.stages.map((s) => s.activation.microBatchesInFlight)).toEqual([[4], [3], [2], [1]]);
    expect(e.stages[0]!.activation.inFlightBytes).toBe(4 * (2 * layer + 8 * 256)); // + token ids of the embedding
    expect(e.totalBytes).toBe(e.weightsBytes + e.gradientsBytes + e.optimizerBytes + e.activationsBytes + 1e9);
  });

  it('interleaved: stage 0 activations carry the (1 + (pp − 1)/(pp·vpp)) penalty', () => {
    const a = gptArch(16, 8, 64);
    const e = estimateTrainingMemory(a, plan({ pp: 4, vpp: 2, seqLength: 256, globalBatchSize: 16 }));
    const s0 = e.stages[0]!.activation;
    const layer = e.perLayer[0]!.activationBytes;
    const embedding = s0.microBatchesInFlight[0]! * 8 * 256;
    expect(s0.inFlightBytes - embedding).toBeCloseTo(4 * (1 + 3 / 8) * 4 * layer, 6);
  });

  it('activationOverheadFactor scales every stage\'s activations and nothing else', () => {
    const a = gptArch(16, 8, 64);
    const p = plan({ pp: 4, vpp: 2, seqLength: 256, globalBatchSize: 16 });
    const counted = estimateTrainingMemory(a, p, { frameworkOverheadBytes: 1e9 });
    const scaled = estimateTrainingMemory(a, p, { frameworkOverheadBytes: 1e9, activationOverheadFactor: 1.5 });
    scaled.stages.forEach((s, i) => {
      const c = counted.stages[i]!;
      expect(s.activationsBytes).toBeCloseTo(1.5 * c.activationsBytes, 3);
      expect([s.weightsBytes, s.gradientsBytes, s.optimizerBytes, s.overheadBytes]).toEqual([c.weightsBytes, c.gradientsBytes, c.optimizerBytes, c.overheadBytes]);
      expect(s.totalBytes - c.totalBytes).toBeCloseTo(0.5 * c.activationsBytes, 3);
    });
  });

  it('puts the head and MTP on the last stage', () => {
    const a = arch(PANGU_ULTRA_MOE);
    const p = plan({ tp: 8, pp: 16, vpp: 2, ep: 32, dp: 48, microBatchSize: 2, globalBatchSize: 1536, sequenceParallel: true, noopLayers: 3 });
    const e = estimateTrainingMemory(a, p);
    const mtp = e.perLayer.filter((l) => l.kind === 'mtp');
    expect(mtp).toHaveLength(1);
    expect(mtp[0]).toMatchObject({ layer: 64, stage: 15, chunk: 1 });
    expect(e.perLayer).toHaveLength(62);
  });
});

describe('validation', () => {
  it('suggests no-op layers when layers do not split over pp × vpp', () => {
    const a = arch(PANGU_ULTRA_MOE);
    const p = plan({ tp: 8, pp: 16, vpp: 2, ep: 32, dp: 48, globalBatchSize: 48, sequenceParallel: true });
    expect(() => estimateTrainingMemory(a, p)).toThrow(/plan\.noopLayers: got 0, expected .*e\.g\. noopLayers 3/);
  });

  it('requires sequence parallelism for MoE with TP', () => {
    expect(() => estimateTrainingMemory(tinyMoe, plan({ ...base, tp: 2 }))).toThrow(/plan\.sequenceParallel: got false/);
  });

  it('names a bad option, the value and what was expected', () => {
    try {
      estimateTrainingMemory(tinyMoe, base, { loadImbalanceFactor: 0.5 });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).issues[0]).toMatchObject({ path: 'loadImbalanceFactor', received: 0.5 });
    }
  });

  it('refuses an activation overhead factor below 1', () => {
    expect(() => estimateTrainingMemory(tinyMoe, base, { activationOverheadFactor: 0.8 })).toThrow(/activationOverheadFactor/);
  });
});
