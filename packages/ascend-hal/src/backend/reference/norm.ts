import type { RmsNormGrads, RmsNormResult } from '../backend';
import { CpuTensor, describeShape, rowsAndCols, sameShape, shapeError } from '../cpu/cpu-tensor';

function checkWeight(kernel: string, x: CpuTensor, weight: CpuTensor): { rows: number; cols: number } {
  const { rows, cols } = rowsAndCols(x.shape, kernel);
  if (weight.shape.length !== 1 || weight.shape[0] !== cols) {
    throw shapeError(kernel, `weight must be [${cols}] for x ${describeShape(x.shape)}, got ${describeShape(weight.shape)}`);
  }
  return { rows, cols };
}

/**
 * y = weight · (x · invRms), invRms = 1/sqrt(mean(x²) + ε) per row. Normalise first, then scale, as
 * the HF Pangu/Llama RMSNorm does; mean(x²) is accumulated in float64.
 */
export function rmsNorm(x: CpuTensor, weight: CpuTensor, eps: number): RmsNormResult & { y: CpuTensor; invRms: CpuTensor } {
  const { rows, cols } = checkWeight('rmsNorm', x, weight);
  const xd = x.f32('rmsNorm');
  const w = weight.f32('rmsNorm');
  const y = new Float32Array(xd.length);
  const inv = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let ss = 0;
    for (let j = 0; j < cols; j++) ss += xd[base + j]! * xd[base + j]!;
    const invRms = 1 / Math.sqrt(ss / cols + eps);
    inv[r] = invRms;
    for (let j = 0; j < cols; j++) y[base + j] = w[j]! * (xd[base + j]! * invRms);
  }
  return {
    y: new CpuTensor(x.backend, 'f32', x.shape, y),
    invRms: new CpuTensor(x.backend, 'f32', x.shape.slice(0, -1), inv),
  };
}

/**
 * With x̂ = x·r (r = invRms of the row) and y = w·x̂:
 *   dW = Σ_rows dy·x̂,   dx = r · (g − x̂ · mean(g·x̂)) where g = dy·w.
 * Uses the stored invRms, so forward and backward agree on the same r.
 */
export function rmsNormBackward(
  x: CpuTensor, weight: CpuTensor, invRms: CpuTensor, dy: CpuTensor,
): RmsNormGrads & { dx: CpuTensor; dWeight: CpuTensor } {
  const { rows, cols } = checkWeight('rmsNormBackward', x, weight);
  if (!sameShape(dy.shape, x.shape)) throw shapeError('rmsNormBackward', `dy ${describeShape(dy.shape)} must match x ${describeShape(x.shape)}`);
  if (invRms.size !== rows) throw shapeError('rmsNormBackward', `invRms must hold ${rows} rows, got ${describeShape(invRms.shape)}`);
  const xd = x.f32('rmsNormBackward');
  const w = weight.f32('rmsNormBackward');
  const r = invRms.f32('rmsNormBackward');
  const dyd = dy.f32('rmsNormBackward');
  const dx = new Float32Array(xd.length);
  const dW = new Float64Array(cols);
  for (let row = 0; row < rows; row++) {
    const base = row * cols;
    const inv = r[row]!;
    let dot = 0;
    for (let j = 0; j < cols; j++) {
      const xhat = xd[base + j]! * inv;
      dot += dyd[base + j]! * w[j]! * xhat;
      dW[j]! += dyd[base + j]! * xhat;
    }
    const mean = dot / cols;
    for (let j = 0; j < cols; j++) {
      dx[base + j] = inv * (dyd[base + j]! * w[j]! - xd[base + j]! * inv * mean);
    }
  }
  return {
    dx: new CpuTensor(x.backend, 'f32', x.shape, dx),
    dWeight: new CpuTensor(x.backend, 'f32', [cols], Float32Array.from(dW)),
  };
}
