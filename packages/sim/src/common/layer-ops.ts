import { isMoeLayer, type MoeArch } from '@moge/core';
import { ALL_ELEMENTWISE_FUSED, elementwiseOp, permuteUnfused, RMSNORM_UNFUSED, ROPE_UNFUSED, SWIGLU_UNFUSED, unpermuteUnfused, type ElementwiseFusion } from './elementwise-kernels';
import type { CommOp, ComputeOp, LayerOp } from './ops';

/**
 * How one device sees the work of a layer: the token batch it runs and the parallel groups it sits
 * in. Training uses `seqQ = seqLength / cp` and `seqKv = seqLength`; prefill the same; decode `seqQ = 1`
 * and `seqKv` = the context length.
 */
export interface LayerShard {
  /** Sequences processed together (micro-batch or decode batch). */
  batch: number;
  /** Query positions per sequence on this device. */
  seqQ: number;
  /** Key positions each query attends to. */
  seqKv: number;
  causal: boolean;
  tp: number;
  cp: number;
  ep: number;
  etp: number;
  /** Megatron sequence parallelism: norms and residuals on tokens / tp, all-gather / reduce-scatter around TP regions. */
  sequenceParallel: boolean;
  /** Busiest expert-parallel device's routed-token load over the mean (≥ 1); 1 = perfectly balanced. */
  expertLoadFactor: number;
  /** Bytes per activation element (2 for bf16). */
  actBytes: number;
  /** Which memory-bound operators run as fused kernels (absent: all of them, MindSpeed's standard recipes). */
  elementwiseFusion?: ElementwiseFusion;
}

const fusion = (s: LayerShard): ElementwiseFusion => s.elementwiseFusion ?? ALL_ELEMENTWISE_FUSED;

/** Tokens in the tensor-parallel region and in the sequence-parallel region of one device. */
export function shardTokens(s: LayerShard): { tokens: number; spTokens: number } {
  const tokens = s.batch * s.seqQ;
  return { tokens, spTokens: s.sequenceParallel && s.tp > 1 ? tokens / s.tp : tokens };
}

/** Entry and exit of a tensor-parallel region: all-gather / reduce-scatter with SP, nothing / all-reduce without. */
function tpEnter(s: LayerShard, name: string, tokens: number, width: number): CommOp[] {
  if (s.tp === 1 || !s.sequenceParallel) return [];
  return [{ kind: 'collective', name, module: 'attention', group: 'tp', op: 'all-gather', bytes: tokens * width * s.actBytes, ranks: s.tp }];
}
function tpExit(s: LayerShard, name: string, tokens: number, width: number): CommOp[] {
  if (s.tp === 1) return [];
  const op = s.sequenceParallel ? 'reduce-scatter' : 'all-reduce';
  return [{ kind: 'collective', name, module: 'attention', group: 'tp', op, bytes: tokens * width * s.actBytes, ranks: s.tp }];
}

function norm(s: LayerShard, name: string, rows: number, width: number): ComputeOp {
  // Fused: read x and write y (bf16), ~5 FLOP per element (square, sum, rsqrt-scale, weight).
  const elements = rows * width;
  return elementwiseOp(name, 'norm', fusion(s).rmsNorm, 2 * elements * s.actBytes, 5 * elements, elements, RMSNORM_UNFUSED);
}

/** Rotary embedding of `elements` query and key values (fused: read and write each once). */
function rope(s: LayerShard, elements: number): ComputeOp {
  return elementwiseOp('rope', 'attention', fusion(s).rope, 2 * elements * s.actBytes, 6 * elements, elements, ROPE_UNFUSED);
}

/** SwiGLU producing `elements` outputs (fused: read both halves, write the product). */
function swiglu(s: LayerShard, name: string, elements: number): ComputeOp {
  return elementwiseOp(name, 'activation', fusion(s).swiglu, 3 * elements * s.actBytes, 6 * elements, elements, SWIGLU_UNFUSED);
}

