import { z } from 'zod';
import { parseWith, Rng } from '@moge/core';
import { loadMatrixFromRows, MAX_LOAD, type LoadMatrix } from './load-matrix';

const positiveInt = z.number().int().positive();

/**
 * Checked up front so an error names the option: a fractional numLayers used to give one layer more
 * (1.5 → 2), and a NaN exponent or negative assignment count surfaced as a bad `layers[0][0]` load.
 */
const ZipfLoadOptionsSchema = z
  .object({
    numLayers: positiveInt,
    numExperts: positiveInt,
    /** Zipf exponent s: the k-th hottest expert gets a share ∝ 1/k^s (0 = uniform). */
    exponent: z.number().finite(),
    /** Token→expert assignments per layer (tokens × topK). */
    assignmentsPerLayer: z.number().finite().nonnegative().max(MAX_LOAD, `at most ${MAX_LOAD}, the bound on one expert's load (a hot expert can take nearly all)`),
    seed: z.number().int().min(0).max(0xffffffff),
    /**
     * Loads as MoGE routing makes them: every one of these contiguous groups receives the same
     * number of assignments (K/M per token in each group) and the Zipf skew applies inside each
     * group. Omit for plain top-k routing, where the skew spans all experts.
     */
    moGeGroups: positiveInt.optional(),
  })
  .superRefine((o, ctx) => {
    if (o.moGeGroups !== undefined && o.numExperts % o.moGeGroups !== 0) {
      ctx.addIssue({ code: 'custom', path: ['moGeGroups'], input: o.moGeGroups, message: `a positive divisor of numExperts (${o.numExperts})` });
    }
  });
export type ZipfLoadOptions = z.input<typeof ZipfLoadOptionsSchema>;

/** Zipf shares of n items, summing to 1: item k (0-based) gets ∝ 1/(k+1)^s. */
function zipfShares(n: number, exponent: number): Float64Array {
  const shares = new Float64Array(n);
  let total = 0;
  for (let k = 0; k < n; k++) total += shares[k] = 1 / Math.pow(k + 1, exponent);
  // A large negative exponent overflows (64^200 is Infinity) and Infinity / Infinity gave NaN loads;
  // then scale by the largest weight in log space. Finite totals keep the plain formula's bits.
  if (!Number.isFinite(total)) return zipfSharesLogSpace(n, exponent);
  for (let k = 0; k < n; k++) shares[k]! /= total;
  return shares;
}

function zipfSharesLogSpace(n: number, exponent: number): Float64Array {
  const shares = new Float64Array(n);
  let max = -Infinity;
  for (let k = 0; k < n; k++) max = Math.max(max, (shares[k] = -exponent * Math.log(k + 1)));
  let total = 0;
  for (let k = 0; k < n; k++) total += shares[k] = Math.exp(shares[k]! - max);
  for (let k = 0; k < n; k++) shares[k]! /= total;
  return shares;
}

/**
 * Synthetic skewed expert loads: expected Zipf counts with the hot experts shuffled per layer
 * (seeded), so the hottest experts differ between layers and do not line up with groups.
 * Expected counts, not samples, so a benchmark measures the policy and not the sampling noise.
 */
export function zipfLoads(optionsInput: ZipfLoadOptions): LoadMatrix {
  const options = parseWith(ZipfLoadOptionsSchema, optionsInput, 'zipf load options');
  const { numLayers, numExperts, exponent, assignmentsPerLayer, seed } = options;
  const groups = options.moGeGroups ?? 1;
  const groupSize = numExperts / groups;
  const shares = zipfShares(groupSize, exponent);
  const perGroup = assignmentsPerLayer / groups;
  const rng = new Rng(seed);
  const rows: Float64Array[] = [];
  const perm = new Int32Array(groupSize);
  for (let l = 0; l < numLayers; l++) {
    const layerRng = rng.fork(`layer.${l}`);
    const row = new Float64Array(numExperts);
    for (let g = 0; g < groups; g++) {
      for (let i = 0; i < groupSize; i++) perm[i] = i;
      layerRng.shuffle(perm);
      for (let k = 0; k < groupSize; k++) row[g * groupSize + perm[k]!] = perGroup * shares[k]!;
    }
    rows.push(row);
  }
  return loadMatrixFromRows(rows);
}
