import { z } from 'zod';

/** Numeric formats that weights, activations and kernels use. */
export const DTypeSchema = z.enum(['fp32', 'bf16', 'fp16', 'int8', 'int4']);
export type DType = z.infer<typeof DTypeSchema>;

/** Bytes per element of each dtype (int4 packs two per byte). */
export const DTYPE_BYTES: Readonly<Record<DType, number>> = { fp32: 4, bf16: 2, fp16: 2, int8: 1, int4: 0.5 };

export function dtypeBytes(dtype: DType): number {
  return DTYPE_BYTES[dtype];
}

/**
 * Weight/activation quantisation schemes of inference engines: `bf16` (no quantisation), `w8a8`
 * (int8 weights and activations, int8 matmul peak), `w4a8` (int4 weights, int8 activations).
 */
export const QuantizationSchema = z.enum(['bf16', 'fp16', 'w8a8', 'w4a8']);
export type Quantization = z.infer<typeof QuantizationSchema>;

export function quantizationWeightDType(q: Quantization): DType {
  return q === 'w8a8' ? 'int8' : q === 'w4a8' ? 'int4' : q;
}

export function quantizationComputeDType(q: Quantization): DType {
  return q === 'w8a8' || q === 'w4a8' ? 'int8' : q;
}