/** Attention block (norm, projections, core, output), GQA or MLA, for one device. */
export function attentionOps(arch: MoeArch, s: LayerShard): LayerOp[] {
  const h = arch.hiddenSize;
  const { tokens, spTokens } = shardTokens(s);
  const headsLocal = arch.numHeads / s.tp;
  const ops: LayerOp[] = [norm(s, 'input-norm', spTokens, h)];
  let headDimQk: number;
  let headDimV: number;
  let kvHeadsLocal: number;
  if (arch.attention === 'mla') {
    const m = arch.mla!;
    headDimQk = m.qkNopeHeadDim + m.qkRopeHeadDim;
    headDimV = m.vHeadDim;
    kvHeadsLocal = headsLocal; // MLA decompresses keys and values for every head
    // The down-projections are not split over TP (Megatron-core's MLA: a plain Linear; MindSpeed's
    // the same). With sequence parallelism they run on this rank's tokens / tp, and the small latents
    // (q_lora_rank, kv_lora_rank + rope per token, not the hidden state) are all-gathered into the
    // up-projections, which are split by heads. Without it every TP rank has every token and
    // computes the down-projections in full.
    const latentSp = s.sequenceParallel && s.tp > 1;
    const downTokens = latentSp ? spTokens : tokens;
    if (m.qLoraRank > 0) {
      ops.push({ kind: 'matmul', name: 'q-down-proj', module: 'attention', m: downTokens, k: h, n: m.qLoraRank });
      ops.push(norm(s, 'q-norm', downTokens, m.qLoraRank));
      if (latentSp) ops.push(...tpEnter(s, 'q-latent-all-gather', tokens, m.qLoraRank));
      ops.push({ kind: 'matmul', name: 'q-up-proj', module: 'mla-up-proj', m: tokens, k: m.qLoraRank, n: headsLocal * headDimQk });
    } else {
      // No query compression: a column-parallel projection of the (gathered) hidden state.
      ops.push(...tpEnter(s, 'attn-all-gather', tokens, h));
      ops.push({ kind: 'matmul', name: 'q-proj', module: 'attention', m: tokens, k: h, n: headsLocal * headDimQk });
    }
    ops.push({ kind: 'matmul', name: 'kv-down-proj', module: 'attention', m: downTokens, k: h, n: m.kvLoraRank + m.qkRopeHeadDim });
    ops.push(norm(s, 'kv-norm', downTokens, m.kvLoraRank));
    if (latentSp) ops.push(...tpEnter(s, 'kv-latent-all-gather', tokens, m.kvLoraRank + m.qkRopeHeadDim));
    ops.push({ kind: 'matmul', name: 'kv-up-proj', module: 'mla-up-proj', m: tokens, k: m.kvLoraRank, n: headsLocal * (m.qkNopeHeadDim + m.vHeadDim) });
    ops.push(rope(s, tokens * (headsLocal + 1) * m.qkRopeHeadDim));
  } else {
    headDimQk = arch.headDim;
    headDimV = arch.headDim;
    // Serving engines (vLLM) replicate KV heads when tp exceeds their number; Megatron does not, and
    // training plans with such a tp are refused before they get here (@moge/memory's plan-rules.ts).
    kvHeadsLocal = Math.ceil(arch.numKvHeads / s.tp);
    ops.push(...tpEnter(s, 'attn-all-gather', tokens, h));
    ops.push({ kind: 'matmul', name: 'qkv-proj', module: 'attention', m: tokens, k: h, n: (headsLocal + 2 * kvHeadsLocal) * arch.headDim });
    ops.push(rope(s, tokens * (headsLocal + kvHeadsLocal) * arch.headDim));
  }
  ops.push(...attentionCoreOps(s, headsLocal, kvHeadsLocal, headDimQk, headDimV));
  ops.push({ kind: 'matmul', name: 'o-proj', module: 'attention', m: tokens, k: headsLocal * headDimV, n: h });
  ops.push(...tpExit(s, 'attn-reduce-scatter', tokens, h));
  ops.push({ kind: 'elementwise', name: 'attn-residual', module: 'attention', bytes: 3 * spTokens * h * s.actBytes, flops: spTokens * h });
  return ops;
}

