import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseWith, ParallelPlanSchema, type ParallelPlanInput } from '@moge/core';
import { parseClusterSpec } from '@moge/ascend-hal';
import { estimateInferenceMemory, servingStages } from '@moge/memory';
import { getPreset } from '@moge/model';
import { CommCostCache } from '../common/comm-cost';
import { InferOpCost } from './op-time';
import { getInferenceProfile } from './profile';
import { simulateInference, type InferenceSimResult } from './simulate';
import type { InferenceWorkloadInput } from './workload';

const pro = getPreset('pangu-pro-moe');
const plan = (p: ParallelPlanInput) => parseWith(ParallelPlanSchema, { globalBatchSize: p.dp ?? 1, ...p }, 'plan');
const w8: Omit<InferenceWorkloadInput, 'phase' | 'batch'> = { inputLength: 2048, quantization: 'w8a8', layout: { fuseCollectives: true } };

/** Pangu Pro on Atlas 800I A2 nodes: attention DP × TP, experts EP over one stage, pp stages. */
function sim(tp: number, dp: number, pp: number, workload: InferenceWorkloadInput): InferenceSimResult {
  return simulateInference({ arch: pro, cluster: parseClusterSpec(`atlas-800i-a2:${tp * dp * pp}`), plan: plan({ tp, dp, pp, ep: tp * dp, sequenceParallel: tp > 1 }), workload });
}

