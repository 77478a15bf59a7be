import { z } from 'zod';
import { countParameters, MoeArchSchema, parseWith, type MoeArch } from '@moge/core';

const values = z.array(z.number().int().positive()).min(1);

/**
 * Architectures within ranges and a parameter budget, as the Pangu papers search them: a base
 * architecture, lists of values for the fields to vary, and bounds on total parameters.
 * Example: `{ "base": "pangu-pro-moe", "vary": { "hiddenSize": [4096, 5120, 6144], "numLayers": [40, 48, 56] },
 * "totalParams": { "min": 6e10, "max": 8e10 } }`.
 */
export const ArchRangesSchema = z.object({
  /** The architecture the others vary from (already resolved by the caller: preset, file or HF config). */
  base: z.record(z.string(), z.unknown()),
  vary: z
    .object({
      numLayers: values,
      hiddenSize: values,
      numHeads: values,
      numKvHeads: values,
      numExperts: values,
      topK: values,
      expertFfnSize: values,
      sharedExpertFfnSize: z.array(z.number().int().nonnegative()).min(1),
      numExpertGroups: values,
    })
    .partial()
    .default({}),
  totalParams: z.object({ min: z.number().nonnegative().default(0), max: z.number().positive().default(Infinity) }).default({ min: 0, max: Infinity }),
});
export type ArchRanges = z.infer<typeof ArchRangesSchema>;

/** Every valid architecture of the ranges whose total parameters fall inside the budget. */
export function enumerateArchs(ranges: ArchRanges): MoeArch[] {
  const base = parseWith(MoeArchSchema, ranges.base, 'base architecture');
  const fields = Object.entries(ranges.vary) as [keyof MoeArch, number[]][];
  let variants: Record<string, number>[] = [{}];
  for (const [field, list] of fields) variants = variants.flatMap((v) => list.map((x) => ({ ...v, [field]: x })));
  const out: MoeArch[] = [];
  for (const v of variants) {
    const name = Object.entries(v).map(([k, x]) => `${k}=${x}`).join(',');
    const parsed = MoeArchSchema.safeParse({ ...base, ...v, name: name ? `${base.name ?? 'arch'}[${name}]` : base.name });
    if (!parsed.success) continue; // e.g. heads not divisible by KV heads: not an architecture
    const total = countParameters(parsed.data).total;
    if (total < ranges.totalParams.min || total > ranges.totalParams.max) continue;
    out.push(parsed.data);
  }
  return out;
}
