import { z } from 'zod';

const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();

/**
 * Sizes are bounded far above any published model (61–126 layers, hidden ≤ 16K, 256 experts,
 * vocabularies ≤ 256K) so that a typo such as 5e9 layers is named here instead of exhausting memory
 * or running for hours in every tool that lays the model out layer by layer.
 */
const bounded = (base: z.ZodNumber, max: number, what: string) => base.max(max, `at most ${max} ${what} (far beyond any model; a typo?)`);
const LIMIT = { layers: 4096, width: 1 << 22, heads: 1 << 16, vocab: 1 << 24, experts: 1 << 16, positions: 1 << 27, mtp: 64 };

/** Multi-head latent attention (DeepSeek-V2/V3, Pangu Ultra MoE) low-rank sizes. */
export const MlaRanksSchema = z.strictObject({
  /** Rank of the query down-projection; 0 means queries are not compressed. */
  qLoraRank: bounded(nonNegativeInt, LIMIT.width, 'ranks'),
  /** Rank of the joint key/value compression (what the KV cache stores, plus the rope key). */
  kvLoraRank: bounded(positiveInt, LIMIT.width, 'ranks'),
  /** Per-head dimension of the rotary (position) part of q and k. */
  qkRopeHeadDim: bounded(positiveInt, LIMIT.heads, 'per head'),
  /** Per-head dimension of the non-rotary part of q and k. */
  qkNopeHeadDim: bounded(positiveInt, LIMIT.heads, 'per head'),
  /** Per-head dimension of values. */
  vHeadDim: bounded(positiveInt, LIMIT.heads, 'per head'),
});
export type MlaRanks = z.infer<typeof MlaRanksSchema>;

/** Which router a MoE layer uses (see @moge/router for the exact rules). */
export const RouterKindSchema = z.enum(['moge', 'topk', 'group-limited']);
export type RouterKind = z.infer<typeof RouterKindSchema>;

const MoeArchObject = z.strictObject({
  /** Human name (preset name or file name); informational. */
  name: z.string().optional(),
  numLayers: bounded(positiveInt, LIMIT.layers, 'layers'),
  hiddenSize: bounded(positiveInt, LIMIT.width, 'wide'),
  numHeads: bounded(positiveInt, LIMIT.heads, 'heads'),
  numKvHeads: bounded(positiveInt, LIMIT.heads, 'heads'),
  headDim: bounded(positiveInt, LIMIT.heads, 'per head'),
  vocabSize: bounded(positiveInt, LIMIT.vocab, 'tokens'),
  /** Width of the dense SwiGLU FFN (leading dense layers, or every layer of a dense model). */
  denseFfnSize: bounded(nonNegativeInt, LIMIT.width, 'wide'),
  /** Routed experts per MoE layer; 0 makes a dense model. */
  numExperts: bounded(nonNegativeInt, LIMIT.experts, 'experts').default(0),
  /** Expert groups M; MoGE picks topK/M experts in every group. 1 = ungrouped. */
  numExpertGroups: bounded(positiveInt, LIMIT.experts, 'groups').default(1),
  /** Experts active per token (K). */
  topK: bounded(nonNegativeInt, LIMIT.experts, 'experts').default(0),
  /** Width of one routed expert's SwiGLU FFN. */
  expertFfnSize: bounded(nonNegativeInt, LIMIT.width, 'wide').default(0),
  /** Total width of the always-on shared expert(s); 0 = none. */
  sharedExpertFfnSize: bounded(nonNegativeInt, LIMIT.width, 'wide').default(0),
  /** Leading layers that use the dense FFN instead of MoE. */
  numDenseLayers: bounded(nonNegativeInt, LIMIT.layers, 'layers').default(0),
  router: RouterKindSchema.default('moge'),
  /** Groups kept per token by the group-limited router (DeepSeek-V3 `topk_group`). */
  routerTopGroups: positiveInt.optional(),
  routerAuxLossCoef: z.number().nonnegative().default(0.01),
  /**
   * Whether each MoE layer's router has, besides its numExperts × hiddenSize weight, a learned vector
   * of numExperts parameters: Pangu's `router_scale` (MoGE weights the chosen experts by p · scale),
   * DeepSeek-V3's `e_score_correction_bias`. Mixtral, Qwen2/3-MoE and DeepSeek-V2 routers have only
   * the weight (false). Counted by the parameter accounting; a PanguProMoE checkpoint always has it.
   */
  routerExpertVector: z.boolean().default(true),
  attention: z.enum(['gqa', 'mla']).default('gqa'),
  mla: MlaRanksSchema.optional(),
  /** Biases on the q/k/v/o projections (Pangu Pro MoE has them). */
  attentionBias: z.boolean().default(false),
  /** Multi-token-prediction layers after the main stack. */
  mtpDepth: bounded(nonNegativeInt, LIMIT.mtp, 'layers').default(0),
  ropeTheta: z.number().positive().default(10000),
  normEps: z.number().positive().default(1e-5),
  tiedEmbeddings: z.boolean().default(false),
  maxPositionEmbeddings: bounded(positiveInt, LIMIT.positions, 'positions').default(4096),
});

