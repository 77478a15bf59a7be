import { describe, expect, it } from 'vitest';
import { createReferenceBackend } from './reference-backend';
import type { TensorDType } from '../backend';

// Hand-computed cases: the reference backend is the oracle of the conformance suite, so its own
// truth comes from arithmetic done on paper, not from another implementation.
const be = createReferenceBackend();
const t = (data: number[], shape: number[]) => be.fromArray(data, shape);
const read = (x: Parameters<typeof be.read>[0]) => Array.from(be.read(x));

describe('reference backend: buffers', () => {
  it('creates, reads and reshapes tensors', () => {
    const a = t([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(a.shape).toEqual([2, 3]);
    expect(a.size).toBe(6);
    expect(a.dtype).toBe('f32');
    expect(a.backend).toBe('reference');
    expect(be.reshape(a, [3, 2]).shape).toEqual([3, 2]);
    expect(read(be.zeros([2, 2], 'i32'))).toEqual([0, 0, 0, 0]);
    expect(be.zeros([2], 'i32').dtype).toBe('i32');
    expect(read(be.full([3], 2.5))).toEqual([2.5, 2.5, 2.5]);
    expect(be.fromArray(new Int32Array([1, 2]), [2]).dtype).toBe('i32');
  });

  it('rejects bad shapes, dtypes and foreign tensors', () => {
    expect(() => t([1, 2, 3], [2, 2])).toThrow(/do not fill/);
    expect(() => be.reshape(t([1, 2], [2]), [3])).toThrow(/cannot view/);
    expect(() => be.fromArray([1.5], [1], 'i32')).toThrow(/non-integer/);
    // An unknown dtype (from JS or JSON) is named, not stamped on i32 or f32 storage.
    expect(() => be.fromArray([1, 2], [2], 'f16' as TensorDType)).toThrow(/fromArray: dtype "f16" is not a tensor dtype; use 'f32' or 'i32'/);
    expect(() => be.zeros([2], 'float32' as TensorDType)).toThrow(/zeros: dtype "float32"/);
  });

  it('refuses index arrays that are not Int32Arrays and scalars that would make every output NaN', () => {
    const table = t([1, 2, 3, 4, 5, 6], [3, 2]);
    // A plain array with 1.5 in it passed the range check and read half a row on (garbage, silently).
    expect(() => be.gatherRows(table, [1.5] as unknown as Int32Array)).toThrow(/gatherRows: index must be an Int32Array, got a plain array/);
    expect(() => be.scatterAddRows(be.zeros([3, 2]), Float32Array.of(0) as unknown as Int32Array, t([1, 1], [1, 2]))).toThrow(/scatterAddRows: index must be an Int32Array, got Float32Array/);
    expect(() => be.groupedMatmul(table, be.zeros([1, 2, 2]), [0, 3] as unknown as Int32Array)).toThrow(/groupedMatmul: offsets must be an Int32Array/);
    expect(() => be.groupedMatmulWeightGrad(table, table, [0, 3] as unknown as Int32Array)).toThrow(/groupedMatmulWeightGrad: offsets must be an Int32Array/);
    const x = t([1, 2, 3, 4], [1, 1, 4]);
    expect(() => be.rope(x, [0] as unknown as Int32Array, 10000)).toThrow(/rope: positions must be an Int32Array/);
    for (const theta of [0, -1, Number.NaN]) expect(() => be.rope(x, Int32Array.of(0), theta)).toThrow(/rope: theta must be a finite number > 0/);
    for (const eps of [-1, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => be.rmsNorm(table, t([1, 1], [2]), eps)).toThrow(/rmsNorm: eps must be a finite number ≥ 0/);
    expect(read(be.gatherRows(table, Int32Array.of(2, 0)))).toEqual([5, 6, 1, 2]);
    const other = createReferenceBackend();
    expect(() => be.unary('neg', other.fromArray([1], [1]))).not.toThrow(); // same name: same family of tensors
    const foreign = { shape: [1], dtype: 'f32', size: 1, backend: 'onnxruntime' } as const;
    expect(() => be.unary('neg', foreign)).toThrow(/backend 'onnxruntime'/);
  });
});

describe('reference backend: matrix products', () => {
  const a = t([1, 2, 3, 4, 5, 6], [2, 3]); // [[1,2,3],[4,5,6]]
  const b = t([7, 8, 9, 10, 11, 12], [3, 2]); // [[7,8],[9,10],[11,12]]

  it('multiplies 2-D matrices with every transpose combination', () => {
    expect(read(be.matmul(a, b))).toEqual([58, 64, 139, 154]);
    // Aᵀ·A: [3,2]·[2,3] of a stored as [K=2, M=3].
    expect(read(be.matmul(a, a, { transA: true }))).toEqual([17, 22, 27, 22, 29, 36, 27, 36, 45]);
    // A·Aᵀ
    expect(read(be.matmul(a, a, { transB: true }))).toEqual([14, 32, 32, 77]);
    // Bᵀ·Aᵀ = (A·B)ᵀ
    expect(read(be.matmul(b, a, { transA: true, transB: true }))).toEqual([58, 139, 64, 154]);
    expect(() => be.matmul(a, a)).toThrow(/inner dimensions/);
  });

  it('batches and broadcasts a 2-D operand', () => {
    const a2 = t([1, 0, 0, 1, 2, 0, 0, 2], [2, 2, 2]); // [I, 2I]
    const m = t([1, 2, 3, 4], [2, 2]);
    const c = be.matmul(a2, m);
    expect(c.shape).toEqual([2, 2, 2]);
    expect(read(c)).toEqual([1, 2, 3, 4, 2, 4, 6, 8]);
    expect(read(be.matmul(m, a2))).toEqual([1, 2, 3, 4, 2, 4, 6, 8]);
    expect(read(be.matmul(a2, a2))).toEqual([1, 0, 0, 1, 4, 0, 0, 4]);
  });

  it('runs a grouped matmul with an empty segment, and its weight gradient', () => {
    const x = t([1, 2, 3, 4, 5, 6], [3, 2]);
    // Group 0: identity, group 1: empty, group 2: swap columns.
    const w = t([1, 0, 0, 1, 9, 9, 9, 9, 0, 1, 1, 0], [3, 2, 2]);
    const offsets = new Int32Array([0, 2, 2, 3]);
    expect(read(be.groupedMatmul(x, w, offsets))).toEqual([1, 2, 3, 4, 6, 5]);
    const wT = t([1, 2, 3, 4, 0, 0, 0, 0, 1, 0, 0, 1], [3, 2, 2]);
    // transB: row 0 · [[1,2],[3,4]]ᵀ = [1·1+2·2, 1·3+2·4]
    expect(read(be.groupedMatmul(x, wT, offsets, { transB: true }))).toEqual([5, 11, 11, 25, 5, 6]);
    const dy = t([1, 0, 0, 1, 1, 1], [3, 2]);
    // dW0 = [[1,3],[2,4]]·[[1,0],[0,1]] ; dW1 = 0 ; dW2 = [5,6]ᵀ·[1,1]
    expect(read(be.groupedMatmulWeightGrad(x, dy, offsets))).toEqual([1, 3, 2, 4, 0, 0, 0, 0, 5, 5, 6, 6]);
    expect(() => be.groupedMatmul(x, w, new Int32Array([0, 2, 1, 3]))).toThrow(/non-decreasing/);
    expect(() => be.groupedMatmul(x, w, new Int32Array([0, 1, 3]))).toThrow(/2 groups/);
  });
});

describe('reference backend: elementwise', () => {
  it('applies unary ops', () => {
    const x = t([-1, 0, 4], [3]);
    expect(read(be.unary('neg', x))).toEqual([1, -0, -4]);
    expect(read(be.unary('relu', x))).toEqual([0, 0, 4]);
    expect(read(be.unary('abs', x))).toEqual([1, 0, 4]);
    expect(read(be.unary('square', x))).toEqual([1, 0, 16]);
    expect(read(be.unary('sqrt', t([4, 9], [2])))).toEqual([2, 3]);
    expect(read(be.unary('rsqrt', t([4, 0.25], [2])))).toEqual([0.5, 2]);
    expect(read(be.unary('sigmoid', t([0], [1])))).toEqual([0.5]);
    expect(read(be.unary('silu', t([0, 2], [2])))[1]).toBeCloseTo(2 / (1 + Math.exp(-2)), 6);
    expect(read(be.unary('exp', t([0, 1], [2])))[1]).toBeCloseTo(Math.E, 6);
    expect(read(be.unary('log', t([1, Math.E], [2])))[1]).toBeCloseTo(1, 6);
  });

  it('broadcasts binary ops over trailing axes and size-1 axes', () => {
    const a = t([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(read(be.binary('add', a, t([10, 20, 30], [3])))).toEqual([11, 22, 33, 14, 25, 36]);
    expect(read(be.binary('mul', a, t([2, 3], [2, 1])))).toEqual([2, 4, 6, 12, 15, 18]);
    expect(read(be.binary('mul', t([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2]), t([1, 10, 100, 1000], [2, 2, 1])))).toEqual([1, 2, 30, 40, 500, 600, 7000, 8000]);
    expect(read(be.binary('sub', a, t([1], [])))).toEqual([0, 1, 2, 3, 4, 5]);
    expect(read(be.binary('div', a, a))).toEqual([1, 1, 1, 1, 1, 1]);
    expect(read(be.binary('max', a, t([3, 3, 3], [3])))).toEqual([3, 3, 3, 4, 5, 6]);
    expect(() => be.binary('add', a, t([1, 2], [2]))).toThrow(/broadcast/);
  });

  it('computes affine, swiglu, its backward and axpy', () => {
    expect(read(be.affine(t([1, 2], [2]), 3, 1))).toEqual([4, 7]);
    const g = t([0, 1], [2]);
    const u = t([5, 2], [2]);
    const s1 = 1 / (1 + Math.exp(-1));
    const y = read(be.swiglu(g, u));
    expect(y[0]).toBe(0);
    expect(y[1]).toBeCloseTo(2 * s1, 6);
    const [dg, du] = be.swigluBackward(g, u, t([1, 1], [2]));
    // At g = 0: silu = 0, d silu/dg = σ(0) = 0.5 → dGate = 5·0.5.
    expect(read(dg)[0]).toBeCloseTo(2.5, 6);
    expect(read(dg)[1]).toBeCloseTo(2 * s1 * (1 + (1 - s1)), 6);
    expect(read(du)[1]).toBeCloseTo(s1, 6);
    const acc = t([1, 1], [2]);
    be.axpyInPlace(acc, t([2, 4], [2]), 0.5);
    expect(read(acc)).toEqual([2, 3]);
  });
});

describe('reference backend: reductions and softmax', () => {
  it('sums and maxes along any axis', () => {
    const a = t([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(read(be.sum(a, 0))).toEqual([5, 7, 9]);
    expect(read(be.sum(a, -1))).toEqual([6, 15]);
    expect(read(be.max(a, 0))).toEqual([4, 5, 6]);
    expect(be.max(a, 1).shape).toEqual([2]);
    expect(be.sumAll(a)).toBe(21);
    expect(read(be.sum(be.fromArray(new Int32Array([1, 2, 3]), [3]), 0))).toEqual([6]);
  });

  it('computes softmax, causal softmax, its backward and log-softmax', () => {
    const y = read(be.softmax(t([0, Math.log(3)], [1, 2])));
    expect(y[0]).toBeCloseTo(0.25, 6);
    expect(y[1]).toBeCloseTo(0.75, 6);
    // Sq = Sk = 2: row 0 sees key 0 only.
    expect(read(be.softmax(t([5, 7, 1, 1], [2, 2]), { causal: true }))).toEqual([1, 0, 0.5, 0.5]);
    // Decode offset: Sq = 1, Sk = 2 → the single query sees both keys.
    expect(read(be.softmax(t([1, 1], [1, 2]), { causal: true }))).toEqual([0.5, 0.5]);
    // dx = y·(dy − Σ dy·y) with y = [.5,.5], dy = [1,0] → [.25, −.25].
    expect(read(be.softmaxBackward(t([0.5, 0.5], [2]), t([1, 0], [2])))).toEqual([0.25, -0.25]);
    const ls = read(be.logSoftmax(t([0, 0], [2])));
    expect(ls[0]).toBeCloseTo(-Math.LN2, 6);
  });
});

describe('reference backend: normalisation and rope', () => {
  it('computes RMSNorm and its gradients', () => {
    // Row [3, 4]: mean(x²) = 12.5, ε = 0 → invRms = 1/√12.5.
    const x = t([3, 4], [1, 2]);
    const w = t([1, 2], [2]);
    const { y, invRms } = be.rmsNorm(x, w, 0);
    const r = 1 / Math.sqrt(12.5);
    expect(read(invRms)[0]).toBeCloseTo(r, 7);
    expect(read(y)[1]).toBeCloseTo(8 * r, 6);
    // dy = [1, 0]: g = [1, 0], x̂ = [3r, 4r], mean(g·x̂) = 1.5r → dx = r·([1,0] − x̂·1.5r).
    const { dx, dWeight } = be.rmsNormBackward(x, w, invRms, t([1, 0], [1, 2]));
    expect(read(dx)[0]).toBeCloseTo(r * (1 - 3 * r * 1.5 * r), 6);
    expect(read(dx)[1]).toBeCloseTo(r * (0 - 4 * r * 1.5 * r), 6);
    expect(read(dWeight)).toEqual([Math.fround(3 * r), 0]);
  });

  it('rotates pairs of the two halves, and undoes it with inverse', () => {
    // D = 2: one pair, inv_freq = 1; position 1 rotates by 1 rad.
    const x = t([1, 0], [1, 1, 2]);
    const y = read(be.rope(x, new Int32Array([1]), 10000));
    expect(y[0]).toBeCloseTo(Math.cos(1), 6);
    expect(y[1]).toBeCloseTo(Math.sin(1), 6);
    const back = read(be.rope(be.fromArray(y, [1, 1, 2]), new Int32Array([1]), 10000, { inverse: true }));
    expect(back[0]).toBeCloseTo(1, 6);
    expect(back[1]).toBeCloseTo(0, 6);
    // Position 0 is the identity.
    expect(read(be.rope(t([1, 2, 3, 4], [1, 1, 4]), new Int32Array([0]), 10000))).toEqual([1, 2, 3, 4]);
  });
});

describe('reference backend: indexing and top-k', () => {
  it('gathers, scatter-adds, slices, concatenates and transposes', () => {
    const table = t([1, 2, 3, 4, 5, 6], [3, 2]);
    expect(read(be.gatherRows(table, new Int32Array([2, 0, 2])))).toEqual([5, 6, 1, 2, 5, 6]);
    // Runs of a repeated index (filled by doubling copies): lengths 1, 2, 3, 5 and 8.
    const runs = [0, 1, 1, 2, 2, 2, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1];
    expect(read(be.gatherRows(table, Int32Array.from(runs)))).toEqual(runs.flatMap((r) => [2 * r + 1, 2 * r + 2]));
    const dst = be.zeros([3, 2]);
    be.scatterAddRows(dst, new Int32Array([1, 1, 0]), t([1, 1, 2, 2, 3, 3], [3, 2]));
    expect(read(dst)).toEqual([3, 3, 3, 3, 0, 0]);
    expect(() => be.gatherRows(table, new Int32Array([3]))).toThrow(/outside/);
    const a = t([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(read(be.sliceColumns(a, 1, 2))).toEqual([2, 3, 5, 6]);
    expect(read(be.concatColumns([be.sliceColumns(a, 2, 1), be.sliceColumns(a, 0, 2)]))).toEqual([3, 1, 2, 6, 4, 5]);
    expect(read(be.transpose(a, [1, 0]))).toEqual([1, 4, 2, 5, 3, 6]);
    const b = t([0, 1, 2, 3, 4, 5, 6, 7], [2, 2, 2]);
    expect(read(be.transpose(b, [1, 0, 2]))).toEqual([0, 1, 4, 5, 2, 3, 6, 7]);
  });

  it('takes the top-k of every group, group-major and best-first, ties to the lower index', () => {
    const scores = t([0.1, 0.4, 0.3, 0.2, 0.5, 0.5, 0.0, 0.9], [1, 8]);
    const two = be.groupTopK(scores, 2, 2);
    expect(read(two.ids)).toEqual([1, 2, 7, 4]);
    expect(read(two.values)).toEqual([0.4, 0.3, 0.9, 0.5].map(Math.fround));
    const ties = be.groupTopK(t([1, 1, 1, 1], [1, 4]), 1, 3);
    expect(read(ties.ids)).toEqual([0, 1, 2]);
    expect(two.ids.dtype).toBe('i32');
    expect(() => be.groupTopK(scores, 3, 1)).toThrow(/equal groups/);
  });
});
