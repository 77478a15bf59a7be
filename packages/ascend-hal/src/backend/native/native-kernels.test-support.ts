import { afterAll, describe, expect, it } from 'vitest';
import { jsSgemm } from '../blas/js-blas.test-support';
import { CpuTensor } from '../cpu/cpu-tensor';
import { copyRuns } from '../cpu/fast-transpose';
import { affine, axpyInPlace, swiglu, swigluBackward } from '../reference/elementwise';
import { copyStridedJs } from '../reference/indexing';
import { rmsNorm, rmsNormBackward } from '../reference/norm';
import { softmax, softmaxBackward } from '../reference/softmax';
import type { NativeKernels, NativeKernelsLoad } from './native-kernels';

/** The native kernels' contract in JS (through the JS sgemm): a stand-in where the library is not built. */
export const jsNativeKernels: NativeKernels = {
  gemvRows: (rows, k, alpha, w, ldw, x, beta, y) => jsSgemm(false, true, 1, rows, k, alpha, x, k, w, ldw, beta, y, rows),
  gemvColumns: (k, n, alpha, w, ldw, x, beta, y) => jsSgemm(false, false, 1, n, k, alpha, x, k, w, ldw, beta, y, n),
  gemvRowsGrouped: (groups, offsets, n, k, w, x, y) => {
    for (let g = 0; g < groups; g++) {
      const row = offsets[g]!;
      if (offsets[g + 1]! - row !== 1) continue;
      const out = y.subarray(row * n, (row + 1) * n);
      jsSgemm(false, true, 1, n, k, 1, x.subarray(row * k, (row + 1) * k), k, w.subarray(g * n * k, (g + 1) * n * k), k, 0, out, n);
    }
  },
  fewRowsTimesWt: (rows, n, k, w, x, bias, y) => {
    if (bias) for (let r = 0; r < rows; r++) y.set(bias, r * n);
    jsSgemm(false, true, rows, n, k, 1, x, k, w, k, bias ? 1 : 0, y, n);
  },
  fewRowsGrouped: (groups, offsets, n, k, w, x, y) => {
    for (let g = 0; g < groups; g++) {
      const [start, end] = [offsets[g]!, offsets[g + 1]!];
      if (end === start) continue;
      const out = y.subarray(start * n, end * n);
      jsSgemm(false, true, end - start, n, k, 1, x.subarray(start * k, end * k), k, w.subarray(g * n * k, (g + 1) * n * k), k, 0, out, n);
    }
  },
  batchedTimesWt: (batch, rows, n, k, w, x, y) => {
    for (let b = 0; b < batch; b++) {
      jsSgemm(false, true, rows, n, k, 1, x.subarray(b * rows * k), k, w.subarray(b * n * k), k, 0, y.subarray(b * rows * n, (b + 1) * rows * n), n);
    }
  },
  batchedTimesW: (batch, rows, k, n, w, x, y) => {
    for (let b = 0; b < batch; b++) {
      jsSgemm(false, false, rows, n, k, 1, x.subarray(b * rows * k), k, w.subarray(b * k * n), n, 0, y.subarray(b * rows * n, (b + 1) * rows * n), n);
    }
  },
  vectorIsa: () => 'js',
  selectVectorIsa: (isa) => isa === '',
  copyRuns,
  gatherRows: (table, dst, index, d) => {
    for (let i = 0; i < index.length; i++) for (let j = 0; j < d; j++) dst[i * d + j] = table[index[i]! * d + j]!;
  },
  scatterAddRows: (dst, index, src, d) => {
    for (let i = 0; i < index.length; i++) for (let j = 0; j < d; j++) dst[index[i]! * d + j]! += src[i * d + j]!;
  },
  copyStrided: copyStridedJs,
  softmaxRows: (x, y, rows, cols, sq) => {
    const shape = sq > 0 ? [rows / sq, sq, cols] : [rows, cols];
    y.set(softmax(new CpuTensor('js', 'f32', shape, x), { causal: sq > 0 }).data);
  },
  softmaxBackwardRows: (y, dy, dx, rows, cols) => {
    dx.set(softmaxBackward(new CpuTensor('js', 'f32', [rows, cols], y), new CpuTensor('js', 'f32', [rows, cols], dy)).data);
  },
  affine: (x, y, scale, shift) => y.set(affine(new CpuTensor('js', 'f32', [x.length], x), scale, shift).data),
  axpy: (y, x, alpha) => axpyInPlace(new CpuTensor('js', 'f32', [y.length], y), new CpuTensor('js', 'f32', [x.length], x), alpha),
  rmsNormRows: (x, w, y, inv, rows, cols, eps) => {
    const out = rmsNorm(new CpuTensor('js', 'f32', [rows, cols], x), new CpuTensor('js', 'f32', [cols], w), eps);
    y.set(out.y.data);
    inv.set(out.invRms.data);
  },
  rmsNormBackwardRows: (x, w, inv, dy, dx, dw, rows, cols) => {
    const t = (data: Float32Array, shape: number[]) => new CpuTensor('js', 'f32', shape, data);
    const out = rmsNormBackward(t(x, [rows, cols]), t(w, [cols]), t(inv, [rows]), t(dy, [rows, cols]));
    dx.set(out.dx.data);
    for (let j = 0; j < cols; j++) dw[j]! += out.dWeight.data[j]!;
  },
  swiglu: (g, u, y) => {
    const tensor = (data: Float32Array) => new CpuTensor('js', 'f32', [data.length], data);
    y.set(swiglu(tensor(g), tensor(u)).data);
  },
  swigluBackward: (g, u, dy, dg, du) => {
    const tensor = (data: Float32Array) => new CpuTensor('js', 'f32', [data.length], data);
    const [dGate, dUp] = swigluBackward(tensor(g), tensor(u), tensor(dy));
    dg.set(dGate.data);
    du.set(dUp.data);
  },
  library: 'js',
};

