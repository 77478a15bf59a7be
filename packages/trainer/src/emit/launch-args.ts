import { z } from 'zod';
import { numMoeLayers, parseWith, planWorldSize, ValidationError, type FieldIssue, type MoeArch, type ParallelPlan, type RecomputeModule } from '@moge/core';
import { checkPlanFitsArch } from '@moge/memory';
import { warmupSteps } from '../config/train-config';
import { LrScheduleSchema } from '../optim/schedule';
import { flag } from './flag';
import { mlaArgs } from './mla-args';

/**
 * Launch arguments for the engines that train at scale: Megatron-LM (GPU) and MindSpeed-LLM (Ascend,
 * which takes Megatron's flags plus its own). Every flag here is a real flag of those engines; what
 * the plan or model asks for that they cannot express is returned in `unsupported`, in words, rather
 * than silently dropped. A plan the engine would reject at startup (an assertion in Megatron's
 * arguments.py / TransformerConfig / OptimizerParamScheduler) is refused here with a ValidationError
 * naming the plan field and the fix.
 */
export const EngineSchema = z.enum(['megatron', 'mindspeed']);
export type Engine = z.infer<typeof EngineSchema>;

export const EmitOptionsSchema = z.object({
  engine: EngineSchema,
  trainIters: z.number().int().positive().default(10_000),
  peakLr: z.number().positive().default(3e-4),
  minLr: z.number().nonnegative().default(3e-5),
  /** Default: the trainer's rule (10 % of trainIters, at most 100), kept below trainIters as Megatron requires. */
  warmupIters: z.number().int().nonnegative().optional(),
  lrDecayStyle: z.enum(['cosine', 'WSD']).default('cosine'),
  weightDecay: z.number().nonnegative().default(0.1),
  clipGrad: z.number().positive().default(1.0),
  seed: z.number().int().nonnegative().default(1234),
  dataPath: z.string().default('${DATA_PATH}'),
  tokenizerPath: z.string().default('${TOKENIZER_PATH}'),
  savePath: z.string().default('${CKPT_SAVE_DIR}'),
  devicesPerNode: z.number().int().positive().default(8),
})
  // Megatron's OptimizerParamScheduler asserts max_lr >= min_lr at startup.
  .refine((o) => o.minLr <= o.peakLr, { path: ['minLr'], message: 'at most peakLr: Megatron-LM asserts --min-lr ≤ --lr (lower minLr or raise peakLr)' });
export type EmitOptions = z.input<typeof EmitOptionsSchema>;

export interface ArgGroup {
  /** Shell array name, e.g. MODEL_ARGS. */
  name: string;
  args: string[];
}

export interface LaunchArgs {
  engine: Engine;
  groups: ArgGroup[];
  /** What the model or plan needs that the engine cannot express, one sentence each. */
  unsupported: string[];
  /** How the emitter expressed something the engine spells differently (e.g. no-op layers on Megatron), one sentence each. */
  notes: string[];
  worldSize: number;
  /** nodes × devicesPerNode = worldSize exactly (torchrun starts that many ranks). */
  nodes: number;
  devicesPerNode: number;
}

