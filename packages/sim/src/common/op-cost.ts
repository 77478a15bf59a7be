import { estimateOpTime, type ChipSpec, type EfficiencyProfile, type Op } from '@moge/ascend-hal';
import type { ComputeOp } from './ops';

/**
 * Compute-op times from the @moge/ascend-hal operator model, forward and backward, with a cache:
 * a search asks for the same shapes thousands of times (every layer of every plan with the same
 * tp/ep/micro-batch), so each distinct shape is costed once.
 */
export interface ComputeTimes {
  forwardS: number;
  /** Gradient with respect to the op's input (the part the previous layer waits for). */
  backwardInputS: number;
  /** Gradient with respect to the op's weights (can run later, hiding communication). */
  backwardWeightS: number;
}

/**
 * FlashAttention-2's backward runs five score-sized matmuls (recomputed QKᵀ, dV, dP, dQ, dK) against
 * the forward's two: 2.5× the forward's work at the same kernel efficiency.
 */
export const ATTENTION_BACKWARD_WORK_RATIO = 2.5;

export class ComputeCostCache {
  private readonly cache = new Map<string, ComputeTimes>();
  constructor(
    readonly chip: ChipSpec,
    readonly dtype: 'bf16' | 'fp16' = 'bf16',
    /** Replaces the chip's own efficiency profile (a simulator profile's system-level fit). */
    readonly profile?: EfficiencyProfile,
  ) {}

  get size(): number {
    return this.cache.size;
  }

  times(op: ComputeOp): ComputeTimes {
    const key = shapeKey(op);
    let t = this.cache.get(key);
    if (!t) {
      t = this.compute(op);
      this.cache.set(key, t);
    }
    return t;
  }

  private time(op: Op, launches = 1): number {
    return estimateOpTime(this.chip, op, { ...(this.profile ? { profile: this.profile } : {}), launches }).timeS;
  }

  private compute(op: ComputeOp): ComputeTimes {
    const dtype = this.dtype;
    switch (op.kind) {
      case 'matmul':
        // dX = dY·Wᵀ is [m×n]·[n×k]; dW = Xᵀ·dY is [k×m]·[m×n].
        return {
          forwardS: this.time({ kind: 'matmul', m: op.m, k: op.k, n: op.n, dtype }),
          backwardInputS: this.time({ kind: 'matmul', m: op.m, k: op.n, n: op.k, dtype }),
          backwardWeightS: this.time({ kind: 'matmul', m: op.k, k: op.m, n: op.n, dtype }),
        };
      case 'grouped-matmul': {
        const perGroup = op.tokens / op.groups;
        return {
          forwardS: this.time({ kind: 'grouped-matmul', groups: op.groups, tokensPerGroup: Math.round(perGroup), k: op.k, n: op.n, dtype }),
          backwardInputS: this.time({ kind: 'grouped-matmul', groups: op.groups, tokensPerGroup: Math.round(perGroup), k: op.n, n: op.k, dtype }),
          // Per expert dW = Xᵀ·dY: [k×t]·[t×n], t = that expert's tokens.
          backwardWeightS: this.time({ kind: 'grouped-matmul', groups: op.groups, tokensPerGroup: op.k, k: Math.round(perGroup), n: op.n, dtype }),
        };
      }
      case 'elementwise': {
        const elements = op.bytes / 2;
        const fwd = this.time({ kind: 'elementwise', elements, bytesPerElement: 2, flopsPerElement: elements > 0 ? op.flops / elements : 0, dtype }, op.launches ?? 1);
        // Unless counted (an unfused chain, see elementwise-kernels.ts), the backward reads the
        // incoming gradient and the saved input and writes one gradient: 1.5 × the forward's bytes.
        const bwdBytes = op.backwardBytes ?? 1.5 * op.bytes;
        const bwd = this.time(
          { kind: 'elementwise', elements: bwdBytes / 2, bytesPerElement: 2, flopsPerElement: bwdBytes > 0 ? (4 * op.flops) / bwdBytes : 0, dtype },
          op.backwardLaunches ?? 1,
        );
        return { forwardS: fwd, backwardInputS: bwd, backwardWeightS: 0 };
      }
      case 'attention': {
        const fwd = this.time({
          kind: 'attention',
          batch: op.batch,
          heads: op.heads,
          kvHeads: op.kvHeads,
          seqQ: op.seqQ,
          seqKV: op.seqKv,
          headDim: op.headDimQk,
          headDimV: op.headDimV,
          causal: op.causal,
          dtype,
        });
        return { forwardS: fwd, backwardInputS: ATTENTION_BACKWARD_WORK_RATIO * fwd, backwardWeightS: 0 };
      }
    }
  }
}

function shapeKey(op: ComputeOp): string {
  switch (op.kind) {
    case 'matmul':
      return `mm:${op.m}:${op.k}:${op.n}`;
    case 'grouped-matmul':
      return `gmm:${op.groups}:${op.tokens}:${op.k}:${op.n}`;
    case 'elementwise':
      return `ew:${op.bytes}:${op.flops}:${op.backwardBytes ?? ''}:${op.launches ?? 1}:${op.backwardLaunches ?? 1}`;
    case 'attention':
      return `attn:${op.batch}:${op.heads}:${op.kvHeads}:${op.seqQ}:${op.seqKv}:${op.headDimQk}:${op.headDimV}:${op.causal}`;
  }
}
