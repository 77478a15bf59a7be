import { isMoeLayer, type MoeArch } from '@moge/core';
import { attentionOps, denseFfnOps, embeddingOps, type LayerShard } from '../common/layer-ops';
import type { CollectiveOp, ComputeOp } from '../common/ops';
import type { InferOp } from './ops';

/**
 * What one device runs in one inference forward, under an H2P-style layout: attention as DP × TP,
 * routed experts as ETP × EP over the same devices, the shared expert over its own TP group.
 * `sequenceParallel` is H2P's split of every TP all-reduce into a reduce-scatter and an all-gather
 * moved after the next RMSNorm (the norm then runs on tokens / tp).
 */
export interface InferShard {
  /** Sequences on this device's attention data-parallel rank. */
  batch: number;
  /** New tokens per sequence in this forward (prefill: the prompt; decode: 1 + drafts verified). */
  seqQ: number;
  /** Tokens each query attends to (the context, including the new ones). */
  seqKv: number;
  tp: number;
  sequenceParallel: boolean;
  ep: number;
  etp: number;
  sharedTp: number;
  /** Expected experts of this device a step touches (reads weights of). */
  activeExperts: number;
  /** Busiest device's routed tokens over the mean. */
  expertLoadFactor: number;
  /** Bytes per activation element (2: bf16/fp16). */
  actBytes: number;
  /** Decode with MLA reads the compressed latent (absorbed up-projections). */
  absorbMla: boolean;
}

/** Collectives that a fused matmul–collective kernel hides, by op name → the matmuls it fuses with. */
export const FUSED_WITH: Readonly<Record<string, readonly string[]>> = {
  'attn-all-gather': ['qkv-proj', 'q-proj', 'q-down-proj', 'kv-down-proj'],
  'attn-reduce-scatter': ['o-proj'],
  'ffn-all-gather': ['ffn-gate-up'],
  'ffn-reduce-scatter': ['ffn-down'],
  'moe-all-gather': ['shared-down'],
  'shared-all-gather': ['shared-gate-up'],
  'shared-reduce-scatter': ['shared-down'],
  'etp-all-gather': ['router-gate'],
  'etp-reduce-scatter': ['experts-down'],
};

function toLayerShard(s: InferShard): LayerShard {
  return {
    batch: s.batch,
    seqQ: s.seqQ,
    seqKv: s.seqKv,
    causal: true,
    tp: s.tp,
    cp: 1,
    ep: s.ep,
    etp: s.etp,
    sequenceParallel: s.sequenceParallel,
    expertLoadFactor: s.expertLoadFactor,
    actBytes: s.actBytes,
  };
}

/** The shared attention block, with MLA decode switched to the latent (absorbed) form. */
export function inferAttentionOps(arch: MoeArch, s: InferShard): InferOp[] {
  const ops: InferOp[] = attentionOps(arch, toLayerShard(s));
  if (arch.attention !== 'mla' || !s.absorbMla) return ops;
  const m = arch.mla!;
  return ops.map((op) =>
    op.kind === 'attention'
      ? { kind: 'latent-attention', name: op.name, module: op.module, batch: op.batch, heads: op.heads, seqQ: op.seqQ, seqKv: op.seqKv, latentDim: m.kvLoraRank + m.qkRopeHeadDim, valueDim: m.kvLoraRank }
      : op,
  );
}

const norm = (name: string, rows: number, width: number, actBytes: number): ComputeOp => ({
  kind: 'elementwise',
  name,
  module: 'norm',
  bytes: 2 * rows * width * actBytes,
  flops: 5 * rows * width,
});

const collective = (name: string, op: CollectiveOp['op'], group: 'tp' | 'etp', bytes: number, ranks: number, module: CollectiveOp['module'], hideUnder?: string[]): CollectiveOp => ({
  kind: 'collective',
  name,
  module,
  group,
  op,
  bytes,
  ranks,
  ...(hideUnder ? { hideUnder } : {}),
});