export function buildLaunchArgs(arch: MoeArch, plan: ParallelPlan, options: EmitOptions): LaunchArgs {
  const o = parseWith(EmitOptionsSchema, options, 'launch options');
  const mindspeed = o.engine === 'mindspeed';
  checkPlanForEngine(arch, plan, o.engine);
  const warmupIters = lrWarmupIters(o);
  const { nodes, devicesPerNode } = nodeLayout(plan, o.devicesPerNode);
  const unsupported: string[] = [];
  const notes: string[] = [];
  const layersWithNoop = arch.numLayers + plan.noopLayers;
  // MindSpeed-LLM counts its no-op layers in --num-layers; Megatron-LM has none, so it gets the real layers.
  const numLayers = mindspeed ? layersWithNoop : arch.numLayers;
  if (nodes > 1 && devicesPerNode < o.devicesPerNode) {
    notes.push(`World size ${planWorldSize(plan)} is not a multiple of ${o.devicesPerNode} devices per node: ${devicesPerNode} of each node's ${o.devicesPerNode} devices are used, so that nodes × devices = world size and every tensor-parallel group (TP ${plan.tp}, consecutive ranks) stays inside one node.`);
  }

  const model: string[] = [
    ...(mindspeed ? flag('--use-mcore-models') : []),
    ...flag('--num-layers', numLayers),
    ...flag('--hidden-size', arch.hiddenSize),
    ...flag('--num-attention-heads', arch.numHeads),
    // MLA sizes its heads from its own ranks; --kv-channels and query groups are GQA's.
    ...(arch.attention === 'mla' && arch.mla
      ? mlaArgs(arch.mla, mindspeed)
      : [
          ...flag('--kv-channels', arch.headDim),
          ...(arch.numKvHeads < arch.numHeads ? [...flag('--group-query-attention'), ...flag('--num-query-groups', arch.numKvHeads)] : []),
        ]),
    ...flag('--ffn-hidden-size', arch.denseFfnSize > 0 ? arch.denseFfnSize : arch.expertFfnSize),
    ...flag('--seq-length', plan.seqLength),
    ...flag('--max-position-embeddings', Math.max(arch.maxPositionEmbeddings, plan.seqLength)),
    ...flag('--position-embedding-type', 'rope'),
    ...flag('--rotary-base', arch.ropeTheta),
    ...flag('--normalization', 'RMSNorm'),
    ...flag('--norm-epsilon', arch.normEps),
    ...flag('--swiglu'),
    ...flag('--disable-bias-linear'),
    ...(arch.attentionBias ? flag('--add-qkv-bias') : []),
    ...(arch.tiedEmbeddings ? [] : flag('--untie-embeddings-and-output-weights')),
    ...flag('--make-vocab-size-divisible-by', 1),
    ...flag('--attention-softmax-in-fp32'),
    ...flag('--bf16'),
  ];
  if (arch.attentionBias) unsupported.push('o_proj bias: --add-qkv-bias covers q/k/v only; the output projection bias of Pangu Pro MoE has no flag (train it at zero or fold it into the next norm).');
  // Multi-token prediction after the main stack: Megatron core ≥ 0.11 and MindSpeed-LLM both take --mtp-num-layers.
  if (arch.mtpDepth > 0) model.push(...flag('--mtp-num-layers', arch.mtpDepth));
  if (mindspeed) model.push(...flag('--use-fused-rmsnorm'), ...flag('--use-fused-swiglu'), ...flag('--use-fused-rotary-pos-emb'), ...flag('--use-flash-attn'));
  else model.push(...flag('--use-flash-attn'));

  const moe: string[] = [];
  if (numMoeLayers(arch) > 0) {
    moe.push(
      ...flag('--num-experts', arch.numExperts),
      ...flag('--moe-router-topk', arch.topK),
      ...flag('--moe-ffn-hidden-size', arch.expertFfnSize),
      ...flag('--moe-router-load-balancing-type', 'aux_loss'),
      ...flag('--moe-aux-loss-coeff', arch.routerAuxLossCoef),
      ...flag('--moe-grouped-gemm'),
      ...flag('--moe-token-dispatcher-type', 'alltoall'),
      ...flag('--moe-router-pre-softmax'),
    );
    if (arch.sharedExpertFfnSize > 0) moe.push(...flag('--moe-shared-expert-intermediate-size', arch.sharedExpertFfnSize));
    if (arch.numDenseLayers > 0) {
      if (mindspeed) {
        // MindSpeed-LLM's own spelling (its DeepSeek scripts): the first K layers dense, every later one MoE.
        // Its --num-layers includes the no-op slots; they come last, so they count as MoE positions, which is
        // harmless: a no-op slot is built as a NoopTransformerLayer with no MLP at all.
        moe.push(...flag('--first-k-dense-replace', arch.numDenseLayers), ...flag('--moe-layer-freq', 1));
      } else {
        // Megatron reads a Python list expression (0 = dense, 1 = MoE) and asserts that its length equals
        // --num-layers, which here is the real layer count (Megatron has no no-op slots).
        moe.push(...flag('--moe-layer-freq', `([0]*${arch.numDenseLayers}+[1]*${arch.numLayers - arch.numDenseLayers})`));
      }
    }
    if (arch.router === 'group-limited') {
      const groupTopk = arch.routerTopGroups ?? arch.numExpertGroups;
      moe.push(...flag('--moe-router-num-groups', arch.numExpertGroups), ...flag('--moe-router-group-topk', groupTopk));
      const note = groupScoreNote(arch, groupTopk);
      if (note) unsupported.push(note);
    }
    if (arch.router === 'moge') {
      unsupported.push(
        `MoGE router: neither engine has it. The closest built-in is softmax top-${arch.topK} over all ${arch.numExperts} experts (--moe-router-pre-softmax, no renormalisation), which does NOT take ${arch.topK / arch.numExpertGroups} expert(s) from each of the ${arch.numExpertGroups} groups; group-limited routing (--moe-router-num-groups/--moe-router-group-topk) picks whole groups, not a fixed count per group. Device balance by construction needs a custom router (patch the router's topk into a per-group topk).`,
        'router_scale: the learned per-expert scale on the combine weights has no flag in either engine; a converted checkpoint must fold it into the expert down-projections (exact: weight·scale·E(x) = weight·E′(x) with E′ = scale·E).',
      );
    }
    if (mindspeed) moe.push(...flag('--moe-permutation-async-comm'), ...flag('--moe-alltoall-overlap-comm'));
  }

  const parallel: string[] = [
    ...flag('--tensor-model-parallel-size', plan.tp),
    ...flag('--pipeline-model-parallel-size', plan.pp),
    ...flag('--context-parallel-size', plan.cp),
    ...flag('--expert-model-parallel-size', plan.ep),
    ...flag('--expert-tensor-parallel-size', plan.etp),
    ...flag('--micro-batch-size', plan.microBatchSize),
    ...flag('--global-batch-size', plan.globalBatchSize),
  ];
  // checkPlanForEngine has made numLayers divide evenly into pp × vpp chunks (no-op slots included).
  if (plan.vpp > 1) parallel.push(...flag('--num-layers-per-virtual-pipeline-stage', numLayers / (plan.pp * plan.vpp)));
  if (plan.sequenceParallel && plan.tp > 1) parallel.push(...flag('--sequence-parallel'));
  if (plan.distributedOptimizer) parallel.push(...flag('--use-distributed-optimizer'), ...flag('--overlap-grad-reduce'), ...flag('--overlap-param-gather'));
  if (plan.noopLayers > 0) {
    if (mindspeed) {
      const noop = Array.from({ length: plan.noopLayers }, (_, i) => arch.numLayers + i);
      parallel.push(...flag('--noop-layers', noop.join(',')));
    } else if (plan.pp > 1) {
      // The no-op slots come last (as in @moge/memory's layerSlots), so they shorten the last stage.
      const perStage = layersWithNoop / plan.pp;
      parallel.push(...flag('--decoder-last-pipeline-num-layers', perStage - plan.noopLayers));
      notes.push(`${plan.noopLayers} no-op layer slot(s): Megatron-LM has no no-op layers, so --num-layers is the model's ${arch.numLayers} and the last pipeline stage holds ${perStage - plan.noopLayers} layer(s) instead of ${perStage} (--decoder-last-pipeline-num-layers, Megatron core ≥ 0.10).`);
    } else {
      notes.push(`${plan.noopLayers} no-op layer slot(s) left out: with one pipeline stage they only pad it, and Megatron-LM has no no-op layers.`);
    }
  }
  parallel.push(...recomputeArgs(arch, plan, mindspeed, unsupported));
  if (plan.swap.length > 0) {
    if (mindspeed && plan.swap.includes('attention')) parallel.push(...flag('--swap-attention'));
    const rest = plan.swap.filter((s) => !(mindspeed && s === 'attention'));
    if (rest.length > 0) unsupported.push(`activation swap of ${rest.join(', ')}: ${mindspeed ? 'MindSpeed-LLM swaps attention activations only (--swap-attention)' : 'Megatron-LM has no activation swapping'}.`);
  }

  const training: string[] = [
    ...flag('--train-iters', o.trainIters),
    ...flag('--lr', o.peakLr),
    ...flag('--min-lr', o.minLr),
    ...flag('--lr-decay-style', o.lrDecayStyle),
    ...wsdArgs(o),
    ...flag('--lr-warmup-iters', warmupIters),
    ...flag('--weight-decay', o.weightDecay),
    ...flag('--clip-grad', o.clipGrad),
    ...flag('--adam-beta1', 0.9),
    ...flag('--adam-beta2', 0.95),
    ...flag('--init-method-std', 0.02),
    ...flag('--seed', o.seed),
  ];
  const data: string[] = [
    ...flag('--data-path', o.dataPath),
    ...flag('--split', '949,50,1'),
    ...(mindspeed
      ? [...flag('--tokenizer-type', 'PretrainedFromHF'), ...flag('--tokenizer-name-or-path', o.tokenizerPath)]
      : [...flag('--tokenizer-type', 'HuggingFaceTokenizer'), ...flag('--tokenizer-model', o.tokenizerPath)]),
  ];
  const output: string[] = [
    ...flag('--save', o.savePath),
    ...flag('--load', o.savePath),
    ...flag('--save-interval', 1000),
    ...flag('--eval-interval', 1000),
    ...flag('--eval-iters', 10),
    ...flag('--log-interval', 1),
  ];

  const worldSize = planWorldSize(plan);
  return {
    engine: o.engine,
    groups: [
      { name: 'MODEL_ARGS', args: model },
      { name: 'MOE_ARGS', args: moe },
      { name: 'PARALLEL_ARGS', args: parallel },
      { name: 'TRAINING_ARGS', args: training },
      { name: 'DATA_ARGS', args: data },
      { name: 'OUTPUT_ARGS', args: output },
    ],
    unsupported,
    notes,
    worldSize,
    devicesPerNode,
    nodes,
  };
}

