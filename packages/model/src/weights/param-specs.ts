import { ValidationError, isMoeLayer, type MoeArch } from '@moge/core';

/**
 * The parameters of a model, by name and shape. Names are the HF tensor names of PanguProMoE, with
 * one exception that makes expert dispatch a grouped matmul: a layer's routed experts are stored
 * stacked, `model.layers.{l}.mlp.experts.{gate,up,down}_proj.weight` of shape [E, out, in], where the
 * checkpoint has E tensors `model.layers.{l}.mlp.experts.{e}.{gate,up,down}_proj.weight` of [out, in].
 * `hf-layout.ts` converts between the two at the file boundary.
 */

/** How a fresh parameter is initialised (HF `_init_weights`: normal(0, 0.02), norms and router_scale ones). */
export type ParamInit = 'normal' | 'ones' | 'zeros';

export interface ParamSpec {
  name: string;
  shape: number[];
  init: ParamInit;
}

export const EXPERT_PROJECTIONS = ['gate_proj', 'up_proj', 'down_proj'] as const;
export type ExpertProjection = (typeof EXPERT_PROJECTIONS)[number];

/** Name of a stacked routed-expert projection of layer `layer`. */
export function stackedExpertName(layer: number, proj: ExpertProjection): string {
  return `model.layers.${layer}.mlp.experts.${proj}.weight`;
}

/**
 * Checks that the model code can run `arch` (the PanguProMoE layout); names every unsupported field.
 * `source` names where the arch came from (a config.json) and how its fields map to MoeArch's.
 */
export function assertSupportedArch(arch: MoeArch, source?: { subject: string; hint: string }): void {
  const issues: { path: string; received: unknown; expected: string }[] = [];
  if (arch.attention !== 'gqa') issues.push({ path: 'attention', received: arch.attention, expected: '"gqa"' });
  if (arch.numExperts === 0 || arch.numDenseLayers > 0) {
    issues.push({ path: 'numDenseLayers', received: arch.numDenseLayers, expected: 'every layer MoE (numExperts > 0, numDenseLayers 0)' });
  }
  if (arch.router !== 'moge' && arch.router !== 'topk') issues.push({ path: 'router', received: arch.router, expected: '"moge" or "topk"' });
  if (arch.headDim % 2 !== 0) issues.push({ path: 'headDim', received: arch.headDim, expected: 'an even number (RoPE rotates half-pairs)' });
  if (arch.tiedEmbeddings) issues.push({ path: 'tiedEmbeddings', received: true, expected: 'false (PanguProMoE has a separate lm_head)' });
  // A router without a per-expert vector (Mixtral, Qwen-MoE, DeepSeek-V2) is planning-only: MoGE weights the chosen experts by p · router_scale.
  if (!arch.routerExpertVector) issues.push({ path: 'routerExpertVector', received: false, expected: 'true: the runnable model\'s router has router_scale (a routing-weight scale per expert); drop routerExpertVector to build weights' });
  if (arch.mtpDepth > 0) issues.push({ path: 'mtpDepth', received: arch.mtpDepth, expected: '0: the runnable model has no MTP head (MTP is counted by the accounting and the simulator; drop mtpDepth to build weights)' });
  if (issues.length > 0) {
    if (source) throw new ValidationError(source.subject, issues, source.hint);
    throw new ValidationError(`architecture${arch.name ? ` "${arch.name}"` : ''} for @moge/model`, issues);
  }
}

/** Every parameter of `arch`, in checkpoint order (embedding, layers, final norm, head). */
export function paramSpecs(arch: MoeArch): ParamSpec[] {
  assertSupportedArch(arch);
  const h = arch.hiddenSize;
  const qDim = arch.numHeads * arch.headDim;
  const kvDim = arch.numKvHeads * arch.headDim;
  const e = arch.numExperts;
  const f = arch.expertFfnSize;
  const specs: ParamSpec[] = [{ name: 'model.embed_tokens.weight', shape: [arch.vocabSize, h], init: 'normal' }];
  for (let l = 0; l < arch.numLayers; l++) {
    const p = `model.layers.${l}`;
    specs.push({ name: `${p}.input_layernorm.weight`, shape: [h], init: 'ones' });
    for (const [proj, out, inp] of [['q_proj', qDim, h], ['k_proj', kvDim, h], ['v_proj', kvDim, h], ['o_proj', h, qDim]] as const) {
      specs.push({ name: `${p}.self_attn.${proj}.weight`, shape: [out, inp], init: 'normal' });
      if (arch.attentionBias) specs.push({ name: `${p}.self_attn.${proj}.bias`, shape: [out], init: 'zeros' });
    }
    specs.push({ name: `${p}.post_attention_layernorm.weight`, shape: [h], init: 'ones' });
    if (isMoeLayer(arch, l)) {
      specs.push({ name: `${p}.mlp.gate.weight`, shape: [e, h], init: 'normal' });
      specs.push({ name: `${p}.mlp.router_scale`, shape: [1, e], init: 'ones' });
      specs.push({ name: stackedExpertName(l, 'gate_proj'), shape: [e, f, h], init: 'normal' });
      specs.push({ name: stackedExpertName(l, 'up_proj'), shape: [e, f, h], init: 'normal' });
      specs.push({ name: stackedExpertName(l, 'down_proj'), shape: [e, h, f], init: 'normal' });
      if (arch.sharedExpertFfnSize > 0) {
        const s = arch.sharedExpertFfnSize;
        specs.push({ name: `${p}.mlp.shared_expert.gate_proj.weight`, shape: [s, h], init: 'normal' });
        specs.push({ name: `${p}.mlp.shared_expert.up_proj.weight`, shape: [s, h], init: 'normal' });
        specs.push({ name: `${p}.mlp.shared_expert.down_proj.weight`, shape: [h, s], init: 'normal' });
      }
    }
  }
  specs.push({ name: 'model.norm.weight', shape: [h], init: 'ones' });
  specs.push({ name: 'lm_head.weight', shape: [arch.vocabSize, h], init: 'normal' });
  return specs;
}
