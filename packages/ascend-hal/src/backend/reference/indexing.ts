import type { HostArray } from '../backend';
import { CpuTensor, allocateOutput, describeShape, permutedStrides, repeatRow, rowsAndCols, shapeError } from '../cpu/cpu-tensor';

function checkIndex(kernel: string, index: Int32Array, limit: number): void {
  for (let i = 0; i < index.length; i++) {
    const v = index[i]!;
    if (v < 0 || v >= limit) throw shapeError(kernel, `index[${i}] = ${v} is outside [0, ${limit})`);
  }
}

/**
 * Copies rows index[i] of `table` (rows of d elements) to row i of `out`, the indices already checked:
 * what moge's native library can do instead of gatherRows' JS loop (NativeKernels.gatherRows).
 */
export type CopyRows = (table: HostArray, out: HostArray, index: Int32Array, d: number) => void;

/**
 * `rows` rows of `width` elements from src (row stride srcStride) to dst (row stride dstStride), src
 * and dst starting at their first element: the row loop of sliceColumns, concatColumns and
 * writeColumns, which moge's native library can do instead (NativeKernels.copyStrided).
 */
export type CopyStrided = (src: HostArray, srcStride: number, dst: HostArray, dstStride: number, rows: number, width: number) => void;

/** CopyStrided in JS: a view and TypedArray.set a row. */
export const copyStridedJs: CopyStrided = (src, srcStride, dst, dstStride, rows, width) => {
  for (let r = 0; r < rows; r++) dst.set(src.subarray(r * srcStride, r * srcStride + width), r * dstStride);
};

/**
 * out[i] = table[index[i]]: table [V, D] → [n, D] (any dtype, e.g. i32 lookup tables too). `copyRows`
 * copies the rows once the shapes and indices are checked (default: the JS loop below).
 */
export function gatherRows(table: CpuTensor, index: Int32Array, copyRows?: CopyRows): CpuTensor {
  if (table.shape.length !== 2) throw shapeError('gatherRows', `table must be [V, D], got ${describeShape(table.shape)}`);
  const [v, d] = table.shape as [number, number];
  checkIndex('gatherRows', index, v);
  const out = allocateOutput(table.dtype, index.length * d);
  if (copyRows) {
    copyRows(table.data, out, index, d);
    return new CpuTensor(table.backend, table.dtype, [index.length, d], out);
  }
  for (let i = 0; i < index.length; ) {
    const row = index[i]! * d;
    out.set(table.data.subarray(row, row + d), i * d);
    // A run of one repeated index (a row broadcast to every token, e.g. the aux loss's gradient)
    // is filled by doubling copies: a per-row copy of a 16-wide row cost ≈ 0.3–0.5 µs, mostly the
    // subarray view it needs.
    let run = 1;
    while (i + run < index.length && index[i + run] === index[i]) run++;
    repeatRow(out, d, i, run);
    i += run;
  }
  return new CpuTensor(table.backend, table.dtype, [index.length, d], out);
}

/**
 * dst row index[i] += src row i (rows of d floats, in order): the loop of scatterAddRows, which moge's
 * native library can do instead (NativeKernels.scatterAddRows).
 */
export type AddRows = (dst: Float32Array, index: Int32Array, src: Float32Array, d: number) => void;

/**
 * dst[index[i]] += src[i] for rows of [V, D] / [n, D], in place; repeated indices accumulate in order.
 * `addRows` adds once the shapes and indices are checked (default: the JS loop below).
 */
export function scatterAddRows(dst: CpuTensor, index: Int32Array, src: CpuTensor, addRows?: AddRows): void {
  if (dst.shape.length !== 2 || src.shape.length !== 2 || dst.shape[1] !== src.shape[1] || src.shape[0] !== index.length) {
    throw shapeError(
      'scatterAddRows',
      `expected dst [V, D], src [n, D] with n = index.length (${index.length}), got ${describeShape(dst.shape)} and ${describeShape(src.shape)}`,
    );
  }
  const [v, d] = dst.shape as [number, number];
  checkIndex('scatterAddRows', index, v);
  const y = dst.f32('scatterAddRows');
  const x = src.f32('scatterAddRows');
  if (addRows) return addRows(y, index, x, d);
  for (let i = 0; i < index.length; i++) {
    const to = index[i]! * d;
    const from = i * d;
    for (let j = 0; j < d; j++) y[to + j] = y[to + j]! + x[from + j]!;
  }
}

