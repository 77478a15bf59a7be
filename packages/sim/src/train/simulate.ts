import { dtypeBytes, InfeasibleError, MoeArchSchema, ParallelPlanSchema, parseWith, ValidationError, planNumMicroBatches, planWorldSize, type MoeArch, type MoeArchInput, type ParallelPlan, type ParallelPlanInput } from '@moge/core';
import type { Cluster } from '@moge/ascend-hal';
import { checkPlanFitsArch, estimateTrainingMemory, hasMoeLayers, type TrainingMemoryEstimate } from '@moge/memory';
import { CommCostCache } from '../common/comm-cost';
import { expertLoadFactor, routingTraceIssues } from '../common/expert-load';
import { crossesNodes, planGroups, type PlanGroups } from '../common/group-layout';
import type { LayerShard } from '../common/layer-ops';
import { ComputeCostCache } from '../common/op-cost';
import { sumComm } from '../common/pass-cost';
import { defaultSimProfileFor, getSimProfile, SimProfileSchema, type SimProfile } from '../common/training-profile';
import { breakdownTotal, pipelineBreakdown, type StepBreakdown } from './breakdown';
import { dataParallelTiming } from './data-parallel';
import { MFU_CONVENTION, trainingFlopsPerToken } from './model-flops';
import { resolveFusedOperators, resolveOverlap, TrainingSimOptionsSchema, type TrainingSimOptions, type TrainingSimOptionsInput } from './options';
import { simulatePipeline } from './pipeline-sim';
import type { BlockCostMemo } from './block-cost-memo';
import { buildLayoutCandidate, layoutTails, type ChunkWork, type LayoutCandidate, type StageWorkInput } from './stage-work';
import { buildChromeTrace, type ChromeTrace } from './trace';

export interface LayerTiming {
  layer: number;
  kind: 'dense' | 'moe';
  stage: number;
  chunk: number;
  /** One micro-batch's forward on one device: compute + exposed communication inside the layer. */
  forwardS: number;
  /** Its backward, with recompute and swap-in. */
  backwardS: number;
}

export interface TrainingSimResult {
  stepTimeS: number;
  tokensPerStep: number;
  tokensPerSecond: number;
  /** Model FLOPs utilisation; convention in `mfuConvention`. */
  mfu: number;
  mfuConvention: string;
  /** Model FLOPs per token the MFU counts. */
  modelFlopsPerToken: number;
  devices: number;
  peakMemoryBytesPerDevice: number;
  memory: TrainingMemoryEstimate;
  fitsInMemory: boolean;
  breakdown: StepBreakdown;
  perLayer: LayerTiming[];
  numMicroBatches: number;
  /** Busiest expert-parallel device's routed load over the mean. */
  expertLoadFactor: number;
  criticalStage: number;
  stages: { stage: number; busyS: number; bubbleS: number; endS: number }[];
  /** The simulated split of the model over the virtual stages, in Megatron-core's `--pipeline-model-parallel-layout` notation. */
  pipelineLayout: string;
  profile: string;
  trace?: ChromeTrace;
}

export interface TrainingSimInput {
  arch: MoeArch;
  cluster: Cluster;
  plan: ParallelPlan;
  options?: TrainingSimOptionsInput;
  /** A profile object instead of a named one (calibration scripts fitting a new profile). */
  profile?: SimProfile;
}

/** What simulateTraining takes: the architecture and plan as parsed objects or as their JSON input. */
export interface TrainingSimRequest extends Omit<TrainingSimInput, 'arch' | 'plan'> {
  arch: MoeArch | MoeArchInput;
  plan: ParallelPlan | ParallelPlanInput;
}

export { MFU_CONVENTION };

/**
 * Predicts one optimizer step of `plan` training `arch` on `cluster`: per-layer operator costs from the
 * ascend-hal models, the pipeline schedule simulated event by event, data-parallel reduction, optimizer
 * and memory from @moge/memory.
 */
export function simulateTraining(input: TrainingSimRequest): TrainingSimResult {
  // Checked here, at the public door, so an object from JSON (no defaults filled, a field misspelt)
  // gets an error naming the field rather than a TypeError deep inside; the search, which builds
  // valid plans by the thousand, goes straight to prepareTraining.
  const arch = parseWith(MoeArchSchema, input.arch, 'arch');
  const plan = parseWith(ParallelPlanSchema, input.plan, 'plan');
  // A profile object too: a negative step overhead gave a negative step time, a missing number a TypeError.
  const profile = input.profile && parseWith(SimProfileSchema, input.profile, 'profile');
  return scheduleTraining(prepareTraining({ ...input, arch, plan, ...(profile ? { profile } : {}) }));
}

