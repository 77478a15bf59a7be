import type { AllocationGroup, Backend, RmsNormResult, Tensor } from '@moge/ascend-hal';
import { MogeError, type MoeArch } from '@moge/core';
import type { Router } from '@moge/router';
import { attentionForward, type AttentionSaved } from '../layers/attention';
import { moeForward, routerForArch, type LayerRouting, type MoeSaved } from '../layers/moe';
import { localExperts, type ExpertRunner } from '../layers/expert-runner';
import { addInto } from '../layers/accumulate';
import { linearForward } from '../layers/linear';
import { param, type ModelWeights } from '../weights/model-weights';
import { IGNORE_LABEL, type TokenBatch } from './batch';
import type { KvCache } from './kv-cache';
import { layerWeights, type LayerWeights } from './layer-weights';
import { collectLayerAllocations, recycleLayerAllocations } from './layer-memory';
import { crossEntropy } from './loss';

/**
 * The PanguProMoE decoder, forward, llm.c style: every step written out, activations kept for
 * backward. Per layer (pre-norm residual):
 *   h = x + Attention(RMSNorm(x));  x' = h + MoGE-FFN(RMSNorm(h))
 * then logits = RMSNorm(x) · W_headᵀ and loss = CE + α · Σ_layers aux.
 */

export interface LossReport {
  crossEntropy: number;
  auxAlpha: number;
  auxUnscaledPerLayer: number[];
  total: number;
}

export interface LayerState {
  weights: LayerWeights;
  xIn: Tensor;
  norm1: RmsNormResult;
  attention: AttentionSaved;
  xMid: Tensor;
  norm2: RmsNormResult;
  moe: MoeSaved;
  /** Output buffers of this layer's forward, recycled by `modelBackward` once the layer's backward has run. */
  allocations?: AllocationGroup;
}

/** What backward needs; opaque to callers. */
export interface ForwardState {
  batch: TokenBatch;
  positions: Int32Array;
  router: Router;
  layers: LayerState[];
  xFinal: Tensor;
  normFinal: RmsNormResult;
  dLogits?: Tensor;
  /** dLogits' buffer, recycled by `modelBackward` once the head's backward has used it. */
  lossAllocations?: AllocationGroup;
  /** The logits' buffer, recycled by `releaseLogits`. */
  logitsAllocations?: AllocationGroup;
  auxAlpha: number;
  cached: boolean;
  /** Set by `modelBackward`, which recycles the activations: a second backward is refused. */
  consumed?: boolean;
}

export interface ForwardResult {
  /** [B·S, V] row-major = [B, S, V]. */
  logits: Tensor;
  /** Present when the batch has labels. */
  loss?: LossReport;
  routing: LayerRouting[];
  state: ForwardState;
}

export interface ForwardOptions {
  /** α of the auxiliary loss; defaults to the arch's `routerAuxLossCoef`. */
  auxAlpha?: number;
  /**
   * Continue these sequences: positions start at `cache.length`, attention sees the cached keys and
   * values, and the cache is extended with this batch's (it is updated in place).
   */
  cache?: KvCache;
  /** Compute ∂loss/∂logits now (for a following `modelBackward`); default true when there are labels. */
  withGrad?: boolean;
  /**
   * Runs the routed experts of every MoE layer (and their backward in `modelBackward`). Default: all
   * experts locally. An expert-parallel trainer passes a runner that dispatches rows to their owners.
   */
  experts?: ExpertRunner;
}

