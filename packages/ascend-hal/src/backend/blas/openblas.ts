/**
 * OpenBLAS's single-precision GEMM, called through koffi (a C FFI whose npm package carries prebuilt
 * binaries) on the system's libopenblas. Why it exists: on this project's AVX-512 Xeon, MLAS (inside
 * onnxruntime) runs the model's f32 GEMMs at ≈ 100–125 GFLOP/s on one thread where OpenBLAS runs
 * them at ≈ 165–175 — the library PyTorch uses here — and a direct call costs ≈ 1 µs where an
 * onnxruntime session run costs tens of µs, which is most of a decode step's small products.
 *
 * Optional by design: koffi is an optional dependency and libopenblas a system library (Debian:
 * `apt-get install libopenblas0-pthread`). When either is missing, loadOpenBlas() says why and the
 * backend keeps onnxruntime's kernels.
 */
import { firstLine, loadKoffi, type KoffiLib } from '../host/koffi';

/** C = alpha·op(A)·op(B) + beta·C over row-major f32 arrays (views: their byteOffset is honoured). */
export type Sgemm = (
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  lda: number,
  b: Float32Array,
  ldb: number,
  beta: number,
  c: Float32Array,
  ldc: number,
) => void;

export interface OpenBlas {
  sgemm: Sgemm;
  /** y += alpha·x over whole arrays (views honoured). */
  saxpy(n: number, alpha: number, x: Float32Array, y: Float32Array): void;
  /** x *= alpha in place. */
  sscal(n: number, alpha: number, x: Float32Array): void;
  /** Σ x[i]·y[i], accumulated in f32 by OpenBLAS's kernel. */
  sdot(n: number, x: Float32Array, y: Float32Array): number;
  /** The shared library that was loaded. */
  library: string;
  /** Sets OpenBLAS's thread count (process-wide: every caller of the library shares it). */
  setThreads(threads: number): void;
  /**
   * The kernel family OpenBLAS picked for this CPU (`openblas_get_corename`: `Haswell`, `SkylakeX`,
   * `Cooperlake`, …; `OPENBLAS_CORETYPE` overrides it), or `unknown` where the library does not say.
   */
  coreName: string;
}

export type OpenBlasLoad = { ok: true; blas: OpenBlas } | { ok: false; reason: string };

/** Where to look: `MOGE_OPENBLAS` (a path or soname) first, then the usual sonames. */
function candidates(): string[] {
  const fromEnv = process.env.MOGE_OPENBLAS;
  return [...(fromEnv ? [fromEnv] : []), 'libopenblas.so.0', 'libopenblas.so', 'libopenblas.dylib', 'libopenblas.dll'];
}

const CBLAS_ROW_MAJOR = 101;
const CBLAS_NO_TRANS = 111;
const CBLAS_TRANS = 112;

let cached: OpenBlasLoad | undefined;

/** Loads koffi and OpenBLAS once per process; later calls return the same result. */
export function loadOpenBlas(): OpenBlasLoad {
  if (cached) return cached;
  const loaded = loadKoffi();
  if (!loaded.ok) return (cached = loaded);
  const koffi = loaded.koffi;
  const tried: string[] = [];
  for (const name of candidates()) {
    let lib: KoffiLib;
    try {
      lib = koffi.load(name);
    } catch (e) {
      tried.push(`${name}: ${firstLine(e)}`);
      continue;
    }
    try {
      const gemm = lib.func('void cblas_sgemm(int, int, int, int, int, int, float, float *, int, float *, int, float, float *, int)');
      const gemv = lib.func('void cblas_sgemv(int, int, int, int, float, float *, int, float *, int, float, float *, int)');
      const axpy = lib.func('void cblas_saxpy(int, float, float *, int, float *, int)');
      const scal = lib.func('void cblas_sscal(int, float, float *, int)');
      const dot = lib.func('float cblas_sdot(int, float *, int, float *, int)');
      const setThreads = lib.func('void openblas_set_num_threads(int)');
      const coreName = readCoreName(lib);
      const sgemm: Sgemm = (transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) => {
        if (m === 1) {
          // One row: y = op(B)ᵀ·a as a matrix-vector product. OpenBLAS (0.3.21) runs a one-row sgemm
          // through its packing GEMM: 4 MiB of weights took 0.6–0.8 ms against 0.17 ms as sgemv.
          // The row of A is contiguous either way (a [1, K] row, or a [K, 1] column when transposed).
          if (transB) gemv(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, n, k, alpha, b, ldb, a, 1, beta, c, 1);
          else gemv(CBLAS_ROW_MAJOR, CBLAS_TRANS, k, n, alpha, b, ldb, a, 1, beta, c, 1);
          return;
        }
        gemm(CBLAS_ROW_MAJOR, transA ? CBLAS_TRANS : CBLAS_NO_TRANS, transB ? CBLAS_TRANS : CBLAS_NO_TRANS, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      };
      return (cached = {
        ok: true,
        blas: {
          sgemm,
          saxpy: (n, alpha, x, y) => void axpy(n, alpha, x, 1, y, 1),
          sscal: (n, alpha, x) => void scal(n, alpha, x, 1),
          sdot: (n, x, y) => dot(n, x, 1, y, 1) as number,
          library: name,
          setThreads: (t) => void setThreads(t),
          coreName,
        },
      });
    } catch (e) {
      tried.push(`${name}: no cblas_sgemm / cblas_sgemv / cblas_saxpy / cblas_sscal / cblas_sdot / openblas_set_num_threads (${firstLine(e)})`);
    }
  }
  return (cached = { ok: false, reason: `no OpenBLAS library found (install libopenblas0-pthread, or set MOGE_OPENBLAS): ${tried.join('; ')}` });
}

function readCoreName(lib: KoffiLib): string {
  try {
    const name = lib.func('const char *openblas_get_corename()')();
    return typeof name === 'string' && name.length > 0 ? name : 'unknown';
  } catch {
    return 'unknown';
  }
}
