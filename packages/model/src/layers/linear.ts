import type { Backend, Tensor } from '@moge/ascend-hal';
import { addInto } from './accumulate';

/**
 * y = x · Wᵀ (+ b), the HF `nn.Linear` convention: W is stored [out, in].
 * x: [T, in] → y: [T, out].
 */
export function linearForward(b: Backend, x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  // One fused call where the backend has it (onnxruntime: the bias is a Gemm's C input).
  if (bias && b.matmulBias && x.shape.length === 2) return b.matmulBias(x, weight, bias, { transB: true });
  const y = b.matmul(x, weight, { transB: true });
  return bias ? addRowBias(b, y, bias) : y;
}

/**
 * y[t] += bias for every row t of a fresh y. The bias is first copied to every row (a row gather,
 * i.e. one memcpy per row) and then added in place: on the CPU backends this is several times faster
 * than a broadcasting `binary('add')`, which indexes the bias elementwise and allocates the result.
 */
function addRowBias(b: Backend, y: Tensor, bias: Tensor): Tensor {
  const [rows, cols] = y.shape as [number, number];
  return addInto(b, y, b.gatherRows(b.reshape(bias, [1, cols]), new Int32Array(rows)));
}

export interface LinearGrads {
  dx: Tensor;
  dWeight: Tensor;
  dBias?: Tensor;
}

/** dx = dy · W, dW = dyᵀ · x, db = Σ_rows dy. */
export function linearBackward(b: Backend, x: Tensor, weight: Tensor, dy: Tensor, hasBias: boolean): LinearGrads {
  const grads: LinearGrads = {
    dx: b.matmul(dy, weight),
    dWeight: b.matmul(dy, x, { transA: true }),
  };
  if (hasBias) grads.dBias = b.sum(dy, 0);
  return grads;
}