/**
 * The attention core on one device. Without context parallelism: one fused kernel over the local
 * sequence. With it, Megatron-LM's ring attention (cp_comm_type "p2p") with its causal load
 * balance: the sequence is cut into 2·cp chunks and rank i holds chunks i and 2cp−1−i, so every
 * rank does the same work. The rank computes its queries against one block of keys and values at a
 * time — first its own (a causal block), then cp − 1 blocks received from the previous rank in the
 * ring, each half masked (either the early half of the queries sees all of it, or all queries see
 * its early half), i.e. seqQ × seqQ/2 unmasked pairs. Each block is its own kernel, so small blocks
 * pay their lower efficiency and launch. Step k's transfer (the next block of K,V) is in flight while
 * block k computes; that is all it can hide under (pass-cost's ring exchange).
 */
function attentionCoreOps(s: LayerShard, heads: number, kvHeads: number, headDimQk: number, headDimV: number): LayerOp[] {
  const core = { kind: 'attention' as const, module: 'attention-core' as const, batch: s.batch, heads, kvHeads, headDimQk, headDimV };
  if (s.cp <= 1) return [{ ...core, name: 'attention-core', seqQ: s.seqQ, seqKv: s.seqKv, causal: s.causal }];
  const blocks: LayerOp[] = [{ ...core, name: 'attention-core', seqQ: s.seqQ, seqKv: s.seqQ, causal: s.causal }];
  const corrections: LayerOp[] = [];
  // Merging a block's partial result into the running one (online softmax: rescale both by their
  // log-sum-exp and add) is a kernel of its own after every received block — MindSpeed's
  // npu_ring_attention_update, TransformerEngine's flash_attn_fwd_out_correction. It reads the fp32
  // running output and the block's bf16 output and writes the running output back (10 bytes per
  // output element, ~4 FLOP); its backward (the per-step dQ and dK,dV accumulation) streams about as much.
  const outElems = s.batch * s.seqQ * heads * headDimV;
  for (let k = 1; k < s.cp; k++) {
    blocks.push({ ...core, name: `attention-core-ring${k}`, seqQ: s.seqQ, seqKv: s.causal ? s.seqQ / 2 : s.seqQ, causal: false });
    corrections.push({ kind: 'elementwise', name: `attention-ring-correction${k}`, module: 'attention-core', bytes: 10 * outElems, flops: 4 * outElems });
  }
  // One block of keys and values: this rank's seqQ positions of every local KV head.
  const kvBytes = s.batch * s.seqQ * kvHeads * (headDimQk + headDimV) * s.actBytes;
  const exchange: LayerOp = {
    kind: 'collective',
    name: 'cp-ring-exchange',
    module: 'attention-core',
    group: 'cp',
    op: 'send-recv',
    bytes: kvBytes,
    backwardBytes: 2 * kvBytes,
    steps: s.cp - 1,
    ranks: s.cp,
    hideUnder: blocks.slice(0, s.cp - 1).map((b) => b.name),
  };
  return [exchange, ...blocks, ...corrections];
}

/** A TP-split SwiGLU FFN (dense layers, shared experts) on the tensor-parallel tokens. */
function swigluOps(s: LayerShard, h: number, width: number, prefix: string, module: 'dense-ffn' | 'shared-expert'): LayerOp[] {
  const { tokens } = shardTokens(s);
  const local = width / s.tp;
  return [
    { kind: 'matmul', name: `${prefix}-gate-up`, module, m: tokens, k: h, n: 2 * local },
    swiglu(s, `${prefix}-swiglu`, tokens * local),
    { kind: 'matmul', name: `${prefix}-down`, module, m: tokens, k: local, n: h },
  ];
}

/** Dense FFN block with its norm and TP collectives. */
export function denseFfnOps(arch: MoeArch, s: LayerShard): LayerOp[] {
  const h = arch.hiddenSize;
  const { tokens, spTokens } = shardTokens(s);
  return [
    norm(s, 'post-attn-norm', spTokens, h),
    ...tpEnter(s, 'ffn-all-gather', tokens, h),
    ...swigluOps(s, h, arch.denseFfnSize, 'ffn', 'dense-ffn'),
    ...tpExit(s, 'ffn-reduce-scatter', tokens, h),
    { kind: 'elementwise', name: 'ffn-residual', module: 'dense-ffn', bytes: 3 * spTokens * h * s.actBytes, flops: spTokens * h },
  ];
}

