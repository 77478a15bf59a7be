import { Rng } from '@moge/core';
import { describe, expect, it } from 'vitest';
import { compareOutputs } from '../conformance/compare';
import { createCpuBackend } from '../cpu/cpu-backend';
import type { CpuTensor } from '../cpu/cpu-tensor';
import { groupedMatmul, matmul, matmulBias } from '../reference/matmul';
import { bf16WeightKernels } from './bf16-weight-kernels';
import { bf16WeightStore } from './bf16-weight-store';

const store = bf16WeightStore()!;
/** The f32 kernels behind the bf16 ones, counting what reaches them. */
const reached: string[] = [];
const inner = {
  matmul: (a: CpuTensor, b: CpuTensor, o?: object) => (reached.push('matmul'), matmul(a, b, o)),
  matmulBias: (a: CpuTensor, b: CpuTensor, c: CpuTensor, o?: object) => (reached.push('matmulBias'), matmulBias(a, b, c, o)),
  groupedMatmul: (x: CpuTensor, w: CpuTensor, off: Int32Array, o?: { transB?: boolean }) => (reached.push('groupedMatmul'), groupedMatmul(x, w, off, o)),
  groupedMatmulWeightGrad: () => {
    throw new Error('not used here');
  },
};
const be = createCpuBackend('b', bf16WeightKernels(store, inner));
const oracle = createCpuBackend('b');

function values(seed: number, n: number, bf16: boolean): Float32Array {
  const rng = new Rng(seed);
  const f = Float32Array.from({ length: n }, () => 2 * rng.float() - 1);
  if (bf16) new Uint32Array(f.buffer).forEach((u, i, a) => (a[i] = u & 0xffff0000));
  return f;
}

const TOL = { rtol: 2e-6, atol: 2e-6 };
const same = (a: ReturnType<typeof be.matmul>, b: ReturnType<typeof be.matmul>) =>
  compareOutputs([{ shape: a.shape, data: be.read(a) }], [{ shape: b.shape, data: oracle.read(b) }], TOL);

describe('bf16 weight kernels', () => {
  const [n, k] = [96, 256];
  const wBf16 = be.constant(be.fromArray(values(1, n * k, true), [n, k]));
  const wF32 = be.constant(be.fromArray(values(1, n * k, false), [n, k]));
  const bias = be.fromArray(values(2, n, false), [n]);
  const row = be.fromArray(values(3, k, false), [1, k]);

  it('keeps a bf16 copy of constants whose values are all bf16, only', () => {
    expect(store.rowLength((wBf16 as CpuTensor).data as Float32Array)).toBe(k);
    expect(store.rowLength((wF32 as CpuTensor).data as Float32Array)).toBeUndefined();
    expect(store.rowLength((be.fromArray(values(1, n * k, true), [n, k]) as CpuTensor).data as Float32Array)).toBeUndefined();
  });

  it('runs one-row products against the copy and agrees with the reference kernels', () => {
    reached.length = 0;
    expect(same(be.matmul(row, wBf16, { transB: true }), oracle.matmul(row, wBf16, { transB: true }))).toBeNull();
    expect(same(be.matmulBias!(row, wBf16, bias, { transB: true }), oracle.matmulBias!(row, wBf16, bias, { transB: true }))).toBeNull();
    const viewed = be.reshape(wBf16, [2, n / 2, k]);
    const x = be.fromArray(values(4, 2 * k, false), [2, k]);
    const offsets = Int32Array.of(0, 1, 2);
    expect(same(be.groupedMatmul(x, viewed, offsets, { transB: true }), oracle.groupedMatmul(x, viewed, offsets, { transB: true }))).toBeNull();
    const oneEmpty = Int32Array.of(0, 0, 1);
    const x1 = be.fromArray(values(5, k, false), [1, k]);
    expect(same(be.groupedMatmul(x1, viewed, oneEmpty, { transB: true }), oracle.groupedMatmul(x1, viewed, oneEmpty, { transB: true }))).toBeNull();
    expect(reached).toEqual([]);
  });

  it('leaves several rows, untransposed weights and f32 constants to the f32 kernels', () => {
    reached.length = 0;
    const two = be.fromArray(values(6, 2 * k, false), [2, k]);
    expect(same(be.matmul(two, wBf16, { transB: true }), oracle.matmul(two, wBf16, { transB: true }))).toBeNull();
    expect(same(be.matmul(row, wF32, { transB: true }), oracle.matmul(row, wF32, { transB: true }))).toBeNull();
    const col = be.fromArray(values(7, n, false), [1, n]);
    expect(same(be.matmul(col, wBf16), oracle.matmul(col, wBf16))).toBeNull();
    const viewed = be.reshape(wBf16, [2, n / 2, k]);
    expect(same(be.groupedMatmul(two, viewed, Int32Array.of(0, 2, 2), { transB: true }), oracle.groupedMatmul(two, viewed, Int32Array.of(0, 2, 2), { transB: true }))).toBeNull();
    expect(reached).toEqual(['matmul', 'matmul', 'matmul', 'groupedMatmul']);
  });
});
