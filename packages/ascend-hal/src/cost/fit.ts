import { parseWith, sourced, ValidationError } from '@moge/core';
import { z } from 'zod';
import type { ChipSpec } from '../catalog/schemas';
import { estimateOpTime } from './estimate-op';
import { nelderMead } from './nelder-mead';
import { MatmulRowSchema, type EfficiencyProfile, type MatmulRow } from './profile';

export interface MatmulFitOptions {
  chip: ChipSpec;
  /** Supplies everything the fit does not touch (HBM efficiency, attention and vector factors). */
  base: EfficiencyProfile;
  /** Provenance recorded on the fitted numbers. */
  source?: string;
}

export interface MatmulFit {
  effMax: number;
  w0Flops: number;
  alpha: number;
  launchOverheadS: number;
  /** Root mean square of ln(predicted / measured time) over the rows. */
  rmsLogError: number;
  /** `base` with the fitted curve and overhead, marked measured. */
  profile: EfficiencyProfile;
}

const logistic = (x: number) => 1 / (1 + Math.exp(-x));
const logit = (p: number) => Math.log(p / (1 - p));

function withParams(base: EfficiencyProfile, p: readonly number[], source: string): EfficiencyProfile {
  const [effLogit, logW0, alphaLogit, logOverhead] = p as [number, number, number, number];
  return {
    ...base,
    matmul: {
      effMax: sourced(logistic(effLogit), source, 'measured'),
      w0Flops: sourced(Math.exp(logW0), source, 'measured'),
      // In (0, 1], as MatmulCurveSchema requires (time must grow with the work): a logistic, not a
      // cap, so the loss has no flat region beyond 1 for the simplex to wander in (a curve with
      // alpha ≈ 1 was fitted 3 % off that way).
      alpha: sourced(logistic(alphaLogit), source, 'measured'),
    },
    launchOverheadS: sourced(Math.exp(logOverhead), source, 'measured'),
  };
}

/** Root mean square log error of a profile's predictions over GEMM rows. */
export function matmulRmsLogError(chip: ChipSpec, profile: EfficiencyProfile, rows: readonly MatmulRow[]): number {
  let sum = 0;
  for (const r of rows) {
    const t = estimateOpTime(chip, { kind: 'matmul', m: r.m, k: r.k, n: r.n, dtype: r.dtype }, { profile }).timeS;
    sum += Math.log(t / r.timeS) ** 2;
  }
  return Math.sqrt(sum / rows.length);
}

/**
 * Fits the matmul efficiency curve (effMax, w0Flops, alpha) and the launch overhead to timed GEMMs
 * by least squares on log time, through the same roofline `estimateOpTime` uses, so a fitted
 * profile reproduces its rows by construction. Memory-bound rows inform the overhead; the HBM
 * efficiency stays that of `base` (a copy benchmark measures it better than GEMMs can).
 */
export function fitMatmulEfficiency(rows: readonly MatmulRow[], options: MatmulFitOptions): MatmulFit {
  const parsed = parseWith(z.array(MatmulRowSchema), rows, 'matmul rows');
  if (parsed.length < 4) {
    throw new ValidationError('matmul rows', [{ path: 'length', received: parsed.length, expected: 'at least 4 rows for 4 parameters' }]);
  }
  const { chip, base } = options;
  const source = options.source ?? `fitted by fitMatmulEfficiency to ${parsed.length} GEMM rows`;
  // Start from what the data says: the best achieved efficiency, the median work, half the fastest run.
  const achieved = parsed.map((r) => (2 * r.m * r.k * r.n) / r.timeS / chip.peakFlops[r.dtype === 'int4' ? 'int8' : r.dtype].value);
  const works = parsed.map((r) => 2 * r.m * r.k * r.n).sort((a, b) => a - b);
  const loss = (p: number[]) => {
    const err = matmulRmsLogError(chip, withParams(base, p, source), parsed);
    return Number.isFinite(err) ? err : Number.POSITIVE_INFINITY;
  };
  // The loss has flat valleys and local minima (a curve that saturates before the smallest row, or
  // one with alpha → 0, fits many rows passably), and a single start ended 9–28 % off on rows made by
  // a curve of this very form. So a coarse grid over the knee (log-spaced from a hundredth of the
  // smallest work to ten times the largest) and the slope picks the starts for Nelder–Mead (the
  // five best, and the best of each slope); the best of those is then restarted.
  const effStart = logit(Math.min(0.95, Math.max(...achieved) * 1.05));
  const overheadStart = Math.log(Math.min(...parsed.map((r) => r.timeS)) / 4);
  const [lo, hi] = [Math.log(works[0]! / 100), Math.log(works[works.length - 1]! * 10)];
  const grid: { x: number[]; value: number }[] = [];
  for (let i = 0; i <= 16; i++) {
    for (const alpha of [0.1, 0.15, 0.2, 0.3, 0.4, 0.6, 0.8, 0.99]) {
      const x = [effStart, lo + ((hi - lo) * i) / 16, logit(alpha), overheadStart];
      grid.push({ x, value: loss(x) });
    }
  }
  grid.sort((a, b) => a.value - b.value);
  let best = { x: grid[0]!.x, value: grid[0]!.value };
  // A valley of one slope can hold the grid's whole top five while the truth lies on another: a low
  // ceiling with its knee near 2–3 GFLOP and alpha ≈ 1 was fitted with alpha 0.7, rows 10 % off.
  const bestPerSlope = [...new Map([...grid].reverse().map((g) => [g.x[2], g] as const)).values()];
  for (const g of new Set([...grid.slice(0, 5), ...bestPerSlope])) {
    const tried = nelderMead(loss, g.x);
    if (tried.value < best.value) best = tried;
  }
  // Restarting from the best point escapes the simplex collapsing early on a flat direction.
  for (let restart = 0; restart < 5; restart++) best = nelderMead(loss, best.x, 2000, 0.3);
  const profile = withParams(base, best.x, source);
  return {
    effMax: profile.matmul.effMax.value,
    w0Flops: profile.matmul.w0Flops.value,
    alpha: profile.matmul.alpha.value,
    launchOverheadS: profile.launchOverheadS.value,
    rmsLogError: best.value,
    profile,
  };
}
