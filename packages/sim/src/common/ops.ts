import type { RecomputeModule } from '@moge/core';

/**
 * The operator vocabulary of the simulators: what one device runs for one layer and one batch of
 * tokens. Compute ops map one-to-one onto the @moge/ascend-hal operator model; communication ops name
 * the parallel group they run in, so the cost model can ask the collective model (or ep-planner for
 * expert dispatch) with the right ranks.
 */

/** Which part of the model an op belongs to: drives recompute, the per-layer breakdown and the trace. */
export type OpModule =
  | 'embedding'
  | 'norm'
  | 'attention'
  | 'attention-core'
  | 'mla-up-proj'
  | 'dense-ffn'
  | 'router'
  | 'permute'
  | 'experts'
  | 'shared-expert'
  | 'activation'
  | 'head'
  | 'loss'
  | 'mtp';

interface OpBase {
  /** Stable name within the layer (`qkv-proj`, `ep-dispatch`), unique per layer. */
  name: string;
  module: OpModule;
}

export interface MatmulOp extends OpBase {
  kind: 'matmul';
  m: number;
  k: number;
  n: number;
}

/** Expert FFN matmuls: `groups` experts with `tokens` rows in total, spread over the groups. */
export interface GroupedMatmulOp extends OpBase {
  kind: 'grouped-matmul';
  groups: number;
  tokens: number;
  k: number;
  n: number;
}

/** Memory-bound vector work: bytes read + written, FLOP done. */
export interface ElementwiseOp extends OpBase {
  kind: 'elementwise';
  bytes: number;
  flops: number;
  /** Backward bytes when counted (an unfused op chain); default 1.5 × `bytes` (gradient and saved input read, one gradient written). */
  backwardBytes?: number;
  /** Kernels the forward launches (an unfused chain: its length); default 1. */
  launches?: number;
  /** Kernels the backward launches; default 1. */
  backwardLaunches?: number;
}

/** Fused (flash) attention over `batch` sequences. */
export interface AttentionOp extends OpBase {
  kind: 'attention';
  batch: number;
  heads: number;
  kvHeads: number;
  seqQ: number;
  seqKv: number;
  headDimQk: number;
  headDimV: number;
  causal: boolean;
}

export type ComputeOp = MatmulOp | GroupedMatmulOp | ElementwiseOp | AttentionOp;

/** The parallel group a collective spans; also the breakdown category of its exposed time. */
export type CommGroup = 'tp' | 'cp' | 'ep' | 'etp';

export interface CollectiveOp extends OpBase {
  kind: 'collective';
  group: Exclude<CommGroup, 'ep'>;
  /** `send-recv`: a ring of point-to-point transfers, each rank to the next of the group (context-parallel ring attention). */
  op: 'all-gather' | 'reduce-scatter' | 'all-reduce' | 'send-recv';
  /** Size of the full (gathered / pre-reduction) buffer on one device; for `send-recv`, one step's transfer. */
  bytes: number;
  ranks: number;
  /**
   * Compute ops of the same layer and pass that may run while this is in flight (when overlap is on).
   * For `send-recv`, step k runs while `hideUnder[k]` computes, and only then (see `steps`).
   */
  hideUnder?: string[];
  /** `send-recv` only: transfers made one after another (default 1). */
  steps?: number;
  /**
   * `send-recv` only: one backward step's bytes when they differ from the forward's (ring attention's
   * backward moves K,V and the partial dK,dV together); the dK,dV share makes one more, final hop.
   */
  backwardBytes?: number;
}

/** Expert-parallel token exchange (dispatch before the experts, combine after), costed by ep-planner. */
export interface ExpertExchangeOp extends OpBase {
  kind: 'expert-exchange';
  group: 'ep';
  phase: 'dispatch' | 'combine';
  /** Tokens this device routes (each sent to topK experts). */
  tokens: number;
  topK: number;
  /** Routed experts of the layer, spread evenly over the ranks. */
  numExperts: number;
  hiddenBytes: number;
  ranks: number;
  hideUnder?: string[];
}

export type CommOp = CollectiveOp | ExpertExchangeOp;
export type LayerOp = ComputeOp | CommOp;

export function isCommOp(op: LayerOp): op is CommOp {
  return op.kind === 'collective' || op.kind === 'expert-exchange';
}

/** The recompute option (ParallelPlan.recompute) that re-runs a module's forward in backward, if any. */
export function recomputeModuleOf(module: OpModule): Exclude<RecomputeModule, 'layer'> | null {
  switch (module) {
    case 'attention-core':
      return 'attention-core';
    case 'mla-up-proj':
      return 'mla-up-proj';
    case 'permute':
      return 'permute';
    case 'activation':
      return 'activation';
    case 'norm':
      return 'norm';
    default:
      return null;
  }
}
