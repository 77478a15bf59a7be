import { z } from 'zod';
import { parseWith, ValidationError } from '@moge/core';

/** Tokens routed to each logical expert, per MoE layer: layers[l][e]. Loads may be fractional (predictions). */
export interface LoadMatrix {
  numLayers: number;
  numExperts: number;
  layers: Float64Array[];
}

/**
 * Loads are token counts or rates; sums of a layer's loads must stay finite (1e308 loads summed to
 * Infinity and printed NaN imbalances), and 1e15 per expert is far beyond any batch.
 */
const MAX_LOAD = 1e15;
const loadValue = z.number().finite().nonnegative().max(MAX_LOAD, `at most ${MAX_LOAD} (a token count or rate)`);

/** The loads file: `{"loads": [[tokens per expert] per layer]}`; every layer lists the same experts. */
export const LoadsFileSchema = z
  .object({
    loads: z.array(z.array(loadValue).min(1, 'at least one expert per layer')).min(1, 'at least one layer'),
  })
  .superRefine((file, ctx) => {
    // Zod runs refinements after non-fatal issues too, so an empty list can arrive here.
    if (file.loads.length === 0) return;
    const width = file.loads[0]!.length;
    file.loads.forEach((row, l) => {
      if (row.length !== width) {
        ctx.addIssue({ code: 'custom', path: ['loads', l], message: `${width} entries, as many as loads[0] (got ${row.length})` });
      }
    });
  });
export type LoadsFile = z.infer<typeof LoadsFileSchema>;

/** Parses a loads file (already read as JSON); errors name the field, e.g. `loads[2][7]`. */
export function parseLoadsFile(value: unknown, subject = 'loads file'): LoadMatrix {
  const file = parseWith(LoadsFileSchema, value, subject);
  return loadMatrixFromRows(file.loads);
}

/** A LoadMatrix from rows of numbers; checks that rows are equally long and loads finite and ≥ 0. */
export function loadMatrixFromRows(rows: readonly ArrayLike<number>[]): LoadMatrix {
  if (rows.length === 0) throw new ValidationError('load matrix', [{ path: 'layers', received: [], expected: 'at least one layer' }]);
  const numExperts = rows[0]!.length;
  const layers = rows.map((row, l) => {
    if (row.length !== numExperts || numExperts === 0) {
      throw new ValidationError('load matrix', [{ path: `layers[${l}]`, received: row.length, expected: `${numExperts || 'a positive number of'} entries` }]);
    }
    const out = Float64Array.from(row);
    for (let e = 0; e < out.length; e++) {
      if (!Number.isFinite(out[e]) || out[e]! < 0 || out[e]! > MAX_LOAD) {
        throw new ValidationError('load matrix', [{ path: `layers[${l}][${e}]`, received: out[e], expected: `a finite load in [0, ${MAX_LOAD}]` }]);
      }
    }
    return out;
  });
  return { numLayers: layers.length, numExperts, layers };
}
