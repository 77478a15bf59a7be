import { describe, expect, it } from 'vitest';
import { ParallelPlanSchema } from '@moge/core';
import { parseClusterSpec } from '@moge/ascend-hal';
import { getPreset } from '@moge/model';
import { prepareTraining, scheduleTraining } from './simulate';

const ultra = getPreset('pangu-ultra-moe');
const cluster = parseClusterSpec('atlas-800t-a2:256');
// Pangu Ultra's pipeline shape (PP16 × VPP2 = 32 virtual stages for 61 layers + 1 MTP) on a small cluster.
const plan = ParallelPlanSchema.parse({ tp: 8, pp: 16, vpp: 2, ep: 16, dp: 2, microBatchSize: 1, globalBatchSize: 64, seqLength: 4096, sequenceParallel: true, noopLayers: 3 });

describe('layout choice (balanced layout)', () => {
  const prep = prepareTraining({ arch: ultra, cluster, plan });
  const result = scheduleTraining(prep);
  const alone = prep.layouts().map((c) => ({ layout: c.layout, stepS: scheduleTraining({ ...prep, work: c.work, layouts: () => [c] }).stepTimeS }));

  it('simulates every candidate split and keeps the fastest', () => {
    expect(prep.layouts().map((c) => c.tail)).toEqual(['last-chunk', 'own-stages', 'chunk-balanced']);
    const fastest = alone.reduce((a, b) => (b.stepS < a.stepS ? b : a));
    expect(result.pipelineLayout).toBe(fastest.layout);
    expect(result.stepTimeS).toBeCloseTo(fastest.stepS, 12);
  });

  it('takes the MTP module and the loss off the last chunk for Pangu Ultra: one chunk with the head and MTP stalls every rank under interleaving', () => {
    const stages = result.pipelineLayout.split('|');
    expect(stages).toHaveLength(32);
    expect(stages.at(-1)).toBe('L');
    expect(stages.at(-2)).toMatch(/m$/);
    expect(stages[0]).toMatch(/^E/);
    expect(stages.join('').replace(/[^t]/g, '')).toHaveLength(61);
    const lastChunk = alone.find((a) => a.layout.endsWith('Lm'))!;
    expect(result.stepTimeS).toBeLessThan(lastChunk.stepS * 0.95);
  });

  it('keeps Megatron\'s uniform split as the only candidate when asked for it, and plain 1F1B to the stage-balanced split', () => {
    expect(prepareTraining({ arch: ultra, cluster, plan, options: { layerLayout: 'uniform' } }).layouts()).toHaveLength(1);
    const flat = ParallelPlanSchema.parse({ ...plan, vpp: 1 });
    expect(prepareTraining({ arch: ultra, cluster, plan: flat }).layouts().map((c) => c.tail)).toEqual(['last-chunk']);
  });
});