/** Everything about a plan before its schedule is simulated: memory, per-chunk work, transfer times. */
export interface PreparedTrainingSim {
  input: TrainingSimInput;
  options: TrainingSimOptions;
  profile: SimProfile;
  /** Absent while deferred (PrepareOptions.deferMemory); trainingMemory() fills it in. */
  memory?: TrainingMemoryEstimate;
  memoryOf: () => TrainingMemoryEstimate;
  /** Per-chunk work of the first layout candidate (the stage-balanced or uniform split). */
  work: ChunkWork[][];
  /**
   * Every layout worth simulating (see buildLayoutCandidates), built on first use: a search prepares
   * many plans and schedules few, and the stage-balanced split alone gives its quick estimate (the
   * other splits balance chunks, not stages). The schedule keeps the fastest.
   */
  layouts: () => LayoutCandidate[];
  groups: PlanGroups;
  /** What one device sees of a transformer layer (tokens, parallel groups, fusion): the input of layerOps. */
  shard: LayerShard;
  compute: ComputeCostCache;
  comm: CommCostCache;
  loadFactor: number;
  p2pS: number;
  world: number;
  numMicroBatches: number;
}

/** Caches shared between many plans on one cluster (a search passes the same ones to every plan). */
export interface SimCaches {
  compute: ComputeCostCache;
  comm: CommCostCache;
  /** Block costs shared across the plans (made for `compute` and `comm`). */
  blocks?: BlockCostMemo;
}

export interface PrepareOptions {
  /** Leave the memory estimate for later (trainingMemory()) when the plan swaps nothing. */
  deferMemory?: boolean;
}

export function prepareTraining(input: TrainingSimInput, caches?: SimCaches, prepOptions: PrepareOptions = {}): PreparedTrainingSim {
  const { arch, cluster, plan } = input;
  const options = parseWith(TrainingSimOptionsSchema, input.options ?? {}, 'training simulator options');
  const chip = cluster.node.chip;
  const profile: SimProfile = input.profile ?? (options.profile ? getSimProfile(options.profile) : defaultSimProfileFor(chip.name));
  const world = planWorldSize(plan);
  if (world > cluster.numDevices) {
    throw new InfeasibleError(`plan needs tp×cp×dp×pp = ${plan.tp}×${plan.cp}×${plan.dp}×${plan.pp} = ${world} devices; cluster ${cluster.name} has ${cluster.numDevices}`);
  }
  if (arch.numExperts > 0 && arch.numExperts % plan.ep !== 0) {
    // Megatron and MindSpeed shard the experts evenly over expert parallelism (no redundant copies in training).
    throw new ValidationError('plan', [{ path: 'ep', received: plan.ep, expected: `a divisor of the ${arch.numExperts} experts` }]);
  }
  // Before any cost: a plan Megatron would refuse (KV heads over TP, sequence over CP and SP, EP on a
  // dense model) would otherwise be priced with fractional heads or tokens per rank.
  checkPlanFitsArch(arch, plan, 'training');
  if (options.expertLoad.kind === 'trace' && hasMoeLayers(arch)) {
    const issues = routingTraceIssues(arch, options.expertLoad.stats, 'expertLoad.stats');
    if (issues.length > 0) throw new ValidationError('training simulator options', issues);
  }
  const overlap = resolveOverlap(options.overlap);
  const fused = resolveFusedOperators(options.fusedOperators);
  const groups = planGroups(plan, cluster.devicesPerNode);
  const numMicroBatches = planNumMicroBatches(plan);
  const tokensPerMicroBatch = plan.microBatchSize * plan.seqLength;
  const routedPerDevice = (tokensPerMicroBatch / plan.cp / (plan.tp > 1 ? plan.tp : 1)) * arch.topK;
  const loadSource =
    options.expertLoad.kind === 'router'
      ? { kind: 'router' as const, rebalance: options.expertLoad.rebalance, zipfExponent: profile.topKZipfExponent.value }
      : options.expertLoad;
  const loadFactor = expertLoadFactor(
    { arch, ep: plan.ep, epNodes: Math.ceil(plan.ep * plan.etp / groups.ep.ranksPerNode / plan.etp), assignmentsPerMicroBatch: routedPerDevice * plan.ep },
    loadSource,
  );

  const memoryOf = () =>
    estimateTrainingMemory(arch, plan, {
      loadImbalanceFactor: loadFactor,
      hostLink: { bandwidth: cluster.node.hostLink.bandwidth.value, latencyS: cluster.node.hostLink.latencyS.value },
      frameworkOverheadBytes: profile.deviceMemoryReserveBytes?.value ?? 0,
      activationOverheadFactor: profile.activationMemoryFactor?.value ?? 1,
    });
  // Time needs the memory estimate only for what it swaps; without swapping a search may skip it
  // for plans that lose on time anyway (see trainingMemory()).
  const memory = plan.swap.length > 0 || !prepOptions.deferMemory ? memoryOf() : undefined;
  const compute = caches?.compute ?? new ComputeCostCache(chip, 'bf16', profile.chipEfficiency);
  const comm = caches?.comm ?? new CommCostCache(cluster);
  const shard: LayerShard = {
    batch: plan.microBatchSize,
    seqQ: plan.seqLength / plan.cp,
    seqKv: plan.seqLength,
    causal: true,
    tp: plan.tp,
    cp: plan.cp,
    ep: plan.ep,
    etp: plan.etp,
    sequenceParallel: plan.sequenceParallel,
    expertLoadFactor: loadFactor,
    actBytes: dtypeBytes('bf16'),
    elementwiseFusion: fused.elementwise,
  };
  const stageInput: StageWorkInput = {
    arch,
    plan,
    shard,
    swappedBytes: memory ? new Map(memory.perLayer.map((l) => [l.layer, l.swappedBytes])) : new Map(),
    ctx: {
      compute,
      comm,
      groups,
      dispatch: options.dispatch,
      expertLoadFactor: loadFactor,
      intraLayerOverlap: overlap.intraLayer,
      fusedTpMatmul: fused.mc2,
      recompute: new Set(plan.recompute.filter((r) => r !== 'layer')),
    },
    hostBandwidth: cluster.node.hostLink.bandwidth.value,
    hostLatencyS: cluster.node.hostLink.latencyS.value,
    overlapSwap: overlap.intraLayer,
    layout: options.layerLayout,
    blockCosts: caches?.blocks,
  };
  const [firstTail, ...otherTails] = layoutTails(stageInput);
  const first = buildLayoutCandidate(stageInput, firstTail!);
  let all: LayoutCandidate[] | undefined;
  const layouts = () => (all ??= [first, ...otherTails.map((t) => buildLayoutCandidate(stageInput, t))]);

  const boundaryBytes = (tokensPerMicroBatch / plan.cp / (plan.sequenceParallel ? plan.tp : 1)) * arch.hiddenSize * shard.actBytes;
  const p2pCross = crossesNodes(groups.ppStride, cluster.devicesPerNode);
  const p2pS = plan.pp > 1 ? comm.sendRecv(boundaryBytes, p2pCross) : 0;
  return { input, options, profile, memory, memoryOf, work: first.work, layouts, groups, shard, compute, comm, loadFactor, p2pS, world, numMicroBatches };
}

