/**
 * max/mean of a load vector (tokens per device, rank or expert): the busiest one over the average.
 * 1 is perfect balance, and it is also the value when every load is 0: nothing was routed, so nothing
 * is imbalanced (DeepSeek's EPLB reports the inverse, mean/max, and calls such a layer balanced too).
 * Router statistics (`@moge/router`) and expert placements (`@moge/ep-planner`) both report it through
 * this one function, so an idle layer reads the same in both; before, the router said 0 and the
 * planner 1.
 *
 * Loads must be at least one, each finite and ≥ 0: an empty vector has no mean, and a NaN, infinite or
 * negative load gives a ratio that means nothing (NaN, or a "balanced" 1 for loads summing to 0).
 */
export function maxOverMean(loads: ArrayLike<number>): number {
  if (loads.length === 0) throw new RangeError('max/mean loads: got none, expected one load per device (at least one device)');
  let max = -Infinity;
  let sum = 0;
  for (let d = 0; d < loads.length; d++) {
    const v = loads[d]!;
    if (!(Number.isFinite(v) && v >= 0)) throw new RangeError(`max/mean loads[${d}]: got ${v}, expected a finite load ≥ 0`);
    sum += v;
    if (v > max) max = v;
  }
  const mean = sum / loads.length;
  return mean > 0 ? max / mean : 1;
}
