import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { loadOpenBlas } from '../blas/openblas';
import { describeOverOpenBlas } from '../blas/js-blas.test-support';
import { openBlasVectorMath, SUM_SQUARES_BLOCK, vectorMath } from '../blas/openblas-vector-math';
import { jsVectorMath, portableVectorMath, type AdamWScalars, type VectorMath } from './vector-math';

const loaded = loadOpenBlas();
const f32 = fc.float({ min: -1e3, max: 1e3, noNaN: true, noDefaultInfinity: true });

/** The AdamW step in float64 from its definition (bias-corrected moments), for comparison. */
function adamwReference(w: number, g: number, m: number, v: number, lr: number, wd: number, t: number, b1: number, b2: number, eps: number) {
  const m1 = b1 * m + (1 - b1) * g;
  const v1 = b2 * v + (1 - b2) * g * g;
  const mHat = m1 / (1 - b1 ** t);
  const vHat = v1 / (1 - b2 ** t);
  return { w: w * (1 - lr * wd) - (lr * mHat) / (Math.sqrt(vHat) + eps), m: m1, v: v1 };
}

/** One VectorMath implementation against the definitions (float64 references). */
function vectorMathSuite(m: VectorMath): void {
  it('axpy adds alpha·x into y, views included, and refuses mismatched lengths', () => {
    fc.assert(
      fc.property(fc.array(f32, { maxLength: 200 }), fc.float({ min: -4, max: 4, noNaN: true }), (xs, alpha) => {
        const x = Float32Array.from(xs);
        const backing = new Float32Array(xs.length + 3).fill(7);
        const y = backing.subarray(2, 2 + xs.length);
        y.set(xs.map((v) => v / 2));
        const expected = Array.from(y, (v, i) => v + alpha * x[i]!);
        m.axpy(y, x, alpha);
        y.forEach((v, i) => expect(Math.abs(v - expected[i]!)).toBeLessThanOrEqual(1e-6 * (Math.abs(expected[i]!) + Math.abs(alpha * x[i]!)) + 1e-30));
        // Nothing outside the view was touched.
        expect([backing[0], backing[1], backing[backing.length - 1]]).toEqual([7, 7, 7]);
      }),
    );
    expect(() => m.axpy(new Float32Array(3), new Float32Array(4), 1)).toThrow(/3 and 4 elements/);
  });

  it('scale multiplies in place', () => {
    const x = Float32Array.of(1, -2, 3.5, 0, 5);
    m.scale(x, 0.5);
    expect([...x]).toEqual([0.5, -1, 1.75, 0, 2.5]);
  });

  it('sumSquares agrees with a float64 sum within 1e-6 relative, across block boundaries', () => {
    const n = 3 * SUM_SQUARES_BLOCK + 123;
    const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 17)));
    let exact = 0;
    for (const v of x) exact += v * v;
    expect(Math.abs(m.sumSquares(x) / exact - 1)).toBeLessThan(1e-6);
    expect(m.sumSquares(new Float32Array(0))).toBe(0);
  });

  it('adamw follows the bias-corrected update over several steps (within f32 rounding), and refuses mismatched lengths', () => {
    const n = 40_003; // several WebAssembly chunks and a ragged end
    const [lr, wd, b1, b2, eps] = [3e-3, 0.1, 0.9, 0.95, 1e-8];
    const w = Float32Array.from({ length: n }, (_, i) => Math.cos(i) * 0.5);
    const [mState, vState] = [new Float32Array(n), new Float32Array(n)];
    const ref = Array.from(w, (x) => ({ w: x, m: 0, v: 0 }));
    for (let t = 1; t <= 3; t++) {
      const g = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.11 + t) * (i % 5 === 0 ? 1e-4 : 1));
      const h: AdamWScalars = { decay: 1 - lr * wd, stepSize: lr / (1 - b1 ** t), invSqrtBc2: 1 / Math.sqrt(1 - b2 ** t), eps, beta1: b1, beta2: b2 };
      m.adamw(w, g, mState, vState, h);
      ref.forEach((r, i) => Object.assign(r, adamwReference(r.w, g[i]!, r.m, r.v, lr, wd, t, b1, b2, eps)));
    }
    for (let i = 0; i < n; i++) {
      expect(Math.abs(w[i]! - ref[i]!.w)).toBeLessThan(1e-6);
      expect(Math.abs(mState[i]! - ref[i]!.m)).toBeLessThanOrEqual(1e-6 * Math.abs(ref[i]!.m) + 1e-7);
      expect(Math.abs(vState[i]! - ref[i]!.v)).toBeLessThanOrEqual(1e-6 * Math.abs(ref[i]!.v) + 1e-10);
    }
    const h: AdamWScalars = { decay: 1, stepSize: 1, invSqrtBc2: 1, eps, beta1: b1, beta2: b2 };
    expect(() => m.adamw(new Float32Array(2), new Float32Array(2), new Float32Array(3), new Float32Array(2), h)).toThrow(/2 and 3 elements/);
  });
}

describe.each([jsVectorMath, portableVectorMath()].map((m) => [m.library, m] as const))('vector math on %s', (_, m) => vectorMathSuite(m));
describeOverOpenBlas(loaded, 'vector math', (blas) => vectorMathSuite(openBlasVectorMath(blas)));

describe('vectorMath()', () => {
  it('runs OpenBLAS where it loads, WebAssembly otherwise', () => {
    expect(vectorMath().library).toBe(loaded.ok ? 'openblas' : portableVectorMath().library);
  });
});
