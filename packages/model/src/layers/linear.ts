import type { Backend, Tensor } from '@moge/ascend-hal';

/**
 * y = x · Wᵀ (+ b), the HF `nn.Linear` convention: W is stored [out, in].
 * x: [T, in] → y: [T, out].
 */
export function linearForward(b: Backend, x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  const y = b.matmul(x, weight, { transB: true });
  return bias ? b.binary('add', y, bias) : y;
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
