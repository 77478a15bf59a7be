import { parseWith, planNumMicroBatches, type MoeArch, type ParallelPlan } from '@moge/core';
import type { BlockKind } from './activation-shape';
import { buildActivationBlocks, type ActivationBlock } from './blocks';
import { TrainingMemoryOptionsSchema, type TrainingMemoryOptions, type TrainingMemoryOptionsInput } from './options';
import { evaluateBlock, policyOf, type BlockMemory, type MemoryPolicy } from './policy';
import { addCost, ZERO_COST, type RecomputeCost } from './recompute-cost';
import { inFlightProfiles } from './schedule';
import { checkPlanFitsArch } from './stage-layout';
import { stageParams, staticBytes, type StageParams, type StaticBytes } from './static-memory';

/** Memory of one device of one pipeline stage at its peak (right after a forward, before its backward). */
export interface StageMemory extends StaticBytes {
  stage: number;
  params: StageParams;
  /** Activations resident on the device at the peak: in-flight micro-batches + swap prefetch + recompute workspace. */
  activationsBytes: number;
  activation: {
    /** Micro-batches whose activations each model chunk holds at the peak. */
    microBatchesInFlight: number[];
    inFlightBytes: number;
    /** Swapped activations brought back ahead of backward (`swapPrefetchLayers` blocks of one micro-batch). */
    prefetchBytes: number;
    /** One wholly recomputed block re-materialised during its backward. */
    recomputeWorkspaceBytes: number;
  };
  overheadBytes: number;
  totalBytes: number;
  /** Host memory the swapped activations occupy at the peak. */
  hostBytes: number;
  /** Device→host plus host→device bytes of one optimizer step, and the number of transfers. */
  swap: { bytesPerStep: number; transfersPerStep: number; timePerStepS: number | null };
  /** Extra backward work of one optimizer step (all micro-batches). */
  recomputePerStep: RecomputeCost;
}

export interface LayerActivation {
  /** Layer index in the stack; MTP module d is numLayers + noopLayers + d. */
  layer: number;
  kind: BlockKind;
  stage: number;
  chunk: number;
  /** Bytes kept from forward for backward, one micro-batch (after recompute, before swap). */
  activationBytes: number;
  /** Part of `activationBytes` that stays on the device. */
  deviceBytes: number;
  swappedBytes: number;
  /** Bytes without any recompute. */
  fullBytes: number;
  wholeRecompute: boolean;
}

/** Per-device training memory: the peak stage's breakdown up front, every stage and layer below. */
export interface TrainingMemoryEstimate extends StaticBytes {
  peakStage: number;
  activationsBytes: number;
  overheadBytes: number;
  totalBytes: number;
  numMicroBatches: number;
  policy: MemoryPolicy;
  perLayer: LayerActivation[];
  stages: StageMemory[];
}

/** Everything about a training run that does not depend on the recompute/swap policy, computed once. */
export interface PreparedTraining {
  arch: MoeArch;
  plan: ParallelPlan;
  options: TrainingMemoryOptions;
  numMicroBatches: number;
  blocksByStage: ActivationBlock[][];
  profilesByStage: number[][][];
  staticByStage: { params: StageParams; bytes: StaticBytes }[];
}

export function prepareTraining(arch: MoeArch, plan: ParallelPlan, options: TrainingMemoryOptions): PreparedTraining {
  checkPlanFitsArch(arch, plan);
  const numMicroBatches = planNumMicroBatches(plan);
  const blocks = buildActivationBlocks(arch, plan, options);
  const blocksByStage = Array.from({ length: plan.pp }, (_, stage) => blocks.filter((b) => b.stage === stage));
  const profilesByStage = blocksByStage.map((_, stage) => inFlightProfiles(plan.pp, plan.vpp, numMicroBatches, stage));
  const staticByStage = stageParams(arch, plan).map((params) => ({ params, bytes: staticBytes(params, plan, options) }));
  return { arch, plan, options, numMicroBatches, blocksByStage, profilesByStage, staticByStage };
}

