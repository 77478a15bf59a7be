import { parseWith, sourced, ValidationError } from '@moge/core';
import { z } from 'zod';
import type { ChipSpec } from '../catalog/schemas';
import { estimateOpTime } from './estimate-op';
import { fitMatmulEfficiency } from './fit';
import { nelderMead } from './nelder-mead';
import type { EfficiencyProfile, MatmulRow } from './profile';

const seconds = z.number().positive();
const size = z.number().int().positive();

/**
 * The JSON that tools/calibrate/h200_ops.py writes (`tools/calibrate/data/h200-ops.json`): timed
 * GEMMs, batched GEMMs, causal SDPA attention and streaming kernels on one GPU. Only the fields the
 * fit reads are required; extra fields (tflops, meanS of memory rows) are kept by passthrough.
 */
export const OpsBenchFileSchema = z.object({
  meta: z.looseObject({
    device: z.string().min(1),
    dtype: z.enum(['bf16', 'fp16', 'fp32']),
    date: z.string().min(1),
    reps: size,
    warmup: z.number().int().nonnegative(),
    tinyKernelS: seconds.optional(),
  }),
  matmul: z.array(z.looseObject({ m: size, k: size, n: size, medianS: seconds })).min(4),
  attention: z
    .array(
      z.looseObject({
        batch: size,
        seq: size,
        heads: size,
        kvHeads: size,
        headDim: size,
        causal: z.boolean(),
        forwardS: seconds,
      }),
    )
    .default([]),
  memory: z
    .array(z.looseObject({ kernel: z.string().min(1), bytes: size, bytesPerS: z.number().positive() }))
    .default([]),
});
export type OpsBenchFile = z.infer<typeof OpsBenchFileSchema>;

/**
 * GEMM rows of a bench file as fit input. The median of the repetitions is used, not the mean: on a
 * shared VM one preempted repetition would otherwise drag a whole row.
 */
export function matmulRowsFromOpsBench(file: OpsBenchFile): MatmulRow[] {
  return file.matmul.map((r) => ({ m: r.m, k: r.k, n: r.n, dtype: file.meta.dtype, timeS: r.medianS }));
}

export interface OpsBenchFitOptions {
  chip: ChipSpec;
  /** Profile whose name and vector efficiency are kept (nothing in a bench file measures them). */
  base: EfficiencyProfile;
  /** Where the file lives, recorded in every fitted number's source. */
  fileLabel: string;
}

const logistic = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * Attention efficiency (relative to a GEMM of the same work) that best reproduces the timed causal
 * attention forwards, by least squares on log time. One parameter, so a 1-D simplex is plenty.
 */
function fitAttentionEfficiency(
  chip: ChipSpec,
  profile: EfficiencyProfile,
  file: OpsBenchFile,
  source: string,
): number {
  const rows = file.attention;
  const loss = ([logit]: number[]) => {
    const trial = { ...profile, attentionEfficiency: sourced(logistic(logit!), source, 'measured') };
    let sum = 0;
    for (const r of rows) {
      const op = {
        kind: 'attention',
        batch: r.batch,
        heads: r.heads,
        kvHeads: r.kvHeads,
        seqQ: r.seq,
        headDim: r.headDim,
        causal: r.causal,
        dtype: file.meta.dtype,
      } as const;
      sum += Math.log(estimateOpTime(chip, op, { profile: trial }).timeS / r.forwardS) ** 2;
    }
    return Math.sqrt(sum / rows.length);
  };
  return logistic(nelderMead(loss, [1]).x[0]!);
}

/**
 * A chip's efficiency profile refitted to a bench file: the matmul curve and launch overhead by
 * `fitMatmulEfficiency` on every GEMM row, HBM efficiency from the fastest streaming copy, attention
 * efficiency from the SDPA rows. Everything fitted is marked `measured` and names the file.
 */
export function fitProfileFromOpsBench(raw: unknown, options: OpsBenchFitOptions): EfficiencyProfile {
  const file = parseWith(OpsBenchFileSchema, raw, `ops bench file ${options.fileLabel}`);
  const { chip, base, fileLabel } = options;
  const rows = matmulRowsFromOpsBench(file);
  // HBM efficiency first: the matmul fit runs through the roofline, so memory-bound rows depend on it.
  let withHbm: EfficiencyProfile = base;
  const copies = file.memory.filter((m) => m.kernel === 'copy');
  if (copies.length > 0) {
    const best = copies.reduce((a, b) => (b.bytesPerS > a.bytesPerS ? b : a));
    const eff = best.bytesPerS / chip.hbmBandwidth.value;
    if (!(eff > 0 && eff <= 1)) {
      throw new ValidationError(`ops bench file ${fileLabel}`, [
        {
          path: 'memory',
          received: best.bytesPerS,
          expected: `a copy rate ≤ the chip's peak ${chip.hbmBandwidth.value} bytes/s`,
        },
      ]);
    }
    const src = `${fileLabel}: fastest copy ${(best.bytesPerS / 1e12).toFixed(2)} TB/s (read + write, ${best.bytes} bytes) / ${(chip.hbmBandwidth.value / 1e12).toFixed(1)} TB/s peak`;
    withHbm = { ...base, hbmEfficiency: sourced(eff, src, 'measured') };
  }
  const fit = fitMatmulEfficiency(rows, {
    chip,
    base: withHbm,
    source: `fitted by fitMatmulEfficiency to the ${rows.length} GEMM rows (median times) of ${fileLabel}`,
  });
  let profile: EfficiencyProfile = {
    ...fit.profile,
    description:
      `${chip.displayName}, ${file.meta.dtype}. Matmul curve and launch overhead fitted to the GEMM rows of ${fileLabel} ` +
      `(rms log-time error ${fit.rmsLogError.toFixed(3)}); HBM and attention efficiency from the same file; vector efficiency as before.`,
  };
  if (file.attention.length > 0) {
    const src = `fitted to the ${file.attention.length} causal SDPA forward rows of ${fileLabel}, relative to the fitted GEMM curve`;
    profile = {
      ...profile,
      attentionEfficiency: sourced(fitAttentionEfficiency(chip, profile, file, src), src, 'measured'),
    };
  }
  return {
    ...profile,
    measurements: {
      source: `${fileLabel}: ${file.meta.device}, ${file.meta.dtype}, measured ${file.meta.date}`,
      method: `median of ${file.meta.reps} runs after ${file.meta.warmup} warm-ups`,
      matmul: rows,
      copyBandwidth: copies.length > 0 ? Math.max(...copies.map((c) => c.bytesPerS)) : undefined,
    },
  };
}
