import { wasmKernelModule } from '../wasm/kernel-module';

/**
 * Level-1 operations on host Float32Arrays: the optimizer side of a training step (adding a
 * micro-batch's gradients into the accumulator, the global gradient norm, clipping, the AdamW
 * update), which works on flat host buffers rather than backend tensors. Over moge-small's 25 M
 * parameters on this project's 2-core host: an axpy takes ≈ 55 ms as a JS loop, ≈ 15 on WebAssembly
 * SIMD, ≈ 8 on OpenBLAS; a sum of squares ≈ 37 ms in JS, ≈ 6 on OpenBLAS; AdamW ≈ 85–130 ms in JS.
 * `portableVectorMath()` runs WebAssembly where it can; `vectorMath()` from `@moge/ascend-hal/node`
 * adds OpenBLAS.
 */
export interface VectorMath {
  /** Which implementation runs the level-1 operations: `openblas`, `wasm` or `js`. */
  readonly library: string;
  /** y += alpha·x (same lengths). */
  axpy(y: Float32Array, x: Float32Array, alpha: number): void;
  /** x *= alpha in place. */
  scale(x: Float32Array, alpha: number): void;
  /** Σ x², returned as float64. */
  sumSquares(x: Float32Array): number;
  /** One AdamW step over `w`, `m` and `v` in place with gradient `g` (all the same length). */
  adamw(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, h: AdamWScalars): void;
}

/**
 * The scalars of one AdamW step in PyTorch's form: w ← w·decay − stepSize · m / (√v · invSqrtBc2 + eps)
 * after m ← β1·m + (1 − β1)·g and v ← β2·v + (1 − β2)·g², with stepSize = lr / (1 − β1ᵗ),
 * invSqrtBc2 = 1 / √(1 − β2ᵗ) and decay = 1 − lr·λ (1 without weight decay).
 */
export interface AdamWScalars {
  decay: number;
  stepSize: number;
  invSqrtBc2: number;
  eps: number;
  beta1: number;
  beta2: number;
}

export function checkSameLength(op: string, y: Float32Array, ...xs: Float32Array[]): void {
  for (const x of xs) if (x.length !== y.length) throw new RangeError(`${op}: operands of ${y.length} and ${x.length} elements; expected the same length`);
}

/** Plain JS loops (every engine); sums and the AdamW arithmetic in float64, rounded to f32 when stored. */
export const jsVectorMath: VectorMath = {
  library: 'js',
  axpy(y, x, alpha) {
    checkSameLength('axpy', y, x);
    for (let i = 0; i < y.length; i++) y[i] = y[i]! + alpha * x[i]!;
  },
  scale(x, alpha) {
    for (let i = 0; i < x.length; i++) x[i] = x[i]! * alpha;
  },
  sumSquares(x) {
    let s = 0;
    for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
    return s;
  },
  adamw(w, g, m, v, h) {
    checkSameLength('adamw', w, g, m, v);
    const { decay, stepSize, invSqrtBc2, eps, beta1, beta2 } = h;
    const [oneMinusBeta1, oneMinusBeta2] = [1 - beta1, 1 - beta2];
    for (let i = 0; i < w.length; i++) {
      const gi = g[i]!;
      const mi = beta1 * m[i]! + oneMinusBeta1 * gi;
      const vi = beta2 * v[i]! + oneMinusBeta2 * gi * gi;
      m[i] = mi;
      v[i] = vi;
      w[i] = w[i]! * decay - (stepSize * mi) / (Math.sqrt(vi) * invSqrtBc2 + eps);
    }
  },
};

/**
 * WebAssembly SIMD for axpy, scale and AdamW (f32 arithmetic, as PyTorch's fp32 AdamW), the JS sum
 * of squares (float64); all JS where the engine has no WebAssembly SIMD.
 */
export function portableVectorMath(): VectorMath {
  const k = wasmKernelModule();
  if (!k) return jsVectorMath;
  return {
    library: 'wasm',
    axpy(y, x, alpha) {
      checkSameLength('axpy', y, x);
      k.axpy(y, x, alpha);
    },
    scale(x, alpha) {
      k.affine(x, x, alpha, 0);
    },
    sumSquares: jsVectorMath.sumSquares,
    adamw(w, g, m, v, h) {
      checkSameLength('adamw', w, g, m, v);
      k.adamw(w, g, m, v, h);
    },
  };
}