/**
 * `suite`'s tests over the built native library: run where it loads, and where it does not, collected
 * and reported as skipped under a title naming the reason (the JS stand-in only serves collection).
 */
export function describeOverNativeKernels(loaded: NativeKernelsLoad, title: string, suite: (kernels: NativeKernels) => void): void {
  describe.skipIf(!loaded.ok)(`${title} on the native library${loaded.ok ? '' : ` (not loaded: ${loaded.reason})`}`, () => suite(loaded.ok ? loaded.kernels : jsNativeKernels));
}

/**
 * `data` as a view `offset` elements into a larger buffer of the same type filled with `fill` (and a
 * few spare elements after it), so a kernel that ignored byteOffset, or wrote past the end, reads or
 * leaves the wrong values.
 */
export function viewAt<T extends Float32Array | Int32Array>(data: T, offset: number, fill: number = Number.NaN): T {
  const buffer = new (data.constructor as new (n: number) => T)(offset + data.length + 3).fill(fill);
  buffer.set(data, offset);
  return buffer.subarray(offset, offset + data.length) as T;
}

/** The instruction sets the vector kernels are instantiated for (native/vector-kernels.c). */
export const VECTOR_ISAS = ['avx512', 'avx2', 'baseline'] as const;

/**
 * `suite`'s tests once per vector instantiation this CPU runs (not only the one it picks), on
 * kernels that select it before every call — another test file in this process may select another —
 * and that restore the CPU's pick afterwards. Where the library does not load, as describeOverNativeKernels.
 */
