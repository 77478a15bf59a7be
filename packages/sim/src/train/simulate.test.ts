import { describe, expect, it } from 'vitest';
import { MoeArchSchema, ParallelPlanSchema, type MoeArch, type ParallelPlanInput } from '@moge/core';
import { parseClusterSpec } from '@moge/ascend-hal';
import { estimateTrainingMemory } from '@moge/memory';
import { getPreset } from '@moge/model';
import { getSimProfile, SimProfileSchema } from '../common/training-profile';
import { breakdownTotal } from './breakdown';
import { trainingFlopsPerToken } from './model-flops';
import { simulateTraining, type TrainingSimInput } from './simulate';
import type { TrainingSimOptionsInput } from './options';

const pro = getPreset('pangu-pro-moe');
const cluster = parseClusterSpec('atlas-800t-a2:64');
const proPlan: ParallelPlanInput = { tp: 4, pp: 4, vpp: 2, ep: 8, dp: 4, microBatchSize: 1, globalBatchSize: 64, seqLength: 4096, sequenceParallel: true };

function run(plan: ParallelPlanInput, options: TrainingSimOptionsInput = {}, arch: MoeArch = pro, c = cluster) {
  const input: TrainingSimInput = { arch, cluster: c, plan: ParallelPlanSchema.parse(plan), options };
  return simulateTraining(input);
}

