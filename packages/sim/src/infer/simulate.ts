import { dtypeBytes, MoeArchSchema, ParallelPlanSchema, parseWith, servingPlanInput, ValidationError, type FieldIssue, type MoeArch, type MoeArchInput, type ParallelPlan, type ParallelPlanInput } from '@moge/core';
import type { Cluster } from '@moge/ascend-hal';
import { estimateInferenceMemory, ppLayerPartitionIssues, servingSplitsKvHeads, servingStages, type ServingStage } from '@moge/memory';
import { CommCostCache } from '../common/comm-cost';
import type { GroupLayout } from '../common/group-layout';
import type { OpModule } from '../common/ops';
import { expertActivity } from './expert-activity';
import { inferEmbeddingOps, inferHeadOps, inferLayerOps, mtpDraftOps, type InferShard } from './layer-ops';
import { InferOpCost } from './op-time';
import { pipelineHops, pipelineStepTime, sampledTokenBytes, stageActivationBytes, type PipelineBound } from './pipeline-step';
import { getInferenceProfile, InferenceProfileSchema, type InferenceProfile } from './profile';
import { addBlock, costBlock, emptyBlockCost, type BlockCost, type BlockCostContext, type InferGroups, type OpDetail } from './step-cost';
import { acceptedTokensPerStep, contextOf, InferenceWorkloadSchema, type InferenceWorkload, type InferenceWorkloadInput } from './workload';

export interface InferenceSimInput {
  /** Parsed, or its JSON input (defaults filled, a bad field named). */
  arch: MoeArch | MoeArchInput;
  cluster: Cluster;
  /**
   * Attention DP × TP (`dp`, `tp`), routed experts EP × ETP, `sequenceParallel` = H2P's split
   * all-reduce, `pp` pipeline stages (vLLM's `--pipeline-parallel-size`; see pipeline-step.ts);
   * parsed, or its JSON input, whose training-only `globalBatchSize` may be left out.
   */
  plan: ParallelPlan | ParallelPlanInput;
  workload: InferenceWorkloadInput;
  /** A profile name or object (default `inference-default`). */
  profile?: string | InferenceProfile;
}

/**
 * Where one step's time goes on the busiest device, in seconds. With pp > 1 the busiest device is
 * one of the busiest stage (`pipeline.busiestStage`), and every figure is of one forward of its
 * micro-batch (decode: ⌈batchPerDpRank / pp⌉ sequences; a sequence's step runs `pipeline.microBatches` of them).
 */
export interface InferenceBreakdown {
  /** Kernel time by model part (launch overhead included), main model only. */
  computeByModule: Partial<Record<OpModule, number>>;
  /** Exposed communication by group (shared-tp: the shared expert's own TP group). */
  comm: { tpS: number; sharedTpS: number; epS: number; etpS: number };
  /** Communication hidden under fused matmuls or the shared expert. */
  hiddenCommS: number;
  /** MTP draft passes (speculative decoding), all of them; they run on the last pipeline stage. */
  draftS: number;
  /** Pipeline point-to-point sends on a step's round trip (0 when pp = 1). */
  p2pS: number;
  /** Host-side overhead per step (profile); with pp > 1, per micro-batch step. */
  stepOverheadS: number;
  /** Kernel-launch overhead inside the compute times. */
  launchS: number;
  /** Compute time of operators the HAL roofline finds memory-bound, and compute-bound. */
  memoryBoundS: number;
  computeBoundS: number;
  /** Every operator of the main model once per kind of layer: its time, what bounds it, how often it runs. */
  ops: OpDetail[];
}

/** One pipeline stage of a serving step: what it holds (@moge/memory's servingStages, the split memory costs) and its figures. */
export interface InferenceStage extends ServingStage {
  /** Device time of one forward of a micro-batch on this stage (MTP drafts included on the last). */
  timeS: number;
  /** Its send to the next stage (decode's last stage: the sampled tokens back to the first; prefill's: 0). */
  sendS: number;
  /** Memory of one of its devices at this batch, from @moge/memory's per-stage estimate. */
  memoryBytes: number;
}

