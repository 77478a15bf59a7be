import type { MatmulOptions } from '../backend';
import { CpuTensor } from '../cpu/cpu-tensor';
import type { CpuKernelOverrides } from '../cpu/cpu-backend';
import { resolveMatmul } from '../cpu/matmul-shapes';
import {
  groupedMatmul as jsGroupedMatmul,
  groupedMatmulWeightGrad as jsGroupedMatmulWeightGrad,
  matmul as jsMatmul,
  resolveGrouped,
  resolveGroupedWeightGrad,
} from '../reference/matmul';
import { batchedMatmulGraph, gemmGraph, groupedMatmulGraph, groupedWeightGradGraph } from './graphs';
import { f32Feed, i64Feed, type OrtTensor } from './ort-native';
import type { SessionCache } from './session-cache';

function zerosLike(backend: string, shape: number[]): CpuTensor {
  return new CpuTensor(backend, 'f32', shape, new Float32Array(shape.reduce((p, d) => p * d, 1)));
}

function segmentSizes(offsets: Int32Array): number[] {
  const sizes = new Array<number>(offsets.length - 1);
  for (let g = 0; g < sizes.length; g++) sizes[g] = offsets[g + 1]! - offsets[g]!;
  return sizes;
}

/**
 * Below this many multiply-adds a matmul runs in JS: a native run has a fixed cost of several µs
 * (feeds, fetches, the call itself), while the JS loop does 8³ = 512 multiply-adds several times
 * faster than that. Measured with bench/matmul.ts's interleaved timing: the JS kernel wins up to
 * about 2–4 k multiply-adds (4³: 5.5 vs 64 µs, 8³: 11 vs 43 µs, 16³: 81 vs 51 µs on a loaded 2-core host).
 */
export const DEFAULT_SMALL_MATMUL_MACS = 2048;

export interface OnnxKernelOptions {
  /** Problems of at most this many multiply-adds run in JS; 0 sends everything to onnxruntime. */
  smallMatmulMacs?: number;
}

/**
 * The FLOP-carrying kernels on onnxruntime sessions. Inputs are fed as views of the tensors' own
 * storage and the output array onnxruntime allocates becomes the result's storage, so no data is
 * copied on the JS side. Degenerate problems (a zero-sized axis) never reach onnxruntime: their
 * answer is an all-zero (or empty) tensor.
 */
export function onnxKernels(cache: SessionCache, options: OnnxKernelOptions = {}): Required<CpuKernelOverrides> {
  const small = options.smallMatmulMacs ?? DEFAULT_SMALL_MATMUL_MACS;
  return {
    matmul(a: CpuTensor, b: CpuTensor, options?: MatmulOptions): CpuTensor {
      const p = resolveMatmul(a.shape, b.shape, options);
      const macs = p.batch * p.m * p.n * p.k;
      if (macs === 0) return zerosLike(a.backend, p.outShape);
      if (macs <= small) return jsMatmul(a, b, options);
      const ad = a.f32('matmul');
      const bd = b.f32('matmul');
      const aLast = a.shape.slice(-2);
      const bLast = b.shape.slice(-2);
      const bDims = p.bBatched ? [p.batch, ...bLast] : bLast;
      let out: Float32Array;
      if (!p.bBatched && (!p.aBatched || !p.transA)) {
        // Rows of a batched A against one B are a single tall product: [B·M, K]·op(B).
        const aDims = p.aBatched ? [p.batch * p.m, p.k] : aLast;
        const session = cache.get(`gemm:${+p.transA}${+p.transB}`, () => gemmGraph(p.transA, p.transB));
        out = session.run({ a: f32Feed(ad, aDims), b: f32Feed(bd, bDims) });
      } else {
        const aRank = p.aBatched ? 3 : 2;
        const bRank = p.bBatched ? 3 : 2;
        const aDims = p.aBatched ? [p.batch, ...aLast] : aLast;
        const key = `bmm:${aRank}${bRank}${+p.transA}${+p.transB}`;
        const session = cache.get(key, () => batchedMatmulGraph(aRank, bRank, p.transA, p.transB));
        out = session.run({ a: f32Feed(ad, aDims), b: f32Feed(bd, bDims) });
      }
      return new CpuTensor(a.backend, 'f32', p.outShape, out);
    },

    groupedMatmul(x: CpuTensor, w: CpuTensor, offsets: Int32Array, options?: { transB?: boolean }): CpuTensor {
      const transB = options?.transB ?? false;
      const { t, k, n, groups } = resolveGrouped(x, w, offsets, transB);
      if (t * k * n === 0) return zerosLike(x.backend, [t, n]);
      if (t * k * n <= small) return jsGroupedMatmul(x, w, offsets, options);
      const xd = x.f32('groupedMatmul');
      const wd = w.f32('groupedMatmul');
      const feeds: Record<string, OrtTensor> = { x: f32Feed(xd, [t, k]), sizes: i64Feed(segmentSizes(offsets)) };
      const wDims = transB ? [n, k] : [k, n];
      for (let g = 0; g < groups; g++) feeds[`w${g}`] = f32Feed(wd.subarray(g * k * n, (g + 1) * k * n), wDims);
      const session = cache.get(`gmm:${groups}:${+transB}`, () => groupedMatmulGraph(groups, transB));
      return new CpuTensor(x.backend, 'f32', [t, n], session.run(feeds));
    },

    groupedMatmulWeightGrad(x: CpuTensor, dy: CpuTensor, offsets: Int32Array): CpuTensor {
      const { t, k, n, groups } = resolveGroupedWeightGrad(x, dy, offsets);
      if (t * k * n === 0) return zerosLike(x.backend, [groups, k, n]);
      if (t * k * n <= small) return jsGroupedMatmulWeightGrad(x, dy, offsets);
      const feeds = {
        x: f32Feed(x.f32('groupedMatmulWeightGrad'), [t, k]),
        dy: f32Feed(dy.f32('groupedMatmulWeightGrad'), [t, n]),
        sizes: i64Feed(segmentSizes(offsets)),
      };
      const session = cache.get(`gmmw:${groups}`, () => groupedWeightGradGraph(groups));
      return new CpuTensor(x.backend, 'f32', [groups, k, n], session.run(feeds));
    },
  };
}
