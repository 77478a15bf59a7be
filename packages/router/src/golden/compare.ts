import type { RouterCaseResult } from './router-cases';

/**
 * Compares router-case results with a reference (e.g. the `expected` blocks of
 * `shared/golden/router-cases.json`): ids and counts exactly, real values to a relative tolerance.
 * Returns one line per mismatch naming the case and the field, so a failing check says where.
 */
export interface CompareTolerance {
  /** Relative tolerance on real values (probs, weights, aux loss, imbalance score, device loads). */
  relTol: number;
  /**
   * Absolute floor, for reference values of (or near) zero where a relative error is meaningless.
   * The default is tiny: the golden probabilities' smallest entries are ~1e-6, far above it.
   */
  absTol: number;
}

type Expected = Omit<RouterCaseResult, 'name'>;

const DEFAULT_TOLERANCE: CompareTolerance = { relTol: 1e-5, absTol: 1e-12 };

function closeEnough(actual: number, expected: number, tol: CompareTolerance): boolean {
  return Math.abs(actual - expected) <= Math.max(tol.absTol, tol.relTol * Math.abs(expected));
}

function compareReal(what: string, actual: readonly number[], expected: readonly number[], tol: CompareTolerance, out: string[]): void {
  if (actual.length !== expected.length) {
    out.push(`${what}: got ${actual.length} values, expected ${expected.length}`);
    return;
  }
  for (let i = 0; i < expected.length; i++) {
    if (!closeEnough(actual[i]!, expected[i]!, tol)) {
      out.push(`${what}[${i}]: got ${actual[i]}, expected ${expected[i]} (relative tolerance ${tol.relTol})`);
      return; // the first mismatch of a field is enough to locate it
    }
  }
}

function compareExact(what: string, actual: readonly number[], expected: readonly number[], out: string[]): void {
  if (actual.length !== expected.length || actual.some((x, i) => x !== expected[i])) {
    out.push(`${what}: got [${actual.join(', ')}], expected [${expected.join(', ')}] exactly`);
  }
}

function compareRows(what: string, actual: readonly number[][], expected: readonly number[][], check: (w: string, a: number[], e: number[]) => void, out: string[]): void {
  if (actual.length !== expected.length) {
    out.push(`${what}: got ${actual.length} rows, expected ${expected.length}`);
    return;
  }
  expected.forEach((row, t) => check(`${what}[${t}]`, actual[t]!, row));
}

/** Mismatches of one case (empty = it matches). */
export function compareRouterCase(actual: Expected, expected: Expected, what = 'case', tolerance: Partial<CompareTolerance> = {}): string[] {
  const tol = { ...DEFAULT_TOLERANCE, ...tolerance };
  const out: string[] = [];
  compareRows(`${what}.expert_ids`, actual.expert_ids, expected.expert_ids, (w, a, e) => compareExact(w, a, e, out), out);
  compareExact(`${what}.expert_counts`, actual.expert_counts, expected.expert_counts, out);
  compareRows(`${what}.probs`, actual.probs, expected.probs, (w, a, e) => compareReal(w, a, e, tol, out), out);
  compareRows(`${what}.weights`, actual.weights, expected.weights, (w, a, e) => compareReal(w, a, e, tol, out), out);
  compareReal(`${what}.aux_loss_unscaled`, [actual.aux_loss_unscaled], [expected.aux_loss_unscaled], tol, out);
  compareReal(`${what}.imbalance_score`, [actual.imbalance_score], [expected.imbalance_score], tol, out);
  compareReal(`${what}.device_load`, actual.device_load, expected.device_load, tol, out);
  return out;
}

/** Mismatches of every case, matched by position; names must agree too. */
export function compareRouterCases(
  actual: readonly RouterCaseResult[],
  expected: readonly (Expected & { name: string })[],
  tolerance: Partial<CompareTolerance> = {},
): string[] {
  if (actual.length !== expected.length) return [`cases: got ${actual.length}, expected ${expected.length}`];
  return expected.flatMap((e, i) => {
    const a = actual[i]!;
    const what = `cases[${i}] (${e.name})`;
    if (a.name !== e.name) return [`${what}.name: got ${JSON.stringify(a.name)}, expected ${JSON.stringify(e.name)}`];
    return compareRouterCase(a, e, what, tolerance);
  });
}