/**
 * MoE block. Each device routes its 1/tp share of its DP rank's tokens; experts read only the
 * weights of the experts the step touches; the shared expert gathers the tokens of its own TP
 * group and is independent of the routed path, so it can run while the dispatch is in flight.
 */
export function inferMoeOps(arch: MoeArch, s: InferShard): InferOp[] {
  const h = arch.hiddenSize;
  const tokens = s.batch * s.seqQ;
  const routed = tokens / s.tp;
  // Expert-TP ranks first gather each other's tokens (once per token, not once per chosen expert),
  // then route the gathered set: every expert shard must see all rows of its experts.
  const gathered = routed * s.etp;
  const k = arch.topK;
  const received = gathered * k * s.expertLoadFactor;
  const expertWidth = arch.expertFfnSize / s.etp;
  const hiddenBytes = h * s.actBytes;
  const normRows = s.sequenceParallel ? routed : tokens;
  const ops: InferOp[] = [norm('post-attn-norm', normRows, h, s.actBytes)];
  if (s.etp > 1) ops.push(collective('etp-all-gather', 'all-gather', 'etp', gathered * hiddenBytes, s.etp, 'experts'));
  ops.push(
    { kind: 'matmul', name: 'router-gate', module: 'router', m: gathered, k: h, n: arch.numExperts },
    { kind: 'elementwise', name: 'router-topk', module: 'router', bytes: 2 * gathered * arch.numExperts * 4, flops: 4 * gathered * arch.numExperts },
    { kind: 'elementwise', name: 'permute', module: 'permute', bytes: 2 * gathered * k * hiddenBytes, flops: 0 },
  );
  const shared = arch.sharedExpertFfnSize > 0;
  if (s.ep > 1) {
    ops.push({ kind: 'expert-exchange', name: 'ep-dispatch', module: 'permute', group: 'ep', phase: 'dispatch', tokens: gathered, topK: k, numExperts: arch.numExperts, hiddenBytes, ranks: s.ep, ...(shared ? { hideUnder: ['shared-gate-up', 'shared-down'] } : {}) });
  }
  ops.push(
    { kind: 'expert-matmul', name: 'experts-gate-up', module: 'experts', activeExperts: s.activeExperts, tokens: received, k: h, n: 2 * expertWidth },
    { kind: 'elementwise', name: 'experts-swiglu', module: 'activation', bytes: 3 * received * expertWidth * s.actBytes, flops: 6 * received * expertWidth },
    { kind: 'expert-matmul', name: 'experts-down', module: 'experts', activeExperts: s.activeExperts, tokens: received, k: expertWidth, n: h },
  );
  if (s.ep > 1) {
    ops.push({ kind: 'expert-exchange', name: 'ep-combine', module: 'permute', group: 'ep', phase: 'combine', tokens: gathered, topK: k, numExperts: arch.numExperts, hiddenBytes, ranks: s.ep });
  }
  ops.push({ kind: 'elementwise', name: 'unpermute', module: 'permute', bytes: 2 * gathered * k * hiddenBytes, flops: 2 * gathered * k * h });
  if (s.etp > 1) ops.push(collective('etp-reduce-scatter', 'reduce-scatter', 'etp', gathered * hiddenBytes, s.etp, 'experts'));
  if (shared) {
    const sharedTokens = routed * s.sharedTp;
    const width = arch.sharedExpertFfnSize / s.sharedTp;
    if (s.sharedTp > 1) ops.push(collective('shared-all-gather', 'all-gather', 'tp', sharedTokens * hiddenBytes, s.sharedTp, 'shared-expert'));
    ops.push(
      { kind: 'matmul', name: 'shared-gate-up', module: 'shared-expert', m: sharedTokens, k: h, n: 2 * width },
      { kind: 'elementwise', name: 'shared-swiglu', module: 'activation', bytes: 3 * sharedTokens * width * s.actBytes, flops: 6 * sharedTokens * width },
      { kind: 'matmul', name: 'shared-down', module: 'shared-expert', m: sharedTokens, k: width, n: h },
    );
    if (s.sharedTp > 1) ops.push(collective('shared-reduce-scatter', 'reduce-scatter', 'tp', sharedTokens * hiddenBytes, s.sharedTp, 'shared-expert'));
  }
  ops.push({ kind: 'elementwise', name: 'moe-residual', module: 'experts', bytes: 3 * routed * hiddenBytes, flops: routed * h });
  // Without the split, the next attention needs every TP rank to hold all its DP rank's tokens again.
  if (s.tp > 1 && !s.sequenceParallel) ops.push(collective('moe-all-gather', 'all-gather', 'tp', tokens * hiddenBytes, s.tp, 'experts'));
  return ops;
}

