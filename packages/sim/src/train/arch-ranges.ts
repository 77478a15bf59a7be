import { z } from 'zod';
import { closestName, countParameters, MoeArchSchema, parseWith, type MoeArch } from '@moge/core';

const values = z.array(z.number().int().positive()).min(1);

/** The architecture fields a search may vary, each with the values it takes. */
const VARIABLE_FIELDS = {
  numLayers: values,
  hiddenSize: values,
  numHeads: values,
  numKvHeads: values,
  numExperts: values,
  topK: values,
  expertFfnSize: values,
  sharedExpertFfnSize: z.array(z.number().int().nonnegative()).min(1),
  numExpertGroups: values,
};

/** What an unknown key of `vary` should have been: the closest MoeArch field, and whether it may vary. */
function unknownVaryKey(key: string): string {
  const variable = Object.keys(VARIABLE_FIELDS);
  const meant = closestName(key, Object.keys(MoeArchSchema.shape));
  if (meant !== undefined && variable.includes(meant)) return `no such field; did you mean "${meant}"?`;
  if (meant !== undefined) return `a field that can be varied; "${meant}" is fixed by the base (can vary: ${variable.join(', ')})`;
  return `no such field (can vary: ${variable.join(', ')})`;
}

/**
 * Refuses keys outside `known`, naming each (under its own path) with the field it likely meant: a
 * misspelt field used to be dropped, so `numLayer: [2, 4]` searched one architecture without a word.
 */
function onlyKeys(what: string, known: readonly string[], expectation: (key: string) => string) {
  return z.record(z.string(), z.unknown(), { error: what }).superRefine((value, ctx) => {
    for (const key of Object.keys(value)) {
      if (!known.includes(key)) ctx.addIssue({ code: 'custom', path: [key], input: value[key], message: expectation(key) });
    }
  });
}

const TOTAL_PARAMS_FIELDS = ['min', 'max'];

/**
 * Architectures within ranges and a parameter budget, as the Pangu papers search them: a base
 * architecture, lists of values for the fields to vary, and bounds on total parameters.
 * Example: `{ "base": "pangu-pro-moe", "vary": { "hiddenSize": [4096, 5120, 6144], "numLayers": [40, 48, 56] },
 * "totalParams": { "min": 6e10, "max": 8e10 } }`. Unknown fields are refused at every level.
 */
export const ArchRangesSchema = z.strictObject({
  /** The architecture the others vary from (already resolved by the caller: preset, file or HF config). */
  base: z.record(z.string(), z.unknown()),
  vary: onlyKeys('an object of field: [values]', Object.keys(VARIABLE_FIELDS), unknownVaryKey)
    .pipe(z.strictObject(VARIABLE_FIELDS).partial())
    .default({}),
  totalParams: onlyKeys('an object { min, max }', TOTAL_PARAMS_FIELDS, (key) => {
    const meant = closestName(key, TOTAL_PARAMS_FIELDS);
    return meant === undefined ? 'no such field (known: min, max)' : `no such field; did you mean "${meant}"?`;
  })
    .pipe(
      z
        .strictObject({ min: z.number().nonnegative().default(0), max: z.number().positive().default(Infinity) })
        // An empty budget used to surface later as "no architecture fell within the ranges and budget".
        .refine((b) => b.min <= b.max, { path: ['max'], message: 'at least min' }),
    )
    .default({ min: 0, max: Infinity }),
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