/**
 * Model hyperparameters of a MoE, MoGE or dense transformer. Dense models have `numExperts: 0`
 * (or `numDenseLayers === numLayers`).
 */
export const MoeArchSchema = MoeArchObject.superRefine((a, ctx) => {
  const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
  if (a.numHeads % a.numKvHeads !== 0) issue('numKvHeads', `a divisor of numHeads (${a.numHeads})`);
  if (a.numDenseLayers > a.numLayers) issue('numDenseLayers', `at most numLayers (${a.numLayers})`);
  if (a.attention === 'mla' && !a.mla) issue('mla', 'MLA ranks {qLoraRank, kvLoraRank, qkRopeHeadDim, qkNopeHeadDim, vHeadDim} when attention is "mla"');
  // Fields another setting switches off would be dropped by every tool without a word: a file that
  // states them meant that setting, so say which one.
  if (a.attention !== 'mla' && a.mla) issue('mla', `nothing unless attention is "mla" (it is "${a.attention}"); set attention: "mla" or drop mla`);
  if (a.router !== 'group-limited' && a.routerTopGroups !== undefined) {
    issue('routerTopGroups', `nothing unless router is "group-limited" (it is "${a.router}"); set router: "group-limited" or drop routerTopGroups`);
  }
  if (a.numExperts === 0) {
    // A MoE file whose numExperts was left out (it defaults to 0) would otherwise become a dense model.
    for (const field of ['topK', 'expertFfnSize', 'sharedExpertFfnSize'] as const) {
      if (a[field] > 0) issue(field, `0 in a dense model (numExperts is 0); set numExperts for a MoE model, or drop ${field}`);
    }
    if (a.numExpertGroups > 1) issue('numExpertGroups', '1 in a dense model (numExperts is 0); set numExperts for a MoE model, or drop numExpertGroups');
    if (!a.routerExpertVector) issue('routerExpertVector', 'true (its default) in a dense model (numExperts is 0: no router); set numExperts for a MoE model, or drop routerExpertVector');
  }
  const hasMoe = a.numExperts > 0 && a.numDenseLayers < a.numLayers;
  if (!hasMoe) {
    if (a.denseFfnSize === 0) issue('denseFfnSize', 'a positive width for a dense model');
    return;
  }
  if (a.numDenseLayers > 0 && a.denseFfnSize === 0) issue('denseFfnSize', 'a positive width when numDenseLayers > 0');
  if (a.expertFfnSize === 0) issue('expertFfnSize', 'a positive width when numExperts > 0');
  if (a.topK < 1 || a.topK > a.numExperts) issue('topK', `an integer in [1, numExperts=${a.numExperts}]`);
  if (a.numExperts % a.numExpertGroups !== 0) issue('numExpertGroups', `a divisor of numExperts (${a.numExperts})`);
  if (a.router === 'moge' && a.topK % a.numExpertGroups !== 0) {
    issue('topK', `a multiple of numExpertGroups (${a.numExpertGroups}) for the MoGE router (K/M experts per group)`);
  }
  if (a.router === 'moge' && a.topK / a.numExpertGroups > a.numExperts / a.numExpertGroups) {
    issue('topK', 'at most the group size times the number of groups');
  }
  if (a.router === 'group-limited') {
    const top = a.routerTopGroups ?? a.numExpertGroups;
    if (top > a.numExpertGroups) issue('routerTopGroups', `at most numExpertGroups (${a.numExpertGroups})`);
    if (top * (a.numExperts / a.numExpertGroups) < a.topK) issue('routerTopGroups', 'enough groups to hold topK experts');
  }
});
export type MoeArch = z.output<typeof MoeArchSchema>;
/** What a user may write: defaults may be omitted. */
export type MoeArchInput = z.input<typeof MoeArchSchema>;

/** True when layer `layer` (0-based) of `arch` is a MoE layer. */
export function isMoeLayer(arch: MoeArch, layer: number): boolean {
  return arch.numExperts > 0 && layer >= arch.numDenseLayers;
}

/** Number of MoE layers of the main stack (MTP layers not counted). */
export function numMoeLayers(arch: MoeArch): number {
  return arch.numExperts > 0 ? arch.numLayers - arch.numDenseLayers : 0;
}
