import { describe, expect, it } from 'vitest';
import { ValidationError } from '@moge/core';
import { findChip } from '../catalog/chips';
import { estimateOpTime } from './estimate-op';
import { fitMatmulEfficiency, matmulRmsLogError } from './fit';
import { getEfficiencyProfile } from './profiles';

const chip = findChip('nvidia-h200')!;
const base = getEfficiencyProfile('nvidia-h200');
const rows = base.measurements!.matmul;

function predictionErrors(profile: typeof base, testRows: typeof rows): number[] {
  return testRows.map((r) => estimateOpTime(chip, { kind: 'matmul', m: r.m, k: r.k, n: r.n, dtype: r.dtype }, { profile }).timeS / r.timeS - 1);
}

describe('fitMatmulEfficiency on the H200 rows of targets.md', () => {
  it('the profile holds all ten measured rows', () => {
    expect(rows).toHaveLength(10);
  });

  it.each([
    ['even', 0],
    ['odd', 1],
  ])('fitted on the %s rows, predicts the other half within 15 % (time)', (_label, parity) => {
    const train = rows.filter((_, i) => i % 2 === parity);
    const test = rows.filter((_, i) => i % 2 !== parity);
    const fit = fitMatmulEfficiency(train, { chip, base });
    for (const err of predictionErrors(fit.profile, test)) expect(Math.abs(err)).toBeLessThan(0.15);
  });

  it('the stored H200 profile is what the fitter returns for its own rows (no hand-tuned numbers)', () => {
    const fit = fitMatmulEfficiency(rows, { chip, base });
    const stored = matmulRmsLogError(chip, base, rows);
    const refit = JSON.stringify({ effMax: fit.effMax, w0Flops: fit.w0Flops, alpha: fit.alpha, launchOverheadS: fit.launchOverheadS });
    // If the fitter improves, refresh profiles/nvidia-h200.json with these values.
    expect(stored, `refit gives ${refit}`).toBeLessThanOrEqual(fit.rmsLogError * 1.01 + 1e-9);
    expect(base.matmul.effMax.value).toBeCloseTo(fit.effMax, 3);
    expect(base.launchOverheadS.value / fit.launchOverheadS).toBeCloseTo(1, 3);
  });

  it('the full fit reproduces every row within 10 % and marks its numbers measured', () => {
    const fit = fitMatmulEfficiency(rows, { chip, base });
    for (const err of predictionErrors(fit.profile, rows)) expect(Math.abs(err)).toBeLessThan(0.1);
    expect(fit.profile.matmul.alpha.confidence).toBe('measured');
  });

  it('refuses too few rows and bad rows, naming the field', () => {
    expect(() => fitMatmulEfficiency(rows.slice(0, 3), { chip, base })).toThrow(ValidationError);
    try {
      fitMatmulEfficiency([...rows.slice(0, 4), { ...rows[0]!, timeS: -1 }], { chip, base });
    } catch (e) {
      expect((e as ValidationError).issues[0]!.path).toBe('[4].timeS');
    }
  });
});
