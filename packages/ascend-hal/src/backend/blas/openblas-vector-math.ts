import { checkSameLength, portableVectorMath, type VectorMath } from '../host/vector-math';
import { loadOpenBlas, type OpenBlas } from './openblas';

/**
 * Elements per sdot call in sumSquares: OpenBLAS accumulates a call in f32, so blocks keep each f32
 * sum short (relative error ≲ 1e-6) and the blocks are added in float64; at this size the ≈ 0.6 µs
 * of a koffi call is ≈ 1 ms over 25 M elements.
 */
export const SUM_SQUARES_BLOCK = 16384;

/** OpenBLAS's level-1 kernels; AdamW (no BLAS routine) from portableVectorMath. */
export function openBlasVectorMath(blas: OpenBlas): VectorMath {
  const { adamw } = portableVectorMath();
  return {
    library: 'openblas',
    adamw,
    axpy(y, x, alpha) {
      checkSameLength('axpy', y, x);
      if (y.length > 0) blas.saxpy(y.length, alpha, x, y);
    },
    scale(x, alpha) {
      if (x.length > 0) blas.sscal(x.length, alpha, x);
    },
    sumSquares(x) {
      let s = 0;
      for (let start = 0; start < x.length; start += SUM_SQUARES_BLOCK) {
        const block = x.subarray(start, Math.min(x.length, start + SUM_SQUARES_BLOCK));
        s += blas.sdot(block.length, block, block);
      }
      return s;
    },
  };
}

/** OpenBLAS's level-1 kernels where the library loads (see loadOpenBlas), portableVectorMath otherwise. */
export function vectorMath(): VectorMath {
  const r = loadOpenBlas();
  return r.ok ? openBlasVectorMath(r.blas) : portableVectorMath();
}
