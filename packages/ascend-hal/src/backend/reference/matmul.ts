import type { MatmulOptions } from '../backend';
import { CpuTensor, describeShape, shapeError } from '../cpu/cpu-tensor';
import { checkOffsets, resolveMatmul } from '../cpu/matmul-shapes';

/**
 * One product C[m×n] = op(A)·op(B) on flat storage, accumulated in float64. Element (i, p) of op(A)
 * sits at a[aOff + i*aRow + p*aCol]; the strides encode the transpose, so one loop serves all four
 * layouts. The i-p-j order streams rows of B (cache friendly when B is not transposed).
 *
 * Every term is added, zeros of A included: 0 · ∞ and 0 · NaN are NaN, and sgemm (OpenBLAS, MLAS)
 * and PyTorch propagate them. Skipping a zero of A would turn a NaN or ∞ of B into a finite number
 * here alone, so the oracle would hide a diverged weight that the native kernels report.
 */
export function matmulInto(
  a: Float32Array, aOff: number, aRow: number, aCol: number,
  b: Float32Array, bOff: number, bRow: number, bCol: number,
  c: Float32Array, cOff: number,
  m: number, k: number, n: number,
  acc: Float64Array,
): void {
  for (let i = 0; i < m; i++) {
    acc.fill(0, 0, n);
    for (let p = 0; p < k; p++) {
      const av = a[aOff + i * aRow + p * aCol]!;
      const bBase = bOff + p * bRow;
      for (let j = 0; j < n; j++) acc[j]! += av * b[bBase + j * bCol]!;
    }
    const cBase = cOff + i * n;
    for (let j = 0; j < n; j++) c[cBase + j] = acc[j]!;
  }
}

export function matmul(a: CpuTensor, b: CpuTensor, options?: MatmulOptions): CpuTensor {
  const p = resolveMatmul(a.shape, b.shape, options);
  const ad = a.f32('matmul');
  const bd = b.f32('matmul');
  const out = new Float32Array(p.batch * p.m * p.n);
  const acc = new Float64Array(p.n);
  // Stored row lengths: A is [M,K] or [K,M]; B is [K,N] or [N,K].
  const aRow = p.transA ? 1 : p.k;
  const aCol = p.transA ? p.m : 1;
  const bRow = p.transB ? 1 : p.n;
  const bCol = p.transB ? p.k : 1;
  for (let s = 0; s < p.batch; s++) {
    const aOff = p.aBatched ? s * p.m * p.k : 0;
    const bOff = p.bBatched ? s * p.k * p.n : 0;
    matmulInto(ad, aOff, aRow, aCol, bd, bOff, bRow, bCol, out, s * p.m * p.n, p.m, p.k, p.n, acc);
  }
  return new CpuTensor(a.backend, 'f32', p.outShape, out);
}

/** Shapes of a grouped matmul: x [T, K], w [G, K, N] (or [G, N, K] with transB). */
/** 2-D op(A)·op(B) + bias: bias [N] is added to every row of the product, in float32 like `binary`. */
export function matmulBias(a: CpuTensor, b: CpuTensor, bias: CpuTensor, options?: MatmulOptions): CpuTensor {
  if (a.shape.length !== 2 || b.shape.length !== 2) {
    throw shapeError('matmulBias', `operands must be 2-D, got ${describeShape(a.shape)} and ${describeShape(b.shape)}`);
  }
  const c = matmul(a, b, options);
  const [m, n] = c.shape as [number, number];
  const bd = bias.f32('matmulBias');
  if (bias.size !== n) throw shapeError('matmulBias', `bias ${describeShape(bias.shape)} does not match ${n} output columns`);
  const cd = c.data as Float32Array;
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) cd[i * n + j] = cd[i * n + j]! + bd[j]!;
  return c;
}

export function resolveGrouped(x: CpuTensor, w: CpuTensor, offsets: Int32Array, transB: boolean) {
  const kernel = 'groupedMatmul';
  if (x.shape.length !== 2 || w.shape.length !== 3) {
    throw shapeError(kernel, `expected x [T, K] and w [G, K, N], got ${describeShape(x.shape)} and ${describeShape(w.shape)}`);
  }
  const [t, k] = x.shape as [number, number];
  const [g, wr, wc] = w.shape as [number, number, number];
  const groups = checkOffsets(kernel, offsets, t);
  if (groups !== g) throw shapeError(kernel, `offsets describe ${groups} groups but w has ${g}`);
  const wk = transB ? wc : wr;
  const n = transB ? wr : wc;
  if (wk !== k) throw shapeError(kernel, `x has K = ${k} but w ${describeShape(w.shape)}${transB ? ' (transB)' : ''} has K = ${wk}`);
  return { t, k, n, groups };
}

export function groupedMatmul(x: CpuTensor, w: CpuTensor, offsets: Int32Array, options?: { transB?: boolean }): CpuTensor {
  const transB = options?.transB ?? false;
  const { t, k, n, groups } = resolveGrouped(x, w, offsets, transB);
  const xd = x.f32('groupedMatmul');
  const wd = w.f32('groupedMatmul');
  const out = new Float32Array(t * n);
  const acc = new Float64Array(n);
  for (let g = 0; g < groups; g++) {
    const start = offsets[g]!;
    const rows = offsets[g + 1]! - start;
    if (rows === 0) continue;
    matmulInto(xd, start * k, k, 1, wd, g * k * n, transB ? 1 : n, transB ? k : 1, out, start * n, rows, k, n, acc);
  }
  return new CpuTensor(x.backend, 'f32', [t, n], out);
}

export function resolveGroupedWeightGrad(x: CpuTensor, dy: CpuTensor, offsets: Int32Array) {
  const kernel = 'groupedMatmulWeightGrad';
  if (x.shape.length !== 2 || dy.shape.length !== 2 || x.shape[0] !== dy.shape[0]) {
    throw shapeError(kernel, `expected x [T, K] and dy [T, N], got ${describeShape(x.shape)} and ${describeShape(dy.shape)}`);
  }
  const [t, k] = x.shape as [number, number];
  const n = dy.shape[1]!;
  const groups = checkOffsets(kernel, offsets, t);
  return { t, k, n, groups };
}

export function groupedMatmulWeightGrad(x: CpuTensor, dy: CpuTensor, offsets: Int32Array): CpuTensor {
  const { k, n, groups } = resolveGroupedWeightGrad(x, dy, offsets);
  const xd = x.f32('groupedMatmulWeightGrad');
  const dyd = dy.f32('groupedMatmulWeightGrad');
  const out = new Float32Array(groups * k * n);
  const acc = new Float64Array(n);
  for (let g = 0; g < groups; g++) {
    const start = offsets[g]!;
    const rows = offsets[g + 1]! - start;
    if (rows === 0) continue; // an expert that got no tokens has a zero gradient
    // dW_g = x_gᵀ · dy_g: x_g read transposed (row stride 1, column stride K).
    matmulInto(xd, start * k, 1, k, dyd, start * n, n, 1, out, g * k * n, k, rows, n, acc);
  }
  return new CpuTensor(x.backend, 'f32', [groups, k, n], out);
}
