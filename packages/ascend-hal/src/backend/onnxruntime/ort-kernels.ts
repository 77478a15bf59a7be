import type { MatmulOptions } from '../backend';
import { allocateOutputF32, CpuTensor } from '../cpu/cpu-tensor';
import type { CpuKernelOverrides } from '../cpu/cpu-backend';
import { resolveMatmul, type MatmulProblem } from '../cpu/matmul-shapes';
import {
  groupedMatmul as jsGroupedMatmul,
  groupedMatmulWeightGrad as jsGroupedMatmulWeightGrad,
  matmul as jsMatmul,
  matmulBias as jsMatmulBias,
  resolveGrouped,
  resolveGroupedWeightGrad,
} from '../reference/matmul';
import { batchedMatmulGraph, gemmBiasGraph, gemmGraph, groupedMatmulGraph, groupedWeightGradGraph } from './graphs';
import { f32Feed, i64Feed, type OrtTensor } from './ort-native';
import type { SessionCache } from './session-cache';
import { constGemmGraph, constGroupedMatmulGraph } from './const-graphs';
import type { ConstSessionCache } from './const-session-cache';

function zerosLike(backend: string, shape: number[]): CpuTensor {
  return new CpuTensor(backend, 'f32', shape, new Float32Array(shape.reduce((p, d) => p * d, 1)));
}

/**
 * The non-empty segments: their expert indices and row counts. Graphs are built over these alone, so
 * a decode step that routes one token to 4 of 16 experts runs 4 Gemms, not 16 (an empty Gemm still
 * pays its node's fixed cost); the session is keyed by the count, not the pattern, since weights are
 * fed per call.
 */
function nonEmptySegments(offsets: Int32Array): { experts: number[]; sizes: number[] } {
  const experts: number[] = [];
  const sizes: number[] = [];
  for (let g = 0; g + 1 < offsets.length; g++) {
    const size = offsets[g + 1]! - offsets[g]!;
    if (size > 0) {
      experts.push(g);
      sizes.push(size);
    }
  }
  return { experts, sizes };
}

/**
 * op(A)·op(B) with K = 1: one outer product per batch, as a plain loop over the output. onnxruntime's
 * batched MatMul spent 2.4–2.8 ms on the MoE combine's backward (1024 × [4×1]·[1×256]), this loop
 * 2.0 ms (one sgemm per batch: 2.1). With K = 1 the transposes do not change either operand's
 * memory order.
 */
