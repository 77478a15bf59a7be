import { CpuTensor, describeShape, rowsAndCols, sameShape, shapeError } from '../cpu/cpu-tensor';

/**
 * Softmax over the last axis with max subtraction, accumulated in float64. With `causal`, row i of
 * each [Sq, Sk] block sees keys j ≤ i + (Sk − Sq); the rest are exactly 0 (a row that sees nothing
 * is all zeros rather than NaN).
 */
export function softmax(a: CpuTensor, options?: { causal?: boolean }): CpuTensor {
  const src = a.f32('softmax');
  const { rows, cols } = rowsAndCols(a.shape, 'softmax');
  const causal = options?.causal ?? false;
  let sq = 1;
  if (causal) {
    if (a.shape.length < 2) throw shapeError('softmax', `causal softmax needs [..., Sq, Sk], got ${describeShape(a.shape)}`);
    sq = a.shape[a.shape.length - 2]!;
  }
  const out = new Float32Array(src.length);
  const e = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    // Number of visible keys of this row: all of them, or up to the causal diagonal.
    const visible = causal ? Math.max(0, Math.min(cols, (r % sq) + (cols - sq) + 1)) : cols;
    if (visible === 0) continue;
    let m = -Infinity;
    for (let j = 0; j < visible; j++) m = Math.max(m, src[base + j]!);
    let total = 0;
    for (let j = 0; j < visible; j++) {
      e[j] = Math.exp(src[base + j]! - m);
      total += e[j]!;
    }
    for (let j = 0; j < visible; j++) out[base + j] = e[j]! / total;
  }
  return new CpuTensor(a.backend, 'f32', a.shape, out);
}

/** dx = y · (dy − Σ dy·y) per row of the last axis. */
export function softmaxBackward(y: CpuTensor, dy: CpuTensor): CpuTensor {
  if (!sameShape(y.shape, dy.shape)) {
    throw shapeError('softmaxBackward', `y ${describeShape(y.shape)} and dy ${describeShape(dy.shape)} differ`);
  }
  const yd = y.f32('softmaxBackward');
  const dyd = dy.f32('softmaxBackward');
  const { rows, cols } = rowsAndCols(y.shape, 'softmaxBackward');
  const out = new Float32Array(yd.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let dot = 0;
    for (let j = 0; j < cols; j++) dot += dyd[base + j]! * yd[base + j]!;
    for (let j = 0; j < cols; j++) out[base + j] = yd[base + j]! * (dyd[base + j]! - dot);
  }
  return new CpuTensor(y.backend, 'f32', y.shape, out);
}

/** log softmax = x − max − log Σ exp(x − max), per row of the last axis. */
export function logSoftmax(a: CpuTensor): CpuTensor {
  const src = a.f32('logSoftmax');
  const { rows, cols } = rowsAndCols(a.shape, 'logSoftmax');
  const out = new Float32Array(src.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let m = -Infinity;
    for (let j = 0; j < cols; j++) m = Math.max(m, src[base + j]!);
    let total = 0;
    for (let j = 0; j < cols; j++) total += Math.exp(src[base + j]! - m);
    const logZ = m + Math.log(total);
    for (let j = 0; j < cols; j++) out[base + j] = src[base + j]! - logZ;
  }
  return new CpuTensor(a.backend, 'f32', a.shape, out);
}