/**
 * Refuses a plan the engine would reject at startup. The arch rules (layer slots over pp × vpp, heads
 * and experts over tp and ep, sequence parallelism for MoE with TP) are @moge/memory's
 * checkPlanFitsArch; the engine's own rules are added here, and all of them come in one ValidationError.
 */
function checkPlanForEngine(arch: MoeArch, plan: ParallelPlan, engine: Engine): void {
  let issues: FieldIssue[] = [];
  try {
    checkPlanFitsArch(arch, plan, 'training');
  } catch (e) {
    if (!(e instanceof ValidationError)) throw e;
    issues = [...e.issues];
  }
  if (engine === 'megatron') {
    const chunks = plan.pp * plan.vpp;
    if (plan.vpp > 1 && (plan.noopLayers > 0 || arch.numLayers % chunks !== 0)) {
      // "Add no-op layers" is no advice here: Megatron has none, and splits each stage evenly over its virtual stages.
      issues = issues.filter((i) => i.path !== 'plan.noopLayers');
      issues.push({
        path: 'plan.vpp',
        received: plan.vpp,
        expected: `pp × vpp (${plan.pp} × ${plan.vpp}) dividing numLayers (${arch.numLayers}) with noopLayers 0: Megatron-LM has no no-op layers and splits a stage's layers evenly over its virtual stages; otherwise use vpp 1 (no-op slots then become a shorter last stage)`,
      });
    } else if (plan.noopLayers > 0 && plan.pp > 1 && (arch.numLayers + plan.noopLayers) % plan.pp === 0) {
      const perStage = (arch.numLayers + plan.noopLayers) / plan.pp;
      if (plan.noopLayers >= perStage) {
        issues.push({
          path: 'plan.noopLayers',
          received: plan.noopLayers,
          expected: `fewer than one stage's ${perStage} layer slots on Megatron-LM: it has no no-op layers and can shorten only the last stage (--decoder-last-pipeline-num-layers); use fewer pipeline stages`,
        });
      }
    }
  }
  if (issues.length > 0) throw new ValidationError(`plan for ${arch.name ?? 'this arch'} on ${engineName(engine)}`, issues);
}

