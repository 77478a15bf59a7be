import type { Backend } from '../backend';
import { createReferenceBackend } from '../reference/reference-backend';
import type { ConformanceCase } from './case-builder';
import { DEFAULT_TOLERANCE, compareOutputs, type Tolerance } from './compare';
import { binaryCases, pointwiseCases, reductionCases, unaryCases } from './elementwise-cases';
import { bufferCases, columnCases, gatherScatterCases, groupTopKCases } from './indexing-cases';
import { constantCases } from './constant-cases';
import { groupedMatmulCases, matmulCases } from './matmul-cases';
import { rmsNormCases, ropeCases, softmaxCases } from './normalisation-cases';
import { specialValueCases } from './special-value-cases';

/**
 * Every conformance case, for every kernel of `Backend`. Inputs are seeded, so the list (and its
 * data) is the same on every call; the reference backend's outputs are the expected values.
 */
export function backendConformanceCases(): ConformanceCase[] {
  return [
    ...bufferCases(),
    ...matmulCases(),
    ...groupedMatmulCases(),
    ...unaryCases(),
    ...binaryCases(),
    ...pointwiseCases(),
    ...reductionCases(),
    ...softmaxCases(),
    ...rmsNormCases(),
    ...ropeCases(),
    ...gatherScatterCases(),
    ...columnCases(),
    ...groupTopKCases(),
    ...constantCases(),
    ...specialValueCases(),
  ];
}

export interface ConformanceResult {
  name: string;
  kernel: string;
  /** Null when the candidate conforms; otherwise what went wrong. */
  failure: string | null;
}

function describeError(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/**
 * Runs one case on the candidate and on the oracle and compares. An `expectError` case conforms
 * when both throw; otherwise a throw from the candidate is a failure (an oracle throw is a bug in
 * the case itself and is reported too).
 */
export function checkConformanceCase(
  c: ConformanceCase,
  candidate: Backend,
  oracle: Backend = createReferenceBackend(),
  tolerance: Tolerance = DEFAULT_TOLERANCE,
): string | null {
  if (c.expectError) {
    try {
      c.run(candidate);
    } catch {
      return null;
    }
    return 'expected the kernel to throw on invalid input, but it returned';
  }
  let expected;
  try {
    expected = c.run(oracle);
  } catch (e) {
    return `oracle failed: ${describeError(e)}`;
  }
  try {
    return compareOutputs(c.run(candidate), expected, tolerance);
  } catch (e) {
    return `threw ${describeError(e)}`;
  }
}

/** Runs the whole suite on a backend from `factory`; returns one result per case. */
export function runBackendConformance(
  factory: () => Backend,
  options: { tolerance?: Tolerance; filter?: (c: ConformanceCase) => boolean } = {},
): ConformanceResult[] {
  const candidate = factory();
  const oracle = createReferenceBackend();
  const cases = backendConformanceCases().filter(options.filter ?? (() => true));
  return cases.map((c) => ({ name: c.name, kernel: c.kernel, failure: checkConformanceCase(c, candidate, oracle, options.tolerance) }));
}
