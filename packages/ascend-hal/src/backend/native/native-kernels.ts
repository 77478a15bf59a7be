/**
 * moge's own native kernels (native/*.c, compiled at install by scripts/build-native.mjs), called
 * through koffi. Why they exist: a one-row product streams its weights from memory, and a kernel
 * that prefetches rows ahead streams them ≈ 1.5× as fast as OpenBLAS's sgemv on one core
 * (tools/bench/gemv_bandwidth.c) — most of a batch-1 decode step; a product of a few rows (a
 * batch-32 decode step's) runs best unpacked, reading each weight once (native/vector-kernels.c);
 * copying attention's runs, the MoE dispatch's rows and column slices costs a view per run in JS, a
 * memcpy in C (native/data-movement.c); and the WebAssembly kernels of SwiGLU, softmax and RMSNorm
 * copy their operands in and out (native/pointwise-tile.h).
 *
 * Optional by design, like OpenBLAS: when the library was not built (no C compiler at install,
 * `--ignore-scripts`, Windows), koffi is missing, or MOGE_NATIVE_KERNELS=0, loadNativeKernels()
 * says why and the products stay on OpenBLAS, the copies in JS. MOGE_NATIVE_KERNELS=<path> loads
 * another build.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { firstLine, loadKoffi } from '../host/koffi';

/** The C side's moge_kernels_abi(): a library built from other sources is refused, not called. */
export const NATIVE_KERNELS_ABI = 5;

/** y = alpha·op(W)·x + beta·y over row-major f32 arrays (views: their byteOffset is honoured). */
export interface NativeKernels {
  /** W is rows × k (row stride ldw): y (rows) = alpha·W·x (k) + beta·y. */
  gemvRows(rows: number, k: number, alpha: number, w: Float32Array, ldw: number, x: Float32Array, beta: number, y: Float32Array): void;
  /** W is k × n (row stride ldw): y (n) = alpha·Wᵀ·x (k) + beta·y. */
  gemvColumns(k: number, n: number, alpha: number, w: Float32Array, ldw: number, x: Float32Array, beta: number, y: Float32Array): void;
  /**
   * A grouped matmul whose groups each have at most one row: for each group g with a row
   * i = offsets[g], y[i] (n) = W_g·x[i] (k), W being [groups, n, k]. The caller checks the row counts
   * (a group with more rows is left unwritten).
   */
  gemvRowsGrouped(groups: number, offsets: Int32Array, n: number, k: number, w: Float32Array, x: Float32Array, y: Float32Array): void;
  /**
   * Y (rows × n) = X (rows × k)·Wᵀ + bias, W n × k row-major; bias (n) may be null: a product of a
   * few rows (a batch-32 decode step's) that reads each weight once (native/vector-kernels.c).
   */
  fewRowsTimesWt(rows: number, n: number, k: number, w: Float32Array, x: Float32Array, bias: Float32Array | null, y: Float32Array): void;
  /**
   * A grouped matmul with few rows per group: rows offsets[g] .. offsets[g + 1] of X (k each) times
   * W_gᵀ, W being [groups, n, k], into the same rows of Y (n each). Every row of Y belongs to a group.
   */
  fewRowsGrouped(groups: number, offsets: Int32Array, n: number, k: number, w: Float32Array, x: Float32Array, y: Float32Array): void;
  /**
   * Products per batch of a few rows each: Y_b (rows × n) = X_b (rows × k)·W_bᵀ with W_b n × k, for
   * `batch` matrices back to back in X, W and Y (a decode step's attention scores).
   */
  batchedTimesWt(batch: number, rows: number, n: number, k: number, w: Float32Array, x: Float32Array, y: Float32Array): void;
  /** The same with W_b k × n: Y_b = X_b·W_b (attention's output, the MoE combine). */
  batchedTimesW(batch: number, rows: number, k: number, n: number, w: Float32Array, x: Float32Array, y: Float32Array): void;
  /**
   * Softmax of each row of x (rows × cols) into y; with sq > 0 causal over [.., sq, cols] blocks (row
   * r sees its first r mod sq + cols − sq + 1 columns, the rest are 0). The caller checks the sizes.
   */
  softmaxRows(x: Float32Array, y: Float32Array, rows: number, cols: number, sq: number): void;
  /** dx = y · (dy − Σ dy·y) per row of y and dy (rows × cols). */
  softmaxBackwardRows(y: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, cols: number): void;
  /** y = x·scale + shift over whole arrays of one length (y may be x; the caller checks). */
  affine(x: Float32Array, y: Float32Array, scale: number, shift: number): void;
  /** y += alpha·x in place, over whole arrays of one length (the caller checks). */
  axpy(y: Float32Array, x: Float32Array, alpha: number): void;
  /** RMSNorm of each row of x (rows × cols): y = w·(x·r), r = 1/√(mean(x²) + eps) into inv (rows). */
  rmsNormRows(x: Float32Array, w: Float32Array, y: Float32Array, inv: Float32Array, rows: number, cols: number, eps: number): void;
  /** RMSNorm's backward: dx (rows × cols), and dW added into dw (cols doubles, zeroed by the caller). */
  rmsNormBackwardRows(x: Float32Array, w: Float32Array, inv: Float32Array, dy: Float32Array, dx: Float32Array, dw: Float64Array, rows: number, cols: number): void;
  /** The instruction set the vector kernels (native/vector-kernels.c) run on: "avx512", "avx2", "baseline" (or "js"). */
  vectorIsa(): string;
  /**
   * Runs the vector kernels on instruction set `isa` from now on ("" for the best this CPU has),
   * process-wide: for tests and benchmarks. False, changing nothing, where the CPU lacks it.
   */
  selectVectorIsa(isa: '' | 'avx512' | 'avx2' | 'baseline'): boolean;
  /**
   * dst = src permuted along its leading axes, the last in place (4-byte elements): `runs` runs of
   * `run` elements, run r read where an odometer over dst's leading `shape` reaches after r steps,
   * `strides` being src's strides (elements) of those axes. At most COPY_RUNS_MAX_LEAD axes; the
   * caller checks everything (nothing is checked natively).
   */
  copyRuns(src: Float32Array | Int32Array, dst: Float32Array | Int32Array, runs: number, run: number, shape: Int32Array, strides: Int32Array): void;
  /** dst row index[i] += src row i, rows of d floats, in order; the caller checks the indices. */
  scatterAddRows(dst: Float32Array, index: Int32Array, src: Float32Array, d: number): void;
  /** dst row i = table row index[i], rows of d 4-byte elements; the caller checks the indices. */
  gatherRows(table: Float32Array | Int32Array, dst: Float32Array | Int32Array, index: Int32Array, d: number): void;
  /**
   * `rows` rows of `width` 4-byte elements from src (row stride srcStride) to dst (row stride
   * dstStride), each starting at its view's first element; the caller checks the extents.
   */
  copyStrided(src: Float32Array | Int32Array, srcStride: number, dst: Float32Array | Int32Array, dstStride: number, rows: number, width: number): void;
  /** y = silu(g)·u over whole arrays of one length (the caller checks). */
  swiglu(g: Float32Array, u: Float32Array, y: Float32Array): void;
  /** For y = silu(g)·u: dg and du from dy, over whole arrays of one length (the caller checks). */
  swigluBackward(g: Float32Array, u: Float32Array, dy: Float32Array, dg: Float32Array, du: Float32Array): void;
  /** The shared library that was loaded. */
  library: string;
}

