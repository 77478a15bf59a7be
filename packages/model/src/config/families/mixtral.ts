import { z } from 'zod';
import { parseWith, type MoeArchInput } from '@moge/core';
import { COMMON_FIELDS, gqaArchFields, headDimOf, kvHeadsOf, positiveInt, readCommon, type Reading } from './common';

/** Mixtral `config.json` (transformers' MixtralConfig field names). */
const MixtralSchema = z
  .object({
    ...COMMON_FIELDS,
    model_type: z.literal('mixtral'),
    /** The width of one expert: Mixtral has no dense MLP. */
    intermediate_size: positiveInt,
    num_local_experts: positiveInt,
    num_experts_per_tok: positiveInt,
    router_aux_loss_coef: z.number().nonnegative().optional(),
    router_jitter_noise: z.number().nonnegative().optional(),
  })
  .loose();

/** Mixtral as a MoeArch: every layer MoE, `num_local_experts` experts of `intermediate_size`, top-k. */
export function readMixtral(json: unknown, r: Reading): MoeArchInput {
  const hf = parseWith(MixtralSchema, json, r.subject);
  readCommon(hf, r, { slidingWindowField: 'sliding_window' });
  const headDim = headDimOf(hf, r);
  const kvHeads = kvHeadsOf(hf, r, false);
  r.note('num_experts_per_tok', 'the top-k weights are a softmax over the chosen experts only (renormalised): no parameters, negligible FLOPs');
  if (hf.router_jitter_noise) r.note('router_jitter_noise', `${hf.router_jitter_noise}: router noise in training is not modelled`);
  r.check();
  return {
    ...gqaArchFields(hf, r, { kvHeads, headDim, normEps: 1e-5, maxPositions: 4096 * 32, ropeTheta: 1e6 }),
    denseFfnSize: 0,
    numExperts: hf.num_local_experts,
    numExpertGroups: 1,
    topK: hf.num_experts_per_tok,
    expertFfnSize: hf.intermediate_size,
    sharedExpertFfnSize: 0,
    router: 'topk',
    routerAuxLossCoef: hf.router_aux_loss_coef ?? 0.001,
    // MixtralSparseMoeBlock's gate is the weight alone (transformers 5.18 modeling_mixtral.py:102).
    routerExpertVector: false,
    attentionBias: false,
  };
}