function checkIds(batch: TokenBatch, vocab: number): void {
  // An empty or fractional batch otherwise reaches the kernels and fails there without naming the batch.
  const whole = (n: number) => Number.isInteger(n) && n >= 1;
  if (!whole(batch.batch) || !whole(batch.seqLen)) {
    throw new MogeError('E_BATCH', `token batch: ${batch.batch} sequences × ${batch.seqLen} positions, expected whole numbers ≥ 1 of each`);
  }
  if (batch.ids.length !== batch.batch * batch.seqLen) {
    throw new MogeError('E_BATCH', `token batch: ${batch.ids.length} ids for ${batch.batch} × ${batch.seqLen} positions`);
  }
  for (let i = 0; i < batch.ids.length; i++) {
    const id = batch.ids[i]!;
    if (!(id >= 0 && id < vocab)) throw new MogeError('E_BATCH', `token batch: ids[${i}] = ${id}, expected a token id in [0, ${vocab})`);
  }
  // Checked here, not only by the loss: that runs after the whole forward, and a short labels array
  // reached it as "labels[i]: got undefined" (a RangeError).
  const labels = batch.labels;
  if (!labels) return;
  if (labels.length !== batch.ids.length) {
    throw new MogeError('E_BATCH', `token batch: ${labels.length} labels for ${batch.ids.length} ids, expected one per position (${IGNORE_LABEL} to leave one out of the loss)`);
  }
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (y !== IGNORE_LABEL && !(y >= 0 && y < vocab)) throw new MogeError('E_BATCH', `token batch: labels[${i}] = ${y}, expected ${IGNORE_LABEL} or a token id in [0, ${vocab})`);
  }
}

/**
 * A cache must be this model's and whole: every layer holds `cache.length` positions of this arch's
 * KV heads. A cache of another model fails deep in a kernel without naming the cache, and one left by
 * a forward that threw part-way (earlier layers extended, `length` not) would attend over the wrong
 * positions without any error.
 */
function checkCache(cache: KvCache, arch: MoeArch, batch: number): void {
  const fresh = 'a cache belongs to one model and advances one forward at a time: start a new one with createKvCache(arch, batch)';
  if (cache.batch !== batch) throw new MogeError('E_KV_CACHE', `KV cache holds ${cache.batch} sequences, the batch has ${batch}`);
  if (cache.layers.length !== arch.numLayers || cache.numKvHeads !== arch.numKvHeads || cache.headDim !== arch.headDim) {
    throw new MogeError(
      'E_KV_CACHE',
      `KV cache of ${cache.layers.length} layers × ${cache.numKvHeads} KV heads × head_dim ${cache.headDim}, the model has ${arch.numLayers} × ${arch.numKvHeads} × ${arch.headDim}; ${fresh}`,
    );
  }
  cache.layers.forEach((pair, l) => {
    if (!pair) {
      if (cache.length > 0) throw new MogeError('E_KV_CACHE', `KV cache layer ${l} is empty but the cache holds ${cache.length} positions (a forward with it failed part-way); ${fresh}`);
      return;
    }
    const filled = pair.length ?? pair.k.shape[1]! / arch.headDim;
    if (filled !== cache.length) {
      throw new MogeError('E_KV_CACHE', `KV cache layer ${l} holds ${filled} positions, the cache ${cache.length} (a forward with it failed part-way); ${fresh}`);
    }
  });
}