function evaluateStage(prep: PreparedTraining, stage: number, memories: BlockMemory[]): StageMemory {
  const { plan, options } = prep;
  const blocks = prep.blocksByStage[stage]!;
  const residentPerChunk = new Array<number>(plan.vpp).fill(0);
  const swappedPerChunk = new Array<number>(plan.vpp).fill(0);
  let maxSwappedBlock = 0;
  let workspace = 0;
  let swappedPerMicroBatch = 0;
  let swappedBlocks = 0;
  let recompute = ZERO_COST;
  blocks.forEach((block, i) => {
    const m = memories[i]!;
    residentPerChunk[block.chunk]! += m.keptBytes - m.swappedBytes;
    swappedPerChunk[block.chunk]! += m.swappedBytes;
    maxSwappedBlock = Math.max(maxSwappedBlock, m.swappedBytes);
    swappedPerMicroBatch += m.swappedBytes;
    if (m.swappedBytes > 0) swappedBlocks += 1;
    if (m.wholeRecompute) workspace = Math.max(workspace, m.fullBytes);
    recompute = addCost(recompute, m.cost, prep.numMicroBatches);
  });
  let inFlightBytes = -1;
  let hostBytes = 0;
  let microBatchesInFlight: number[] = [];
  for (const live of prep.profilesByStage[stage]!) {
    const bytes = live.reduce((sum, n, c) => sum + n * residentPerChunk[c]!, 0);
    if (bytes > inFlightBytes) {
      inFlightBytes = bytes;
      hostBytes = live.reduce((sum, n, c) => sum + n * swappedPerChunk[c]!, 0);
      microBatchesInFlight = live;
    }
  }
  const prefetchBytes = Math.min(options.swapPrefetchLayers * maxSwappedBlock, swappedPerMicroBatch);
  // Whole bytes: the expert load factor and the overhead factor scale counts into fractions.
  const activationsBytes = Math.ceil((inFlightBytes + prefetchBytes + workspace) * options.activationOverheadFactor);
  const { bytes, params } = prep.staticByStage[stage]!;
  const overheadBytes = options.frameworkOverheadBytes;
  const swapBytes = 2 * swappedPerMicroBatch * prep.numMicroBatches;
  const transfers = 2 * swappedBlocks * prep.numMicroBatches;
  const link = options.hostLink;
  return {
    stage,
    params,
    ...bytes,
    activationsBytes,
    activation: { microBatchesInFlight, inFlightBytes, prefetchBytes, recomputeWorkspaceBytes: workspace },
    overheadBytes,
    totalBytes: bytes.weightsBytes + bytes.gradientsBytes + bytes.optimizerBytes + activationsBytes + overheadBytes,
    hostBytes,
    swap: {
      bytesPerStep: swapBytes,
      transfersPerStep: transfers,
      timePerStepS: link ? swapBytes / link.bandwidth + transfers * link.latencyS : null,
    },
    recomputePerStep: recompute,
  };
}

/**
 * Evaluates a policy on a prepared run; the planner calls this for every candidate, without the
 * per-layer list (`withLayers = false`) since only the stage totals decide.
 */
export function evaluatePolicy(prep: PreparedTraining, policy: MemoryPolicy, withLayers = true): TrainingMemoryEstimate {
  const perLayer: LayerActivation[] = [];
  const stages = prep.blocksByStage.map((blocks, stage) => {
    const memories = blocks.map((b) => evaluateBlock(b, policy));
    if (withLayers) blocks.forEach((b, i) => {
      if (b.kind !== 'dense' && b.kind !== 'moe' && b.kind !== 'mtp') return;
      const m = memories[i]!;
      perLayer.push({
        layer: b.layer,
        kind: b.kind,
        stage: b.stage,
        chunk: b.chunk,
        activationBytes: m.keptBytes,
        deviceBytes: m.keptBytes - m.swappedBytes,
        swappedBytes: m.swappedBytes,
        fullBytes: m.fullBytes,
        wholeRecompute: m.wholeRecompute,
      });
    });
    return evaluateStage(prep, stage, memories);
  });
  perLayer.sort((a, b) => a.layer - b.layer);
  const peak = stages.reduce((best, s) => (s.totalBytes > best.totalBytes ? s : best), stages[0]!);
  return {
    peakStage: peak.stage,
    weightsBytes: peak.weightsBytes,
    gradientsBytes: peak.gradientsBytes,
    optimizerBytes: peak.optimizerBytes,
    activationsBytes: peak.activationsBytes,
    overheadBytes: peak.overheadBytes,
    totalBytes: peak.totalBytes,
    numMicroBatches: prep.numMicroBatches,
    policy,
    perLayer,
    stages,
  };
}

/**
 * Per-device training memory of `arch` under `plan` (its recompute/swap policy included): weights,
 * gradients, optimizer states and activations of every pipeline stage, the peak stage up front.
 * Throws a ValidationError naming the field when the options or the plan/arch pairing are invalid.
 */
export function estimateTrainingMemory(arch: MoeArch, plan: ParallelPlan, options: TrainingMemoryOptionsInput = {}): TrainingMemoryEstimate {
  const parsed = parseWith(TrainingMemoryOptionsSchema, options, 'training memory options');
  return evaluatePolicy(prepareTraining(arch, plan, parsed), policyOf(plan));
}
