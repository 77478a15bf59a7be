import { describe, expect, it } from 'vitest';
import { parseWith, ParallelPlanSchema, type ParallelPlanInput } from '@moge/core';
import { parseClusterSpec } from '@moge/ascend-hal';
import { getPreset } from '@moge/model';
import { simulateInference, type InferenceSimInput, type InferenceSimResult } from './simulate';

/**
 * pp = 1 results, frozen before pipeline stages were added to the inference simulator (the snapshot
 * was written by the code without them): adding pp > 1 must not move a single bit of a pp = 1 figure.
 * Only the fields that existed then are compared, so new fields (per-stage figures) do not count.
 */
const plan = (p: ParallelPlanInput) => parseWith(ParallelPlanSchema, p, 'plan');
const pro = getPreset('pangu-pro-moe');
const h2p4 = plan({ tp: 4, ep: 2, etp: 2, sequenceParallel: true });
const w8 = { inputLength: 2048, quantization: 'w8a8', layout: { sharedExpertTp: 4, fuseCollectives: true } } as const;

const CASES: Record<string, InferenceSimInput> = {
  'pro decode h2p4 batch 64': { arch: pro, cluster: parseClusterSpec('atlas-800i-a2:4'), plan: h2p4, workload: { ...w8, phase: 'decode', batch: 64 } },
  'pro prefill h2p4 batch 2': { arch: pro, cluster: parseClusterSpec('atlas-800i-a2:4'), plan: h2p4, workload: { ...w8, phase: 'prefill', batch: 2 } },
  'pro decode MTP batch 8': { arch: pro, cluster: parseClusterSpec('atlas-800i-a2:4'), plan: h2p4, workload: { ...w8, phase: 'decode', batch: 8, speculation: { method: 'mtp', depth: 1, acceptanceRate: 0.9 } } },
  'pro decode dp4 batch 30 (dp not dividing)': { arch: pro, cluster: parseClusterSpec('atlas-800i-a2:4'), plan: plan({ dp: 4, ep: 2, etp: 2, globalBatchSize: 4 }), workload: { ...w8, phase: 'decode', batch: 30, layout: { fuseCollectives: false } } },
  'pro prefill 300I Duo no fusion': { arch: pro, cluster: parseClusterSpec('atlas-300i-duo:4'), plan: h2p4, workload: { ...w8, phase: 'prefill', batch: 1, layout: { sharedExpertTp: 4, fuseCollectives: false } } },
  'dense-32b decode H200': { arch: getPreset('dense-32b'), cluster: parseClusterSpec('hgx-h200:1'), plan: plan({}), workload: { phase: 'decode', batch: 1, inputLength: 2048 } },
  'ultra decode H200x8 batch 32': { arch: getPreset('pangu-ultra-moe'), cluster: parseClusterSpec('hgx-h200:8'), plan: plan({ tp: 8, ep: 8, sequenceParallel: true }), workload: { phase: 'decode', batch: 32, inputLength: 4096, quantization: 'w8a8' } },
};

/** The result as it was before pipeline stages: every field it had then, and only those. */
function frozenFields(r: InferenceSimResult) {
  const b = r.breakdown;
  return {
    phase: r.phase,
    batch: r.batch,
    batchPerDpRank: r.batchPerDpRank,
    devices: r.devices,
    profile: r.profile,
    ttftS: r.ttftS,
    tpotS: r.tpotS,
    stepTimeS: r.stepTimeS,
    acceptedTokensPerStep: r.acceptedTokensPerStep,
    throughputPerCard: r.throughputPerCard,
    throughputUnit: r.throughputUnit,
    breakdown: {
      computeByModule: b.computeByModule,
      comm: { tpS: b.comm.tpS, sharedTpS: b.comm.sharedTpS, epS: b.comm.epS, etpS: b.comm.etpS },
      hiddenCommS: b.hiddenCommS,
      draftS: b.draftS,
      stepOverheadS: b.stepOverheadS,
      launchS: b.launchS,
      memoryBoundS: b.memoryBoundS,
      computeBoundS: b.computeBoundS,
      ops: b.ops,
    },
    experts: r.experts,
    memory: {
      weightsBytes: r.memory.weightsBytes,
      kvBytes: r.memory.kvBytes,
      totalBytes: r.memory.totalBytes,
      usableBytes: r.memory.usableBytes,
      maxBatch: r.memory.maxBatch,
      fits: r.memory.fits,
    },
    bytesPerStep: r.bytesPerStep,
    flopsPerStep: r.flopsPerStep,
  };
}

describe('simulateInference with pp = 1', () => {
  for (const [name, input] of Object.entries(CASES)) {
    it(`gives bit for bit the figures it gave before pipeline stages: ${name}`, () => {
      expect(frozenFields(simulateInference(input))).toMatchSnapshot();
    });
  }
});
