import { describe, expect, it } from 'vitest';
import { parseWith, ParallelPlanSchema, ValidationError, type ParallelPlanInput } from '@moge/core';
import { parseClusterSpec } from '@moge/ascend-hal';
import { getPreset } from '@moge/model';
import { getInferenceProfile } from './profile';
import { simulateInference, type InferenceSimInput } from './simulate';
import type { InferenceWorkloadInput } from './workload';

const pro = getPreset('pangu-pro-moe');
const plan = (p: ParallelPlanInput) => parseWith(ParallelPlanSchema, p, 'plan');
const h2p4 = plan({ tp: 4, ep: 2, etp: 2, sequenceParallel: true });
const decode = (w: Partial<InferenceWorkloadInput> = {}): InferenceWorkloadInput => ({ phase: 'decode', batch: 64, inputLength: 2048, quantization: 'w8a8', layout: { sharedExpertTp: 4, fuseCollectives: true }, ...w });
const run = (over: Partial<InferenceSimInput> = {}) => simulateInference({ arch: pro, cluster: parseClusterSpec('atlas-800i-a2:4'), plan: h2p4, workload: decode(), ...over });

describe('simulateInference', () => {
  it('reports TPOT for decode and TTFT for prefill, with per-card throughput', () => {
    const d = run();
    expect(d.ttftS).toBeNull();
    expect(d.tpotS).toBeGreaterThan(0);
    expect(d.throughputPerCard).toBeCloseTo(64 / d.tpotS! / 4, 6);
    const p = run({ workload: { ...decode(), phase: 'prefill', batch: 2 } });
    expect(p.tpotS).toBeNull();
    expect(p.throughputPerCard).toBeCloseTo((2 * 2048) / p.ttftS! / 4, 6);
  });

  it('reads only the experts a small decode batch touches, all of them for a large one', () => {
    const one = run({ workload: decode({ batch: 1 }) });
    const many = run({ workload: decode({ batch: 512 }) });
    expect(one.experts.localExperts).toBe(32);
    expect(one.experts.activeExpertsPerDevice).toBeCloseTo(4, 6); // 8 groups over EP2: 4 groups, 1 pick each
    expect(many.experts.activeExpertsPerDevice).toBeCloseTo(32, 3);
    expect(many.bytesPerStep).toBeGreaterThan(one.bytesPerStep);
  });

  it('is memory-bound in decode at batch 1 and compute-bound in prefill', () => {
    const d = run({ workload: decode({ batch: 1 }) }).breakdown;
    expect(d.memoryBoundS).toBeGreaterThan(d.computeBoundS);
    const p = run({ workload: { ...decode(), phase: 'prefill', batch: 2 } }).breakdown;
    expect(p.computeBoundS).toBeGreaterThan(p.memoryBoundS);
  });

  it('reads fewer weight bytes and prefills faster when quantised (bf16 → W8A8 → W4A8)', () => {
    const b = run({ workload: decode({ batch: 1, quantization: 'bf16' }) });
    const w8 = run({ workload: decode({ batch: 1, quantization: 'w8a8' }) });
    const w4 = run({ workload: decode({ batch: 1, quantization: 'w4a8' }) });
    expect(w8.bytesPerStep).toBeLessThan(b.bytesPerStep);
    expect(w4.bytesPerStep).toBeLessThan(w8.bytesPerStep);
    expect(w8.memory.weightsBytes).toBeLessThan(b.memory.weightsBytes);
    const pb = run({ workload: { ...decode(), phase: 'prefill', batch: 2, quantization: 'bf16' } });
    const p8 = run({ workload: { ...decode(), phase: 'prefill', batch: 2, quantization: 'w8a8' } });
    expect(p8.ttftS!).toBeLessThan(pb.ttftS!);
  });

  it('limits the batch by KV-cache capacity and says when a batch does not fit', () => {
    const r = run({ workload: decode({ batch: 4000 }) });
    expect(r.memory.fits).toBe(false);
    expect(r.memory.maxBatch).toBeLessThan(4000);
    const longer = run({ workload: decode({ inputLength: 8192 }) });
    expect(longer.memory.maxBatch).toBeLessThan(r.memory.maxBatch);
    // The sampler's fp32 logits of maxNumSeqs sequences (vLLM's --max-num-seqs, default 256) are held too.
    const base = run({ workload: decode({ batch: 8 }) });
    const more = run({ workload: decode({ batch: 8, maxNumSeqs: 1024 }) });
    expect(more.memory.totalBytes - base.memory.totalBytes).toBe((1024 - 256) * pro.vocabSize * 4);
    expect(more.tpotS).toBe(base.tpotS);
  });

  it('speeds decode up with MTP when drafts are accepted, slows it down when none are', () => {
    const base = run({ workload: decode({ batch: 8 }) });
    const good = run({ workload: decode({ batch: 8, speculation: { method: 'mtp', depth: 1, acceptanceRate: 0.9 } }) });
    const bad = run({ workload: decode({ batch: 8, speculation: { method: 'mtp', depth: 1, acceptanceRate: 0 } }) });
    expect(good.acceptedTokensPerStep).toBeCloseTo(1.9, 10);
    expect(good.breakdown.draftS).toBeGreaterThan(0);
    expect(good.tpotS!).toBeLessThan(base.tpotS!);
    expect(bad.tpotS!).toBeGreaterThan(base.tpotS!);
    // The draft module is costed in time, so it is counted in memory too (this preset's config has none).
    expect(good.memory.weightsBytes).toBeGreaterThan(base.memory.weightsBytes);
    expect(good.memory.kvBytes).toBeGreaterThan(base.memory.kvBytes);
  });

  it('gains from H2P: the split all-reduce and fused collectives expose less communication', () => {
    const plain = run({ plan: plan({ tp: 4, ep: 2, etp: 2 }), workload: decode({ layout: { sharedExpertTp: 4, fuseCollectives: false } }) });
    const h2p = run();
    const exposed = (r: typeof h2p) => r.breakdown.comm.tpS + r.breakdown.comm.sharedTpS + r.breakdown.comm.epS + r.breakdown.comm.etpS;
    expect(exposed(h2p)).toBeLessThan(exposed(plain));
    expect(h2p.tpotS!).toBeLessThan(plain.tpotS!);
  });

  it('pays more for communication over PCIe-only 300I Duo cards than over HCCS', () => {
    const w: InferenceWorkloadInput = { ...decode(), phase: 'prefill', batch: 1, layout: { sharedExpertTp: 4, fuseCollectives: false } };
    const duo = simulateInference({ arch: pro, cluster: parseClusterSpec('atlas-300i-duo:4'), plan: h2p4, workload: w });
    const a2 = run({ workload: w });
    const exposed = (r: typeof duo) => r.breakdown.comm.tpS + r.breakdown.comm.sharedTpS + r.breakdown.comm.epS + r.breakdown.comm.etpS;
    expect(exposed(duo)).toBeGreaterThan(2 * exposed(a2));
  });

  it('runs dense models, MLA (latent KV) and GPUs', () => {
    const dense = simulateInference({ arch: getPreset('dense-32b'), cluster: parseClusterSpec('hgx-h200:1'), plan: plan({}), workload: { phase: 'decode', batch: 1, inputLength: 2048 } });
    expect(dense.experts.activeExpertsPerDevice).toBe(0);
    // Batch-1 dense decode reads every weight once: ≥ 65 GB at 4.8 TB/s.
    expect(dense.tpotS!).toBeGreaterThan(65e9 / 4.8e12);
    const ultra = simulateInference({ arch: getPreset('pangu-ultra-moe'), cluster: parseClusterSpec('hgx-h200:8'), plan: plan({ tp: 8, ep: 8, sequenceParallel: true }), workload: { phase: 'decode', batch: 32, inputLength: 4096, quantization: 'w8a8' } });
    expect(ultra.breakdown.computeByModule['attention-core']).toBeGreaterThan(0);
    expect(ultra.memory.fits).toBe(true);
  });

  it('rejects layouts it does not model, naming the field', () => {
    expect(() => run({ plan: plan({ tp: 2, pp: 2, ep: 2, etp: 1, sequenceParallel: true }) })).toThrow(/plan\.pp/);
    expect(() => run({ plan: plan({ tp: 2, ep: 2, sequenceParallel: true }) })).toThrow(ValidationError);
    expect(() => run({ workload: { ...decode(), batch: 0 } })).toThrow(/batch/);
    expect(() => run({ workload: decode({ layout: { sharedExpertTp: 3, fuseCollectives: true } }) })).toThrow(/sharedExpertTp/);
  });

  it('takes the architecture and plan as JSON input, defaults filled (the plan\'s globalBatchSize too), and names a bad field', () => {
    const json = { arch: JSON.parse(JSON.stringify(pro)) as InferenceSimInput['arch'], plan: { tp: 4, ep: 2, etp: 2, sequenceParallel: true } };
    expect(run(json).tpotS).toBeCloseTo(run().tpotS!, 12);
    // Attention DP4 × TP1: a plan without globalBatchSize is not refused for dp not dividing it.
    expect(run({ plan: { dp: 4, ep: 2, etp: 2 } }).tpotS).toBeCloseTo(run({ plan: plan({ dp: 4, ep: 2, etp: 2, globalBatchSize: 4 }) }).tpotS!, 12);
    expect(() => run({ plan: { tp: 4, ep: 2, etp: 2, sequenceParalel: true } as ParallelPlanInput })).toThrow(/invalid plan:\n {2}- sequenceParalel[\s\S]*sequenceParallel/);
    expect(() => run({ arch: { ...pro, numLayers: 0 } })).toThrow(/invalid arch:\n {2}- numLayers: got 0/);
  });

  it('names a bad field of a profile object instead of predicting a NaN TPOT', () => {
    const base = getInferenceProfile();
    expect(() => run({ profile: { ...base, stepOverheadS: { ...base.stepOverheadS, value: Number.NaN } } })).toThrow(/invalid inference profile:\n {2}- stepOverheadS/);
  });

  it('refuses a tp that neither shards nor replicates the KV heads whole, and accepts one that replicates them', () => {
    // 40 query heads over 5 ranks split evenly, but 8 KV heads over 5 do not (vLLM refuses it).
    const arch = { ...getPreset('dense-32b'), vocabSize: 152_000 };
    const at = (tp: number) => () => simulateInference({ arch, cluster: parseClusterSpec(`atlas-800i-a2:${tp}`), plan: plan({ tp }), workload: { phase: 'decode', batch: 8, inputLength: 1024 } });
    expect(at(5)).toThrow(/plan\.tp: got 5, expected a divisor or a multiple of numKvHeads \(8\)/);
    const replicated = { ...arch, numKvHeads: 2, numHeads: 8 };
    expect(simulateInference({ arch: replicated, cluster: parseClusterSpec('atlas-800i-a2:4'), plan: plan({ tp: 4 }), workload: { phase: 'decode', batch: 8, inputLength: 1024 } }).tpotS).toBeGreaterThan(0);
  });

  it('runs fp16 on chips without a bf16 path (310P)', () => {
    const r = simulateInference({ arch: pro, cluster: parseClusterSpec('atlas-300i-duo:4'), plan: h2p4, workload: decode({ quantization: 'bf16', batch: 1, layout: { fuseCollectives: false } }) });
    expect(r.tpotS).toBeGreaterThan(0);
  });
});

describe('simulateInference breakdown', () => {
  it('lists every operator with what bounds it, counted over the layers', () => {
    const r = run({ workload: decode({ batch: 1 }) });
    const experts = r.breakdown.ops.find((o) => o.name === 'experts-gate-up')!;
    expect(experts.bound).toBe('memory');
    expect(experts.count).toBe(48);
    expect(r.breakdown.ops.some((o) => o.bound === 'link')).toBe(true);
    const prefill = run({ workload: { ...decode(), phase: 'prefill', batch: 2 } });
    expect(prefill.breakdown.ops.find((o) => o.name === 'qkv-proj')!.bound).toBe('compute');
  });

  it('halves the KV bytes decode attention reads with an int8 KV cache', () => {
    const bf16 = run({ workload: decode({ batch: 256 }) }).breakdown.computeByModule['attention-core']!;
    const int8 = run({ workload: decode({ batch: 256, kvDType: 'int8' }) }).breakdown.computeByModule['attention-core']!;
    expect(int8 / bf16).toBeGreaterThan(0.45);
    expect(int8 / bf16).toBeLessThan(0.6);
  });
});