/**
 * Columns [start, start + width) of the last axis. Leading axes are all treated as rows, so a
 * [T, H, D] tensor slices its last axis too (the interface names the 2-D case).
 */
export function sliceColumns(a: CpuTensor, start: number, width: number, copy: CopyStrided = copyStridedJs): CpuTensor {
  const { rows, cols } = rowsAndCols(a.shape, 'sliceColumns');
  if (!Number.isInteger(start) || !Number.isInteger(width) || start < 0 || width < 0 || start + width > cols) {
    throw shapeError('sliceColumns', `columns [${start}, ${start + width}) are outside [0, ${cols})`);
  }
  const out = allocateOutput(a.dtype, rows * width);
  if (rows * width > 0) copy(a.data.subarray(start), cols, out, width, rows, width);
  return new CpuTensor(a.backend, a.dtype, [...a.shape.slice(0, -1), width], out);
}

/** dst[r, start + j] = src[r, j], in place: the columns of `src` land at `start` in every row of `dst`. */
export function writeColumns(dst: CpuTensor, src: CpuTensor, start: number, copy: CopyStrided = copyStridedJs): void {
  const { rows, cols } = rowsAndCols(dst.shape, 'writeColumns');
  const w = src.shape[src.shape.length - 1] ?? 0;
  const srcRows = w === 0 ? rowsAndCols(src.shape, 'writeColumns').rows : src.size / w;
  if (src.dtype !== dst.dtype || srcRows !== rows || src.shape.length !== dst.shape.length) {
    throw shapeError('writeColumns', `src ${src.dtype}${describeShape(src.shape)} does not fit the rows of dst ${dst.dtype}${describeShape(dst.shape)}`);
  }
  if (!Number.isInteger(start) || start < 0 || start + w > cols) {
    throw shapeError('writeColumns', `columns [${start}, ${start + w}) are outside [0, ${cols})`);
  }
  if (rows * w > 0) copy(src.data, w, dst.data.subarray(start), cols, rows, w);
}

/** Concatenates along the last axis; all parts share the leading axes and the dtype. */
export function concatColumns(parts: readonly CpuTensor[], copy: CopyStrided = copyStridedJs): CpuTensor {
  if (parts.length === 0) throw shapeError('concatColumns', 'needs at least one part');
  const first = parts[0]!;
  const lead = first.shape.slice(0, -1);
  const { rows } = rowsAndCols(first.shape, 'concatColumns');
  let total = 0;
  for (const p of parts) {
    const ok = p.dtype === first.dtype && p.shape.length === first.shape.length && lead.every((d, i) => d === p.shape[i]);
    if (!ok) throw shapeError('concatColumns', `parts disagree: ${parts.map((x) => `${x.dtype}${describeShape(x.shape)}`).join(', ')}`);
    total += p.shape[p.shape.length - 1]!;
  }
  const out = allocateOutput(first.dtype, rows * total);
  let col = 0;
  for (const p of parts) {
    const w = p.shape[p.shape.length - 1]!;
    if (rows * w > 0) copy(p.data, w, out.subarray(col), total, rows, w);
    col += w;
  }
  return new CpuTensor(first.backend, first.dtype, [...lead, total], out);
}

/** General axis permutation: out axis i is input axis perm[i]. */
export function transpose(a: CpuTensor, perm: readonly number[]): CpuTensor {
  const rank = a.shape.length;
  const seen = new Set(perm);
  if (perm.length !== rank || seen.size !== rank || perm.some((p) => !Number.isInteger(p) || p < 0 || p >= rank)) {
    throw shapeError('transpose', `perm [${perm.join(', ')}] is not a permutation of the ${rank} axes of ${describeShape(a.shape)}`);
  }
  const outShape = perm.map((p) => a.shape[p]!);
  // Stride in the input of each output axis; walk the output in order with an odometer.
  const strides = permutedStrides(a.shape, perm);
  const out = allocateOutput(a.dtype, a.size);
  const coord = new Array<number>(rank).fill(0);
  let src = 0;
  for (let i = 0; i < a.size; i++) {
    out[i] = a.data[src]!;
    for (let ax = rank - 1; ax >= 0; ax--) {
      coord[ax]!++;
      src += strides[ax]!;
      if (coord[ax]! < outShape[ax]!) break;
      src -= strides[ax]! * coord[ax]!;
      coord[ax] = 0;
    }
  }
  return new CpuTensor(a.backend, a.dtype, outShape, out);
}