export function describeOverVectorIsas(loaded: NativeKernelsLoad, title: string, suite: (kernels: NativeKernels) => void): void {
  for (const isa of VECTOR_ISAS) {
    const runs = loaded.ok && loaded.kernels.selectVectorIsa(isa);
    if (loaded.ok) loaded.kernels.selectVectorIsa('');
    if (loaded.ok && !runs) {
      // An instruction set this CPU lacks: what there is to check is that selecting it is refused.
      const { kernels } = loaded;
      describe(`${title}, ${isa}`, () => {
        it('is refused on this CPU, which lacks it, and the pick stays', () => {
          const before = kernels.vectorIsa();
          expect(kernels.selectVectorIsa(isa)).toBe(false);
          expect(kernels.vectorIsa()).toBe(before);
        });
      });
      continue;
    }
    describe(`${title}, ${isa}`, () => {
      describeOverNativeKernels(loaded, `${title} (${isa})`, (kernels) => {
        afterAll(() => void kernels.selectVectorIsa(''));
        it('runs the instantiation selected', () => {
          kernels.selectVectorIsa(isa);
          expect(kernels.vectorIsa()).toBe(isa);
        });
        const selected = <A extends unknown[]>(f: (...args: A) => void) => (...args: A) => (kernels.selectVectorIsa(isa), f(...args));
        suite({
          ...kernels,
          fewRowsTimesWt: selected(kernels.fewRowsTimesWt),
          fewRowsGrouped: selected(kernels.fewRowsGrouped),
          batchedTimesWt: selected(kernels.batchedTimesWt),
          batchedTimesW: selected(kernels.batchedTimesW),
          swiglu: selected(kernels.swiglu),
          softmaxRows: selected(kernels.softmaxRows),
          affine: selected(kernels.affine),
          axpy: selected(kernels.axpy),
          rmsNormRows: selected(kernels.rmsNormRows),
          rmsNormBackwardRows: selected(kernels.rmsNormBackwardRows),
          softmaxBackwardRows: selected(kernels.softmaxBackwardRows),
          swigluBackward: selected(kernels.swigluBackward),
        });
      });
    });
  }
}

/** `count` floats of sin(salt + 0.37·i): operands that differ between elements and between salts. */
export const sinValues = (count: number, salt: number): Float32Array => Float32Array.from({ length: count }, (_, i) => Math.sin(salt + i * 0.37));

/** got within `tolerance` of want at every element (relative, plus absolute). */
export function expectCloseArrays(got: ArrayLike<number>, want: ArrayLike<number>, tolerance = 1e-5): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(tolerance * (1 + Math.abs(want[i]!)));
}

/**
 * `kernels[name]` (a grouped product: rows offsets[g] .. offsets[g + 1] of X times W_gᵀ) against the JS
 * stand-in, on [groups, n, k] weights; with `onViews` every operand is a view into a larger buffer and
 * Y starts as NaN, so a kernel that ignored byteOffset or read Y fails.
 */
export function expectGroupedLikeJs(
  kernels: NativeKernels,
  name: 'gemvRowsGrouped' | 'fewRowsGrouped',
  offsets: Int32Array,
  n: number,
  k: number,
  salt: number,
  onViews: boolean,
): void {
  const groups = offsets.length - 1;
  const rows = offsets[groups]!;
  const view = <T extends Float32Array>(data: T, offset: number) => (onViews ? viewAt(data, offset) : data);
  const w = view(sinValues(groups * n * k, salt), 1);
  const x = view(sinValues(rows * k, salt + 1), 2);
  const want = new Float32Array(rows * n);
  jsNativeKernels[name](groups, offsets, n, k, w, x, want);
  const got = view(new Float32Array(rows * n).fill(Number.NaN), 3);
  kernels[name](groups, offsets, n, k, w, x, got);
  expectCloseArrays(got, want);
}

/** An f32 tensor of `shape` holding `values`, on a view `offset` floats into a larger NaN-filled buffer. */
export const f32TensorAt = (shape: number[], values: number[], offset: number): CpuTensor => new CpuTensor('x', 'f32', shape, viewAt(Float32Array.from(values), offset));

/**
 * got within `tolerance` of want everywhere (relative, plus absolute), NaN exactly where want is NaN;
 * the first few misses are listed, one failed expectation in all (an expect per element is slow at
 * training sizes).
 */
export function expectCloseTensor(got: CpuTensor, want: CpuTensor, tolerance = 2e-6): void {
  expect(got.shape).toEqual(want.shape);
  const bad: string[] = [];
  for (let i = 0; i < want.size && bad.length < 5; i++) {
    const [a, b] = [got.data[i]!, want.data[i]!];
    const ok = Number.isNaN(b) ? Number.isNaN(a) : Math.abs(a - b) <= tolerance * (1 + Math.abs(b));
    if (!ok) bad.push(`[${i}] ${a} vs ${b}`);
  }
  expect(bad).toEqual([]);
}
