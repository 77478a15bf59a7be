import { ValidationError } from '@moge/core';
import { describe, expect, it } from 'vitest';
import { backendConformanceCases, checkConformanceCase } from '../conformance/conformance';
import { createBackend } from '../create-backend';
import { createReferenceBackend } from '../reference/reference-backend';
import { createOnnxBackend } from './onnx-backend';
import { onnxKernels } from './ort-kernels';
import { SessionCache } from './session-cache';
import { CpuTensor } from '../cpu/cpu-tensor';

const onnx = createOnnxBackend();
const oracle = createReferenceBackend();

describe('onnxruntime backend conformance', () => {
  const cases = backendConformanceCases();
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(checkConformanceCase(c, onnx, oracle)).toBeNull();
  });
});

// The default backend sends tiny matmuls to JS; this one sends every matmul to onnxruntime, so the
// edge cases (1 row, K = 1, empty segments) run through the ONNX graphs too.
describe('onnxruntime backend conformance, every matmul native', () => {
  const allNative = createOnnxBackend({ smallMatmulMacs: 0 });
  const cases = backendConformanceCases().filter((c) => c.kernel.toLowerCase().includes('matmul'));
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(checkConformanceCase(c, allNative, oracle)).toBeNull();
  });
});

describe('onnxruntime backend', () => {
  it('is named onnxruntime and rejects tensors of other backends', () => {
    expect(onnx.name).toBe('onnxruntime');
    const foreign = oracle.fromArray([1, 2, 3, 4], [2, 2]);
    expect(() => onnx.matmul(foreign, foreign)).toThrow(/backend 'reference'/);
  });

  it('reuses one session per layout across shapes', () => {
    const cache = new SessionCache({});
    const k = onnxKernels(cache, { smallMatmulMacs: 0 });
    const t = (shape: number[]) => new CpuTensor('x', 'f32', shape, new Float32Array(shape.reduce((p, d) => p * d, 1)).fill(1));
    for (const n of [3, 8, 17]) k.matmul(t([n, 5]), t([5, n + 1]));
    expect(cache.size).toBe(1);
    k.matmul(t([4, 5]), t([6, 5]), { transB: true });
    k.matmul(t([2, 4, 5]), t([2, 5, 3]));
    expect(cache.size).toBe(3);
    // Sessions are keyed by the count of non-empty segments: [1, 2] uses one, [0, 3] and [3, 0] share another.
    for (const sizes of [[1, 2], [0, 3], [3, 0]]) k.groupedMatmul(t([3, 5]), t([2, 5, 4]), Int32Array.from([0, sizes[0]!, 3]));
    expect(cache.size).toBe(5);
    cache.clear();
    expect(cache.size).toBe(0);
    expect(Array.from(k.matmul(t([1, 2]), t([2, 1])).data)).toEqual([2]);
  });

  it('takes a thread count and validates it', () => {
    const oneThread = createOnnxBackend({ intraOpThreads: 1 });
    const a = oneThread.fromArray([1, 2, 3, 4], [2, 2]);
    expect(Array.from(oneThread.read(oneThread.matmul(a, a)))).toEqual([7, 10, 15, 22]);
    expect(() => createOnnxBackend({ intraOpThreads: 0 })).toThrow(ValidationError);
    expect(() => createOnnxBackend({ threads: 2 } as never)).toThrow(/threads/);
  });

  it('is made by name through createBackend', () => {
    expect(createBackend('reference').name).toBe('reference');
    expect(createBackend('onnxruntime', { intraOpThreads: 1 }).name).toBe('onnxruntime');
    expect(() => createBackend('cuda' as never)).toThrow(ValidationError);
  });
});
