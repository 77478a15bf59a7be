import { z } from 'zod';
import { numMoeLayers, planWorldSize, type MoeArch, type ParallelPlan, type RecomputeModule } from '@moge/core';

/**
 * Launch arguments for the engines that train at scale: Megatron-LM (GPU) and MindSpeed-LLM (Ascend,
 * which takes Megatron's flags plus its own). Every flag here is a real flag of those engines; what
 * the plan or model asks for that they cannot express is returned in `unsupported`, in words, rather
 * than silently dropped.
 */
export const EngineSchema = z.enum(['megatron', 'mindspeed']);
export type Engine = z.infer<typeof EngineSchema>;

export const EmitOptionsSchema = z.object({
  engine: EngineSchema,
  trainIters: z.number().int().positive().default(10_000),
  peakLr: z.number().positive().default(3e-4),
  minLr: z.number().nonnegative().default(3e-5),
  warmupIters: z.number().int().nonnegative().default(500),
  lrDecayStyle: z.enum(['cosine', 'WSD']).default('cosine'),
  weightDecay: z.number().nonnegative().default(0.1),
  clipGrad: z.number().positive().default(1.0),
  seed: z.number().int().nonnegative().default(1234),
  dataPath: z.string().default('${DATA_PATH}'),
  tokenizerPath: z.string().default('${TOKENIZER_PATH}'),
  savePath: z.string().default('${CKPT_SAVE_DIR}'),
  devicesPerNode: z.number().int().positive().default(8),
});
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
  worldSize: number;
  nodes: number;
  devicesPerNode: number;
}

const flag = (name: string, value?: string | number) => (value === undefined ? [name] : [name, String(value)]);

export function buildLaunchArgs(arch: MoeArch, plan: ParallelPlan, options: EmitOptions): LaunchArgs {
  const o = EmitOptionsSchema.parse(options);
  const mindspeed = o.engine === 'mindspeed';
  const unsupported: string[] = [];
  const layersWithNoop = arch.numLayers + plan.noopLayers;

  const model: string[] = [
    ...(mindspeed ? flag('--use-mcore-models') : []),
    ...flag('--num-layers', layersWithNoop),
    ...flag('--hidden-size', arch.hiddenSize),
    ...flag('--num-attention-heads', arch.numHeads),
    ...flag('--kv-channels', arch.headDim),
    ...(arch.numKvHeads < arch.numHeads ? [...flag('--group-query-attention'), ...flag('--num-query-groups', arch.numKvHeads)] : []),
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
  if (arch.attention === 'mla') unsupported.push('MLA attention: add --multi-latent-attention with its rank flags by hand; the emitter writes GQA arguments only.');
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
      // Megatron reads a Python list expression: 0 = dense layer, 1 = MoE layer.
      moe.push(...flag('--moe-layer-freq', `([0]*${arch.numDenseLayers}+[1]*${arch.numLayers - arch.numDenseLayers})`));
    }
    if (arch.router === 'group-limited') {
      moe.push(...flag('--moe-router-num-groups', arch.numExpertGroups), ...flag('--moe-router-group-topk', arch.routerTopGroups ?? arch.numExpertGroups));
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
  if (plan.vpp > 1) {
    const perStage = layersWithNoop / plan.pp;
    if (!Number.isInteger(perStage / plan.vpp)) {
      unsupported.push(`VPP ${plan.vpp}: ${layersWithNoop} layers over PP ${plan.pp} is ${perStage} per stage, not divisible into ${plan.vpp} chunks; add noop layers.`);
    }
    parallel.push(...flag('--num-layers-per-virtual-pipeline-stage', Math.max(1, Math.floor(perStage / plan.vpp))));
  }
  if (plan.sequenceParallel && plan.tp > 1) parallel.push(...flag('--sequence-parallel'));
  if (plan.distributedOptimizer) parallel.push(...flag('--use-distributed-optimizer'), ...flag('--overlap-grad-reduce'), ...flag('--overlap-param-gather'));
  if (plan.noopLayers > 0) {
    if (mindspeed) {
      const noop = Array.from({ length: plan.noopLayers }, (_, i) => arch.numLayers + i);
      parallel.push(...flag('--noop-layers', noop.join(',')));
    } else {
      unsupported.push(`${plan.noopLayers} noop layer(s): Megatron-LM has no --noop-layers; use an uneven first/last stage (--decoder-first-pipeline-num-layers / --decoder-last-pipeline-num-layers) instead.`);
    }
  }
  parallel.push(...recomputeArgs(plan, mindspeed, unsupported));
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
    ...flag('--lr-warmup-iters', o.warmupIters),
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
    worldSize,
    devicesPerNode: Math.min(o.devicesPerNode, worldSize),
    nodes: Math.ceil(worldSize / o.devicesPerNode),
  };
}

function recomputeArgs(plan: ParallelPlan, mindspeed: boolean, unsupported: string[]): string[] {
  const r = new Set<RecomputeModule>(plan.recompute);
  const out: string[] = [];
  if (r.has('layer')) {
    out.push(...flag('--recompute-granularity', 'full'), ...flag('--recompute-method', 'uniform'));
    out.push(...flag('--recompute-num-layers', plan.recomputeNumLayers ?? 1));
    r.delete('layer');
  }
  if (r.has('attention-core') && !out.length) out.push(...flag('--recompute-granularity', 'selective'));
  r.delete('attention-core');
  if (mindspeed) {
    if (r.delete('activation')) out.push(...flag('--recompute-activation-function'));
    if (r.delete('norm')) out.push(...flag('--recompute-norm'));
  } else {
    const modules: string[] = [];
    if (r.delete('activation')) modules.push('moe_act');
    if (r.delete('norm')) modules.push('layernorm');
    if (r.delete('mla-up-proj')) modules.push('mla_up_proj');
    if (modules.length > 0) {
      if (!out.includes('selective') && !out.includes('full')) out.push(...flag('--recompute-granularity', 'selective'));
      out.push('--recompute-modules', ...modules);
    }
  }
  if (r.size > 0) unsupported.push(`recompute of ${[...r].join(', ')}: no ${mindspeed ? 'MindSpeed-LLM' : 'Megatron-LM'} flag; it is left out (memory will be higher than the plan assumes).`);
  return out;
}
