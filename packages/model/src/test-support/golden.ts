import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedDir } from '../../../../tools/test/shared-dir';

/** The shared golden vectors, read in place (never copied): `<shared>/golden/<name>`. */
export function goldenDir(name: string): string {
  return join(sharedDir(), 'golden', name);
}

export interface GoldenExpected {
  input_ids: number[][];
  loss: { cross_entropy: number; aux_alpha: number; aux_unscaled_per_layer: number[]; total: number };
  logits: number[];
  logits_shape: number[];
  routing: { layer: number; expert_ids: number[][]; weights: number[][]; counts: number[] }[];
}

export function readGoldenExpected(name: string): GoldenExpected {
  return JSON.parse(readFileSync(join(goldenDir(name), 'expected.json'), 'utf8')) as GoldenExpected;
}

/** ‖a − b‖ / ‖b‖ (0 when both are zero). */
export function relativeErrorNorm(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let ref = 0;
  for (let i = 0; i < b.length; i++) {
    diff += (a[i]! - b[i]!) ** 2;
    ref += b[i]! ** 2;
  }
  return ref === 0 ? Math.sqrt(diff) : Math.sqrt(diff / ref);
}

/** Largest elementwise |a − b| / max(|b|, floor): relative, with an absolute floor near zero. */
export function maxRelativeError(a: ArrayLike<number>, b: ArrayLike<number>, floor = 0.1): number {
  let worst = 0;
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(Math.abs(b[i]!), floor));
  return worst;
}

/**
 * The golden README's tolerance, |a − b| ≤ rel·|b| + abs elementwise, as the worst ratio of the error
 * to its allowance: ≤ 1 passes. (Relative alone fails logits that are near zero by chance.)
 */
export function worstToleranceRatio(a: ArrayLike<number>, b: ArrayLike<number>, rel: number, abs: number): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / (rel * Math.abs(b[i]!) + abs));
  return Number.isNaN(worst) ? Infinity : worst;
}