/** Every op of transformer layer `layer` (0-based) on one device. */
export function inferLayerOps(arch: MoeArch, layer: number, s: InferShard): InferOp[] {
  const ffn: InferOp[] = isMoeLayer(arch, layer) ? inferMoeOps(arch, s) : denseFfnOps(arch, toLayerShard(s));
  return [...inferAttentionOps(arch, s), ...ffn];
}

/** Input embedding (vocab-parallel lookup and its TP reduction). */
export function inferEmbeddingOps(arch: MoeArch, s: InferShard): InferOp[] {
  return embeddingOps(arch, toLayerShard(s));
}

/**
 * Final norm, vocab-parallel output head on the rows that need logits (prefill: each sequence's
 * last token; decode: every verified position), the logits all-gather and sampling.
 */
export function inferHeadOps(arch: MoeArch, s: InferShard, rowsPerSequence: number, prefix = 'head'): InferOp[] {
  const h = arch.hiddenSize;
  const rows = s.batch * rowsPerSequence;
  const vocabLocal = arch.vocabSize / s.tp;
  const ops: InferOp[] = [norm(`${prefix}-final-norm`, rows, h, s.actBytes)];
  if (s.tp > 1 && s.sequenceParallel) ops.push(collective(`${prefix}-all-gather`, 'all-gather', 'tp', rows * h * s.actBytes, s.tp, 'head'));
  ops.push({ kind: 'matmul', name: `${prefix}-proj`, module: 'head', m: rows, k: h, n: vocabLocal });
  if (s.tp > 1) ops.push(collective(`${prefix}-logits-all-gather`, 'all-gather', 'tp', rows * arch.vocabSize * s.actBytes, s.tp, 'head'));
  ops.push({ kind: 'elementwise', name: `${prefix}-sample`, module: 'head', bytes: rows * arch.vocabSize * s.actBytes, flops: 4 * rows * arch.vocabSize });
  return ops;
}

/**
 * One MTP draft pass (DeepSeek-V3 layout): norms of the hidden state and of the next token's
 * embedding, the 2h→h projection, one layer of the last layer's kind, and the shared head.
 */
export function mtpDraftOps(arch: MoeArch, s: InferShard): InferOp[] {
  const h = arch.hiddenSize;
  const tokens = s.batch * s.seqQ;
  const tag = (ops: InferOp[]): InferOp[] => ops.map((op) => ({ ...op, name: `mtp-${op.name}` }));
  const ops: InferOp[] = [
    ...tag(inferEmbeddingOps(arch, s)),
    norm('mtp-hidden-norm', tokens, h, s.actBytes),
    norm('mtp-embed-norm', tokens, h, s.actBytes),
    { kind: 'matmul', name: 'mtp-eh-proj', module: 'mtp', m: tokens, k: 2 * h, n: h / s.tp },
  ];
  if (s.tp > 1) ops.push(collective('mtp-proj-all-reduce', 'all-reduce', 'tp', tokens * h * s.actBytes, s.tp, 'mtp'));
  ops.push(...tag(inferLayerOps(arch, arch.numLayers - 1, s)), ...tag(inferHeadOps(arch, s, s.seqQ)));
  return ops;
}
