import { maxOverMean } from '@moge/core';

/**
 * Load-balance metrics on host arrays. Device d holds the contiguous experts [d·E/D, (d+1)·E/D),
 * the placement MoGE assumes (one group per device when M = D).
 */

/** Assignments per expert from row-major ids [T·K]. */
export function countExperts(expertIds: ArrayLike<number>, numExperts: number): Float64Array {
  const counts = new Float64Array(numExperts);
  for (let i = 0; i < expertIds.length; i++) {
    const id = expertIds[i]!;
    if (!(Number.isInteger(id) && id >= 0 && id < numExperts)) throw new RangeError(`expert id at ${i}: got ${id}, expected an integer in [0, ${numExperts})`);
    counts[id]! += 1;
  }
  return counts;
}

/** T_d: assignments landing on each of D devices of E/D contiguous experts. */
export function deviceLoads(expertCounts: ArrayLike<number>, numDevices: number): Float64Array {
  const e = expertCounts.length;
  if (!Number.isInteger(numDevices) || numDevices < 1 || e % numDevices !== 0) {
    throw new RangeError(`numDevices: got ${numDevices}, expected a positive divisor of numExperts (${e})`);
  }
  const per = e / numDevices;
  const loads = new Float64Array(numDevices);
  for (let i = 0; i < e; i++) loads[Math.floor(i / per)]! += expertCounts[i]!;
  return loads;
}

/**
 * Device loads are counts: at least one device, each load finite and ≥ 0. Without this an empty
 * vector gave an IS of −∞ and a CV of NaN, and a NaN load a NaN IS, all silently (core's
 * `maxOverMean` checks the same for max/mean).
 */
function checkLoads(loads: ArrayLike<number>, what: string): void {
  if (loads.length === 0) throw new RangeError(`${what} loads: got none, expected one load per device (at least one device)`);
  for (let d = 0; d < loads.length; d++) {
    const v = loads[d]!;
    if (!(Number.isFinite(v) && v >= 0)) throw new RangeError(`${what} loads[${d}]: got ${v}, expected a finite load ≥ 0`);
  }
}

/** Imbalance Score IS = (max_d T_d − min_d T_d) / |X|, |X| = tokens in the batch (Pangu Pro MoE §2). */
export function imbalanceScore(loads: ArrayLike<number>, tokens: number): number {
  // |X| is a token count; Infinity gave IS = 0 for any loads.
  if (!(Number.isInteger(tokens) && tokens > 0)) throw new RangeError(`imbalance score tokens: got ${tokens}, expected an integer > 0`);
  checkLoads(loads, 'imbalance score');
  let max = -Infinity;
  let min = Infinity;
  for (let d = 0; d < loads.length; d++) {
    max = Math.max(max, loads[d]!);
    min = Math.min(min, loads[d]!);
  }
  return (max - min) / tokens;
}

function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]!;
  return s / values.length;
}

/**
 * Busiest device over the mean device load: 1 = perfectly balanced, also when nothing was routed.
 * The one definition in `@moge/core`, shared with `@moge/ep-planner`'s placements, so an idle layer
 * reads 1 in both (this package used to report 0).
 */
export { maxOverMean };

/** Coefficient of variation of the loads: population standard deviation / mean (0 when nothing was routed). */
export function coefficientOfVariation(loads: ArrayLike<number>): number {
  checkLoads(loads, 'coefficient of variation');
  const m = mean(loads);
  if (m === 0) return 0;
  let ss = 0;
  for (let d = 0; d < loads.length; d++) ss += (loads[d]! - m) ** 2;
  return Math.sqrt(ss / loads.length) / m;
}

export interface BalanceMetrics {
  deviceLoad: Float64Array;
  imbalanceScore: number;
  maxOverMean: number;
  cv: number;
}

/** All balance metrics of one batch from its expert counts. */
export function balanceMetrics(expertCounts: ArrayLike<number>, numDevices: number, tokens: number): BalanceMetrics {
  const deviceLoad = deviceLoads(expertCounts, numDevices);
  return {
    deviceLoad,
    imbalanceScore: imbalanceScore(deviceLoad, tokens),
    maxOverMean: maxOverMean(deviceLoad),
    cv: coefficientOfVariation(deviceLoad),
  };
}