/** The pipeline figures of a step (one stage, the whole model, when pp = 1). */
export interface InferencePipeline {
  pp: number;
  /** Sequences of one in-flight micro-batch on a DP rank: ⌈batchPerDpRank / pp⌉ for decode, the whole DP rank's batch for prefill. */
  microBatch: number;
  /** Micro-batches that hold sequences: ⌈batchPerDpRank / microBatch⌉ (pp unless the batch is short of it; 1 for prefill). */
  microBatches: number;
  stages: InferenceStage[];
  /** The stage with the most work per micro-batch (forward + send): the breakdown's device. */
  busiestStage: number;
  /** What paces the decode step (pipeline-step.ts); prefill is always the round trip. */
  limitedBy: PipelineBound;
}

export interface InferenceSimResult {
  phase: 'prefill' | 'decode';
  /** Sequences over the deployment, and on the busiest attention DP rank. */
  batch: number;
  batchPerDpRank: number;
  devices: number;
  profile: string;
  /** Prefill: time to the first token of the batch (null for decode). */
  ttftS: number | null;
  /** Decode: time per output token of a sequence, speculation included (null for prefill). */
  tpotS: number | null;
  /** One forward (prefill) or one decode step (drafts + verify). */
  stepTimeS: number;
  /** Decode tokens a sequence gains per step (1 without speculation). */
  acceptedTokensPerStep: number;
  /** Tokens/s per device: output tokens for decode, input (prompt) tokens for prefill. */
  throughputPerCard: number;
  throughputUnit: 'output tokens/s' | 'input tokens/s';
  breakdown: InferenceBreakdown;
  /** Of one forward on a device (with pp > 1, of its micro-batch). */
  experts: { localExperts: number; activeExpertsPerDevice: number; loadFactor: number };
  /** Of memory's busiest stage (`busiestStage`); maxBatch is the least over the stages. */
  memory: { weightsBytes: number; kvBytes: number; totalBytes: number; usableBytes: number; maxBatch: number; fits: boolean; busiestStage: number };
  /** Bytes moved and FLOPs done per step on the busiest device (main model; with pp > 1, one forward of its micro-batch). */
  bytesPerStep: number;
  flopsPerStep: number;
  pipeline: InferencePipeline;
}

/** Where a workload states the layer split, for errors. */
const PARTITION_FIELD = 'workload.layout.ppLayerPartition';

function checkLayout(arch: MoeArch, cluster: Cluster, plan: ParallelPlan, w: InferenceWorkload): number {
  const issues: FieldIssue[] = [];
  // vLLM and MindIE run one contiguous run of layers per stage; interleaved chunks are a training schedule.
  if (plan.vpp !== 1) issues.push({ path: 'plan.vpp', received: plan.vpp, expected: '1: serving engines run one model chunk per pipeline stage (no interleaving)' });
  if (plan.cp !== 1) issues.push({ path: 'plan.cp', received: plan.cp, expected: '1: context parallelism is not modelled for inference' });
  const devices = plan.tp * plan.dp * plan.pp * plan.cp;
  // Only when the layout is otherwise valid (cp 1): then tp × dp × pp is the whole product.
  if (issues.length === 0 && devices !== cluster.numDevices) {
    const product = plan.pp === 1 ? `tp ${plan.tp} × dp ${plan.dp}` : `tp ${plan.tp} × dp ${plan.dp} × pp ${plan.pp}`;
    issues.push({ path: 'plan', received: `${product} = ${devices} devices`, expected: `${plan.pp === 1 ? 'tp × dp' : 'tp × dp × pp'} = the cluster's ${cluster.numDevices} devices` });
  }
  const stageDevices = plan.tp * plan.dp;
  // A stage's collectives are costed on one tier each (groupLayout assumes groups start on a node
  // boundary); a stage straddling two nodes would have its EP exchange cross the scale-out link unseen.
  const dpn = cluster.devicesPerNode;
  if (issues.length === 0 && plan.pp > 1 && devices > dpn && stageDevices % dpn !== 0 && dpn % stageDevices !== 0) {
    issues.push({
      path: 'plan',
      received: `tp ${plan.tp} × dp ${plan.dp} = ${stageDevices} devices per stage`,
      expected: `with pp > 1 on several nodes, tp × dp a divisor or a multiple of the ${dpn} devices per node, so that no pipeline stage straddles two nodes (${stageFix(plan.tp, dpn)})`,
    });
  }
  const sharedTp = w.layout.sharedExpertTp ?? plan.tp;
  // The shared expert's TP group lies inside one stage (its layers are the stage's).
  if (stageDevices % sharedTp !== 0) {
    const where = plan.pp === 1 ? `tp × dp (${stageDevices})` : `tp × dp (${stageDevices}), the devices of one of the plan.pp ${plan.pp} pipeline stages`;
    issues.push({ path: 'workload.layout.sharedExpertTp', received: sharedTp, expected: `a divisor of ${where}` });
  }
  if (arch.sharedExpertFfnSize % sharedTp !== 0) issues.push({ path: 'workload.layout.sharedExpertTp', received: sharedTp, expected: `a divisor of the shared expert width (${arch.sharedExpertFfnSize})` });
  if (arch.numExperts > 0 && arch.expertFfnSize % plan.etp !== 0) issues.push({ path: 'plan.etp', received: plan.etp, expected: `a divisor of the expert width (${arch.expertFfnSize})` });
  // vLLM / MindIE shard KV heads over TP, or replicate each over tp / numKvHeads ranks when tp exceeds them;
  // anything else would leave ranks with fractional heads (vLLM asserts one of the two divides the other).
  if (!servingSplitsKvHeads(arch, plan.tp)) {
    issues.push({ path: 'plan.tp', received: plan.tp, expected: `a divisor or a multiple of numKvHeads (${arch.numKvHeads}): serving engines shard KV heads over TP or replicate them whole` });
  }
  const partition = w.layout.ppLayerPartition;
  if (partition !== undefined) issues.push(...ppLayerPartitionIssues(arch, plan, partition, PARTITION_FIELD));
  if (arch.vocabSize % plan.tp !== 0 && plan.tp > 1) issues.push({ path: 'plan.tp', received: plan.tp, expected: `a divisor of vocabSize (${arch.vocabSize}) for the vocab-parallel head` });
  if (issues.length > 0) throw new ValidationError('inference layout', issues);
  return devices;
}

