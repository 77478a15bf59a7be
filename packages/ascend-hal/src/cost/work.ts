import { dtypeBytes, type DType } from '@moge/core';
import type { AttentionOp, ElementwiseOp, GroupedMatmulOp, MatmulOp, Op } from './op';

/** What an operator does, before any hardware is involved. */
export interface OpWork {
  flops: number;
  /** Bytes moved between device memory and the chip (each operand read once, output written once). */
  bytes: number;
  /** `matrix` work runs on the cube/tensor unit along the efficiency curve; `vector` work does not. */
  unit: 'matrix' | 'vector';
}

/** Quantised matmuls (int8/int4 operands) write their output dequantised, in 16-bit. */
function outputBytes(dtype: DType): number {
  return dtype === 'int8' || dtype === 'int4' ? 2 : dtypeBytes(dtype);
}

function matmulWork(op: MatmulOp): OpWork {
  const batch = op.batch ?? 1;
  const a = op.m * op.k * dtypeBytes(op.dtype);
  // No rows, no kernel: nothing reads the weights (as idle groups of a grouped matmul).
  const b = op.m === 0 ? 0 : op.k * op.n * dtypeBytes(op.weightDType ?? op.dtype);
  const c = op.m * op.n * outputBytes(op.dtype);
  return { flops: 2 * batch * op.m * op.k * op.n, bytes: batch * (a + b + c), unit: 'matrix' };
}

/** Tokens of each group, expanding the scalar form. */
export function groupTokens(op: GroupedMatmulOp): number[] {
  if (typeof op.tokensPerGroup === 'number') return new Array<number>(op.groups).fill(op.tokensPerGroup);
  return op.tokensPerGroup;
}

function groupedMatmulWork(op: GroupedMatmulOp): OpWork {
  const tokens = groupTokens(op);
  let rows = 0;
  let activeGroups = 0;
  for (const t of tokens) {
    rows += t;
    if (t > 0) activeGroups += 1;
  }
  const weights = activeGroups * op.k * op.n * dtypeBytes(op.weightDType ?? op.dtype);
  const acts = rows * op.k * dtypeBytes(op.dtype) + rows * op.n * outputBytes(op.dtype);
  return { flops: 2 * rows * op.k * op.n, bytes: weights + acts, unit: 'matrix' };
}

function elementwiseWork(op: ElementwiseOp): OpWork {
  const bytesPerElement = op.bytesPerElement ?? 2 * dtypeBytes(op.dtype);
  return { flops: op.elements * op.flopsPerElement, bytes: op.elements * bytesPerElement, unit: 'vector' };
}

/** Query–key pairs that a (causal) attention computes; queries sit at the end of the keys. */
export function attentionPairs(seqQ: number, seqKV: number, causal: boolean): number {
  if (!causal) return seqQ * seqKV;
  // Query i of seqQ sees min(seqKV, seqKV − seqQ + i + 1) keys (none when that is ≤ 0).
  const q = Math.min(seqQ, seqKV);
  return q * (seqKV - q) + (q * (q + 1)) / 2;
}

function attentionWork(op: AttentionOp): OpWork {
  const kvHeads = op.kvHeads ?? op.heads;
  const seqKV = op.seqKV ?? op.seqQ;
  const dv = op.headDimV ?? op.headDim;
  const pairs = attentionPairs(op.seqQ, seqKV, op.causal ?? false);
  const flops = 2 * op.batch * op.heads * pairs * (op.headDim + dv);
  const elements = op.batch * (op.heads * op.seqQ * (op.headDim + dv) + kvHeads * seqKV * (op.headDim + dv));
  return { flops, bytes: elements * dtypeBytes(op.dtype), unit: 'matrix' };
}

/** FLOPs and bytes of an operator (hardware independent). */
export function opWork(op: Op): OpWork {
  switch (op.kind) {
    case 'matmul':
      return matmulWork(op);
    case 'grouped-matmul':
      return groupedMatmulWork(op);
    case 'elementwise':
      return elementwiseWork(op);
    case 'attention':
      return attentionWork(op);
    case 'custom':
      return { flops: op.flops, bytes: op.bytes, unit: 'matrix' };
  }
}