/**
 * MoE block: router, permute, expert-parallel dispatch, grouped expert matmuls on the busiest device,
 * combine, unpermute, plus the always-on shared expert. MoE layers run on the sequence-parallel tokens
 * (Megatron requires SP with TP for MoE), so every device routes tokens / tp of them.
 */
export function moeOps(arch: MoeArch, s: LayerShard): LayerOp[] {
  const h = arch.hiddenSize;
  const { tokens } = shardTokens(s);
  const routed = s.tp > 1 ? tokens / s.tp : tokens;
  const k = arch.topK;
  const localExperts = arch.numExperts / s.ep;
  // Each device sends routed × K copies; on average it receives as many, the busiest `expertLoadFactor` ×.
  const received = routed * k * s.etp * s.expertLoadFactor;
  const expertWidth = arch.expertFfnSize / s.etp;
  const hiddenBytes = h * s.actBytes;
  const ops: LayerOp[] = [
    norm(s, 'post-attn-norm', routed, h),
    { kind: 'matmul', name: 'router-gate', module: 'router', m: routed, k: h, n: arch.numExperts },
    { kind: 'elementwise', name: 'router-topk', module: 'router', bytes: 2 * routed * arch.numExperts * 4, flops: 4 * routed * arch.numExperts },
    elementwiseOp('permute', 'permute', fusion(s).moePermute, 2 * routed * k * hiddenBytes, 0, routed * k * h, permuteUnfused(k)),
  ];
  const shared = arch.sharedExpertFfnSize > 0;
  const sharedNames = shared ? ['shared-gate-up', 'shared-swiglu', 'shared-down'] : [];
  if (s.ep > 1) {
    ops.push({ kind: 'expert-exchange', name: 'ep-dispatch', module: 'permute', group: 'ep', phase: 'dispatch', tokens: routed, topK: k, numExperts: arch.numExperts, hiddenBytes, ranks: s.ep, hideUnder: sharedNames });
  }
  if (s.etp > 1) {
    ops.push({ kind: 'collective', name: 'etp-all-gather', module: 'experts', group: 'etp', op: 'all-gather', bytes: received * hiddenBytes, ranks: s.etp });
  }
  ops.push(
    { kind: 'grouped-matmul', name: 'experts-gate-up', module: 'experts', groups: localExperts, tokens: received, k: h, n: 2 * expertWidth },
    swiglu(s, 'experts-swiglu', received * expertWidth),
    { kind: 'grouped-matmul', name: 'experts-down', module: 'experts', groups: localExperts, tokens: received, k: expertWidth, n: h },
  );
  if (s.etp > 1) {
    ops.push({ kind: 'collective', name: 'etp-reduce-scatter', module: 'experts', group: 'etp', op: 'reduce-scatter', bytes: received * hiddenBytes, ranks: s.etp });
  }
  if (s.ep > 1) {
    ops.push({ kind: 'expert-exchange', name: 'ep-combine', module: 'permute', group: 'ep', phase: 'combine', tokens: routed, topK: k, numExperts: arch.numExperts, hiddenBytes, ranks: s.ep });
  }
  ops.push(elementwiseOp('unpermute', 'permute', fusion(s).moePermute, 2 * routed * k * hiddenBytes, 2 * routed * k * h, routed * k * h, unpermuteUnfused(k)));
  if (shared) {
    // The shared expert is TP-split like a dense FFN and independent of the routed path, which is
    // why it can run while the dispatch all-to-all is in flight.
    ops.push(...tpEnter(s, 'shared-all-gather', tokens, h), ...swigluOps(s, h, arch.sharedExpertFfnSize, 'shared', 'shared-expert'), ...tpExit(s, 'shared-reduce-scatter', tokens, h));
  }
  ops.push({ kind: 'elementwise', name: 'moe-residual', module: 'experts', bytes: 3 * routed * h * s.actBytes, flops: routed * h });
  return ops;
}