/** How to make tp × dp fill one node exactly: a dp when tp divides the node, else a tp that does. */
function stageFix(tp: number, devicesPerNode: number): string {
  if (tp <= devicesPerNode && devicesPerNode % tp === 0) return `e.g. dp ${devicesPerNode / tp}`;
  return `e.g. tp a divisor or a multiple of ${devicesPerNode}`;
}

function groupLayout(size: number, stride: number, devicesPerNode: number): GroupLayout {
  return { size, ranksPerNode: Math.max(1, Math.min(size, Math.floor(devicesPerNode / stride))) };
}

/**
 * Simulates one inference step (a prefill forward, or a decode step with optional MTP drafting) on
 * the busiest device of an H2P-style layout, and reports TTFT / TPOT, throughput per card, the
 * breakdown, expert activity and the memory fit (KV capacity from @moge/memory). With pp > 1 every
 * stage is costed on its own and the step composed as vLLM pipelines it (pipeline-step.ts).
 */
export function simulateInference(input: InferenceSimInput): InferenceSimResult {
  return simulateParsedInference(parseInferenceInput(input));
}

/** An InferenceSimInput whose arch, plan and profile are parsed; the workload is parsed per step. */
export interface ParsedInferenceInput {
  arch: MoeArch;
  cluster: Cluster;
  plan: ParallelPlan;
  workload: InferenceWorkloadInput;
  profile: InferenceProfile;
}

/**
 * Parsed at the public door, as simulateTraining does: a plan or architecture from JSON (no defaults
 * filled) used to fail on its missing fields with NaN in the message ("noopLayers NaN"), and a profile
 * object with a NaN or missing number came out as a NaN TPOT. Callers that simulate one layout many
 * times (maxBatchUnderTpot's bisection) parse once and call simulateParsedInference.
 */
export function parseInferenceInput(input: InferenceSimInput): ParsedInferenceInput {
  return {
    arch: parseWith(MoeArchSchema, input.arch, 'arch'),
    cluster: input.cluster,
    plan: parseWith(ParallelPlanSchema, servingPlanInput(input.plan), 'plan'),
    workload: input.workload,
    profile: typeof input.profile === 'object' ? parseWith(InferenceProfileSchema, input.profile, 'inference profile') : getInferenceProfile(input.profile),
  };
}

