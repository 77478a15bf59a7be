import { Rng } from '@moge/core';
import { describe, expect, it } from 'vitest';
import { compareOutputs } from '../conformance/compare';
import { createReferenceBackend } from '../reference/reference-backend';
import type { Backend, Tensor } from '../backend';
import { createOnnxBackend } from './onnx-backend';
import { ELEMENTWISE_NATIVE_MIN } from './ort-elementwise';

// The conformance cases are small, so they exercise the JS side of these kernels; these run tensors
// above ELEMENTWISE_NATIVE_MIN through the onnxruntime graphs and hold them to the same tolerance.
const onnx = createOnnxBackend({ intraOpThreads: 1 });
const oracle = createReferenceBackend();

function randn(rng: Rng, n: number, scale = 3): Float32Array {
  return Float32Array.from({ length: n }, () => (rng.float() * 2 - 1) * scale);
}

function both(data: Float32Array, shape: number[]): [Tensor, Tensor] {
  return [onnx.fromArray(data, shape), oracle.fromArray(data, shape)];
}

function agree(b1: Backend, t1: Tensor[], b2: Backend, t2: Tensor[]): string | null {
  const host = (b: Backend, ts: Tensor[]) => ts.map((t) => ({ shape: t.shape, data: b.read(t) }));
  return compareOutputs(host(b1, t1), host(b2, t2));
}

describe('onnxruntime elementwise kernels on large tensors', () => {
  const rng = new Rng(11);
  const shape = [64, 96];
  expect(shape[0]! * shape[1]!).toBeGreaterThanOrEqual(ELEMENTWISE_NATIVE_MIN);

  it('swiglu and its backward match the reference', () => {
    const [g1, g2] = both(randn(rng, 64 * 96, 8), shape);
    const [u1, u2] = both(randn(rng, 64 * 96), shape);
    const [d1, d2] = both(randn(rng, 64 * 96), shape);
    expect(agree(onnx, [onnx.swiglu(g1, u1)], oracle, [oracle.swiglu(g2, u2)])).toBeNull();
    expect(agree(onnx, onnx.swigluBackward(g1, u1, d1), oracle, oracle.swigluBackward(g2, u2, d2))).toBeNull();
  });

  it('softmax, plain and causal (square and with a decode offset), matches the reference', () => {
    for (const s of [
      [48, 96],
      [4, 32, 32],
      [3, 20, 50],
    ]) {
      const n = s.reduce((p, d) => p * d, 1);
      const [a1, a2] = both(randn(rng, n, 10), s);
      expect(agree(onnx, [onnx.softmax(a1)], oracle, [oracle.softmax(a2)])).toBeNull();
      if (s.length === 3) expect(agree(onnx, [onnx.softmax(a1, { causal: true })], oracle, [oracle.softmax(a2, { causal: true })])).toBeNull();
      const y1 = onnx.softmax(a1);
      const [d1, d2] = both(randn(rng, n), s);
      const y2 = oracle.fromArray(Float32Array.from(onnx.read(y1) as Float32Array), s);
      expect(agree(onnx, [onnx.softmaxBackward(y1, d1)], oracle, [oracle.softmaxBackward(y2, d2)])).toBeNull();
    }
  });

  it('RMSNorm backward matches the reference', () => {
    const [x1, x2] = both(randn(rng, 64 * 96), shape);
    const [w1, w2] = both(randn(rng, 96, 1), [96]);
    const [d1, d2] = both(randn(rng, 64 * 96), shape);
    const f1 = onnx.rmsNorm(x1, w1, 1e-6);
    const f2 = oracle.rmsNorm(x2, w2, 1e-6);
    const g1 = onnx.rmsNormBackward(x1, w1, f1.invRms, d1);
    const g2 = oracle.rmsNormBackward(x2, w2, f2.invRms, d2);
    expect(agree(onnx, [g1.dx, g1.dWeight], oracle, [g2.dx, g2.dWeight])).toBeNull();
  });

  it('transposes in runs along a kept last axis exactly like the reference', () => {
    const data = randn(rng, 2 * 3 * 4 * 5);
    for (const perm of [[1, 0, 2, 3], [0, 2, 1, 3], [2, 0, 1, 3], [3, 2, 1, 0], [0, 1, 2, 3]]) {
      const [a1, a2] = both(data, [2, 3, 4, 5]);
      const t1 = onnx.transpose(a1, perm);
      const t2 = oracle.transpose(a2, perm);
      expect(t1.shape).toEqual(t2.shape);
      expect(Array.from(onnx.read(t1))).toEqual(Array.from(oracle.read(t2)));
    }
    expect(() => onnx.transpose(onnx.fromArray(data, [2, 3, 4, 5]), [0, 0, 1, 3])).toThrow(/permutation/);
  });

  it('falls back to the reference where a causal row would see no key, and keeps its errors', () => {
    const [a1, a2] = both(randn(rng, 2 * 64 * 32), [2, 64, 32]);
    expect(agree(onnx, [onnx.softmax(a1, { causal: true })], oracle, [oracle.softmax(a2, { causal: true })])).toBeNull();
    const [g1] = both(randn(rng, 64 * 96), shape);
    const [u1] = both(randn(rng, 96 * 64), [96, 64]);
    expect(() => onnx.swiglu(g1, u1)).toThrow(/same shape/);
  });
});