describe('simulateTraining', () => {
  const r = run(proPlan, { trace: true });

  it('reports the step, its breakdown, tokens/s and MFU consistently', () => {
    expect(r.stepTimeS).toBeGreaterThan(0);
    expect(breakdownTotal(r.breakdown)).toBeCloseTo(r.stepTimeS, 9);
    for (const v of [r.breakdown.computeS, r.breakdown.bubbleS, ...Object.values(r.breakdown.exposedComm)]) expect(v).toBeGreaterThanOrEqual(0);
    expect(r.tokensPerSecond).toBeCloseTo((64 * 4096) / r.stepTimeS, 6);
    // MFU = model FLOPs per token × tokens/s over the peak of every device (the stated convention).
    const flops = trainingFlopsPerToken(pro, 4096).total;
    expect(r.modelFlopsPerToken).toBe(flops);
    expect(r.mfu).toBeCloseTo((flops * r.tokensPerSecond) / (64 * cluster.node.chip.peakFlops.bf16.value), 12);
    expect(r.mfu).toBeGreaterThan(0);
    expect(r.mfu).toBeLessThan(1);
    expect(r.mfuConvention).toMatch(/6 × active non-embedding parameters/);
  });

  it('takes the plan and architecture as JSON input, defaults filled, and names a misspelt field', () => {
    const fromJson = simulateTraining({ arch: JSON.parse(JSON.stringify(pro)) as unknown as MoeArch, cluster, plan: proPlan });
    expect(fromJson.stepTimeS).toBeCloseTo(run(proPlan).stepTimeS, 12);
    expect(() => simulateTraining({ arch: pro, cluster, plan: { ...proPlan, microBatchSise: 1 } as ParallelPlanInput })).toThrow(/plan[\s\S]*microBatchSise/);
  });

  it('charges context parallelism its ring exchange, more once the ring leaves the node', () => {
    const ultra = getPreset('pangu-ultra-moe');
    const big = parseClusterSpec('atlas-800t-a2:256');
    // 256 devices = tp × cp8 × dp × pp16; the 16 ranks of a stage hold the experts (ep 16).
    const plan = (tp: number): ParallelPlanInput => ({ tp, cp: 8, pp: 16, ep: 16, dp: 2 / tp, microBatchSize: 1, globalBatchSize: 64, seqLength: 4096, sequenceParallel: tp > 1, noopLayers: 3 });
    const inNode = run(plan(1), {}, ultra, big);
    const acrossNodes = run(plan(2), {}, ultra, big);
    expect(inNode.breakdown.exposedComm.cpS).toBeGreaterThan(0);
    // tp2 × cp8 puts the ring's 8 ranks on two nodes: its hops then run at the RoCE rate, not one HCCS link's.
    expect(acrossNodes.breakdown.exposedComm.cpS).toBeGreaterThan(inNode.breakdown.exposedComm.cpS);
  });

  it('takes peak memory from @moge/memory, with the profile reserve', () => {
    const plan = ParallelPlanSchema.parse(proPlan);
    const m = estimateTrainingMemory(pro, plan, { loadImbalanceFactor: r.expertLoadFactor, hostLink: { bandwidth: cluster.node.hostLink.bandwidth.value, latencyS: cluster.node.hostLink.latencyS.value } });
    expect(r.peakMemoryBytesPerDevice).toBe(r.memory.totalBytes);
    expect(r.peakMemoryBytesPerDevice - m.totalBytes).toBe(5 * 2 ** 30);
  });

  it('scales activation memory by the profile\'s activationMemoryFactor', () => {
    const base = getSimProfile('ascend-910b-training');
    const factor = { value: 1.4, source: 'test', confidence: 'assumed' as const };
    const scaled = simulateTraining({ arch: pro, cluster, plan: ParallelPlanSchema.parse(proPlan), profile: { ...base, activationMemoryFactor: factor } });
    // Whole bytes, rounded up: within 2 bytes of the scaled count.
    expect(Number.isInteger(scaled.memory.activationsBytes) && Number.isInteger(scaled.peakMemoryBytesPerDevice)).toBe(true);
    expect(Math.abs(scaled.memory.activationsBytes - 1.4 * r.memory.activationsBytes)).toBeLessThanOrEqual(2);
    expect(Math.abs(scaled.peakMemoryBytesPerDevice - r.peakMemoryBytesPerDevice - 0.4 * r.memory.activationsBytes)).toBeLessThanOrEqual(2);
    expect(() => SimProfileSchema.parse({ ...base, activationMemoryFactor: { ...factor, value: 0.9 } })).toThrow(/≥ 1/);
  });

  it('names a bad field of a profile object instead of predicting a negative step or crashing', () => {
    const base = getSimProfile('ascend-910b-training');
    const plan = ParallelPlanSchema.parse(proPlan);
    expect(() => simulateTraining({ arch: pro, cluster, plan, profile: { ...base, stepOverheadS: { ...base.stepOverheadS, value: -1 } } })).toThrow(/invalid profile:\n {2}- stepOverheadS/);
    const { topKZipfExponent: _, ...missing } = base;
    expect(() => simulateTraining({ arch: pro, cluster, plan, profile: missing as typeof base })).toThrow(/invalid profile:\n {2}- topKZipfExponent/);
  });

  it('gives every layer a forward and a backward time', () => {
    expect(r.perLayer.map((l) => l.layer)).toEqual(Array.from({ length: pro.numLayers }, (_, i) => i));
    for (const l of r.perLayer) {
      expect(l.forwardS).toBeGreaterThan(0);
      expect(l.backwardS).toBeGreaterThan(l.forwardS); // backward does about twice the matmul work
    }
  });

  it('writes a Chrome trace with one complete event per forward and backward task', () => {
    const tasks = r.trace!.traceEvents.filter((e) => e.ph === 'X' && (e.cat === 'forward' || e.cat === 'backward'));
    expect(tasks).toHaveLength(2 * r.numMicroBatches * 4 * 2); // F and B × micro-batches × stages × chunks
    for (const e of r.trace!.traceEvents) if (e.ph === 'X') expect(e.dur).toBeGreaterThanOrEqual(0);
    expect(new Set(tasks.map((e) => e.pid))).toEqual(new Set([0, 1, 2, 3]));
    expect(JSON.parse(JSON.stringify(r.trace)).displayTimeUnit).toBe('ms');
    // The step ends when the last stage's weights are back: never after the trace's last event (the
    // optimizer and gather of different stages are not added up).
    const traceEndUs = Math.max(...r.trace!.traceEvents.filter((e) => e.ph === 'X').map((e) => e.ts! + e.dur!));
    expect(r.stepTimeS * 1e6).toBeLessThanOrEqual(traceEndUs + 1e-3 + r.breakdown.overheadS * 1e6);
  });

  it('gets slower with overlap switched off', () => {
    const off = run(proPlan, { overlap: false });
    expect(off.stepTimeS).toBeGreaterThan(r.stepTimeS);
  });

  it('hides data-parallel traffic under the last backward and first forward bucket by bucket, also with one chunk per stage', () => {
    // pp 1 and plain 1F1B: one chunk per stage, whose gradients are final only during the last backward.
    for (const plan of [{ tp: 8, ep: 8, dp: 8, microBatchSize: 1, globalBatchSize: 64, seqLength: 4096, sequenceParallel: true }, { ...proPlan, vpp: 1 }]) {
      const on = run(plan);
      const off = run(plan, { overlap: { pipeline: true, intraLayer: true, dataParallel: false } });
      expect(on.breakdown.exposedComm.dpS).toBeGreaterThan(0);
      expect(on.breakdown.exposedComm.dpS).toBeLessThan(0.8 * off.breakdown.exposedComm.dpS);
      expect(on.stepTimeS).toBeLessThan(off.stepTimeS);
    }
  });

  it('blocks the sending rank on pipeline transfers only when pipeline overlap is off (Megatron without --overlap-p2p-communication)', () => {
    expect(r.breakdown.exposedComm.ppS).toBe(0);
    const blocking = run(proPlan, { overlap: { pipeline: false, intraLayer: true, dataParallel: true } });
    expect(blocking.breakdown.exposedComm.ppS).toBeGreaterThan(0);
    expect(breakdownTotal(blocking.breakdown)).toBeCloseTo(blocking.stepTimeS, 9);
    // The critical stage's share is at most one send per task it runs (2 × chunks × micro-batches).
    const sendS = blocking.breakdown.exposedComm.ppS / (2 * proPlan.vpp! * blocking.numMicroBatches);
    expect(sendS).toBeGreaterThan(0);
    expect(sendS).toBeLessThan(1e-2);
  });

  it('hierarchical all-to-all beats the flat one when expert parallelism spans nodes', () => {
    const plan = { ...proPlan, tp: 1, pp: 2, ep: 32, dp: 32, globalBatchSize: 128, sequenceParallel: false };
    const flat = run(plan, { dispatch: 'flat', overlap: false });
    const hier = run(plan, { dispatch: 'hierarchical', overlap: false });
    expect(hier.breakdown.exposedComm.epS).toBeLessThan(flat.breakdown.exposedComm.epS);
  });

  it('MoGE keeps expert-parallel devices balanced; plain top-k leaves a straggler', () => {
    const plan = { ...proPlan, ep: 8 };
    const moge = run(plan);
    const topk = run(plan, {}, MoeArchSchema.parse({ ...pro, router: 'topk', numExpertGroups: 1 }));
    expect(moge.expertLoadFactor).toBe(1);
    expect(topk.expertLoadFactor).toBeGreaterThan(1);
    expect(topk.breakdown.computeS).toBeGreaterThan(moge.breakdown.computeS);
  });

  it('trades time for memory with recompute and swapping', () => {
    const full = run({ ...proPlan, recompute: ['layer'] });
    expect(full.breakdown.recomputeS).toBeGreaterThan(0);
    expect(full.peakMemoryBytesPerDevice).toBeLessThan(r.peakMemoryBytesPerDevice);
    expect(full.stepTimeS).toBeGreaterThan(r.stepTimeS);
    const swap = run({ ...proPlan, swap: ['attention', 'moe'] }, { overlap: false });
    expect(swap.peakMemoryBytesPerDevice).toBeLessThan(r.peakMemoryBytesPerDevice);
    expect(swap.breakdown.swapS).toBeGreaterThan(0);
  });

  it('rejects an expert parallelism that does not divide the experts, naming ep', () => {
    expect(() => run({ ...proPlan, tp: 1, ep: 3, dp: 12, globalBatchSize: 48 }, {}, pro, parseClusterSpec('atlas-800t-a2:48'))).toThrow(/ep: got 3, expected a divisor of the 64 experts/);
  });

  it('refuses routing statistics of another model or of no layer, naming the option field', () => {
    const trace = (experts: number, layers: number) => ({
      kind: 'trace' as const,
      stats: { router: 'moge' as const, numExperts: experts, topK: 8, numDevices: 8, tokens: 100, layers: Array.from({ length: layers }, () => ({ expertCounts: new Array<number>(experts).fill(10) })) },
    });
    // 8 counts for a 64-expert model used to be placed as if they were its experts (a load factor of 7).
    expect(() => run(proPlan, { expertLoad: trace(8, 2) })).toThrow(/training simulator options:\n {2}- expertLoad\.stats\.layers\.0\.expertCounts: got "8 counts", expected one count per expert of the architecture, 64/);
    expect(() => run(proPlan, { expertLoad: trace(64, 0) })).toThrow(/expertLoad\.stats\.layers: got \[\], expected at least one layer/);
    expect(run(proPlan, { expertLoad: trace(64, 2) }).expertLoadFactor).toBeGreaterThanOrEqual(1);
  });

  it('rejects a plan larger than the cluster, naming the sizes', () => {
    expect(() => run({ ...proPlan, dp: 8 })).toThrow(/128 devices.*has 64/);
  });
});