/**
 * Group-limited routing ranks groups by a group score. Ours (@moge/router's selectGroupLimited, as
 * DeepSeek-V3) sums a group's two best expert scores; Megatron-core's group_limited_topk sums its best
 * topk / group_topk (integer division), which is 2 only for shapes like DeepSeek-V3's 8 / 4. Otherwise
 * other groups are kept for some tokens, so the run routes differently: said, not hidden.
 */
function groupScoreNote(arch: MoeArch, groupTopk: number): string | undefined {
  const ours = Math.min(2, arch.numExperts / arch.numExpertGroups);
  const theirs = Math.floor(arch.topK / groupTopk);
  if (theirs === ours) return undefined;
  return `group-limited routing: the engine scores a group by the sum of its best topK / groupTopk = ${arch.topK} / ${groupTopk} → ${theirs} expert score(s) (Megatron-core group_limited_topk), this model by its best ${ours} (DeepSeek-V3's rule), so other groups can be kept for some tokens; shapes with topK / routerTopGroups = ${ours} agree.`;
}

const engineName = (engine: Engine) => (engine === 'mindspeed' ? 'MindSpeed-LLM' : 'Megatron-LM');

/**
 * Warmup iterations: the trainer's rule when not given. Megatron's OptimizerParamScheduler asserts
 * warmup < decay steps (= train iters here), so a derived warmup is capped below trainIters and a
 * given one that is not below it is refused.
 */
function lrWarmupIters(o: z.output<typeof EmitOptionsSchema>): number {
  if (o.warmupIters === undefined) return Math.min(warmupSteps({ steps: o.trainIters, schedule: {} }), o.trainIters - 1);
  if (o.warmupIters >= o.trainIters) {
    throw new ValidationError('launch options', [{ path: 'warmupIters', received: o.warmupIters, expected: `fewer than trainIters (${o.trainIters}): Megatron-LM asserts warmup < decay iterations; lower warmupIters or raise trainIters (--steps)` }]);
  }
  return o.warmupIters;
}

