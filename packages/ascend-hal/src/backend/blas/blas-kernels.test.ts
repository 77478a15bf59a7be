import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { offsetsOf } from '../conformance/case-builder';
import { createCpuBackend } from '../cpu/cpu-backend';
import { createReferenceBackend } from '../reference/reference-backend';
import { createOnnxBackend, gemmLibrary } from '../onnxruntime/onnx-backend';
import { onnxKernels } from '../onnxruntime/ort-kernels';
import { SessionCache } from '../onnxruntime/session-cache';
import { ConstSessionCache } from '../onnxruntime/const-session-cache';
import { AVX512_ROUTING, blasKernels, blasRoutingFor, HASWELL_ROUTING, type BlasRouting, type GemmKernels } from './blas-kernels';
import { loadOpenBlas, type OpenBlas } from './openblas';
import { describeOverOpenBlas, jsBlas, jsSgemm } from './js-blas.test-support';
import { FEW_ROWS_MAX, withNativeBatchedFewRows, withNativeFewRows, withNativeOneRowProducts } from './native-products';
import { loadNativeKernels, type NativeKernels } from '../native/native-kernels';
import { describeOverNativeKernels, expectCloseArrays, jsNativeKernels, sinValues } from '../native/native-kernels.test-support';

const oracle = createReferenceBackend();
const blas = loadOpenBlas();
// Installs the uninitialized (under vitest: NaN-filled) output allocator, as a real backend does.
createOnnxBackend({ intraOpThreads: 1 });


/**
 * Every product native (no JS path for small ones) on `lib`, onnxruntime's kernels as the fallback;
 * `wrap` puts overrides in front, as createOnnxBackend does.
 */
function backendOver(lib: OpenBlas, routing?: BlasRouting, wrap: (kernels: GemmKernels) => GemmKernels = (k) => k) {
  const options = { intraOpThreads: 1 };
  return createCpuBackend('onnxruntime', wrap(blasKernels(lib, onnxKernels(new SessionCache(options), new ConstSessionCache(options)), 0, routing)));
}

const close = (got: ArrayLike<number>, want: ArrayLike<number>) => expectCloseArrays(got, want, 1e-4);

describe('gemmLibrary', () => {
  it('names OpenBLAS when it loaded, else the reason onnxruntime keeps the matmuls', () => {
    const g = gemmLibrary();
    if (blas.ok) expect(g).toEqual({ library: 'openblas', path: blas.blas.library, coreName: blas.blas.coreName });
    else expect(g).toMatchObject({ library: 'mlas', reason: expect.stringMatching(/OpenBLAS|koffi/) });
  });
});

// Both routings run over each library, so what either sends to OpenBLAS is checked on every machine.
const ROUTINGS = [['Haswell routing', HASWELL_ROUTING], ['AVX-512 routing', AVX512_ROUTING]] as const;

describe('blasRoutingFor', () => {
  it("gives OpenBLAS's AVX-512 kernel families their own routing, and Haswell (or a family not listed) Haswell's", () => {
    for (const core of ['SkylakeX', 'Cooperlake', 'SAPPHIRERAPIDS']) expect(blasRoutingFor(core)).toBe(AVX512_ROUTING);
    for (const core of ['Haswell', 'Zen', 'unknown', 'js']) expect(blasRoutingFor(core)).toBe(HASWELL_ROUTING);
  });

  it('decides which products OpenBLAS runs: frozen weights for a row or two under both, many batches only under AVX-512 routing', () => {
    const calls = (routing: BlasRouting, run: (be: ReturnType<typeof backendOver>) => void) => {
      let n = 0;
      const counting: OpenBlas = { ...jsBlas, sgemm: (...args) => (n++, jsSgemm(...args)) };
      run(backendOver(counting, routing));
      return n;
    };
    const frozen8Rows = (be: ReturnType<typeof backendOver>) => void be.matmul(be.fromArray(sinValues(8 * 4, 1), [8, 4]), be.constant(be.fromArray(sinValues(24, 2), [6, 4])), { transB: true });
    const frozenRow = (be: ReturnType<typeof backendOver>) => void be.matmul(be.fromArray(sinValues(4, 1), [1, 4]), be.constant(be.fromArray(sinValues(24, 2), [6, 4])), { transB: true });
    for (const routing of [HASWELL_ROUTING, AVX512_ROUTING]) {
      expect(calls(routing, frozen8Rows)).toBe(0);
      expect(calls(routing, frozenRow)).toBe(1);
    }
    const batches = (count: number) => (be: ReturnType<typeof backendOver>) => void be.matmul(be.fromArray(sinValues(count * 8, 3), [count, 2, 4]), be.fromArray(sinValues(count * 12, 4), [count, 4, 3]));
    expect(calls(HASWELL_ROUTING, batches(8))).toBe(0);
    expect(calls(AVX512_ROUTING, batches(8))).toBe(8);
    expect(calls(AVX512_ROUTING, batches(65))).toBe(0);
    // Big products per batch loop whatever their count.
    const bigBatches = (be: ReturnType<typeof backendOver>) => void be.matmul(be.fromArray(sinValues(65 * 64 * 32, 5), [65, 64, 32]), be.fromArray(sinValues(65 * 32 * 32, 6), [65, 32, 32]));
    expect(calls(HASWELL_ROUTING, bigBatches)).toBe(0);
    expect(calls(AVX512_ROUTING, bigBatches)).toBe(65);
  });
});

