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
  const { result: top, group: topGroup } = collectLayerAllocations(b, () => {
    const head = linearBackward(b, st.normFinal.y, param(w, 'lm_head.weight'), st.dLogits!, false);
    const fin = b.rmsNormBackward(st.xFinal, param(w, 'model.norm.weight'), st.normFinal.invRms, head.dx);
    return { dHead: head.dWeight, dNorm: fin.dWeight, dx: fin.dx };
  });
  recycleLayerAllocations(b, st.lossAllocations);
  grads.set('lm_head.weight', top.dHead);
  grads.set('model.norm.weight', top.dNorm);
  let dx = top.dx;

  // What the previous (upper) block's backward kept for this layer: its gradients, which live on for
  // the caller (their buffers collected in gradGroups, for releaseGrads), and its input gradient, dead
  // after this layer's backward (layer-memory.ts).
  const gradGroups: AllocationGroup[] = [];
  const topGrads = [top.dHead, top.dNorm];
  let carried: { group?: AllocationGroup; grads: Tensor[] } = { group: recycleLayerAllocations(b, topGroup, [...topGrads, dx]), grads: topGrads };
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
    keepGroup(gradGroups, recycleLayerAllocations(b, carried.group, [...carried.grads, ...escaping]));
    carried = { group: recycleLayerAllocations(b, group, escaping), grads: gradList };
  }

  const dEmbed = b.zeros([arch.vocabSize, arch.hiddenSize]);
  b.scatterAddRows(dEmbed, st.batch.ids, dx);
  grads.set('model.embed_tokens.weight', dEmbed);
  keepGroup(gradGroups, recycleLayerAllocations(b, carried.group, carried.grads));
  // Hand back in parameter order (embedding first), the order the optimizer and checkpoints use;
  // expert gradients a runner kept for itself are left out.
  const ordered: ModelGrads = new Map(paramSpecs(arch).flatMap((s) => (grads.has(s.name) ? [[s.name, grads.get(s.name)!] as const] : [])));
  gradAllocations.set(ordered, gradGroups);
  return ordered;
}

/** The buffers behind the gradients a modelBackward returned, by the map it returned (see releaseGrads). */
const gradAllocations = new WeakMap<ModelGrads, AllocationGroup[]>();

function keepGroup(groups: AllocationGroup[], group: AllocationGroup | undefined): void {
  if (group) groups.push(group);
}

/**
 * Hands the buffers of `grads` (what modelBackward returned) back to the backend for reuse, once the
 * caller is done with them — after adding them into its accumulator or optimizer. Why: the gradients
 * are the one part of a training step the model cannot release itself (≈ 100 MB a step for
 * moge-small, every parameter's), and left to the garbage collector they came back as fresh external
 * memory every step, whose pressure kept V8 marking the heap (≈ 20 ms of a 530 ms step). The tensors
 * must not be read afterwards (under vitest their values turn NaN). A second call, a map modelBackward
 * did not return, or a backend without recycling: nothing happens.
 */
export function releaseGrads(w: ModelWeights, grads: ModelGrads): void {
  const groups = gradAllocations.get(grads);
  if (!groups) return;
  gradAllocations.delete(grads);
  for (const group of groups) recycleLayerAllocations(w.backend, group);
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
