import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DTypeSchema, GiB, QuantizationSchema } from '@moge/core';
import { estimateInferenceMemory, kvBytesPerToken, kvBytesPerTokenPerDevice, kvBytesPerTokenPerStage, maxBatchForContext, type InferenceMemoryOptionsInput } from '../index';
import { archAndPlan } from '../training/test-arbitraries';
import { arch, PANGU_PRO_MOE, PANGU_ULTRA_MOE, plan } from '../training/test-archs';

const pro = arch(PANGU_PRO_MOE);
const ultra = arch(PANGU_ULTRA_MOE);

describe('KV cache per token', () => {
  it('GQA stores K and V for every KV head: 2 · 8 · 128 · 2 bytes · 48 layers for Pangu Pro MoE', () => {
    expect(kvBytesPerToken(pro, 'bf16')).toBe(2 * 8 * 128 * 2 * 48);
    expect(kvBytesPerToken(pro, 'int8')).toBe(2 * 8 * 128 * 48);
  });

  it('MLA stores kvLoraRank + qkRopeHeadDim per layer (DeepSeek-V2 §2.1.2): (512 + 64) · 2 · 61 for Pangu Ultra MoE', () => {
    expect(kvBytesPerToken(ultra)).toBe(576 * 2 * 61);
    expect(kvBytesPerToken(ultra, 'bf16', { includeMtp: true })).toBe(576 * 2 * 62);
  });

  it('splits GQA heads over TP but replicates the MLA latent; splits layers over PP', () => {
    expect(kvBytesPerTokenPerDevice(pro, plan({ tp: 4 }))).toBe(kvBytesPerToken(pro) / 4);
    expect(kvBytesPerTokenPerDevice(pro, plan({ tp: 16 }))).toBe(kvBytesPerToken(pro) / 8); // one KV head per rank at least
    expect(kvBytesPerTokenPerDevice(ultra, plan({ tp: 8 }))).toBe(kvBytesPerToken(ultra));
    expect(kvBytesPerTokenPerDevice(pro, plan({ pp: 4 }))).toBe(kvBytesPerToken(pro) / 4);
  });
});

