import type { MatmulOptions } from '../backend';
import { describeShape, sameShape, shapeError } from './cpu-tensor';

/** The problem a `matmul` call describes, after transposes and batch broadcasting are resolved. */
export interface MatmulProblem {
  /** Number of independent products (1 for 2-D · 2-D). */
  batch: number;
  m: number;
  k: number;
  n: number;
  /** Whether each operand carries its own batch (false: one 2-D operand broadcast over the batch). */
  aBatched: boolean;
  bBatched: boolean;
  transA: boolean;
  transB: boolean;
  outShape: number[];
}

/**
 * Resolves `matmul` shapes. Operands are rank ≥ 2; leading axes are batch axes. Both batched operands
 * must have the same batch axes; a 2-D operand is broadcast over the other's batch. Ranks above 3
 * are accepted (the batch axes are flattened) so attention can keep [B, H, S, D] tensors as they are.
 */
export function resolveMatmul(
  aShape: readonly number[],
  bShape: readonly number[],
  options: MatmulOptions = {},
): MatmulProblem {
  const transA = options.transA ?? false;
  const transB = options.transB ?? false;
  if (aShape.length < 2 || bShape.length < 2) {
    throw shapeError('matmul', `operands must have rank ≥ 2, got ${describeShape(aShape)} and ${describeShape(bShape)}`);
  }
  const aBatchDims = aShape.slice(0, -2);
  const bBatchDims = bShape.slice(0, -2);
  const aBatched = aBatchDims.length > 0;
  const bBatched = bBatchDims.length > 0;
  if (aBatched && bBatched && !sameShape(aBatchDims, bBatchDims)) {
    throw shapeError('matmul', `batch axes differ: ${describeShape(aShape)} vs ${describeShape(bShape)}`);
  }
  const batchDims = aBatched ? aBatchDims : bBatchDims;
  const [ar, ac] = [aShape[aShape.length - 2]!, aShape[aShape.length - 1]!];
  const [br, bc] = [bShape[bShape.length - 2]!, bShape[bShape.length - 1]!];
  const m = transA ? ac : ar;
  const k = transA ? ar : ac;
  const kb = transB ? bc : br;
  const n = transB ? br : bc;
  if (k !== kb) {
    const ops = `${transA ? 'Aᵀ' : 'A'}·${transB ? 'Bᵀ' : 'B'}`;
    throw shapeError('matmul', `inner dimensions differ for ${ops}: ${describeShape(aShape)} and ${describeShape(bShape)}`);
  }
  const batch = batchDims.reduce((p, d) => p * d, 1);
  return { batch, m, k, n, aBatched, bBatched, transA, transB, outShape: [...batchDims, m, n] };
}

/**
 * Checks grouped-matmul offsets: G+1 non-decreasing entries from 0 to T. Returns G.
 */
export function checkOffsets(kernel: string, offsets: Int32Array, rows: number): number {
  if (!(offsets instanceof Int32Array) || offsets.length < 1) throw shapeError(kernel, 'offsets must be an Int32Array of G+1 entries');
  if (offsets[0] !== 0) throw shapeError(kernel, `offsets[0] must be 0, got ${offsets[0]}`);
  for (let g = 1; g < offsets.length; g++) {
    if (offsets[g]! < offsets[g - 1]!) throw shapeError(kernel, `offsets must be non-decreasing, offsets[${g}] = ${offsets[g]} < ${offsets[g - 1]}`);
  }
  const last = offsets[offsets.length - 1];
  if (last !== rows) throw shapeError(kernel, `offsets[G] must equal the row count ${rows}, got ${last}`);
  return offsets.length - 1;
}
