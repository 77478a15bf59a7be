import { dtypeBytes, MoeArchSchema, ParallelPlanSchema, parseWith, servingPlanInput, ValidationError, type FieldIssue, type MoeArch, type MoeArchInput, type ParallelPlan, type ParallelPlanInput } from '@moge/core';
import type { Cluster } from '@moge/ascend-hal';
import { estimateInferenceMemory, servingSplitsKvHeads } from '@moge/memory';
import { CommCostCache } from '../common/comm-cost';
import type { GroupLayout } from '../common/group-layout';
import type { OpModule } from '../common/ops';
import { expertActivity } from './expert-activity';
import { inferEmbeddingOps, inferHeadOps, inferLayerOps, mtpDraftOps, type InferShard } from './layer-ops';
import { InferOpCost } from './op-time';
import { getInferenceProfile, InferenceProfileSchema, type InferenceProfile } from './profile';
import { addBlock, costBlock, emptyBlockCost, type BlockCost, type BlockCostContext, type InferGroups, type OpDetail } from './step-cost';
import { acceptedTokensPerStep, contextOf, InferenceWorkloadSchema, type InferenceWorkload, type InferenceWorkloadInput } from './workload';

export interface InferenceSimInput {
  /** Parsed, or its JSON input (defaults filled, a bad field named). */
  arch: MoeArch | MoeArchInput;
  cluster: Cluster;
  /**
   * Attention DP × TP (`dp`, `tp`), routed experts EP × ETP, `sequenceParallel` = H2P's split
   * all-reduce; parsed, or its JSON input, whose training-only `globalBatchSize` may be left out.
   */
  plan: ParallelPlan | ParallelPlanInput;
  workload: InferenceWorkloadInput;
  /** A profile name or object (default `inference-default`). */
  profile?: string | InferenceProfile;
}

/** Where one step's time goes on the busiest device, in seconds. */
export interface InferenceBreakdown {
  /** Kernel time by model part (launch overhead included), main model only. */
  computeByModule: Partial<Record<OpModule, number>>;
  /** Exposed communication by group (shared-tp: the shared expert's own TP group). */
  comm: { tpS: number; sharedTpS: number; epS: number; etpS: number };
  /** Communication hidden under fused matmuls or the shared expert. */
  hiddenCommS: number;
  /** MTP draft passes (speculative decoding), all of them. */
  draftS: number;
  /** Host-side overhead per step (profile). */
  stepOverheadS: number;
  /** Kernel-launch overhead inside the compute times. */
  launchS: number;
  /** Compute time of operators the HAL roofline finds memory-bound, and compute-bound. */
  memoryBoundS: number;
  computeBoundS: number;
  /** Every operator of the main model once per kind of layer: its time, what bounds it, how often it runs. */
  ops: OpDetail[];
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
  experts: { localExperts: number; activeExpertsPerDevice: number; loadFactor: number };
  memory: { weightsBytes: number; kvBytes: number; totalBytes: number; usableBytes: number; maxBatch: number; fits: boolean };
  /** Bytes moved and FLOPs done per step on the busiest device (main model). */
  bytesPerStep: number;
  flopsPerStep: number;
}

function checkLayout(arch: MoeArch, cluster: Cluster, plan: ParallelPlan, w: InferenceWorkload): number {
  const issues: FieldIssue[] = [];
  if (plan.pp !== 1) issues.push({ path: 'plan.pp', received: plan.pp, expected: '1: the inference simulator models TP, DP, EP and ETP layouts (no pipeline stages)' });
  if (plan.cp !== 1) issues.push({ path: 'plan.cp', received: plan.cp, expected: '1: context parallelism is not modelled for inference' });
  const devices = plan.tp * plan.dp * plan.pp * plan.cp;
  // Only when the layout is otherwise valid (pp and cp 1): then tp × dp is the whole product.
  if (issues.length === 0 && devices !== cluster.numDevices) {
    issues.push({ path: 'plan', received: `tp ${plan.tp} × dp ${plan.dp} = ${devices} devices`, expected: `tp × dp = the cluster's ${cluster.numDevices} devices` });
  }
  const sharedTp = w.layout.sharedExpertTp ?? plan.tp;
  if (devices % sharedTp !== 0) issues.push({ path: 'workload.layout.sharedExpertTp', received: sharedTp, expected: `a divisor of tp × dp (${devices})` });
  if (arch.sharedExpertFfnSize % sharedTp !== 0) issues.push({ path: 'workload.layout.sharedExpertTp', received: sharedTp, expected: `a divisor of the shared expert width (${arch.sharedExpertFfnSize})` });
  if (arch.numExperts > 0 && arch.expertFfnSize % plan.etp !== 0) issues.push({ path: 'plan.etp', received: plan.etp, expected: `a divisor of the expert width (${arch.expertFfnSize})` });
  // vLLM / MindIE shard KV heads over TP, or replicate each over tp / numKvHeads ranks when tp exceeds them;
  // anything else would leave ranks with fractional heads (vLLM asserts one of the two divides the other).
  if (!servingSplitsKvHeads(arch, plan.tp)) {
    issues.push({ path: 'plan.tp', received: plan.tp, expected: `a divisor or a multiple of numKvHeads (${arch.numKvHeads}): serving engines shard KV heads over TP or replicate them whole` });
  }
  if (arch.vocabSize % plan.tp !== 0 && plan.tp > 1) issues.push({ path: 'plan.tp', received: plan.tp, expected: `a divisor of vocabSize (${arch.vocabSize}) for the vocab-parallel head` });
  if (issues.length > 0) throw new ValidationError('inference layout', issues);
  return devices;
}

