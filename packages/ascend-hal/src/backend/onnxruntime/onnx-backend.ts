import { parseWith } from '@moge/core';
import { z } from 'zod';
import type { Backend } from '../backend';
import { createCpuBackend } from '../cpu/cpu-backend';
import { transposeRuns } from '../cpu/fast-transpose';
import { onnxElementwiseKernels } from './ort-elementwise';
import { onnxKernels } from './ort-kernels';
import { SessionCache } from './session-cache';

export const OnnxBackendOptionsSchema = z
  .object({
    /** Threads of onnxruntime's intra-op pool; left out, onnxruntime picks (one per physical core). */
    intraOpThreads: z.number().int().min(1).max(1024).optional(),
    /**
     * Matmuls of at most this many multiply-adds run in JS, where onnxruntime's fixed per-call cost
     * would dominate; 0 sends every matmul to onnxruntime. Default 2048 (measured crossover).
     */
    smallMatmulMacs: z.number().int().min(0).optional(),
    /**
     * SwiGLU, softmax and their backwards and RMSNorm's backward run on onnxruntime for tensors of at
     * least this many elements; smaller ones run in JS. Default 2048; 0 sends every size native.
     */
    nativeElementwiseMin: z.number().int().min(0).optional(),
  })
  .strict();

export type OnnxBackendOptions = z.input<typeof OnnxBackendOptionsSchema>;

/**
 * The `onnxruntime` backend (Node only): matmul, grouped matmul and its weight gradient run as ONNX
 * graphs on onnxruntime's CPU provider (MLAS kernels), in sessions cached per layout. Tiny matmuls
 * and everything else — elementwise, norms, softmax, top-k, gathers — run the reference kernels in
 * JS: those are memory-bound or small, and a native call (≈ 7 µs of fixed cost measured on an idle
 * 2-core host) would cost more than the arithmetic.
 * Its tensors are typed arrays like the reference backend's, stamped 'onnxruntime'.
 */
export function createOnnxBackend(options: OnnxBackendOptions = {}): Backend {
  const parsed = parseWith(OnnxBackendOptionsSchema, options, 'onnxruntime backend options');
  const cache = new SessionCache(parsed.intraOpThreads === undefined ? {} : { intraOpThreads: parsed.intraOpThreads });
  const kernelOptions = parsed.smallMatmulMacs === undefined ? {} : { smallMatmulMacs: parsed.smallMatmulMacs };
  return createCpuBackend('onnxruntime', { transpose: transposeRuns, ...onnxElementwiseKernels(cache, parsed.nativeElementwiseMin), ...onnxKernels(cache, kernelOptions) });
}