/** Every op of transformer layer `layer` (0-based) of `arch`, forward, on one device. */
export function layerOps(arch: MoeArch, layer: number, s: LayerShard): LayerOp[] {
  return [...attentionOps(arch, s), ...(isMoeLayer(arch, layer) ? moeOps(arch, s) : denseFfnOps(arch, s))];
}

/** Input embedding: a vocab-parallel lookup (TP ranks hold vocab slices), then a TP reduction. */
export function embeddingOps(arch: MoeArch, s: LayerShard): LayerOp[] {
  const h = arch.hiddenSize;
  const { tokens } = shardTokens(s);
  return [
    { kind: 'elementwise', name: 'embedding-lookup', module: 'embedding', bytes: 2 * tokens * h * s.actBytes, flops: 0 },
    ...tpExit(s, 'embedding-reduce', tokens, h).map((op) => ({ ...op, module: 'embedding' as const })),
  ];
}

/** Final norm, vocab-parallel output head and cross-entropy (with its small TP reductions of max and sum). */
export function headOps(arch: MoeArch, s: LayerShard, prefix = 'head'): LayerOp[] {
  const h = arch.hiddenSize;
  const { tokens, spTokens } = shardTokens(s);
  const vocabLocal = arch.vocabSize / s.tp;
  const ops: LayerOp[] = [
    norm(s, `${prefix}-final-norm`, spTokens, h),
    ...tpEnter(s, `${prefix}-all-gather`, tokens, h).map((op) => ({ ...op, module: 'head' as const })),
    { kind: 'matmul', name: `${prefix}-proj`, module: 'head', m: tokens, k: h, n: vocabLocal },
    // Softmax cross-entropy reads the logits twice (max, then exp-sum) and writes their gradient-ready form.
    { kind: 'elementwise', name: `${prefix}-cross-entropy`, module: 'loss', bytes: 3 * tokens * vocabLocal * s.actBytes, flops: 5 * tokens * vocabLocal },
  ];
  if (s.tp > 1) {
    ops.push({ kind: 'collective', name: `${prefix}-loss-all-reduce`, module: 'loss', group: 'tp', op: 'all-reduce', bytes: 2 * tokens * 4, ranks: s.tp });
  }
  return ops;
}

/**
 * One multi-token-prediction module (DeepSeek-V3 layout, as Pangu Ultra uses): norms of the hidden
 * state and of the next token's embedding, a 2h→h projection, one transformer layer of the last
 * layer's kind, and the shared output head with its own loss.
 */
export function mtpOps(arch: MoeArch, s: LayerShard, depth: number): LayerOp[] {
  return [...mtpBodyOps(arch, s, depth), ...mtpHeadOps(arch, s, depth)];
}

/**
 * An MTP module without its pass through the output head: what Megatron-core places as `m` in a
 * `--pipeline-model-parallel-layout`, with the heads of the main model and of every MTP module in the
 * loss stage `L` (their logits and losses are computed there, on the shared head weights).
 */
export function mtpBodyOps(arch: MoeArch, s: LayerShard, depth: number): LayerOp[] {
  const h = arch.hiddenSize;
  const { tokens, spTokens } = shardTokens(s);
  const p = `mtp${depth}`;
  const tag = (ops: LayerOp[]): LayerOp[] => ops.map((op) => ({ ...op, name: `${p}-${op.name}`, module: op.module === 'attention' ? 'mtp' : op.module }));
  return [
    ...tag(embeddingOps(arch, s)),
    norm(s, `${p}-hidden-norm`, spTokens, h),
    norm(s, `${p}-embed-norm`, spTokens, h),
    ...tag(tpEnter(s, 'proj-all-gather', tokens, 2 * h)),
    { kind: 'matmul', name: `${p}-eh-proj`, module: 'mtp', m: tokens, k: 2 * h, n: h / s.tp },
    ...tag(tpExit(s, 'proj-reduce-scatter', tokens, h)),
    ...tag(layerOps(arch, arch.numLayers - 1, s)),
  ];
}

/** MTP module `depth`'s logits and loss on the shared output head. */
export function mtpHeadOps(arch: MoeArch, s: LayerShard, depth: number): LayerOp[] {
  return headOps(arch, s).map((op) => ({ ...op, name: `mtp${depth}-${op.name}` }));
}
