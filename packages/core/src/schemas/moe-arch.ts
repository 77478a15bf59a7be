import { z } from 'zod';

const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();

/** Multi-head latent attention (DeepSeek-V2/V3, Pangu Ultra MoE) low-rank sizes. */
export const MlaRanksSchema = z.object({
  /** Rank of the query down-projection; 0 means queries are not compressed. */
  qLoraRank: nonNegativeInt,
  /** Rank of the joint key/value compression (what the KV cache stores, plus the rope key). */
  kvLoraRank: positiveInt,
  /** Per-head dimension of the rotary (position) part of q and k. */
  qkRopeHeadDim: positiveInt,
  /** Per-head dimension of the non-rotary part of q and k. */
  qkNopeHeadDim: positiveInt,
  /** Per-head dimension of values. */
  vHeadDim: positiveInt,
});
export type MlaRanks = z.infer<typeof MlaRanksSchema>;

/** Which router a MoE layer uses (see @moge/router for the exact rules). */
export const RouterKindSchema = z.enum(['moge', 'topk', 'group-limited']);
export type RouterKind = z.infer<typeof RouterKindSchema>;

const MoeArchObject = z.object({
  /** Human name (preset name or file name); informational. */
  name: z.string().optional(),
  numLayers: positiveInt,
  hiddenSize: positiveInt,
  numHeads: positiveInt,
  numKvHeads: positiveInt,
  headDim: positiveInt,
  vocabSize: positiveInt,
  /** Width of the dense SwiGLU FFN (leading dense layers, or every layer of a dense model). */
  denseFfnSize: nonNegativeInt,
  /** Routed experts per MoE layer; 0 makes a dense model. */
  numExperts: nonNegativeInt.default(0),
  /** Expert groups M; MoGE picks topK/M experts in every group. 1 = ungrouped. */
  numExpertGroups: positiveInt.default(1),
  /** Experts active per token (K). */
  topK: nonNegativeInt.default(0),
  /** Width of one routed expert's SwiGLU FFN. */
  expertFfnSize: nonNegativeInt.default(0),
  /** Total width of the always-on shared expert(s); 0 = none. */
  sharedExpertFfnSize: nonNegativeInt.default(0),
  /** Leading layers that use the dense FFN instead of MoE. */
  numDenseLayers: nonNegativeInt.default(0),
  router: RouterKindSchema.default('moge'),
  /** Groups kept per token by the group-limited router (DeepSeek-V3 `topk_group`). */
  routerTopGroups: positiveInt.optional(),
  routerAuxLossCoef: z.number().nonnegative().default(0.01),
  attention: z.enum(['gqa', 'mla']).default('gqa'),
  mla: MlaRanksSchema.optional(),
  /** Biases on the q/k/v/o projections (Pangu Pro MoE has them). */
  attentionBias: z.boolean().default(false),
  /** Multi-token-prediction layers after the main stack. */
  mtpDepth: nonNegativeInt.default(0),
  ropeTheta: z.number().positive().default(10000),
  normEps: z.number().positive().default(1e-5),
  tiedEmbeddings: z.boolean().default(false),
  maxPositionEmbeddings: positiveInt.default(4096),
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