export type NativeKernelsLoad = { ok: true; kernels: NativeKernels } | { ok: false; reason: string };

/** Whether `count` elements fit the native kernels' C `int` counts (below 2³¹); larger arrays stay in JS. */
export const fitsNativeCount = (count: number): boolean => count < 2 ** 31;

/** The most leading axes copyRuns walks (COPY_RUNS_MAX_LEAD in native/data-movement.c). */
export const COPY_RUNS_MAX_LEAD = 8;

/** The file scripts/build-native.mjs writes (kept in step with it). */
export function libraryFileName(platform: NodeJS.Platform = process.platform): string {
  return platform === 'darwin' ? 'libmoge_kernels.dylib' : 'libmoge_kernels.so';
}

/** Where the install script puts the library: native/build/ beside this package's package.json. */
function builtLibraryPath(): string {
  const packageJson = createRequire(import.meta.url).resolve('@moge/ascend-hal/package.json');
  return join(dirname(packageJson), 'native', 'build', libraryFileName());
}

let cached: NativeKernelsLoad | undefined;

/** Loads the native kernels once per process, as MOGE_NATIVE_KERNELS says; later calls return the same result. */
export function loadNativeKernels(): NativeKernelsLoad {
  return (cached ??= openNativeKernels(process.env.MOGE_NATIVE_KERNELS));
}

/**
 * Loads the library (uncached): `setting` is MOGE_NATIVE_KERNELS's value — unset or empty for the
 * one the install script built, `0` for none, else a path.
 */