export function modelForward(w: ModelWeights, batch: TokenBatch, options: ForwardOptions = {}): ForwardResult {
  const b: Backend = w.backend;
  const arch = w.arch;
  checkIds(batch, arch.vocabSize);
  const cache = options.cache;
  if (cache) checkCache(cache, arch, batch.batch);
  const pastLen = cache?.length ?? 0;
  if (pastLen + batch.seqLen > arch.maxPositionEmbeddings) {
    throw new MogeError(
      'E_BATCH',
      `token batch: positions up to ${pastLen + batch.seqLen} (${pastLen ? `${pastLen} cached + ` : ''}${batch.seqLen} new) exceed the model's max_position_embeddings ${arch.maxPositionEmbeddings}; shorten the input`,
    );
  }
  const dims = { batch: batch.batch, seqLen: batch.seqLen, pastLen };
  const positions = new Int32Array(batch.ids.length);
  for (let i = 0; i < positions.length; i++) positions[i] = pastLen + (i % batch.seqLen);
  const auxAlpha = options.auxAlpha ?? arch.routerAuxLossCoef;
  // NaN or a negative α would turn a good forward's loss into NaN or reward imbalance.
  if (!(Number.isFinite(auxAlpha) && auxAlpha >= 0)) throw new MogeError('E_BAD_OPTION', `auxAlpha: got ${auxAlpha}, expected a finite number ≥ 0 (the auxiliary-loss coefficient)`);
  const router = routerForArch(arch);

  let x = b.gatherRows(param(w, 'model.embed_tokens.weight'), batch.ids);
  const layers: LayerState[] = [];
  const routing: LayerRouting[] = [];
  // With a backward to follow, each layer's output buffers are collected so that modelBackward can
  // recycle them once that layer's backward has run (layer-memory.ts).
  const backwardFollows = batch.labels !== undefined && (options.withGrad ?? true) && !cache;
  for (let l = 0; l < arch.numLayers; l++) {
    const lw = layerWeights(w, l);
    const xIn = x;
    const layer = () => {
      const norm1 = b.rmsNorm(xIn, lw.inputNorm, arch.normEps);
      const attn = attentionForward(b, arch, lw.attention, norm1.y, positions, dims, cache?.layers[l]);
      if (cache) cache.layers[l] = attn.present;
      const xMid = addInto(b, attn.y, xIn); // attn.y is this layer's temporary
      const norm2 = b.rmsNorm(xMid, lw.postNorm, arch.normEps);
      const moe = moeForward(b, arch, router, lw.moe, norm2.y, options.experts ?? localExperts, l);
      return { y: addInto(b, moe.y, xMid), state: { weights: lw, xIn, norm1, attention: attn.saved, xMid, norm2, moe: moe.saved }, routing: moe.routing };
    };
    const { result, group } = backwardFollows ? collectLayerAllocations(b, layer) : { result: layer(), group: undefined };
    x = result.y;
    layers.push(group ? { ...result.state, allocations: group } : result.state);
    routing.push({ layer: l, ...result.routing });
  }
  if (cache) cache.length += batch.seqLen;

  const normFinal = b.rmsNorm(x, param(w, 'model.norm.weight'), arch.normEps);
  // Collected so that a caller done with them can hand their buffer back (releaseLogits).
  const { result: logits, group: logitsAllocations } = collectLayerAllocations(b, () => linearForward(b, normFinal.y, param(w, 'lm_head.weight')));
  const state: ForwardState = { batch, positions, router, layers, xFinal: x, normFinal, auxAlpha, cached: cache !== undefined, logitsAllocations };

  let loss: LossReport | undefined;
  if (batch.labels) {
    const labels = batch.labels;
    // The softmax and dLogits are [tokens, vocab] each (16 MB at moge-small's 1024 × 4096): collected
    // so that the softmax is recycled at once and dLogits once the head's backward has used it (at
    // once too when no backward follows).
    const { result: ce, group } = collectLayerAllocations(b, () => crossEntropy(b, logits, labels, options.withGrad ?? true));
    state.lossAllocations = recycleLayerAllocations(b, group, ce.dLogits ? [ce.dLogits] : []);
    const auxUnscaledPerLayer = routing.map((r) => r.auxLoss);
    const auxSum = auxUnscaledPerLayer.reduce((s, a) => s + a, 0);
    loss = { crossEntropy: ce.loss, auxAlpha, auxUnscaledPerLayer, total: ce.loss + auxAlpha * auxSum };
    if (options.withGrad ?? true) state.dLogits = ce.dLogits;
  }
  return { logits, loss, routing, state };
}

/**
 * Hands the buffer of `fwd.logits` back to the backend for reuse, once the caller is done with them
 * (after modelBackward, or after reading the loss). Why: the logits are [tokens, vocab] (16 MB a
 * moge-small training micro-batch) and the one forward output the model cannot release itself; left
 * to the garbage collector, a step whose logits found no freed block took fresh memory, whose first
 * touch cost ≈ 45 ms on a virtual machine (packages/model/bench/op-profile.ts, SHAPES=1). The logits
 * must not be read afterwards (under vitest their values turn NaN); backward does not need them. A
 * second call, or a backend without recycling: nothing happens.
 */
export function releaseLogits(w: ModelWeights, fwd: ForwardResult): void {
  const group = fwd.state.logitsAllocations;
  fwd.state.logitsAllocations = undefined;
  recycleLayerAllocations(w.backend, group);
}