/** WSD needs its decay length (Megatron asserts it is set): the trainer's wsd, a linear decay over the last decayFraction of the run. */
function wsdArgs(o: z.output<typeof EmitOptionsSchema>): string[] {
  if (o.lrDecayStyle !== 'WSD') return [];
  const { decayFraction } = LrScheduleSchema.parse({ kind: 'wsd', totalSteps: o.trainIters });
  return [...flag('--lr-wsd-decay-style', 'linear'), ...flag('--lr-wsd-decay-iters', Math.max(1, Math.round(o.trainIters * decayFraction)))];
}

/**
 * Nodes × devices per node = world size exactly: torchrun starts nnodes × nproc_per_node ranks, and a
 * rounded-up node count would start ranks the plan has no place for. Full nodes when the world size
 * allows; else the most devices per node that divide the world size and hold whole TP groups (Megatron
 * orders ranks TP first, so a TP group is consecutive ranks and should not straddle two nodes).
 */
function nodeLayout(plan: ParallelPlan, perNode: number): { nodes: number; devicesPerNode: number } {
  const world = planWorldSize(plan);
  if (world <= perNode) return { nodes: 1, devicesPerNode: world };
  if (world % perNode === 0) return { nodes: world / perNode, devicesPerNode: perNode };
  for (let d = perNode - 1; d >= 1; d--) {
    if (world % d === 0 && d % plan.tp === 0) return { nodes: world / d, devicesPerNode: d };
  }
  throw new ValidationError('plan for this cluster', [
    {
      path: 'plan.tp',
      received: plan.tp,
      expected: `at most devicesPerNode (${perNode}) or a world size (${world}) divisible by ${perNode}: no whole number of devices per node holds whole TP groups and fills the world size exactly`,
    },
  ]);
}

function recomputeArgs(arch: MoeArch, plan: ParallelPlan, mindspeed: boolean, unsupported: string[]): string[] {
  const r = new Set<RecomputeModule>(plan.recompute);
  const out: string[] = [];
  if (r.delete('layer') && plan.recomputeNumLayers !== 0) {
    // Our recomputeNumLayers k recomputes the first k layers of each chunk whole and keeps the rest:
    // Megatron's 'block' method. 'uniform' with k would recompute every layer, in groups of k; with
    // k = 1 it is our default, every layer (recomputeNumLayers unset). k = 0 recomputes none: no flags.
    const k = plan.recomputeNumLayers;
    out.push(...flag('--recompute-granularity', 'full'), ...flag('--recompute-method', k === undefined ? 'uniform' : 'block'));
    out.push(...flag('--recompute-num-layers', k ?? 1));
  }
  const full = out.length > 0;
  const attentionCore = r.delete('attention-core');
  if (attentionCore && !full) out.push(...flag('--recompute-granularity', 'selective'));
  if (mindspeed) {
    if (r.delete('activation')) out.push(...flag('--recompute-activation-function'));
    if (r.delete('norm')) out.push(...flag('--recompute-norm'));
  } else {
    // An explicit --recompute-modules replaces Megatron's default ["core_attn"], so the attention core
    // is listed whenever it is asked for with other modules.
    const modules: string[] = attentionCore && !full ? ['core_attn'] : [];
    if (r.delete('activation')) {
      modules.push('moe_act');
      // Megatron's modules: moe_act is the MoE experts' activation; a dense MLP has only "mlp" (the whole MLP).
      const dense = arch.numLayers - numMoeLayers(arch);
      if (dense > 0) unsupported.push(`activation recompute in the ${dense} dense layer(s): Megatron-LM's moe_act covers MoE experts only (its "mlp" module would recompute the whole dense MLP), so those layers keep their activation outputs (memory will be higher than the plan assumes).`);
    }
    if (r.delete('norm')) modules.push('layernorm');
    if (r.delete('mla-up-proj')) modules.push('mla_up_proj');
    if (modules.some((m) => m !== 'core_attn')) {
      if (!out.includes('selective') && !full) out.push(...flag('--recompute-granularity', 'selective'));
      out.push('--recompute-modules', ...modules);
    }
  }
  if (r.size > 0) unsupported.push(`recompute of ${[...r].join(', ')}: no ${mindspeed ? 'MindSpeed-LLM' : 'Megatron-LM'} flag; it is left out (memory will be higher than the plan assumes).`);
  return out;
}