function groupLayout(size: number, stride: number, devicesPerNode: number): GroupLayout {
  return { size, ranksPerNode: Math.max(1, Math.min(size, Math.floor(devicesPerNode / stride))) };
}

/**
 * Simulates one inference step (a prefill forward, or a decode step with optional MTP drafting) on
 * the busiest device of an H2P-style layout, and reports TTFT / TPOT, throughput per card, the
 * breakdown, expert activity and the memory fit (KV capacity from @moge/memory).
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
  const sharedTp = w.layout.sharedExpertTp ?? plan.tp;
  const dpn = cluster.devicesPerNode;

  // Speculation on an architecture whose config has no MTP module (Pangu Pro MoE's paper serves one):
  // the draft passes are costed with one MTP layer (reused for every draft step), so its weights and
  // KV are counted too.
  const served = depth > 0 && arch.mtpDepth === 0 ? { ...arch, mtpDepth: 1 } : arch;
  // Also checks the plan against the arch (heads over TP, experts over EP) before anything is costed.
  const mem = estimateInferenceMemory(served, plan, {
    hbmBytes: chip.hbmBytes.value,
    contextLength: decode ? context + seqQ : w.inputLength,
    batch: batchDp,
    quantization: w.quantization === 'bf16' && cost.act === 'fp16' ? 'fp16' : w.quantization,
    kvDType: w.kvDType,
    includeMtp: depth > 0,
    maxBatchedTokens: Math.max(w.inputLength, batchDp * seqQ),
  });

  // Tokens one expert replica group routes: the busiest DP ranks' tokens over the expert-data-parallel replicas.
  const edp = devices / (plan.ep * plan.etp);
  const groupTokens = (batchDp * plan.dp * seqQ) / edp;
  const epNodes = Math.max(1, Math.ceil((plan.ep * plan.etp) / dpn));
  const activity = arch.numExperts > 0 ? expertActivity(arch, w.routing, plan.ep, epNodes, groupTokens) : { activeExperts: 0, loadFactor: 1 };

  const shard: InferShard = {
    batch: batchDp,
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

  // Layers of one kind are identical: cost one of each and count them.
  const moeLayers = arch.numExperts > 0 ? arch.numLayers - arch.numDenseLayers : 0;
  const denseLayers = arch.numLayers - moeLayers;
  let main = costBlock(inferEmbeddingOps(arch, shard), ctx);
  if (denseLayers > 0) main = addBlock(main, costBlock(inferLayerOps(arch, 0, shard), ctx), denseLayers);
  if (moeLayers > 0) main = addBlock(main, costBlock(inferLayerOps(arch, arch.numLayers - 1, shard), ctx), moeLayers);
  main = addBlock(main, costBlock(inferHeadOps(arch, shard, decode ? seqQ : 1), ctx));

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
  const stepTimeS = main.totalS + draft.totalS + stepOverheadS;
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
      stepOverheadS,
      launchS: main.launchS,
      memoryBoundS: main.memoryBoundS,
      computeBoundS: main.computeBoundS,
      ops: main.ops,
    },
    experts: { localExperts: arch.numExperts / plan.ep, activeExpertsPerDevice: activity.activeExperts, loadFactor: activity.loadFactor },
    memory: { weightsBytes: mem.weightsBytes, kvBytes: mem.kvBytes, totalBytes: mem.totalBytes, usableBytes: mem.usableBytes, maxBatch: mem.maxBatchTotal, fits: mem.fits },
    bytesPerStep: main.bytes,
    flopsPerStep: main.flops,
  };
}