describe('inference memory', () => {
  // Pangu Pro MoE's H2P layout on an Atlas 800I A2 node: attention DP2 × TP4, experts TP2 × EP4.
  const h2p = plan({ tp: 4, dp: 2, ep: 4, etp: 2, globalBatchSize: 2 });
  const node = { hbmBytes: 64 * GiB, contextLength: 2048 };

  it('weights shrink with quantisation: int8 and int4 linears, 16-bit tables', () => {
    const bf16 = estimateInferenceMemory(pro, h2p, { ...node, quantization: 'bf16' }).weightsBytes;
    const w8 = estimateInferenceMemory(pro, h2p, { ...node, quantization: 'w8a8' }).weightsBytes;
    const w4 = estimateInferenceMemory(pro, h2p, { ...node, quantization: 'w4a8' }).weightsBytes;
    const tables = ((2 * pro.vocabSize * pro.hiddenSize) / 4) * 2; // embedding + head, vocab-split over TP, bf16
    expect(w8 - tables).toBeGreaterThan(0.5 * (bf16 - tables) * 0.99);
    expect(w8 - tables).toBeLessThan(0.5 * (bf16 - tables) * 1.01);
    expect(w4 - tables).toBeLessThan(0.25 * (bf16 - tables) * 1.01);
  });

  it('counts the K and V projections a rank keeps when TP replicates KV heads (tp > numKvHeads)', () => {
    // 8 query heads, 2 KV heads of 16 over tp 8: each rank holds 1 query head and 1 whole KV head
    // (replicated on 4 ranks), so its K and V weights are those of one head, not 2/8 of one.
    const gqa = arch({ numLayers: 2, hiddenSize: 64, numHeads: 8, numKvHeads: 2, headDim: 16, vocabSize: 96, denseFfnSize: 128, attentionBias: true });
    const opts = { hbmBytes: GiB, contextLength: 16 };
    const at = (tp: number) => estimateInferenceMemory(gqa, plan({ tp }), opts).weightsBytes;
    const h = 64;
    const perLayer = (tp: number, kvHeads: number) =>
      // q weights and bias over TP; o_proj weights over TP, its bias (h) whole on every rank (row-parallel).
      (h * 8 * 16 + 8 * 16) / tp + (8 * 16 * h) / tp + h + 2 * kvHeads * (h * 16 + 16) + (3 * h * 128) / tp + 2 * h;
    const expected = (tp: number, kvHeads: number) => 2 * (2 * perLayer(tp, kvHeads) + (2 * 96 * h) / tp + h);
    expect(at(2)).toBeCloseTo(expected(2, 1), 6); // tp divides the KV heads: an even share, as before
    expect(at(8)).toBeCloseTo(expected(8, 1), 6);
    expect(at(4)).toBeCloseTo(expected(4, 1), 6);
  });

  it('the largest batch fits and one more does not', () => {
    fc.assert(
      fc.property(fc.integer({ min: 128, max: 32768 }), fc.constantFrom('bf16', 'w8a8', 'w4a8') as fc.Arbitrary<'bf16' | 'w8a8' | 'w4a8'>, (ctx, q) => {
        const o = { ...node, contextLength: ctx, quantization: q };
        const max = maxBatchForContext(pro, h2p, o);
        const at = estimateInferenceMemory(pro, h2p, { ...o, batch: max });
        const over = estimateInferenceMemory(pro, h2p, { ...o, batch: max + 1 });
        return max >= 1 && at.fits && !over.fits && at.maxBatchTotal === 2 * max;
      }),
      { numRuns: 50 },
    );
  });

  /**
   * Small archs and plans on devices sized around them: the device holds the weights, workspace and
   * overhead plus `sequences` KV caches of one sequence (negative: not even the weights fit; whole
   * numbers land the budget on a sequence boundary, where rounding would show).
   */
  const servingCase = archAndPlan(64).chain(({ arch, plan }) =>
    fc
      .record({
        contextLength: fc.integer({ min: 1, max: 8192 }),
        blockSize: fc.constantFrom(1, 16, 128, 7),
        quantization: fc.constantFrom(...QuantizationSchema.options),
        kvDType: fc.constantFrom(...DTypeSchema.options),
        memoryUtilization: fc.oneof(fc.constantFrom(0.9, 0.85, 0.95, 1), fc.double({ min: 0.05, max: 1, noNaN: true })),
        maxBatchedTokens: fc.option(fc.integer({ min: 1, max: 16384 }), { nil: undefined }),
        includeMtp: fc.boolean(),
        maxNumSeqs: fc.option(fc.integer({ min: 1, max: 2048 }), { nil: undefined }),
        frameworkOverheadBytes: fc.constantFrom(0, 1 << 20, 12345.5),
        sequences: fc.oneof(fc.integer({ min: -2, max: 64 }), fc.double({ min: -1, max: 200, noNaN: true })),
        wholeHbm: fc.boolean(),
      })
      .map(({ sequences, wholeHbm, ...o }) => {
        const options: InferenceMemoryOptionsInput = { ...o, hbmBytes: 1, batch: 0 };
        if (o.maxBatchedTokens === undefined) delete options.maxBatchedTokens;
        if (o.maxNumSeqs === undefined) delete options.maxNumSeqs;
        // The fixed part and one sequence's KV do not depend on the device size.
        const probe = estimateInferenceMemory(arch, plan, options);
        const hbm = (probe.totalBytes + sequences * probe.kvBytesPerSequence) / options.memoryUtilization!;
        return { arch, plan, options: { ...options, hbmBytes: Math.max(1, wholeHbm ? Math.round(hbm) : hbm) } };
      }),
  );

  it('the largest batch fits in hbmBytes × memoryUtilization by bytes, and one more does not (property over archs, plans, devices)', () => {
    fc.assert(
      fc.property(servingCase, ({ arch: a, plan: p, options: o }) => {
        const budget = o.hbmBytes * o.memoryUtilization!;
        const max = maxBatchForContext(a, p, o);
        expect(Number.isInteger(max) && max >= 0).toBe(true);
        const at = estimateInferenceMemory(a, p, { ...o, batch: max });
        const over = estimateInferenceMemory(a, p, { ...o, batch: max + 1 });
        expect(at.usableBytes).toBe(budget);
        expect(at.maxBatch).toBe(max);
        expect(at.maxBatchTotal).toBe(max * p.dp);
        // Every stage is a device of its own: it keeps every one of its layers' KV of the ⌈context / cp⌉
        // tokens it owns, in whole blocks, and must hold max sequences; the busiest decides.
        const heldPerToken = kvBytesPerTokenPerStage(a, { ...p, cp: 1 }, o.kvDType, { includeMtp: o.includeMtp });
        const blocksPerSequence = Math.ceil(Math.ceil(o.contextLength / p.cp) / o.blockSize!);
        const logits = Math.min(o.maxNumSeqs ?? 256, o.maxBatchedTokens ?? o.contextLength) * a.vocabSize * 4;
        expect(at.stages.map((st) => st.stage)).toEqual([...Array(p.pp).keys()]);
        let oneMoreBlockOverflows = false;
        at.stages.forEach((st, stage) => {
          const perSequence = blocksPerSequence * o.blockSize! * heldPerToken[stage]!;
          // The same activations on every stage; the sampler's fp32 logits of the whole vocabulary only beside the head.
          if (stage > 0 && stage < p.pp - 1) expect(st.workspaceBytes).toBe(at.stages[0]!.workspaceBytes);
          if (stage === p.pp - 1 && p.pp > 1) expect(st.workspaceBytes - at.stages[0]!.workspaceBytes).toBeCloseTo(logits, 0);
          const fixed = st.weightsBytes + st.workspaceBytes + at.overheadBytes;
          expect(st.kvBytesPerSequence).toBe(perSequence);
          expect(st.kvBytes).toBe(max * perSequence);
          expect(st.totalBytes).toBe(fixed + st.kvBytes);
          expect(st.kvBudgetBytes).toBe(budget - st.weightsBytes - st.workspaceBytes - at.overheadBytes);
          expect(over.stages[stage]!.totalBytes).toBe(st.totalBytes + perSequence);
          // By bytes, not by the estimate's own flags: max sequences fit (unless even the weights do not).
          if (fixed <= budget) expect(st.totalBytes).toBeLessThanOrEqual(budget);
          else expect(max).toBe(0);
          // The KV blocks handed to a block manager fit the same budget and hold the max batch.
          const blockBytes = o.blockSize! * heldPerToken[stage]!;
          expect(fixed + at.numBlocks * blockBytes).toBeLessThanOrEqual(Math.max(budget, fixed));
          if (fixed + (at.numBlocks + 1) * blockBytes > budget) oneMoreBlockOverflows = true;
        });
        const busiest = at.stages[at.busiestStage]!;
        expect(at.totalBytes).toBe(Math.max(...at.stages.map((st) => st.totalBytes)));
        expect(busiest.totalBytes).toBe(at.totalBytes);
        expect(at).toMatchObject({ workspaceBytes: busiest.workspaceBytes, weightsBytes: busiest.weightsBytes, kvBytesPerSequence: busiest.kvBytesPerSequence, kvBytes: busiest.kvBytes, kvBudgetBytes: busiest.kvBudgetBytes, kvBytesPerTokenPerDevice: busiest.kvBytesPerTokenPerDevice });
        // ... and max + 1 do not fit, on some stage.
        expect(over.totalBytes).toBeGreaterThan(budget);
        expect(at.fits).toBe(at.totalBytes <= budget);
        expect(over.fits).toBe(false);
        expect(oneMoreBlockOverflows).toBe(true);
        expect(at.numBlocks).toBeGreaterThanOrEqual(max * blocksPerSequence);
      }),
      { numRuns: 3000 },
    );
  });

  it('costs each pipeline stage on its own: the weight-heavy last stage and the KV-heavy first one', () => {
    // 5 layers + 3 no-op slots over pp 2: stage 0 holds 4 layers and the embedding; stage 1 one layer,
    // the MTP layer, the head and the embedding copy MTP needs — with a large vocabulary, more weights
    // but half the KV.
    const mtp = arch({ ...PANGU_PRO_MOE, numLayers: 5, mtpDepth: 1, vocabSize: 1_000_000 });
    const pp2 = plan({ pp: 2, noopLayers: 3, tp: 8, ep: 8 });
    const o = { ...node, includeMtp: true };
    const idle = estimateInferenceMemory(mtp, pp2, { ...o, batch: 0 });
    const [first, last] = idle.stages;
    expect(last!.weightsBytes).toBeGreaterThan(first!.weightsBytes);
    expect(first!.kvBytesPerSequence).toBe(2 * last!.kvBytesPerSequence);
    expect(idle.busiestStage).toBe(1);
    expect(estimateInferenceMemory(mtp, pp2, { ...o, batch: idle.maxBatch }).busiestStage).toBe(0);
    // Both stages hold the max batch, the first one no more: it is the one that binds.
    expect(idle.maxBatch).toBe(Math.floor(first!.kvBudgetBytes / first!.kvBytesPerSequence));
    expect(idle.maxBatch).toBeLessThanOrEqual(Math.floor(last!.kvBudgetBytes / last!.kvBytesPerSequence));
    // Taking the heaviest weights with the most KV, as if one device held both, would cost batch.
    const mixed = Math.floor((idle.usableBytes - last!.weightsBytes - last!.workspaceBytes - idle.overheadBytes) / first!.kvBytesPerSequence);
    expect(idle.maxBatch).toBeGreaterThan(mixed);
  });

  it("reserves the sampler's fp32 logits of maxNumSeqs sequences over the whole vocabulary on the stage holding the head", () => {
    // vLLM's profiling run samples max_num_seqs sequences at once: Pangu Pro MoE's 153,376-entry
    // vocabulary in fp32 is 613,504 bytes a sequence, whole on every TP rank (the logits are gathered).
    const perSequence = 153_376 * 4;
    const o = { ...node, maxBatchedTokens: 4096 };
    const one = estimateInferenceMemory(pro, h2p, { ...o, maxNumSeqs: 1 });
    const byDefault = estimateInferenceMemory(pro, h2p, o);
    expect(byDefault.workspaceBytes - one.workspaceBytes).toBe(255 * perSequence); // default 256
    expect(estimateInferenceMemory(pro, h2p, { ...o, maxNumSeqs: 1024 }).workspaceBytes - one.workspaceBytes).toBe(1023 * perSequence);
    expect(byDefault.kvBudgetBytes).toBe(one.kvBudgetBytes - 255 * perSequence);
    // The same bytes at any TP degree: the vocabulary is not split once gathered.
    const tp8 = plan({ tp: 8, ep: 8, globalBatchSize: 1 });
    expect(estimateInferenceMemory(pro, tp8, o).workspaceBytes - estimateInferenceMemory(pro, tp8, { ...o, maxNumSeqs: 1 }).workspaceBytes).toBe(255 * perSequence);
    // A forward of fewer tokens than maxNumSeqs samples one sequence per token (vLLM's _dummy_run).
    const short = { ...node, maxBatchedTokens: 100 };
    expect(estimateInferenceMemory(pro, h2p, short).workspaceBytes - estimateInferenceMemory(pro, h2p, { ...short, maxNumSeqs: 1 }).workspaceBytes).toBe(99 * perSequence);
    // With pp > 1 only the last stage samples: the others keep the forward's activations alone.
    const pp2 = estimateInferenceMemory(pro, plan({ tp: 4, pp: 2, ep: 4, globalBatchSize: 1 }), o);
    const pp2one = estimateInferenceMemory(pro, plan({ tp: 4, pp: 2, ep: 4, globalBatchSize: 1 }), { ...o, maxNumSeqs: 1 });
    expect(pp2.stages[0]!.workspaceBytes).toBe(pp2one.stages[0]!.workspaceBytes);
    expect(pp2.stages[1]!.workspaceBytes - pp2.stages[0]!.workspaceBytes).toBe(256 * perSequence);
    expect(pp2.workspaceBytes).toBe(pp2.stages[pp2.busiestStage]!.workspaceBytes);
  });

  it('rounds sequences up to whole blocks and reports the block count', () => {
    const e = estimateInferenceMemory(pro, h2p, { ...node, contextLength: 2049, blockSize: 128 });
    expect(e.kvBytesPerSequence).toBe(17 * 128 * e.kvBytesPerTokenPerDevice);
    expect(e.numBlocks).toBe(Math.floor(e.kvBudgetBytes / (128 * e.kvBytesPerTokenPerDevice)));
  });

  it('with CP, a device holds whole blocks of its ⌈context / cp⌉ tokens at the full per-token rate', () => {
    // Pangu Pro MoE at TP4: 2 KV heads × 128 × 2 (K, V) × 2 bytes × 48 layers = 49,152 B for every token a device holds.
    const held = 2 * 2 * 128 * 2 * 48;
    for (const cp of [1, 2, 4]) {
      const e = estimateInferenceMemory(pro, plan({ tp: 4, ep: 4, cp, globalBatchSize: 1 }), { ...node, contextLength: 16, blockSize: 16 });
      expect(e.kvBytesPerTokenPerDevice).toBe(held / cp); // averaged over the sequence
      expect(e.kvBytesPerSequence).toBe(16 * held); // 16 / cp tokens still take one whole block of 16 slots
      expect(e.numBlocks).toBe(Math.floor(e.kvBudgetBytes / (16 * held)));
      expect(e.maxBatch).toBe(e.numBlocks);
    }
    const long = estimateInferenceMemory(pro, plan({ tp: 4, ep: 4, cp: 2, globalBatchSize: 1 }), { ...node, contextLength: 4097, blockSize: 128 });
    expect(long.kvBytesPerSequence).toBe(Math.ceil(2049 / 128) * 128 * held);
  });

  it('reports zero batch when the weights alone do not fit', () => {
    const e = estimateInferenceMemory(ultra, plan({ tp: 8, ep: 8, dp: 8, globalBatchSize: 8 }), { hbmBytes: 32 * GiB, contextLength: 4096 });
    expect(e.maxBatch).toBe(0);
    expect(e.kvBudgetBytes).toBeLessThan(0);
    expect(e.fits).toBe(false);
  });

  it('names bad workload options', () => {
    expect(() => estimateInferenceMemory(pro, h2p, { hbmBytes: 64 * GiB, contextLength: 0 })).toThrow(/contextLength: got 0/);
    expect(() => estimateInferenceMemory(pro, h2p, { hbmBytes: 64 * GiB, contextLength: 16, maxNumSeqs: 0 })).toThrow(/maxNumSeqs/);
  });
});
