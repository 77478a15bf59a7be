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
export const MAX_LOAD = 1e15;
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
    checkLoadRow(row, numExperts, 'load matrix', `layers[${l}]`);
    return Float64Array.from(row);
  });
  return { numLayers: layers.length, numExperts, layers };
}

/**
 * Checks a LoadMatrix built in code (placeExperts, simulateRebalancing and the EMA predictor take the
 * interface, not a parsed file): `numLayers` rows of `numExperts` finite loads in [0, 1e15]. Without
 * it a NaN load placed silently with max/mean 1, a negative one made a lighter-than-empty rank, a
 * longer row had its extra loads ignored, and a shorter one failed as "logical expert 3 has no
 * replica". `path` prefixes the field names (e.g. `trace[2]`), so the error points at the row.
 */
export function checkLoadMatrix(loads: LoadMatrix, subject: string, path = 'loads'): void {
  const { numLayers, numExperts, layers } = loads;
  if (!Number.isInteger(numExperts) || numExperts < 1) {
    throw new ValidationError(subject, [{ path: `${path}.numExperts`, received: numExperts, expected: 'a positive integer' }]);
  }
  if (!Array.isArray(layers) || layers.length === 0 || layers.length !== numLayers) {
    const received = Array.isArray(layers) ? `${layers.length} rows` : layers;
    throw new ValidationError(subject, [{ path: `${path}.layers`, received, expected: `numLayers (${numLayers}) rows, at least one` }]);
  }
  for (let l = 0; l < layers.length; l++) checkLoadRow(layers[l]!, numExperts, subject, `${path}.layers[${l}]`);
}

/** One layer's loads: `numExperts` finite loads in [0, 1e15]; the error names `path` and the expert. */
export function checkLoadRow(row: ArrayLike<number>, numExperts: number, subject: string, path: string): void {
  if (row.length !== numExperts || numExperts === 0) {
    throw new ValidationError(subject, [{ path, received: row.length, expected: `${numExperts || 'a positive number of'} entries, one per expert` }]);
  }
  for (let e = 0; e < row.length; e++) {
    const v = row[e]!;
    if (!(Number.isFinite(v) && v >= 0 && v <= MAX_LOAD)) {
      throw new ValidationError(subject, [{ path: `${path}[${e}]`, received: v, expected: `a finite load in [0, ${MAX_LOAD}]` }]);
    }
  }
}