export function openNativeKernels(setting: string | undefined): NativeKernelsLoad {
  if (setting === '0') return { ok: false, reason: 'turned off by MOGE_NATIVE_KERNELS=0' };
  const path = setting || builtLibraryPath();
  if (!existsSync(path)) {
    return { ok: false, reason: `${path} not found (built at install when a C compiler is present: run \`node scripts/build-native.mjs\` in @moge/ascend-hal)` };
  }
  const loaded = loadKoffi();
  if (!loaded.ok) return loaded;
  try {
    const lib = loaded.koffi.load(path);
    const abi = lib.func('int moge_kernels_abi()')() as number;
    if (abi !== NATIVE_KERNELS_ABI) {
      return { ok: false, reason: `${path} has ABI ${abi}, this package expects ${NATIVE_KERNELS_ABI} (rebuild it: \`node scripts/build-native.mjs\` in @moge/ascend-hal)` };
    }
    const rows = lib.func('void moge_gemv_rows(int, int, float, float *, int, float *, float, float *)');
    const columns = lib.func('void moge_gemv_columns(int, int, float, float *, int, float *, float, float *)');
    const grouped = lib.func('void moge_gemv_rows_grouped(int, int *, int, int, float *, float *, float *)');
    const fewRows = lib.func('void moge_few_rows_times_wt(int, int, int, float *, float *, float *, float *)');
    const fewRowsGrouped = lib.func('void moge_few_rows_grouped(int, int *, int, int, float *, float *, float *)');
    const batchedTimesWt = lib.func('void moge_batched_times_wt(int, int, int, int, float *, float *, float *)');
    const batchedTimesW = lib.func('void moge_batched_times_w(int, int, int, int, float *, float *, float *)');
    const vectorIsa = lib.func('const char *moge_vector_isa()');
    const selectVectorIsa = lib.func('int moge_vector_isa_select(const char *)');
    const copyRuns = lib.func('void moge_copy_runs(void *, void *, int, int, int, int *, int *)');
    const gatherRows = lib.func('void moge_gather_rows(void *, void *, int *, int, int)');
    const scatterAddRows = lib.func('void moge_scatter_add_rows(float *, float *, int *, int, int)');
    const copyStrided = lib.func('void moge_copy_strided(void *, int, void *, int, int, int)');
    const softmaxRows = lib.func('void moge_softmax_rows(float *, float *, int, int, int)');
    const softmaxBackwardRows = lib.func('void moge_softmax_backward_rows(float *, float *, float *, int, int)');
    const affine = lib.func('void moge_affine(float *, float *, int, float, float)');
    const axpy = lib.func('void moge_axpy(float *, float *, int, float)');
    const rmsNormRows = lib.func('void moge_rms_norm_rows(float *, float *, float *, float *, int, int, float)');
    const rmsNormBackwardRows = lib.func('void moge_rms_norm_backward_rows(float *, float *, float *, float *, float *, double *, int, int)');
    const swiglu = lib.func('void moge_swiglu(float *, float *, float *, int)');
    const swigluBackward = lib.func('void moge_swiglu_backward(float *, float *, float *, float *, float *, int)');
    return {
      ok: true,
      kernels: {
        gemvRows: (r, k, alpha, w, ldw, x, beta, y) => void rows(r, k, alpha, w, ldw, x, beta, y),
        gemvColumns: (k, n, alpha, w, ldw, x, beta, y) => void columns(k, n, alpha, w, ldw, x, beta, y),
        gemvRowsGrouped: (groups, offsets, n, k, w, x, y) => void grouped(groups, offsets, n, k, w, x, y),
        fewRowsTimesWt: (rows, n, k, w, x, bias, y) => void fewRows(rows, n, k, w, x, bias, y),
        fewRowsGrouped: (groups, offsets, n, k, w, x, y) => void fewRowsGrouped(groups, offsets, n, k, w, x, y),
        batchedTimesWt: (batch, rows, n, k, w, x, y) => void batchedTimesWt(batch, rows, n, k, w, x, y),
        batchedTimesW: (batch, rows, k, n, w, x, y) => void batchedTimesW(batch, rows, k, n, w, x, y),
        vectorIsa: () => vectorIsa() as string,
        selectVectorIsa: (isa) => selectVectorIsa(isa) === 1,
        copyRuns: (src, dst, runs, run, shape, strides) => void copyRuns(src, dst, runs, run, shape.length, shape, strides),
        gatherRows: (table, dst, index, d) => void gatherRows(table, dst, index, index.length, d),
        scatterAddRows: (dst, index, src, d) => void scatterAddRows(dst, src, index, index.length, d),
        copyStrided: (src, srcStride, dst, dstStride, rows, width) => void copyStrided(src, srcStride, dst, dstStride, rows, width),
        softmaxRows: (x, y, rows, cols, sq) => void softmaxRows(x, y, rows, cols, sq),
        softmaxBackwardRows: (y, dy, dx, rows, cols) => void softmaxBackwardRows(y, dy, dx, rows, cols),
        affine: (x, y, scale, shift) => void affine(x, y, x.length, scale, shift),
        axpy: (y, x, alpha) => void axpy(y, x, y.length, alpha),
        rmsNormRows: (x, w, y, inv, rows, cols, eps) => void rmsNormRows(x, w, y, inv, rows, cols, eps),
        rmsNormBackwardRows: (x, w, inv, dy, dx, dw, rows, cols) => void rmsNormBackwardRows(x, w, inv, dy, dx, dw, rows, cols),
        swiglu: (g, u, y) => void swiglu(g, u, y, g.length),
        swigluBackward: (g, u, dy, dg, du) => void swigluBackward(g, u, dy, dg, du, g.length),
        library: path,
      },
    };
  } catch (e) {
    return { ok: false, reason: `${path} did not load: ${firstLine(e)}` };
  }
}