function outerProducts(a: CpuTensor, b: CpuTensor, p: MatmulProblem): CpuTensor {
  const [ad, bd] = [a.f32('matmul'), b.f32('matmul')];
  const out = allocateOutputF32(p.batch * p.m * p.n);
  for (let s = 0, o = 0; s < p.batch; s++) {
    const aBase = p.aBatched ? s * p.m : 0;
    const bBase = p.bBatched ? s * p.n : 0;
    for (let i = 0; i < p.m; i++) {
      const v = ad[aBase + i]!;
      for (let j = 0; j < p.n; j++, o++) out[o] = v * bd[bBase + j]!;
    }
  }
  return new CpuTensor(a.backend, 'f32', p.outShape, out);
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
export function onnxKernels(
  cache: SessionCache,
  constCache: ConstSessionCache,
  options: OnnxKernelOptions = {},
): Required<Pick<CpuKernelOverrides, 'matmul' | 'matmulBias' | 'groupedMatmul' | 'groupedMatmulWeightGrad'>> {
  const small = options.smallMatmulMacs ?? DEFAULT_SMALL_MATMUL_MACS;
  /**
   * op(a)·op(b) (+ bias) where b is a 2-D constant: a session holding b (and a constant bias) as
   * initializers, cached per constant. `bias` undefined: no bias.
   */
  const constGemm = (a: CpuTensor, aDims: readonly number[], b: CpuTensor, transA: boolean, transB: boolean, bias?: CpuTensor): Float32Array => {
    const bOperand = { data: b.f32('matmul'), dims: b.shape };
    const feeds: Record<string, OrtTensor> = { a: f32Feed(a.f32('matmul'), aDims) };
    // The stored shape is part of the key: a reshape shares the storage but is another graph.
    const layout = `${+transA}${+transB}:${b.shape.join('x')}`;
    const outDims = [transA ? aDims[1]! : aDims[0]!, transB ? b.shape[0]! : b.shape[1]!];
    if (!bias) return constCache.get([bOperand.data], `gemm:${layout}`, () => constGemmGraph(transA, transB, bOperand)).run(feeds, outDims);
    const c = bias.f32('matmulBias');
    if (bias.constant) {
      const build = () => constGemmGraph(transA, transB, bOperand, { data: c, dims: [c.length] });
      return constCache.get([bOperand.data, c], `gemm_bias:${layout}`, build).run(feeds, outDims);
    }
    feeds.c = f32Feed(c, [c.length]);
    return constCache.get([bOperand.data], `gemm_cbias:${layout}`, () => constGemmGraph(transA, transB, bOperand, 'input')).run(feeds, outDims);
  };
  return {
    matmul(a: CpuTensor, b: CpuTensor, options?: MatmulOptions): CpuTensor {
      const p = resolveMatmul(a.shape, b.shape, options);
      const macs = p.batch * p.m * p.n * p.k;
      // Checked before the degenerate answer, so an i32 operand is refused at every size, as the reference does.
      const [ad, bd] = [a.f32('matmul'), b.f32('matmul')];
      if (macs === 0) return zerosLike(a.backend, p.outShape);
      if (macs <= small) return jsMatmul(a, b, options);
      if (p.k === 1) return outerProducts(a, b, p);
      const aLast = a.shape.slice(-2);
      const bLast = b.shape.slice(-2);
      const bDims = p.bBatched ? [p.batch, ...bLast] : bLast;
      let out: Float32Array;
      if (!p.bBatched && (!p.aBatched || !p.transA)) {
        // Rows of a batched A against one B are a single tall product: [B·M, K]·op(B).
        const aDims = p.aBatched ? [p.batch * p.m, p.k] : aLast;
        if (b.constant) return new CpuTensor(a.backend, 'f32', p.outShape, constGemm(a, aDims, b, p.transA, p.transB));
        const session = cache.get(`gemm:${+p.transA}${+p.transB}`, () => gemmGraph(p.transA, p.transB));
        out = session.run({ a: f32Feed(ad, aDims), b: f32Feed(bd, bDims) }, [p.batch * p.m, p.n]);
      } else {
        const aRank = p.aBatched ? 3 : 2;
        const bRank = p.bBatched ? 3 : 2;
        const aDims = p.aBatched ? [p.batch, ...aLast] : aLast;
        const key = `bmm:${aRank}${bRank}${+p.transA}${+p.transB}`;
        const session = cache.get(key, () => batchedMatmulGraph(aRank, bRank, p.transA, p.transB));
        out = session.run({ a: f32Feed(ad, aDims), b: f32Feed(bd, bDims) }, [p.batch, p.m, p.n]);
      }
      return new CpuTensor(a.backend, 'f32', p.outShape, out);
    },

    matmulBias(a: CpuTensor, b: CpuTensor, bias: CpuTensor, options?: MatmulOptions): CpuTensor {
      if (a.shape.length !== 2 || b.shape.length !== 2 || bias.dtype !== 'f32') return jsMatmulBias(a, b, bias, options);
      const p = resolveMatmul(a.shape, b.shape, options);
      if (bias.size !== p.n || p.m * p.n * p.k <= small) return jsMatmulBias(a, b, bias, options);
      if (b.constant) return new CpuTensor(a.backend, 'f32', p.outShape, constGemm(a, a.shape, b, p.transA, p.transB, bias));
      const session = cache.get(`gemm_bias:${+p.transA}${+p.transB}`, () => gemmBiasGraph(p.transA, p.transB));
      const out = session.run({ a: f32Feed(a.f32('matmulBias'), a.shape), b: f32Feed(b.f32('matmulBias'), b.shape), c: f32Feed(bias.f32('matmulBias'), [p.n]) }, [p.m, p.n]);
      return new CpuTensor(a.backend, 'f32', p.outShape, out);
    },

    groupedMatmul(x: CpuTensor, w: CpuTensor, offsets: Int32Array, options?: { transB?: boolean }): CpuTensor {
      const transB = options?.transB ?? false;
      const { t, k, n } = resolveGrouped(x, w, offsets, transB);
      const [xd, wd] = [x.f32('groupedMatmul'), w.f32('groupedMatmul')];
      if (t * k * n === 0) return zerosLike(x.backend, [t, n]);
      if (t * k * n <= small) return jsGroupedMatmul(x, w, offsets, options);
      if (w.constant) {
        // Every expert is in the session (empty segments are zero-row Gemms): one session per weight.
        const groups = offsets.length - 1;
        const sizes = Array.from({ length: groups }, (_, g) => offsets[g + 1]! - offsets[g]!);
        const session = constCache.get([wd], `gmm:${+transB}:${w.shape.join('x')}`, () => constGroupedMatmulGraph(wd, groups, k, n, transB));
        return new CpuTensor(x.backend, 'f32', [t, n], session.run({ x: f32Feed(xd, [t, k]), sizes: i64Feed(sizes) }, [t, n]));
      }
      const { experts, sizes } = nonEmptySegments(offsets);
      const used = experts.length;
      const feeds: Record<string, OrtTensor> = { x: f32Feed(xd, [t, k]), sizes: i64Feed(sizes) };
      const wDims = transB ? [n, k] : [k, n];
      for (let i = 0; i < used; i++) feeds[`w${i}`] = f32Feed(wd.subarray(experts[i]! * k * n, (experts[i]! + 1) * k * n), wDims);
      const session = cache.get(`gmm:${used}:${+transB}`, () => groupedMatmulGraph(used, transB));
      return new CpuTensor(x.backend, 'f32', [t, n], session.run(feeds, [t, n]));
    },

    groupedMatmulWeightGrad(x: CpuTensor, dy: CpuTensor, offsets: Int32Array): CpuTensor {
      const { t, k, n, groups } = resolveGroupedWeightGrad(x, dy, offsets);
      const [xd, dyd] = [x.f32('groupedMatmulWeightGrad'), dy.f32('groupedMatmulWeightGrad')];
      if (t * k * n === 0) return zerosLike(x.backend, [groups, k, n]);
      if (t * k * n <= small) return jsGroupedMatmulWeightGrad(x, dy, offsets);
      const { experts, sizes } = nonEmptySegments(offsets);
      const used = experts.length;
      const feeds = {
        x: f32Feed(xd, [t, k]),
        dy: f32Feed(dyd, [t, n]),
        sizes: i64Feed(sizes),
      };
      const session = cache.get(`gmmw:${used}`, () => groupedWeightGradGraph(used));
      const blocks = session.run(feeds);
      if (used === groups) return new CpuTensor(x.backend, 'f32', [groups, k, n], blocks);
      // Empty segments' gradients are zero blocks: place the computed ones at their experts' slots.
      const out = new Float32Array(groups * k * n);
      for (let i = 0; i < used; i++) out.set(blocks.subarray(i * k * n, (i + 1) * k * n), experts[i]! * k * n);
      return new CpuTensor(x.backend, 'f32', [groups, k, n], out);
    },
  };
}
