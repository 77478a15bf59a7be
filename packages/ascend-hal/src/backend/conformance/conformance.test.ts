import { describe, expect, it } from 'vitest';
import { createReferenceBackend } from '../reference/reference-backend';
import { fromValues } from './case-builder';
import { compareOutputs } from './compare';
import { backendConformanceCases, checkConformanceCase, runBackendConformance } from './conformance';

describe('conformance suite', () => {
  const cases = backendConformanceCases();

  it('has unique names and covers every kernel of Backend', () => {
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
    const kernels = new Set(cases.map((c) => c.kernel));
    const be = createReferenceBackend();
    const members = Object.keys(be).filter((k) => typeof (be as unknown as Record<string, unknown>)[k] === 'function' && k !== 'read');
    for (const m of members) expect(kernels, m).toContain(m);
  });

  it('is self-consistent on the reference backend: valid cases run, invalid ones throw', () => {
    const failures = runBackendConformance(createReferenceBackend).filter((r) => r.failure !== null);
    expect(failures).toEqual([]);
  });

  it('catches a backend that is off by more than the tolerance', () => {
    const honest = createReferenceBackend();
    const sloppy = { ...honest, affine: (a: Parameters<typeof honest.affine>[0], s: number, t?: number) => honest.affine(a, s * (1 + 1e-4), t) };
    const c = cases.find((x) => x.kernel === 'affine')!;
    expect(checkConformanceCase(c, sloppy, honest)).toMatch(/expected/);
    const lax = { ...honest, rope: () => honest.zeros([1]) };
    const invalid = cases.find((x) => x.name === 'rope rejects an odd head dimension')!;
    expect(checkConformanceCase(invalid, lax, honest)).toMatch(/expected the kernel to throw/);
  });

  it('compares with a relative tolerance and an absolute floor scaled by the output', () => {
    const ref = [fromValues([3], [100, 1e-9, -2])];
    expect(compareOutputs([fromValues([3], [100.0005, 5e-4, -2])], ref)).toBeNull();
    expect(compareOutputs([fromValues([3], [100.01, 0, -2])], ref)).toMatch(/output 0\[0\]/);
    expect(compareOutputs([fromValues([2], [1, 2])], ref)).toMatch(/shape/);
    expect(compareOutputs([fromValues([1], [NaN])], [fromValues([1], [NaN])])).toBeNull();
  });

  it('matches an infinity only with the same infinity, and scales the floor by finite values alone', () => {
    const withInf = [fromValues([3], [Infinity, 1, -Infinity])];
    expect(compareOutputs([fromValues([3], [Infinity, 1, -Infinity])], withInf)).toBeNull();
    expect(compareOutputs([fromValues([3], [-Infinity, 1, -Infinity])], withInf)).toMatch(/output 0\[0\]: -Infinity, expected Infinity/);
    expect(compareOutputs([fromValues([3], [3e38, 1, -Infinity])], withInf)).toMatch(/output 0\[0\]/);
    expect(compareOutputs([fromValues([3], [Infinity, 1, 0])], withInf)).toMatch(/output 0\[2\]/);
    // An ∞ elsewhere in the output must not widen the allowance of the finite values.
    expect(compareOutputs([fromValues([3], [Infinity, 2, -Infinity])], withInf)).toMatch(/output 0\[1\]: 2, expected 1/);
    expect(compareOutputs([fromValues([2], [Infinity, 1])], [fromValues([2], [1, 1])])).toMatch(/output 0\[0\]: Infinity, expected 1/);
  });
});