describe('simulateInference with pipeline stages', () => {
  it('decodes a hand-checked case: Pangu Pro, TP4 × PP2 on one 8-device node, 64 sequences', () => {
    const r = sim(4, 1, 2, { ...w8, phase: 'decode', batch: 64 });
    const pipe = r.pipeline;
    expect(r.devices).toBe(8);
    expect(pipe.microBatch).toBe(32); // 64 sequences as 2 in-flight micro-batches
    expect(pipe.stages.map((s) => s.moeLayers)).toEqual([24, 24]);
    const s0 = pipe.stages[0]!;
    const s1 = pipe.stages[1]!;
    // Stage 0 sends 32 tokens' hidden state and residual (2 × 32 × 5120 × 2 bytes), a quarter per TP
    // rank, inside the node (stride 4 on 8 devices), then the next stage's TP group gathers them.
    const comm = new CommCostCache(parseClusterSpec('atlas-800i-a2:8'));
    const bytes = 2 * 32 * 5120 * 2;
    const launchS = new InferOpCost(parseClusterSpec('atlas-800i-a2:8').node.chip, 'w8a8', 'bf16', getInferenceProfile(), true).collectiveOverheadS;
    const gather = comm.collective({ kind: 'collective', name: 'g', module: 'embedding', group: 'tp', op: 'all-gather', bytes, ranks: 4 }, { size: 4, ranksPerNode: 4 });
    expect(s0.sendS).toBeCloseTo(comm.sendRecv(bytes / 4, false) + gather + 2 * launchS, 12);
    // Stage 1 returns 32 sampled token ids (int32) to stage 0: one send.
    expect(s1.sendS).toBeCloseTo(comm.sendRecv(32 * 4, false) + launchS, 12);
    const host = r.breakdown.stepOverheadS;
    const expected = Math.max(s0.timeS + s1.timeS + s0.sendS + s1.sendS + host, 2 * Math.max(s0.timeS + s0.sendS, s1.timeS + s1.sendS), 2 * host);
    expect(r.stepTimeS).toBeCloseTo(expected, 15);
    expect(r.breakdown.p2pS).toBeCloseTo(s0.sendS + s1.sendS, 15);
    expect(r.tpotS).toBe(r.stepTimeS);
    expect(r.throughputPerCard).toBeCloseTo(64 / r.tpotS! / 8, 9);
    // The head is on stage 1: it is the busiest, and the breakdown is its device's.
    expect(pipe.busiestStage).toBe(1);
    expect(r.breakdown.computeByModule.head).toBeGreaterThan(0);
    expect(r.breakdown.computeByModule.embedding).toBeUndefined();
    // Memory is @moge/memory's per-stage estimate: every stage keeps the KV of all 64 sequences for its layers.
    const mem = estimateInferenceMemory(pro, plan({ tp: 4, pp: 2, ep: 4, sequenceParallel: true }), { hbmBytes: parseClusterSpec('atlas-800i-a2:8').node.chip.hbmBytes.value, contextLength: 2049, batch: 64, quantization: 'w8a8', maxBatchedTokens: 2048 });
    expect(r.memory.maxBatch).toBe(mem.maxBatchTotal);
    expect(r.memory.totalBytes).toBe(mem.totalBytes);
    expect(r.memory.busiestStage).toBe(mem.busiestStage);
    expect(pipe.stages.map((s) => s.memoryBytes)).toEqual(mem.stages.map((s) => s.totalBytes));
  });

  it('prefill: TTFT is the one-stage TTFT plus the sends between stages, so it grows with pp (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom(1, 2, 4), fc.constantFrom(1, 2), fc.constantFrom(2, 4), fc.integer({ min: 1, max: 4 }), fc.constantFrom(128, 1024, 4096), (tp, dp, pp, batch, inputLength) => {
        const one = sim(tp, dp, 1, { ...w8, phase: 'prefill', batch, inputLength });
        const piped = sim(tp, dp, pp, { ...w8, phase: 'prefill', batch, inputLength });
        expect(piped.breakdown.p2pS).toBeGreaterThan(0);
        expect(piped.ttftS! - piped.breakdown.p2pS).toBeCloseTo(one.ttftS!, 9);
        expect(piped.ttftS!).toBeGreaterThan(one.ttftS!);
        // (pp − 1) sends: the last stage sends nothing in prefill.
        expect(piped.pipeline.stages.at(-1)!.sendS).toBe(0);
      }),
      { numRuns: 15, seed: 17 },
    );
  });

  it('decode: at the same batch per device, the stages do the one-stage work, and free sends would give the one-stage throughput per card but for the stage imbalance and ⌈B / pp⌉ (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom(2, 4), fc.constantFrom(2, 4), fc.integer({ min: 1, max: 128 }), fc.integer({ min: 0, max: 3 }), (tp, pp, microBatch, short) => {
        const batch = Math.max(1, pp * microBatch - short); // B sequences per DP rank, ⌈B / pp⌉ = microBatch unless short empties it
        const piped = sim(tp, 1, pp, { ...w8, phase: 'decode', batch });
        const b = piped.pipeline.microBatch;
        expect(b).toBe(Math.ceil(batch / pp));
        const one = sim(tp, 1, 1, { ...w8, phase: 'decode', batch: b });
        const stages = piped.pipeline.stages;
        const sum = (xs: number[]) => xs.reduce((a, x) => a + x, 0);
        // Conservation: the stages together run the one-stage forward of a micro-batch.
        expect(sum(stages.map((s) => s.timeS))).toBeCloseTo(one.stepTimeS - one.breakdown.stepOverheadS, 9);
        // With the sends free, the step is the one-stage step, or the busiest stage's pp micro-batches.
        const freeStepS = piped.stepTimeS - piped.breakdown.p2pS;
        const imbalanceS = pp * Math.max(...stages.map((s) => s.timeS + s.sendS)) - sum(stages.map((s) => s.timeS + s.sendS));
        expect(freeStepS).toBeGreaterThanOrEqual(one.stepTimeS * (1 - 1e-12));
        expect(freeStepS).toBeLessThanOrEqual(one.stepTimeS + Math.max(0, imbalanceS) + 1e-12);
        // Per card: piped serves batch sequences on pp × the devices; one serves b per device set.
        const freePerCard = batch / freeStepS / piped.devices;
        const ceilShare = batch / (pp * b);
        expect(freePerCard).toBeLessThanOrEqual(one.throughputPerCard * ceilShare * (1 + 1e-9));
        expect(freePerCard).toBeGreaterThanOrEqual((one.throughputPerCard * ceilShare * one.stepTimeS) / (one.stepTimeS + Math.max(0, imbalanceS)) - 1e-9);
        // Pangu Pro's stages are balanced (the head on the last one is small): within 10 % of the one-stage figure.
        expect(freePerCard / (one.throughputPerCard * ceilShare)).toBeGreaterThan(0.9);
      }),
      { numRuns: 20, seed: 19 },
    );
  });

  it('keeps only the micro-batches that hold sequences in flight: one sequence makes one round trip', () => {
    const r = sim(4, 1, 4, { ...w8, phase: 'decode', batch: 1 });
    expect(r.pipeline.microBatch).toBe(1);
    expect(r.pipeline.microBatches).toBe(1);
    const stages = r.pipeline.stages;
    const roundTrip = stages.reduce((a, s) => a + s.timeS + s.sendS, 0) + r.breakdown.stepOverheadS;
    expect(r.stepTimeS).toBeCloseTo(roundTrip, 12);
    expect(r.pipeline.limitedBy).toBe('round-trip');
    // 5 sequences over 4 stages: micro-batches of 2, 2, 1 and none.
    expect(sim(4, 1, 4, { ...w8, phase: 'decode', batch: 5 }).pipeline.microBatches).toBe(3);
  });

  it('runs the MTP drafts on the last stage', () => {
    const mtp = { ...w8, phase: 'decode', speculation: { method: 'mtp', depth: 1, acceptanceRate: 0.8 } } as const;
    const r = sim(4, 1, 2, { ...mtp, batch: 16 });
    const one = sim(4, 1, 1, { ...mtp, batch: 8 });
    const s0 = r.pipeline.stages[0]!;
    const s1 = r.pipeline.stages[1]!;
    expect(r.breakdown.draftS).toBeGreaterThan(0);
    // The stages together do the one-stage work, drafts included, and the drafts are the last stage's.
    expect(s0.timeS + s1.timeS).toBeCloseTo(one.stepTimeS - one.breakdown.stepOverheadS, 9);
    expect(s1.timeS - s0.timeS).toBeGreaterThan(r.breakdown.draftS);
    expect(r.tpotS).toBeCloseTo(r.stepTimeS / 1.8, 12);
  });

  it("splits the layers as @moge/memory's servingStages does (vLLM's split), so each stage's time and memory describe one device", () => {
    const cluster = parseClusterSpec('atlas-800i-a2:40');
    const p = plan({ tp: 8, pp: 5, ep: 8, sequenceParallel: true });
    const r = simulateInference({ arch: pro, cluster, plan: p, workload: { ...w8, phase: 'decode', batch: 40 } });
    expect(r.pipeline.stages.map(({ timeS: _t, sendS: _s, memoryBytes: _m, ...held }) => held)).toEqual(servingStages(pro, p));
    expect(r.pipeline.stages.map((st) => st.moeLayers)).toEqual([9, 10, 10, 10, 9]);
    // The simulator's memory call: the DP rank's 40 sequences at 2048 + 1 tokens, the prompt as the largest forward.
    const mem = estimateInferenceMemory(pro, p, { hbmBytes: cluster.node.chip.hbmBytes.value, contextLength: 2049, batch: 40, quantization: 'w8a8', maxBatchedTokens: 2048 });
    expect(r.pipeline.stages.map((st) => st.memoryBytes)).toEqual(mem.stages.map((st) => st.totalBytes));
  });

  it("the stages' times follow the split: one layer's time per layer, plus the embedding on the first stage and the head on the last (property)", () => {
    const p = plan({ tp: 8, pp: 4, ep: 8, sequenceParallel: true });
    const cluster = parseClusterSpec('atlas-800i-a2:32');
    const stagesOf = (ppLayerPartition: number[]) => simulateInference({ arch: pro, cluster, plan: p, workload: { ...w8, phase: 'decode', batch: 32, layout: { fuseCollectives: true, ppLayerPartition } } }).pipeline.stages;
    // The even split gives one layer's time (a middle stage's twelfth) and what the end stages add to their layers.
    const even = stagesOf([12, 12, 12, 12]);
    const layerS = even[1]!.timeS / 12;
    const embeddingS = even[0]!.timeS - 12 * layerS;
    const headS = even[3]!.timeS - 12 * layerS;
    expect(even[2]!.timeS).toBeCloseTo(12 * layerS, 12);
    expect(embeddingS).toBeGreaterThan(0);
    expect(headS).toBeGreaterThan(embeddingS);
    fc.assert(
      fc.property(fc.tuple(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 20 })), ([a, b, c]) => {
        const last = 48 - a - b - c;
        fc.pre(last >= 1);
        const partition = [a, b, c, last];
        const st = stagesOf(partition);
        expect(st.map((s) => s.moeLayers)).toEqual(partition);
        expect(st[0]!.timeS).toBeCloseTo(a * layerS + embeddingS, 12);
        expect(st[1]!.timeS).toBeCloseTo(b * layerS, 12);
        expect(st[2]!.timeS).toBeCloseTo(c * layerS, 12);
        expect(st[3]!.timeS).toBeCloseTo(last * layerS + headS, 12);
      }),
      { numRuns: 25, seed: 23 },
    );
  });

  it('sends between nodes when a stage fills a node, inside the node otherwise', () => {
    const inNode = sim(4, 1, 2, { ...w8, phase: 'prefill', batch: 1 });
    const across = sim(4, 2, 2, { ...w8, phase: 'prefill', batch: 2 });
    // Same tokens per DP rank and TP group; only the tier of the send differs.
    expect(across.pipeline.stages[0]!.sendS).toBeGreaterThan(inNode.pipeline.stages[0]!.sendS);
  });

  it('refuses plans it cannot run, naming the field and the fix', () => {
    const run = (p: ParallelPlanInput, devices: number, layout: InferenceWorkloadInput['layout'] = { fuseCollectives: true }) => () =>
      simulateInference({ arch: pro, cluster: parseClusterSpec(`atlas-800i-a2:${devices}`), plan: plan(p), workload: { ...w8, phase: 'decode', batch: 8, layout } });
    // 48 layers over 5 stages: vLLM's split needs no padding; a Megatron padding keeps its layout.
    expect(run({ tp: 8, pp: 5, ep: 8, sequenceParallel: true }, 40)().pipeline.stages.map((st) => st.moeLayers)).toEqual([9, 10, 10, 10, 9]);
    expect(run({ tp: 8, pp: 5, ep: 8, sequenceParallel: true, noopLayers: 2 }, 40)().pipeline.stages.map((st) => [st.moeLayers, st.noopLayers])).toEqual([[10, 0], [10, 0], [10, 0], [10, 0], [8, 2]]);
    expect(run({ tp: 8, pp: 5, ep: 8, sequenceParallel: true, noopLayers: 1 }, 40)).toThrow(/plan\.noopLayers: got 1, expected numLayers \+ noopLayers \(48 \+ 1\) divisible by pp × vpp \(5\); e\.g\. noopLayers 2/);
    // An explicit split (vLLM's VLLM_PP_LAYER_PARTITION) must fit the plan; the error names the workload field.
    const partition = (ppLayerPartition: number[], noopLayers = 0) => run({ tp: 8, pp: 4, ep: 8, sequenceParallel: true, noopLayers }, 32, { fuseCollectives: true, ppLayerPartition });
    expect(partition([12, 12, 12, 11])).toThrow(/workload\.layout\.ppLayerPartition: got \[12,12,12,11\], expected entries summing to numLayers \(48\), not 47; e\.g\. \[12, 12, 12, 12\]/);
    expect(partition([24, 24])).toThrow(/workload\.layout\.ppLayerPartition: got \[24,24\], expected plan\.pp \(4\) entries/);
    expect(partition([12, 12, 12, 12], 4)).toThrow(/workload\.layout\.ppLayerPartition: .*no partition with plan\.noopLayers 4/);
    expect(partition([12, 12, 11, 13])().pipeline.stages.map((st) => st.moeLayers)).toEqual([12, 12, 11, 13]);
    expect(run({ tp: 8, pp: 4, ep: 8, sequenceParallel: true }, 32, { fuseCollectives: true, ppLayerPartition: [24, 24, 0, 0] })).toThrow(/layout\.ppLayerPartition\[2\]: got 0, expected a number more than 0/);
    expect(run({ tp: 4, pp: 2, ep: 4, sequenceParallel: true }, 16)).toThrow(/plan: got "tp 4 × dp 1 × pp 2 = 8 devices", expected tp × dp × pp = the cluster's 16 devices/);
    expect(run({ tp: 4, pp: 2, vpp: 2, ep: 4, sequenceParallel: true }, 8)).toThrow(/plan\.vpp: got 2, expected 1: serving engines run one model chunk per pipeline stage/);
    expect(run({ tp: 4, pp: 2, ep: 4, sequenceParallel: true }, 8, { sharedExpertTp: 8, fuseCollectives: true })).toThrow(/workload\.layout\.sharedExpertTp: got 8, expected a divisor of tp × dp \(4\), the devices of one of the plan\.pp 2 pipeline stages/);
    // 6-device stages on 8-device nodes: stage 1 would sit on two nodes.
    expect(run({ tp: 2, dp: 3, pp: 4, ep: 2, sequenceParallel: true }, 24)).toThrow(/plan: got "tp 2 × dp 3 = 6 devices per stage", expected with pp > 1 on several nodes, tp × dp a divisor or a multiple of the 8 devices per node, so that no pipeline stage straddles two nodes \(e\.g\. dp 4\)/);
    expect(run({ tp: 1, dp: 3, pp: 8, ep: 1 }, 24)).toThrow(/straddles/);
    // On one node nothing straddles: 3 stages of 2 devices.
    expect(run({ tp: 2, pp: 3, ep: 2, sequenceParallel: true }, 6)().pipeline.pp).toBe(3);
    // Experts are spread over one stage's devices, not over the whole pipeline.
    expect(() => plan({ tp: 4, pp: 2, ep: 8 })).toThrow(/ep × etp \(8×1\) dividing tp × cp × dp \(4\)/);
  });
});