/** simulateInference of an input parseInferenceInput returned. */
export function simulateParsedInference(input: ParsedInferenceInput): InferenceSimResult {
  const { arch, cluster, plan, profile } = input;
  const w = parseWith(InferenceWorkloadSchema, input.workload, 'inference workload');
  const devices = checkLayout(arch, cluster, plan, w);
  const chip = cluster.node.chip;
  const cost = new InferOpCost(chip, w.quantization, w.kvDType, profile, w.phase === 'decode');
  const decode = w.phase === 'decode';
  const depth = decode && w.speculation ? w.speculation.depth : 0;
  const seqQ = decode ? 1 + depth : w.inputLength;
  const context = contextOf(w);
  const seqKv = decode ? context + seqQ : w.inputLength;
  const batchDp = Math.ceil(w.batch / plan.dp);
  // Sequences one forward of a stage carries: decode keeps pp micro-batches in flight (pipeline-step.ts).
  const microBatch = decode ? Math.ceil(batchDp / plan.pp) : batchDp;
  // Fewer sequences than stages (or a ceiling that empties the last micro-batch) leave fewer in flight.
  const microBatches = Math.ceil(batchDp / microBatch);
  const sharedTp = w.layout.sharedExpertTp ?? plan.tp;
  const dpn = cluster.devicesPerNode;

  // Speculation on an architecture whose config has no MTP module (Pangu Pro MoE's paper serves one):
  // the draft passes are costed with one MTP layer (reused for every draft step), so its weights and
  // KV are counted too.
  const served = depth > 0 && arch.mtpDepth === 0 ? { ...arch, mtpDepth: 1 } : arch;
  const split = { ppLayerPartition: w.layout.ppLayerPartition };
  // Also checks the plan against the arch (heads over TP, experts over EP) before anything is costed.
  const mem = estimateInferenceMemory(served, plan, {
    hbmBytes: chip.hbmBytes.value,
    contextLength: decode ? context + seqQ : w.inputLength,
    batch: batchDp,
    quantization: w.quantization === 'bf16' && cost.act === 'fp16' ? 'fp16' : w.quantization,
    kvDType: w.kvDType,
    includeMtp: depth > 0,
    maxBatchedTokens: Math.max(w.inputLength, microBatch * seqQ),
    ...(w.maxNumSeqs === undefined ? {} : { maxNumSeqs: w.maxNumSeqs }),
    ...split,
  });

  // Tokens one expert replica group routes: the busiest DP ranks' tokens over the expert-data-parallel replicas.
  const stageDevices = plan.tp * plan.dp;
  const edp = stageDevices / (plan.ep * plan.etp);
  const groupTokens = (microBatch * plan.dp * seqQ) / edp;
  const epNodes = Math.max(1, Math.ceil((plan.ep * plan.etp) / dpn));
  const activity = arch.numExperts > 0 ? expertActivity(arch, w.routing, plan.ep, epNodes, groupTokens) : { activeExperts: 0, loadFactor: 1 };

  const shard: InferShard = {
    batch: microBatch,
    seqQ,
    seqKv,
    tp: plan.tp,
    sequenceParallel: plan.sequenceParallel,
    ep: plan.ep,
    etp: plan.etp,
    sharedTp,
    activeExperts: activity.activeExperts,
    expertLoadFactor: activity.loadFactor,
    actBytes: dtypeBytes(cost.act),
    absorbMla: decode,
  };
  const groups: InferGroups = {
    tp: groupLayout(plan.tp, 1, dpn),
    sharedTp: groupLayout(sharedTp, 1, dpn),
    etp: groupLayout(plan.etp, 1, dpn),
    ep: groupLayout(plan.ep, plan.etp, dpn),
  };
  const ctx: BlockCostContext = {
    cost,
    comm: new CommCostCache(cluster),
    groups,
    fuse: w.layout.fuseCollectives,
    overlapEfficiency: profile.overlapEfficiency.value,
    expertLoadFactor: activity.loadFactor,
  };

  // Layers of one kind are identical: cost one of each, and count them stage by stage. The stages hold
  // what memory's estimate above costs (the same servingStages split); MTP only when it drafts, as
  // memory loads it only then (includeMtp).
  const layerStages = servingStages(depth > 0 ? served : { ...arch, mtpDepth: 0 }, plan, split, PARTITION_FIELD);
  const embeddingBlock = costBlock(inferEmbeddingOps(arch, shard), ctx);
  const denseBlock = layerStages.some((st) => st.denseLayers > 0) ? costBlock(inferLayerOps(arch, 0, shard), ctx) : emptyBlockCost();
  const moeBlock = layerStages.some((st) => st.moeLayers > 0) ? costBlock(inferLayerOps(arch, arch.numLayers - 1, shard), ctx) : emptyBlockCost();
  const headBlock = costBlock(inferHeadOps(arch, shard, decode ? seqQ : 1), ctx);
  // In the order pp = 1 always summed them (embedding, dense, MoE, head), so its figures are unchanged.
  const stageBlocks = layerStages.map((st) => {
    let block = st.embedding ? embeddingBlock : emptyBlockCost();
    if (st.denseLayers > 0) block = addBlock(block, denseBlock, st.denseLayers);
    if (st.moeLayers > 0) block = addBlock(block, moeBlock, st.moeLayers);
    if (st.head) block = addBlock(block, headBlock);
    return block;
  });

  let draft: BlockCost = emptyBlockCost();
  if (depth > 0) {
    // Each draft pass proposes one token per sequence and attends over the context so far.
    const draftShard: InferShard = { ...shard, seqQ: 1, seqKv: context + 1 };
    const draftActivity = arch.numExperts > 0 ? expertActivity(arch, w.routing, plan.ep, epNodes, groupTokens / seqQ) : activity;
    const ds = { ...draftShard, activeExperts: draftActivity.activeExperts, expertLoadFactor: draftActivity.loadFactor };
    draft = addBlock(draft, costBlock(mtpDraftOps(arch, ds), { ...ctx, expertLoadFactor: draftActivity.loadFactor }), depth);
  }

  // Each draft pass is a forward of its own (its own sampling and host work), then the verify pass.
  const stepOverheadS = profile.stepOverheadS.value * (1 + depth);
  // The MTP module sits on the last stage, next to the head it shares.
  const stageS = stageBlocks.map((b, s) => (layerStages[s]!.mtp ? b.totalS + draft.totalS : b.totalS));
  const hops = pipelineHops({
    comm: ctx.comm,
    pp: plan.pp,
    stageDevices,
    devicesPerNode: dpn,
    tp: groups.tp,
    activationBytes: stageActivationBytes(microBatch * seqQ, arch.hiddenSize, shard.actBytes),
    returnBytes: decode ? sampledTokenBytes(microBatch * seqQ) : null,
    callOverheadS: cost.collectiveOverheadS,
  });
  const pipe = pipelineStepTime(stageS, hops, stepOverheadS, decode, microBatches);
  const stepTimeS = pipe.stepTimeS;
  const main = stageBlocks[pipe.busiestStage]!;
  const accepted = decode ? acceptedTokensPerStep(w.speculation) : 1;
  const throughputPerCard = decode ? (w.batch * accepted) / stepTimeS / devices : (w.batch * w.inputLength) / stepTimeS / devices;

  return {
    phase: w.phase,
    batch: w.batch,
    batchPerDpRank: batchDp,
    devices,
    profile: profile.name,
    ttftS: decode ? null : stepTimeS,
    tpotS: decode ? stepTimeS / accepted : null,
    stepTimeS,
    acceptedTokensPerStep: accepted,
    throughputPerCard,
    throughputUnit: decode ? 'output tokens/s' : 'input tokens/s',
    breakdown: {
      computeByModule: main.byModule,
      comm: { tpS: main.comm.tp, sharedTpS: main.comm['shared-tp'], epS: main.comm.ep, etpS: main.comm.etp },
      hiddenCommS: main.hiddenCommS,
      draftS: draft.totalS,
      p2pS: pipe.p2pS,
      stepOverheadS,
      launchS: main.launchS,
      memoryBoundS: main.memoryBoundS,
      computeBoundS: main.computeBoundS,
      ops: main.ops,
    },
    experts: { localExperts: arch.numExperts / plan.ep, activeExpertsPerDevice: activity.activeExperts, loadFactor: activity.loadFactor },
    memory: { weightsBytes: mem.weightsBytes, kvBytes: mem.kvBytes, totalBytes: mem.totalBytes, usableBytes: mem.usableBytes, maxBatch: mem.maxBatchTotal, fits: mem.fits, busiestStage: mem.busiestStage },
    bytesPerStep: main.bytes,
    flopsPerStep: main.flops,
    pipeline: {
      pp: plan.pp,
      microBatch,
      microBatches,
      stages: layerStages.map((st, s) => ({ ...st, timeS: stageS[s]!, sendS: hops.sendS[s]!, memoryBytes: mem.stages[s]!.totalBytes })),
      busiestStage: pipe.busiestStage,
      limitedBy: pipe.limitedBy,
    },
  };
}
