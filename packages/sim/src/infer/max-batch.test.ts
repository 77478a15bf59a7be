import { describe, expect, it } from 'vitest';
import { parseWith, ParallelPlanSchema } from '@moge/core';
import { parseClusterSpec } from '@moge/ascend-hal';
import { getPreset } from '@moge/model';
import { maxBatchUnderTpot } from './max-batch';
import { simulateInference, type InferenceSimInput } from './simulate';

const input: InferenceSimInput = {
  arch: getPreset('pangu-pro-moe'),
  cluster: parseClusterSpec('atlas-800i-a2:4'),
  plan: parseWith(ParallelPlanSchema, { tp: 4, ep: 2, etp: 2, sequenceParallel: true }, 'plan'),
  workload: { phase: 'decode', batch: 1, inputLength: 2048, quantization: 'w8a8', layout: { sharedExpertTp: 4, fuseCollectives: true } },
};

describe('maxBatchUnderTpot', () => {
  it('finds the largest batch whose TPOT stays under the cap', () => {
    const r = maxBatchUnderTpot(input, 0.05);
    expect(r.limitedBy).toBe('tpot');
    expect(r.batch).toBeGreaterThan(1);
    expect(r.result!.tpotS!).toBeLessThanOrEqual(0.05);
    const next = simulateInference({ ...input, workload: { ...input.workload, batch: r.batch + 1 } });
    expect(next.tpotS!).toBeGreaterThan(0.05);
  });

  it('finds it with pipeline stages too, the KV limit from every stage (the least)', () => {
    const piped: InferenceSimInput = { ...input, cluster: parseClusterSpec('atlas-800i-a2:16'), plan: { tp: 4, pp: 4, ep: 4, sequenceParallel: true }, workload: { ...input.workload, layout: { fuseCollectives: true } } };
    const r = maxBatchUnderTpot(piped, 0.02);
    expect(r.limitedBy).toBe('tpot');
    expect(r.result!.pipeline.pp).toBe(4);
    expect(r.result!.tpotS!).toBeLessThanOrEqual(0.02);
    expect(simulateInference({ ...piped, workload: { ...piped.workload, batch: r.batch + 1 } }).tpotS!).toBeGreaterThan(0.02);
    expect(r.kvLimitBatch).toBe(r.result!.memory.maxBatch);
  });

  it('stops at the memory limit when the cap is loose: the batch fits, one more does not', () => {
    for (const case_ of [
      input,
      // A short context: the activation workspace (≈ 186 KB a token here) grows with the batch past
      // what batch 1's KV limit leaves room for.
      { arch: getPreset('dense-32b'), cluster: parseClusterSpec('hgx-h200:1'), plan: parseWith(ParallelPlanSchema, {}, 'plan'), workload: { phase: 'decode' as const, batch: 1, inputLength: 16, quantization: 'w8a8' as const } },
    ]) {
      const r = maxBatchUnderTpot(case_, 10);
      expect(r.limitedBy).toBe('kv-cache');
      expect(r.batch).toBeGreaterThan(1);
      expect(r.batch).toBeLessThanOrEqual(r.kvLimitBatch);
      expect(r.result!.memory.fits).toBe(true);
      expect(simulateInference({ ...case_, workload: { ...case_.workload, batch: r.batch + 1 } }).memory.fits).toBe(false);
    }
  });

  it('returns batch 0 when even one sequence misses the cap', () => {
    const r = maxBatchUnderTpot(input, 0.001);
    expect(r.batch).toBe(0);
    expect(r.result).toBeNull();
  });

  it('refuses a cap that is not a positive number of seconds, naming tpotCapS', () => {
    expect(() => maxBatchUnderTpot(input, Number.NaN)).toThrow(/max batch under TPOT:\n {2}- tpotCapS: got NaN/);
    expect(() => maxBatchUnderTpot(input, 0)).toThrow(/tpotCapS: got 0/);
  });
});
