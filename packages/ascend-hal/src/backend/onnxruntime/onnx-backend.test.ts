import { ValidationError } from '@moge/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { offsetsOf } from '../conformance/case-builder';
import { backendConformanceCases, checkConformanceCase } from '../conformance/conformance';
import { createBackend } from '../create-backend';
import { createReferenceBackend } from '../reference/reference-backend';
import { createOnnxBackend } from './onnx-backend';
import { onnxKernels } from './ort-kernels';
import { SessionCache } from './session-cache';
import { ConstSessionCache } from './const-session-cache';
import { CpuTensor } from '../cpu/cpu-tensor';

const onnx = createOnnxBackend();
const oracle = createReferenceBackend();

describe('onnxruntime backend conformance', () => {
  const cases = backendConformanceCases();
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(checkConformanceCase(c, onnx, oracle)).toBeNull();
  });
});

// The default backend sends tiny matmuls to JS; these send every matmul native, so the edge cases
// (1 row, K = 1, empty segments) run through OpenBLAS (where it loads) and through the ONNX graphs.
describe.each([
  ['OpenBLAS where it loads, else onnxruntime', {}],
  ["onnxruntime's MLAS", { openBlas: false }],
] as const)('onnxruntime backend conformance, every matmul native: %s', (_name, extra) => {
  const allNative = createOnnxBackend({ smallMatmulMacs: 0, ...extra });
  const cases = backendConformanceCases().filter((c) => c.kernel.toLowerCase().includes('matmul') || c.kernel === 'constant');
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(checkConformanceCase(c, allNative, oracle)).toBeNull();
  });
});

