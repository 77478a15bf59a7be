import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseWith, ParallelPlanSchema, type MoeArch, type ParallelPlanInput } from '@moge/core';
import { estimateInferenceMemory } from '@moge/memory';
import { getPreset } from '@moge/model';
import { hopCrossesNodes, servingStageLayers } from './pipeline-stages';

const plan = (p: ParallelPlanInput) => parseWith(ParallelPlanSchema, { globalBatchSize: p.dp ?? 1, ...p }, 'plan');
const pro = getPreset('pangu-pro-moe');
const ultra = getPreset('pangu-ultra-moe');
const memOpts = { hbmBytes: 64e9, contextLength: 1024, batch: 1, quantization: 'w8a8' } as const;

describe('servingStageLayers', () => {
  it('splits Pangu Pro\'s 48 layers evenly, embedding first and head last', () => {
    const st = servingStageLayers(pro, plan({ tp: 4, pp: 2, ep: 4 }));
    expect(st.map((s) => [s.denseLayers, s.moeLayers, s.noopLayers, s.embedding, s.head, s.mtp])).toEqual([
      [0, 24, 0, true, false, false],
      [0, 24, 0, false, true, true],
    ]);
  });

  it('puts the no-op padding on the last stage and the dense layers on the first (Pangu Ultra, 61 + 3 over 4)', () => {
    const st = servingStageLayers(ultra, plan({ tp: 8, pp: 4, ep: 8, noopLayers: 3 }));
    expect(st.map((s) => [s.denseLayers, s.moeLayers, s.noopLayers])).toEqual([
      [3, 13, 0],
      [0, 16, 0],
      [0, 16, 0],
      [0, 13, 3],
    ]);
  });

  it('holds the layers memory puts on each stage: the KV of a stage is its layers\' (pinned against @moge/memory)', () => {
    fc.assert(
      fc.property(fc.constantFrom<[MoeArch, number]>([pro, 0], [pro, 2], [ultra, 3], [ultra, 7]), fc.constantFrom(1, 2, 4, 8), ([arch, noop], pp) => {
        const p = plan({ tp: 8, pp, ep: 8, noopLayers: noop });
        if ((arch.numLayers + noop) % pp !== 0) return;
        const mem = estimateInferenceMemory(arch, p, memOpts);
        const perLayer = estimateInferenceMemory(arch, plan({ tp: 8, ep: 8 }), memOpts).stages[0]!.kvBytesPerTokenPerDevice / arch.numLayers;
        servingStageLayers(arch, p).forEach((s, i) => {
          expect(mem.stages[i]!.kvBytesPerTokenPerDevice / perLayer).toBeCloseTo(s.denseLayers + s.moeLayers, 9);
        });
      }),
      { numRuns: 30, seed: 5 },
    );
  });

  it('has the embedding on the first stage and the head and MTP on the last, where memory counts their weights', () => {
    // A larger vocabulary adds weights only where the embedding and the head are; MTP only on the last stage.
    const p = plan({ tp: 8, pp: 4, ep: 8, noopLayers: 3 });
    const weights = (arch: MoeArch, includeMtp = false) => estimateInferenceMemory(arch, p, { ...memOpts, includeMtp }).stages.map((s) => s.weightsBytes);
    const base = weights(ultra);
    const vocab = weights({ ...ultra, vocabSize: ultra.vocabSize + 8 * 1024 });
    const mtp = weights(ultra, true);
    const st = servingStageLayers(ultra, p);
    st.forEach((s, i) => {
      expect(vocab[i]! > base[i]!).toBe(s.embedding || s.head);
      expect(mtp[i]! > base[i]!).toBe(s.mtp);
    });
  });
});

describe('hopCrossesNodes', () => {
  it('crosses when a stage fills a node, and when two stages straddle a node boundary', () => {
    expect(hopCrossesNodes(0, 1, 8, 8)).toBe(true);
    expect(hopCrossesNodes(0, 1, 4, 8)).toBe(false);
    expect(hopCrossesNodes(1, 2, 4, 8)).toBe(true);
    expect(hopCrossesNodes(3, 0, 4, 16)).toBe(false);
    expect(hopCrossesNodes(3, 0, 4, 8)).toBe(true);
    // Stride 3 on 8-device nodes: ranks 6, 7 of stage 2 talk to 9, 10 of stage 3.
    expect(hopCrossesNodes(1, 2, 3, 8)).toBe(true);
    expect(hopCrossesNodes(0, 1, 3, 8)).toBe(false);
  });

  it('always crosses when a stage fills nodes, never when the whole pipeline fits one (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 2, max: 8 }), fc.constantFrom(1, 2, 4, 8, 16), (stride, pp, dpn) => {
        for (let s = 0; s < pp; s++) {
          const to = (s + 1) % pp;
          if (stride >= dpn) expect(hopCrossesNodes(s, to, stride, dpn)).toBe(true);
          if (stride * pp <= dpn) expect(hopCrossesNodes(s, to, stride, dpn)).toBe(false);
        }
      }),
      { numRuns: 200, seed: 9 },
    );
  });
});
