import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countParameters } from '@moge/core';
import { estimateTrainingMemory } from '../index';
import { stageParams } from './static-memory';
import { arch, gptArch, PANGU_PRO_MOE, plan } from './test-archs';

describe('weights, gradients and optimizer states', () => {
  it('18 bytes per parameter without the distributed optimizer, 6 + 12/(dp·cp) with it (Megatron-LM)', () => {
    const a = gptArch(4, 8, 64);
    const n = countParameters(a).total;
    const plain = estimateTrainingMemory(a, plan({ dp: 4, globalBatchSize: 4, distributedOptimizer: false }));
    expect(plain.weightsBytes + plain.gradientsBytes + plain.optimizerBytes).toBe(18 * n);
    const dist = estimateTrainingMemory(a, plan({ dp: 4, cp: 2, globalBatchSize: 4, seqLength: 512 }));
    expect(dist.weightsBytes + dist.gradientsBytes + dist.optimizerBytes).toBeCloseTo((6 + 12 / 8) * n, 3);
  });

  it('stages add up to the whole model: dense parts over TP, experts over EP × ETP', () => {
    const a = arch(PANGU_PRO_MOE);
    const counts = countParameters(a);
    const routed = counts.perLayer.reduce((s, l) => s + l.routedExperts, 0);
    fc.assert(
      fc.property(fc.constantFrom(1, 2, 4, 8, 16), fc.constantFrom(1, 2, 4, 8), fc.constantFrom(1, 2), (pp, ep, etp) => {
        const p = plan({ pp, ep, etp, dp: 16, globalBatchSize: 16 });
        const stages = stageParams(a, p);
        const expert = stages.reduce((s, x) => s + x.expert, 0);
        const dense = stages.reduce((s, x) => s + x.dense, 0);
        expect(expert * ep * etp).toBeCloseTo(routed, 0);
        expect(dense + expert * ep * etp).toBeCloseTo(counts.total, 0);
      }),
    );
  });

  it('keeps the attention output bias whole on every TP rank (row-parallel: added once after the reduce)', () => {
    // 8 heads of 16, 8 KV heads, hidden 64: per layer q/k/v biases of 3 · 128 split over TP, and the
    // o_proj bias of 64 whole on every rank (Megatron's and vLLM's RowParallelLinear keep it so).
    const h = 64;
    const noBias = arch({ numLayers: 4, hiddenSize: h, numHeads: 8, numKvHeads: 8, headDim: 16, vocabSize: 96, denseFfnSize: 128 });
    const biased = { ...noBias, attentionBias: true };
    for (const tp of [1, 2, 4, 8]) {
      for (const pp of [1, 2]) {
        const p = plan({ tp, pp });
        const without = stageParams(noBias, p);
        stageParams(biased, p).forEach((st, stage) => {
          expect(st.dense - without[stage]!.dense).toBeCloseTo((4 / pp) * ((3 * 128) / tp + h), 9);
          expect(st.expert).toBe(without[stage]!.expert);
        });
      }
    }
    // By hand at tp 4, one stage: q, k, v and o weights, q/k/v biases over TP, o bias whole; SwiGLU over
    // TP; the two norms, the final norm, and the untied embedding and head tables over TP.
    const layer = (4 * h * 128) / 4 + (3 * 128) / 4 + h + (3 * h * 128) / 4 + 2 * h;
    expect(stageParams(biased, plan({ tp: 4 }))[0]!.dense).toBeCloseTo(4 * layer + (2 * 96 * h) / 4 + h, 9);
  });

  it('keeps a copy of a tied embedding on the last stage when pp > 1', () => {
    const a = { ...gptArch(4, 8, 64), tiedEmbeddings: true };
    const table = a.vocabSize * a.hiddenSize;
    const one = stageParams(a, plan({ pp: 1 }));
    const two = stageParams(a, plan({ pp: 2 }));
    expect(two[0]!.dense + two[1]!.dense - (one[0]!.dense)).toBe(table);
  });

  it('shards expert optimizer states over the expert-data-parallel group', () => {
    const a = arch(PANGU_PRO_MOE);
    const p = plan({ ep: 8, dp: 16, globalBatchSize: 16 });
    const e = estimateTrainingMemory(a, p);
    const s = e.stages[0]!.params;
    expect(e.optimizerBytes).toBeCloseTo(12 * (s.dense / 16 + s.expert / 2), 0);
  });
});