// Without the WebAssembly kernels and with no size threshold, every SwiGLU, softmax (causal too) and
// their backwards run on the onnxruntime graphs: the special-value and masking cases reach them.
describe('onnxruntime backend conformance, elementwise graphs at every size (no WebAssembly)', () => {
  const graphs = createOnnxBackend({ wasmKernels: false, nativeElementwiseMin: 0 });
  const kernels = new Set(['softmax', 'softmaxBackward', 'swiglu', 'swigluBackward', 'rmsNormBackward']);
  const cases = backendConformanceCases().filter((c) => kernels.has(c.kernel));
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(checkConformanceCase(c, graphs, oracle)).toBeNull();
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
    const k = onnxKernels(cache, new ConstSessionCache({}), { smallMatmulMacs: 0 });
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

  it('builds one session per constant weight and layout, found again through reshapes', () => {
    const constCache = new ConstSessionCache({});
    const k = onnxKernels(new SessionCache({}), constCache, { smallMatmulMacs: 0 });
    const t = (shape: number[], constant = false) =>
      new CpuTensor('x', 'f32', shape, new Float32Array(shape.reduce((p, d) => p * d, 1)).fill(1), constant);
    const w = t([6, 5], true);
    for (const m of [1, 3, 32]) expect(Array.from(k.matmul(t([m, 5]), w, { transB: true }).data.subarray(0, 2))).toEqual([5, 5]);
    expect(constCache.stats.built).toBe(1);
    // Same storage under another shape: the same constant, the same session key space.
    k.matmul(t([2, 5]), new CpuTensor('x', 'f32', [6, 5], w.data, true), { transB: true });
    expect(constCache.stats.built).toBe(1);
    k.matmul(t([2, 6]), w); // another layout of the same constant
    // The same storage viewed as [5, 6] is another matrix: it must not reuse the [6, 5] session.
    const asOther = new CpuTensor('x', 'f32', [5, 6], Float32Array.from({ length: 30 }, (_, i) => i), true);
    const viewed = new CpuTensor('x', 'f32', [6, 5], asOther.data, true);
    expect(Array.from(k.matmul(t([1, 5]), viewed, { transB: true }).data)).toEqual([10, 35, 60, 85, 110, 135]);
    expect(Array.from(k.matmul(t([1, 6]), asOther, { transB: true }).data)).toEqual([15, 51, 87, 123, 159]);
    k.matmulBias(t([2, 5]), w, t([6], true), { transB: true });
    k.matmulBias(t([2, 5]), w, t([6]), { transB: true });
    expect(constCache.stats.built).toBe(6);
    const experts = t([4, 3, 5], true);
    for (const sizes of [[1, 0, 0, 0], [0, 2, 0, 3], [2, 2, 2, 2]]) {
      const offsets = offsetsOf(sizes);
      const rows = offsets[4]!;
      expect(Array.from(k.groupedMatmul(t([rows, 5]), experts, offsets, { transB: true }).data)).toEqual(new Array(rows * 3).fill(5));
    }
    expect(constCache.stats.built).toBe(7);
  });

  it('gives the reference result on a constant expert weight for any routing (property)', () => {
    const native = createOnnxBackend({ intraOpThreads: 1, smallMatmulMacs: 0 });
    fc.assert(
      fc.property(fc.array(fc.nat(6), { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 24 }), fc.integer({ min: 1, max: 24 }), fc.boolean(), fc.nat(1000), (sizes, k, n, transB, seed) => {
        const offsets = offsetsOf(sizes);
        const rows = offsets[sizes.length]!;
        const values = (count: number, salt: number) => Float32Array.from({ length: count }, (_, i) => Math.sin(seed + salt + i * 0.37));
        const x = values(rows * k, 1);
        const w = values(sizes.length * k * n, 2);
        const wShape = transB ? [sizes.length, n, k] : [sizes.length, k, n];
        const cw = native.constant(native.fromArray(w, wShape));
        const got = native.read(native.groupedMatmul(native.fromArray(x, [rows, k]), cw, offsets, { transB }));
        const want = oracle.read(oracle.groupedMatmul(oracle.fromArray(x, [rows, k]), oracle.fromArray(w, wShape), offsets, { transB }));
        for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-4 * (1 + Math.abs(want[i]!)));
      }),
      { numRuns: 25 },
    );
  });

  it('runs K = 1 products (outer products, the MoE combine backward) as the reference does (property)', () => {
    const backends = [createOnnxBackend({ smallMatmulMacs: 0, openBlas: false }), createOnnxBackend({ smallMatmulMacs: 0 })];
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 9 }), fc.boolean(), fc.boolean(), fc.constantFrom('a', 'b', 'both'), (batch, m, n, transA, transB, batched) => {
        const aShape = [...(batched !== 'b' ? [batch] : []), ...(transA ? [1, m] : [m, 1])];
        const bShape = [...(batched !== 'a' ? [batch] : []), ...(transB ? [n, 1] : [1, n])];
        const a = Float32Array.from({ length: aShape.reduce((p, d) => p * d, 1) }, (_, i) => Math.sin(i + 0.5));
        const b = Float32Array.from({ length: bShape.reduce((p, d) => p * d, 1) }, (_, i) => Math.cos(i * 0.7));
        const want = oracle.read(oracle.matmul(oracle.fromArray(a, aShape), oracle.fromArray(b, bShape), { transA, transB }));
        for (const be of backends) {
          const got = be.read(be.matmul(be.fromArray(a, aShape), be.fromArray(b, bShape), { transA, transB }));
          for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-5 * (1 + Math.abs(want[i]!)));
        }
      }),
      { numRuns: 150 },
    );
  });

  it('refuses to write a constant, naming the kernel', () => {
    const c = onnx.constant(onnx.fromArray([1, 2, 3, 4], [2, 2]));
    expect(onnx.isConstant(c)).toBe(true);
    expect(() => onnx.axpyInPlace(c, onnx.full([2, 2], 1))).toThrow(/axpyInPlace: .*constant/);
    expect(() => onnx.scatterAddRows(c, new Int32Array([1]), onnx.full([1, 2], 1))).toThrow(/scatterAddRows: .*constant/);
    expect(() => onnx.writeColumns!(c, onnx.full([2, 1], 1), 0)).toThrow(/writeColumns: .*constant/);
    // read hands out a copy, so writing what it returns cannot reach the constant either.
    (onnx.read(c) as Float32Array)[0] = 99;
    expect(Array.from(onnx.read(c))).toEqual([1, 2, 3, 4]);
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
    // The reference backend uses no option, but a misspelt or out-of-range one is still refused.
    expect(createBackend('reference', { intraOpThreads: 2 }).name).toBe('reference');
    expect(() => createBackend('reference', { intraOpThreads: 0 })).toThrow(/intraOpThreads/);
    expect(() => createBackend('reference', { threads: 2 } as never)).toThrow(/threads/);
  });
});

describe('onnxruntime outputs in pooled storage', () => {
  it('writes its sessions\' outputs (SwiGLU, softmax, a matmul routed to it) into buffers the backend can recycle', () => {
    const b = createOnnxBackend({ intraOpThreads: 1, openBlas: false, nativeKernels: false });
    const n = 1 << 15; // 128 KiB of f32: past the size below which outputs share slabs instead of being pooled
    const g = b.fromArray(Float32Array.from({ length: n }, (_, i) => Math.sin(i)), [n / 256, 256]);
    const w = b.fromArray(Float32Array.from({ length: 256 * 256 }, (_, i) => Math.cos(i) / 16), [256, 256]);
    for (const [name, run] of [
      ['swiglu', () => b.swiglu(g, g)],
      ['softmax', () => b.softmax(g)],
      ['matmul', () => b.matmul(g, w)],
    ] as const) {
      const { result, group } = b.collectAllocations!(run);
      expect(group.byteLength, name).toBe(result.size * 4);
      expect(result.size, name).toBe(n);
      // and the values are onnxruntime's, written in full (the pooled buffer starts as NaN under vitest)
      expect(b.read(result).every(Number.isFinite), name).toBe(true);
    }
  });
});
