import { z } from 'zod';
import { DTypeSchema } from '@moge/core';

const count = z.number().int().nonnegative();
const positive = z.number().int().positive();
const amount = z.number().finite().nonnegative();

/** `C[m×n] = A[m×k] · B[k×n]`, `batch` independent copies (bmm). `weightDType` is B's format (W8A8: int8). */
export const MatmulOpSchema = z.object({
  kind: z.literal('matmul'),
  m: count,
  k: count,
  n: count,
  batch: positive.optional(),
  dtype: DTypeSchema,
  weightDType: DTypeSchema.optional(),
});

/**
 * MoE experts in one kernel: group g multiplies `tokensPerGroup[g]` rows by its own `k×n` weight.
 * A number means the same count for every group. Groups without tokens read no weight.
 */
export const GroupedMatmulOpSchema = z.object({
  kind: z.literal('grouped-matmul'),
  groups: positive,
  tokensPerGroup: z.union([count, z.array(count)]),
  k: count,
  n: count,
  dtype: DTypeSchema,
  weightDType: DTypeSchema.optional(),
});

/** Vector work (norms, activations, adds). Bytes default to one read and one write of `dtype`. */
export const ElementwiseOpSchema = z.object({
  kind: z.literal('elementwise'),
  elements: amount,
  bytesPerElement: amount.optional(),
  flopsPerElement: amount,
  dtype: DTypeSchema,
});

/**
 * Flash-style fused attention: FLOPs of QKᵀ and PV only, bytes of Q, K, V and O only (the score
 * matrix stays on chip). `causal` counts only unmasked query–key pairs, with the queries aligned to
 * the end of the keys (≈ half the square when seqQ = seqKV).
 */
export const AttentionOpSchema = z.object({
  kind: z.literal('attention'),
  batch: positive,
  heads: positive,
  kvHeads: positive.optional(),
  seqQ: positive,
  seqKV: positive.optional(),
  headDim: positive,
  headDimV: positive.optional(),
  causal: z.boolean().optional(),
  dtype: DTypeSchema,
});

/** Anything else: its FLOPs and bytes, run at the matmul efficiency of that much work. */
export const CustomOpSchema = z.object({
  kind: z.literal('custom'),
  flops: amount,
  bytes: amount,
  dtype: DTypeSchema,
  name: z.string().optional(),
});

export const OpSchema = z.discriminatedUnion('kind', [
  MatmulOpSchema,
  GroupedMatmulOpSchema,
  ElementwiseOpSchema,
  AttentionOpSchema,
  CustomOpSchema,
]);
export type Op = z.infer<typeof OpSchema>;
export type MatmulOp = z.infer<typeof MatmulOpSchema>;
export type GroupedMatmulOp = z.infer<typeof GroupedMatmulOpSchema>;
export type ElementwiseOp = z.infer<typeof ElementwiseOpSchema>;
export type AttentionOp = z.infer<typeof AttentionOpSchema>;
export type CustomOp = z.infer<typeof CustomOpSchema>;