/** The plan's memory estimate (@moge/memory), computed now if preparation deferred it. */
export function trainingMemory(prep: PreparedTrainingSim): TrainingMemoryEstimate {
  if (!prep.memory) prep.memory = prep.memoryOf();
  return prep.memory;
}

/** Simulates the prepared plan's pipeline schedule, data-parallel side and optimizer: the full prediction. */
export function scheduleTraining(prep: PreparedTrainingSim): TrainingSimResult {
  const { input, options, profile, groups, compute, comm, loadFactor, world, numMicroBatches } = prep;
  const memory = trainingMemory(prep);
  const { arch, cluster, plan } = input;
  const chip = cluster.node.chip;
  const overlap = resolveOverlap(options.overlap);
  // Without pipeline overlap, Megatron's send/receive to the neighbouring virtual stage is a blocking
  // batched isend/irecv + wait (no --overlap-p2p-communication): the sending rank waits for it too.
  const numVirtual = plan.pp * plan.vpp;
  const blockingSendS = (stage: number, chunk: number, backward: boolean): number => {
    if (overlap.pipeline || plan.pp === 1) return 0;
    const v = chunk * plan.pp + stage;
    return (backward ? v > 0 : v < numVirtual - 1) ? prep.p2pS : 0;
  };
  const task = (w: ChunkWork, backward: boolean) =>
    backward
      ? { computeS: w.backward.computeS + w.recomputeS + w.swapS / 2, commS: sumComm(w.backward.comm) + blockingSendS(w.stage, w.chunk, true) }
      : { computeS: w.forward.computeS + w.swapS / 2, commS: sumComm(w.forward.comm) + blockingSendS(w.stage, w.chunk, false) };
  const runPipeline = (work: ChunkWork[][]) =>
    simulatePipeline({
      pp: plan.pp,
      vpp: plan.vpp,
      numMicroBatches,
      forward: (s, c) => task(work[s]![c]!, false),
      backward: (s, c) => task(work[s]![c]!, true),
      p2pS: () => prep.p2pS,
      overlap: { enabled: overlap.pipeline, efficiency: profile.overlapEfficiency.value },
      // Off means Megatron without --overlap-p2p-communication: the interleaved schedule exchanges a
      // step's forward output and backward gradient together, after both ran.
      batchedP2p: !overlap.pipeline,
    });
  // Each layout candidate's schedule is simulated; the one that ends first is the layout used.
  const [firstLayout, ...others] = prep.layouts();
  let chosen = firstLayout!;
  let pipe = runPipeline(chosen.work);
  for (const candidate of others) {
    const p = runPipeline(candidate.work);
    if (p.makespanS < pipe.makespanS) {
      pipe = p;
      chosen = candidate;
    }
  }
  const work = chosen.work;

  const stageEndS = pipe.stages.map((s) => s.endS);
  const dp = dataParallelTiming({
    plan,
    work,
    events: pipe.events,
    stageEndS,
    groups,
    comm,
    compute,
    gradBytes: dtypeBytes(options.gradReduceDType),
    paramBytes: dtypeBytes('bf16'),
    overlap: overlap.dataParallel,
  });
  const criticalStage = stageEndS.indexOf(pipe.makespanS);
  const breakdown = pipelineBreakdown(pipe.events, work, criticalStage, pipe.makespanS, (e) => blockingSendS(e.stage, e.chunk, e.kind === 'B'));
  // The optimizer step waits for every stage's gradients (the global gradient norm of clipping); each
  // stage then updates and gathers its weights, and the next step's first forward on stage s waits for
  // that — a wait that pipeline fill hides on later stages, whose first forward starts later anyway.
  const gradDone = Math.max(...stageEndS.map((end, s) => end + dp.gradExposedS[s]!));
  const firstForwardS = stageEndS.map(() => Infinity);
  for (const e of pipe.events) if (e.kind === 'F') firstForwardS[e.stage] = Math.min(firstForwardS[e.stage]!, e.startS);
  let restartStage = 0;
  let restartS = 0;
  dp.optimizerS.forEach((opt, s) => {
    const wait = opt + dp.paramGatherExposedS[s]! - (s === 0 ? 0 : firstForwardS[s]!);
    if (wait > restartS) [restartStage, restartS] = [s, wait];
  });
  breakdown.optimizerS = Math.min(dp.optimizerS[restartStage]!, restartS);
  breakdown.exposedComm.dpS = gradDone - pipe.makespanS + (restartS - breakdown.optimizerS);
  breakdown.overheadS = profile.stepOverheadS.value;
  const stepTimeS = breakdownTotal(breakdown);

  const tokensPerStep = plan.globalBatchSize * plan.seqLength;
  const tokensPerSecond = tokensPerStep / stepTimeS;
  const modelFlopsPerToken = trainingFlopsPerToken(arch, plan.seqLength).total;
  const mfu = (modelFlopsPerToken * tokensPerSecond) / (world * chip.peakFlops.bf16.value);

  const perLayer: LayerTiming[] = [];
  for (const w of work.flat()) {
    for (const b of w.blocks) {
      if (b.kind !== 'dense' && b.kind !== 'moe') continue;
      perLayer.push({
        layer: b.layer,
        kind: b.kind,
        stage: w.stage,
        chunk: w.chunk,
        forwardS: b.cost.forward.computeS + sumComm(b.cost.forward.comm) + b.swapOutS,
        backwardS: b.cost.backward.computeS + sumComm(b.cost.backward.comm) + b.cost.recomputeS + b.swapInS,
      });
    }
  }
  perLayer.sort((a, b) => a.layer - b.layer);

  const result: TrainingSimResult = {
    stepTimeS,
    tokensPerStep,
    tokensPerSecond,
    mfu,
    mfuConvention: MFU_CONVENTION,
    modelFlopsPerToken,
    devices: world,
    peakMemoryBytesPerDevice: memory.totalBytes,
    memory,
    fitsInMemory: memory.totalBytes <= chip.hbmBytes.value,
    breakdown,
    perLayer,
    numMicroBatches,
    expertLoadFactor: loadFactor,
    criticalStage,
    stages: pipe.stages.map((s, stage) => ({ stage, ...s })),
    pipelineLayout: chosen.layout,
    profile: profile.name,
  };
  if (options.trace) {
    result.trace = buildChromeTrace(
      pipe.events,
      dp,
      stageEndS,
      pipe.makespanS,
      { arch: arch.name ?? 'custom', cluster: cluster.name, plan, mfu },
      { stepTimeS, firstForwardS: firstForwardS.map((t, s) => (s === 0 ? 0 : t)) },
    );
  }
  return result;
}