/** The OpenBLAS kernels over `lib` with `routing` (and `wrap`'s overrides), against the reference backend. */
function kernelSuite(lib: OpenBlas, routing: BlasRouting, wrap?: (kernels: GemmKernels) => GemmKernels): void {
  const be = backendOver(lib, routing, wrap);
  it('matmul: 2-D, transposed, batched and broadcast operands (property)', () => {
    fc.assert(
      fc.property(
        fc.record({ batch: fc.integer({ min: 1, max: 4 }), m: fc.integer({ min: 1, max: 9 }), k: fc.integer({ min: 1, max: 9 }), n: fc.integer({ min: 1, max: 9 }) }),
        fc.boolean(), fc.boolean(), fc.constantFrom('none', 'a', 'b', 'both'), fc.nat(100),
        ({ batch, m, k, n }, transA, transB, batched, salt) => {
          const aLast = transA ? [k, m] : [m, k];
          const bLast = transB ? [n, k] : [k, n];
          const aShape = batched === 'a' || batched === 'both' ? [batch, ...aLast] : aLast;
          const bShape = batched === 'b' || batched === 'both' ? [batch, ...bLast] : bLast;
          const a = sinValues(aShape.reduce((p, d) => p * d, 1), salt);
          const b = sinValues(bShape.reduce((p, d) => p * d, 1), salt + 1);
          const got = be.matmul(be.fromArray(a, aShape), be.fromArray(b, bShape), { transA, transB });
          const want = oracle.matmul(oracle.fromArray(a, aShape), oracle.fromArray(b, bShape), { transA, transB });
          expect(got.shape).toEqual(want.shape);
          close(be.read(got), oracle.read(want));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('matmulBias adds the bias to every row, for one row and for many', () => {
    for (const [m, k, n, transB] of [[1, 5, 3, false], [7, 4, 6, true], [33, 16, 8, false]] as const) {
      const a = sinValues(m * k, 1);
      const bShape = transB ? [n, k] : [k, n];
      const b = sinValues(k * n, 2);
      const bias = sinValues(n, 3);
      const got = be.matmulBias!(be.fromArray(a, [m, k]), be.fromArray(b, bShape), be.fromArray(bias, [n]), { transB });
      const want = oracle.matmulBias!(oracle.fromArray(a, [m, k]), oracle.fromArray(b, bShape), oracle.fromArray(bias, [n]), { transB });
      close(be.read(got), oracle.read(want));
    }
  });

  it('grouped matmul and its weight gradient, empty experts included (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(5), { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 }), fc.boolean(), fc.nat(100), (sizes, k, n, transB, salt) => {
        const offsets = offsetsOf(sizes);
        const rows = offsets[sizes.length]!;
        const x = sinValues(rows * k, salt);
        const w = sinValues(sizes.length * k * n, salt + 1);
        const dy = sinValues(rows * n, salt + 2);
        const wShape = transB ? [sizes.length, n, k] : [sizes.length, k, n];
        close(
          be.read(be.groupedMatmul(be.fromArray(x, [rows, k]), be.fromArray(w, wShape), offsets, { transB })),
          oracle.read(oracle.groupedMatmul(oracle.fromArray(x, [rows, k]), oracle.fromArray(w, wShape), offsets, { transB })),
        );
        // An expert without rows gets an exact zero block, though the output is not zeroed up front.
        close(
          be.read(be.groupedMatmulWeightGrad(be.fromArray(x, [rows, k]), be.fromArray(dy, [rows, n]), offsets)),
          oracle.read(oracle.groupedMatmulWeightGrad(oracle.fromArray(x, [rows, k]), oracle.fromArray(dy, [rows, n]), offsets)),
        );
      }),
      { numRuns: 200 },
    );
  });

  it('constant (frozen) weights: OpenBLAS or pre-packed sessions as routed, same numbers', () => {
    for (const rows of [1, 2, 8]) {
      const w = sinValues(4 * 6, 5);
      const x = sinValues(rows * 4, 6);
      const got = be.matmul(be.fromArray(x, [rows, 4]), be.constant(be.fromArray(w, [6, 4])), { transB: true });
      close(be.read(got), oracle.read(oracle.matmul(oracle.fromArray(x, [rows, 4]), oracle.fromArray(w, [6, 4]), { transB: true })));
    }
  });
}

// The system library joins the JS sgemm where it loads (gemmLibrary's test says why when it does not,
// and the conformance suite then covers onnxruntime's kernels instead).
describe.each(ROUTINGS)('OpenBLAS kernels over a JS sgemm (every machine), %s', (_name, routing) => kernelSuite(jsBlas, routing));
describeOverOpenBlas(blas, 'OpenBLAS kernels', (lib) => describe.each(ROUTINGS)('%s', (_name, routing) => kernelSuite(lib, routing)));


describe('withNativeOneRowProducts', () => {
  it('sends one-row products to the native kernels (rows for a [N, K] B, columns for [K, N]) and the rest to OpenBLAS', () => {
    const calls: string[] = [];
    const native: NativeKernels = {
      ...jsNativeKernels,
      gemvRows: (...args) => (calls.push('rows'), jsNativeKernels.gemvRows(...args)),
      gemvColumns: (...args) => (calls.push('columns'), jsNativeKernels.gemvColumns(...args)),
      library: 'counting',
    };
    const lib = withNativeOneRowProducts({ ...jsBlas, sgemm: (...args) => (calls.push('sgemm'), jsSgemm(...args)) }, native);
    for (const [m, transA, transB, want] of [[1, false, true, 'rows'], [1, true, false, 'columns'], [2, false, true, 'sgemm']] as const) {
      calls.length = 0;
      const [k, n] = [5, 3];
      const [a, b] = [sinValues(m * k, 1), sinValues(k * n, 2)];
      const [got, expected] = [sinValues(m * n, 3), sinValues(m * n, 3)];
      lib.sgemm(transA, transB, m, n, k, 0.5, a, transA ? m : k, b, transB ? k : n, 1, got, n);
      jsSgemm(transA, transB, m, n, k, 0.5, a, transA ? m : k, b, transB ? k : n, 1, expected, n);
      expect(calls).toEqual([want]);
      close(got, expected);
    }
  });
});

describe('withNativeFewRows', () => {
  /** A native stand-in that counts its calls by kernel. */
  function counting() {
    const calls: string[] = [];
    const native: NativeKernels = {
      ...jsNativeKernels,
      gemvRowsGrouped: (...args) => (calls.push('gemvRowsGrouped'), jsNativeKernels.gemvRowsGrouped(...args)),
      fewRowsGrouped: (...args) => (calls.push('fewRowsGrouped'), jsNativeKernels.fewRowsGrouped(...args)),
      fewRowsTimesWt: (...args) => (calls.push('fewRowsTimesWt'), jsNativeKernels.fewRowsTimesWt(...args)),
    };
    return { calls, be: backendOver(jsBlas, AVX512_ROUTING, (k) => withNativeFewRows(k, native)) };
  }

  it('takes grouped products (transB) whose experts got at most FEW_ROWS_MAX rows: one row each on the one-row kernel', () => {
    const { calls, be } = counting();
    const [k, n] = [4, 3];
    const cases: [number[], boolean, string[]][] = [
      [[1, 0, 1, 1], true, ['gemvRowsGrouped']],
      [[1, 2, 0, 1], true, ['fewRowsGrouped']],
      [[FEW_ROWS_MAX, 0, 3], true, ['fewRowsGrouped']],
      [[FEW_ROWS_MAX + 1, 0, 3], true, []],
      [[0, 0, 0, 0], true, []],
      [[1, 2, 0, 1], false, []],
    ];
    for (const [sizes, transB, want] of cases) {
      calls.length = 0;
      const offsets = offsetsOf(sizes);
      const rows = offsets[sizes.length]!;
      const [x, w] = [sinValues(rows * k, 1), sinValues(sizes.length * k * n, 2)];
      const wShape = transB ? [sizes.length, n, k] : [sizes.length, k, n];
      const got = be.groupedMatmul(be.fromArray(x, [rows, k]), be.fromArray(w, wShape), offsets, { transB });
      expect(calls, `sizes ${sizes}, transB ${transB}`).toEqual(want);
      close(be.read(got), oracle.read(oracle.groupedMatmul(oracle.fromArray(x, [rows, k]), oracle.fromArray(w, wShape), offsets, { transB })));
    }
  });

  it('takes matmul and matmulBias of 2 to FEW_ROWS_MAX rows (of any leading axes) against a [N, K] weight, nothing else', () => {
    const { calls, be } = counting();
    const [k, n] = [5, 3];
    const cases: [number[], number[], { transA?: boolean; transB?: boolean }, boolean][] = [
      [[2, k], [n, k], { transB: true }, true],
      [[FEW_ROWS_MAX, k], [n, k], { transB: true }, true],
      [[4, 8, k], [n, k], { transB: true }, true],
      [[1, k], [n, k], { transB: true }, false],
      [[FEW_ROWS_MAX + 1, k], [n, k], { transB: true }, false],
      [[4, k], [k, n], {}, false],
      [[k, 4], [n, k], { transA: true, transB: true }, false],
      [[2, 4, k], [2, n, k], { transB: true }, false],
    ];
    for (const [aShape, bShape, options, native] of cases) {
      const [a, b] = [sinValues(aShape.reduce((p, d) => p * d), 3), sinValues(bShape.reduce((p, d) => p * d), 4)];
      const bias = sinValues(n, 5);
      const want = oracle.read(oracle.matmul(oracle.fromArray(a, aShape), oracle.fromArray(b, bShape), options));
      calls.length = 0;
      close(be.read(be.matmul(be.fromArray(a, aShape), be.fromArray(b, bShape), options)), want);
      expect(calls, `matmul ${aShape} · ${bShape} ${JSON.stringify(options)}`).toEqual(native ? ['fewRowsTimesWt'] : []);
      if (aShape.length !== 2 || bShape.length !== 2) continue;
      calls.length = 0;
      const withBias = want.map((v, i) => v + bias[i % n]!);
      close(be.read(be.matmulBias!(be.fromArray(a, aShape), be.fromArray(b, bShape), be.fromArray(bias, [n]), options)), withBias);
      expect(calls, `matmulBias ${aShape} · ${bShape} ${JSON.stringify(options)}`).toEqual(native ? ['fewRowsTimesWt'] : []);
    }
  });

  it('leaves a bias of the wrong length to the kernels behind it, which name it', () => {
    const { calls, be } = counting();
    const bad = () => be.matmulBias!(be.fromArray(sinValues(8, 1), [2, 4]), be.fromArray(sinValues(12, 2), [3, 4]), be.fromArray(sinValues(2, 3), [2]), { transB: true });
    expect(bad).toThrow(/bias/);
    expect(calls).toEqual([]);
  });
});

describe('withNativeBatchedFewRows', () => {
  it('takes products per batch (both operands batched alike, A not transposed) of at most FEW_ROWS_MAX rows each', () => {
    const calls: string[] = [];
    const native: NativeKernels = {
      ...jsNativeKernels,
      batchedTimesWt: (...args) => (calls.push('batchedTimesWt'), jsNativeKernels.batchedTimesWt(...args)),
      batchedTimesW: (...args) => (calls.push('batchedTimesW'), jsNativeKernels.batchedTimesW(...args)),
    };
    const be = backendOver(jsBlas, AVX512_ROUTING, (k) => withNativeBatchedFewRows(k, native));
    const [k, n] = [6, 5];
    const cases: [number[], number[], { transA?: boolean; transB?: boolean }, string[]][] = [
      [[3, 2, k], [3, n, k], { transB: true }, ['batchedTimesWt']],
      [[3, 1, k], [3, k, n], {}, ['batchedTimesW']],
      [[2, 2, FEW_ROWS_MAX, k], [2, 2, k, n], {}, ['batchedTimesW']],
      [[3, FEW_ROWS_MAX + 1, k], [3, k, n], {}, []],
      [[3, k, 2], [3, k, n], { transA: true }, []],
      [[2, k], [3, k, n], {}, []],
      [[3, 2, k], [k, n], {}, []],
    ];
    for (const [aShape, bShape, options, want] of cases) {
      const [a, b] = [sinValues(aShape.reduce((p, d) => p * d), 1), sinValues(bShape.reduce((p, d) => p * d), 2)];
      calls.length = 0;
      const got = be.read(be.matmul(be.fromArray(a, aShape), be.fromArray(b, bShape), options));
      expect(calls, `${aShape} · ${bShape} ${JSON.stringify(options)}`).toEqual(want);
      close(got, oracle.read(oracle.matmul(oracle.fromArray(a, aShape), oracle.fromArray(b, bShape), options)));
    }
  });
});

// The whole kernel suite again with one-row products on the built native library, where it loads.
describeOverNativeKernels(loadNativeKernels(), 'OpenBLAS kernels with one-row and few-row products', (native) =>
  describeOverOpenBlas(blas, 'and the rest', (lib) =>
    describe.each(ROUTINGS)('%s', (_name, routing) => kernelSuite(withNativeOneRowProducts(lib, native), routing, (k) => withNativeBatchedFewRows(withNativeFewRows(k, native), native))),
  ),
);
