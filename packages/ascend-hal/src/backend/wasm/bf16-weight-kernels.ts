/**
 * Matmul overrides that run one-row products against constant weights with a bf16 copy
 * (bf16-weight-store.ts) on the bf16 matrix–vector kernel, and hand everything else to `inner`. This
 * is a batch-1 decode step's every weight product: matmul / matmulBias of a [1, K] row against a
 * [N, K] weight (transB, as a linear layer stores it), and a grouped matmul whose experts each got at
 * most one row. Larger products stay on `inner`, where one pass over the weights serves many rows.
 */
import type { MatmulOptions } from '../backend';
import { allF32, allocateOutputF32, CpuTensor } from '../cpu/cpu-tensor';
import type { CpuKernelOverrides } from '../cpu/cpu-backend';
import { resolveMatmul } from '../cpu/matmul-shapes';
import { resolveGrouped } from '../reference/matmul';
import type { GemmKernels } from '../blas/blas-kernels';
import type { Bf16WeightStore } from './bf16-weight-store';

/** Whether the constant `w` has a bf16 copy whose rows are `w`'s last axis. */
function bf16Rows(store: Bf16WeightStore, w: CpuTensor): boolean {
  if (!w.constant || !(w.data instanceof Float32Array)) return false;
  return store.rowLength(w.data) === w.shape[w.shape.length - 1];
}

/** A constant's bf16 copy is made when the constant is (`adoptConstant`), if its values allow. */
export function bf16WeightKernels(store: Bf16WeightStore, inner: GemmKernels): GemmKernels & Required<Pick<CpuKernelOverrides, 'adoptConstant'>> {
  /** [1, K] · [N, K]ᵀ on the bf16 copy, or null when the product is not that. */
  const rowProduct = (a: CpuTensor, b: CpuTensor, options?: MatmulOptions): Float32Array | null => {
    if (!options?.transB || options.transA || a.shape.length !== 2 || b.shape.length !== 2 || a.shape[0] !== 1 || !allF32(a)) return null;
    if (!bf16Rows(store, b)) return null;
    const p = resolveMatmul(a.shape, b.shape, options);
    const out = allocateOutputF32(p.n);
    store.gemv(b.data as Float32Array, 0, p.n, a.data as Float32Array, 0, out, 0);
    return out;
  };
  return {
    adoptConstant(t: CpuTensor): void {
      const k = t.shape[t.shape.length - 1]!;
      if (t.shape.length >= 2 && k > 0 && t.data instanceof Float32Array) store.adopt(t.data, t.size / k, k);
    },

    matmul(a, b, options) {
      const out = rowProduct(a, b, options);
      return out ? new CpuTensor(a.backend, 'f32', [1, b.shape[0]!], out) : inner.matmul(a, b, options);
    },

    matmulBias(a, b, bias, options) {
      if (!allF32(bias) || bias.size !== b.shape[0]) return inner.matmulBias(a, b, bias, options);
      const out = rowProduct(a, b, options);
      if (!out) return inner.matmulBias(a, b, bias, options);
      const bd = bias.data as Float32Array;
      for (let i = 0; i < out.length; i++) out[i]! += bd[i]!;
      return new CpuTensor(a.backend, 'f32', [1, b.shape[0]!], out);
    },

    groupedMatmul(x, w, offsets, options) {
      const transB = options?.transB ?? false;
      if (!transB || x.shape.length !== 2 || w.shape.length !== 3 || !allF32(x) || !bf16Rows(store, w)) return inner.groupedMatmul(x, w, offsets, options);
      const { t, k, n, groups } = resolveGrouped(x, w, offsets, transB);
      for (let g = 0; g < groups; g++) if (offsets[g + 1]! - offsets[g]! > 1) return inner.groupedMatmul(x, w, offsets, options);
      const out = allocateOutputF32(t * n);
      const [xd, wd] = [x.data as Float32Array, w.data as Float32Array];
      for (let g = 0; g < groups; g++) {
        const row = offsets[g]!;
        if (offsets[g + 1] !== row) store.gemv(wd, g * n, n, xd, row * k, out, row * n);
      }
      return new CpuTensor(x.backend, 'f32', [t, n], out);
    },

    groupedMatmulWeightGrad: inner.groupedMatmulWeightGrad,
  };
}
