import type { AllocationGroup, Backend, HostArray, Tensor } from '@moge/ascend-hal';
import { MogeError, type MoeArch } from '@moge/core';
import { attentionBackward, type AttentionDims } from '../layers/attention';
import { moeBackward, type LayerRouting } from '../layers/moe';
import { addInto } from '../layers/accumulate';
import { linearBackward } from '../layers/linear';
import { param, type ModelGrads, type ModelWeights } from '../weights/model-weights';
import { paramSpecs, stackedExpertName } from '../weights/param-specs';
import { assertTrainable } from '../weights/freeze';
import { collectLayerAllocations, recycleLayerAllocations } from './layer-memory';
import type { ForwardResult, ForwardState, LayerState } from './transformer';

/**
 * d total / d parameter for every parameter, from a forward with labels, layer by layer in reverse:
 * head → final norm → for each layer: MoE block, post-attention norm, attention, input norm → embedding.
 * The residual stream's gradient `dx` is carried down and each block's input gradient added to it.
 */
export function modelBackward(w: ModelWeights, fwd: ForwardResult): ModelGrads {
  assertTrainable(w, 'modelBackward');
  const b = w.backend;
  const arch = w.arch;
  const st = fwd.state;
  if (!st.dLogits) throw new MogeError('E_BACKWARD', 'backward needs a forward over a batch with labels and withGrad (the default)');
  if (st.cached) throw new MogeError('E_BACKWARD', 'backward of a forward that used a KV cache is not supported (train on full sequences)');
  if (st.consumed) throw new MogeError('E_BACKWARD', 'this forward was already backpropagated (its activations are released); run modelForward again for another backward');
  st.consumed = true;
  const grads: ModelGrads = new Map<string, Tensor>();
  const dims: AttentionDims = { batch: st.batch.batch, seqLen: st.batch.seqLen, pastLen: 0 };

  // logits = normFinal.y · W_headᵀ
  const head = linearBackward(b, st.normFinal.y, param(w, 'lm_head.weight'), st.dLogits, false);
  grads.set('lm_head.weight', head.dWeight);
  const fin = b.rmsNormBackward(st.xFinal, param(w, 'model.norm.weight'), st.normFinal.invRms, head.dx);
  grads.set('model.norm.weight', fin.dWeight);
  let dx = fin.dx;

  // What the previous (upper) layer's backward kept for this one: its input gradient, dead after this
  // layer's backward (layer-memory.ts).
  let carried: { group?: AllocationGroup; grads: Tensor[] } = { grads: [] };
  for (let l = arch.numLayers - 1; l >= 0; l--) {
    const s = st.layers[l]!;
    const dxAbove = dx;
    const layerGrads = new Map<string, Tensor>();
    const { result: dxBelow, group } = collectLayerAllocations(b, () => layerBackward(b, arch, st, l, dims, dxAbove, layerGrads));
    for (const [name, g] of layerGrads) grads.set(name, g);
    dx = dxBelow;
    // This layer's activations and backward temporaries are dead now, and so is the gradient it was
    // handed. Whatever leaves the layer (its gradients, dx, the caller's routing report) is kept.
    const gradList = [...layerGrads.values()];
    const escaping = [...gradList, dx];
    recycleLayerAllocations(b, s.allocations, [...escaping, ...keptRouting(fwd.routing[l])]);
    recycleLayerAllocations(b, carried.group, [...carried.grads, ...escaping]);
    carried = { group: recycleLayerAllocations(b, group, escaping), grads: gradList };
  }

  const dEmbed = b.zeros([arch.vocabSize, arch.hiddenSize]);
  b.scatterAddRows(dEmbed, st.batch.ids, dx);
  grads.set('model.embed_tokens.weight', dEmbed);
  // Hand back in parameter order (embedding first), the order the optimizer and checkpoints use;
  // expert gradients a runner kept for itself are left out.
  return new Map(paramSpecs(arch).flatMap((s) => (grads.has(s.name) ? [[s.name, grads.get(s.name)!] as const] : [])));
}

/** One decoder layer's backward: its parameters' gradients into `into`, its input gradient returned. */
function layerBackward(b: Backend, arch: MoeArch, st: ForwardState, l: number, dims: AttentionDims, dy: Tensor, into: Map<string, Tensor>): Tensor {
  const s: LayerState = st.layers[l]!;
  const lw = s.weights;
  const p = lw.prefix;

  // x' = xMid + MoE(RMSNorm(xMid))
  const moe = moeBackward(b, arch, st.router, lw.moe, s.moe, dy, st.auxAlpha);
  into.set(`${p}.mlp.gate.weight`, moe.dGate);
  into.set(`${p}.mlp.router_scale`, moe.dRouterScale);
  // An expert-parallel runner keeps its experts' gradients itself and returns none here.
  if (moe.dExpertGate) into.set(stackedExpertName(l, 'gate_proj'), moe.dExpertGate);
  if (moe.dExpertUp) into.set(stackedExpertName(l, 'up_proj'), moe.dExpertUp);
  if (moe.dExpertDown) into.set(stackedExpertName(l, 'down_proj'), moe.dExpertDown);
  if (moe.dShared) {
    into.set(`${p}.mlp.shared_expert.gate_proj.weight`, moe.dShared.gate);
    into.set(`${p}.mlp.shared_expert.up_proj.weight`, moe.dShared.up);
    into.set(`${p}.mlp.shared_expert.down_proj.weight`, moe.dShared.down);
  }
  const n2 = b.rmsNormBackward(s.xMid, lw.postNorm, s.norm2.invRms, moe.dx);
  into.set(`${p}.post_attention_layernorm.weight`, n2.dWeight);
  const dMid = addInto(b, n2.dx, dy);

  // xMid = xIn + Attention(RMSNorm(xIn))
  const at = attentionBackward(b, arch, lw.attention, s.attention, st.positions, dims, dMid);
  for (const [proj, dW, dB] of [
    ['q_proj', at.dq, at.dqBias],
    ['k_proj', at.dk, at.dkBias],
    ['v_proj', at.dv, at.dvBias],
    ['o_proj', at.do, at.doBias],
  ] as const) {
    into.set(`${p}.self_attn.${proj}.weight`, dW);
    if (dB) into.set(`${p}.self_attn.${proj}.bias`, dB);
  }
  const n1 = b.rmsNormBackward(s.xIn, lw.inputNorm, s.norm1.invRms, at.dx);
  into.set(`${p}.input_layernorm.weight`, n1.dWeight);
  return addInto(b, n1.dx, dMid);
}

/** Host arrays the caller got in the forward's routing report: never recycled. */
function keptRouting(r: LayerRouting | undefined): HostArray[] {
  return r ? [r.expertIds, r.weights, r.counts] : [];
}
