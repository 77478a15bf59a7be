import { median } from '../../packages/ascend-hal/bench/timing';

/**
 * `rounds` rounds of two sides, side 1 first in even rounds and side 0 first in odd ones, so that a
 * drift in the host's load hits both alike; `run(side)` returns that side's result for the round.
 * What the A/B tools in this folder share.
 */
export function alternateRounds<T>(rounds: number, run: (side: 0 | 1) => T): [T[], T[]] {
  const out: [T[], T[]] = [[], []];
  for (let r = 0; r < rounds; r++) for (const s of r % 2 ? ([0, 1] as const) : ([1, 0] as const)) out[s].push(run(s));
  return out;
}

/** "median m, quartiles q1–q3" of the per-round ratios a[r] / b[r]. */
export function ratioSummary(a: readonly number[], b: readonly number[]): string {
  const ratios = a.map((x, r) => x / b[r]!).sort((p, q) => p - q);
  const quartile = (q: number) => ratios[Math.min(ratios.length - 1, Math.floor(ratios.length * q))]!;
  return `median ${median(ratios).toFixed(3)}, quartiles ${quartile(0.25).toFixed(3)}–${quartile(0.75).toFixed(3)}`;
}
