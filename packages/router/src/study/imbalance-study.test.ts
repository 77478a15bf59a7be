import { ValidationError } from '@moge/core';
import { describe, expect, it } from 'vitest';
import { formatImbalanceStudy } from './format';
import { runImbalanceStudy, type StudyProgress } from './imbalance-study';

describe('runImbalanceStudy (IS-1)', () => {
  it('reproduces the paper at 16 tokens: top-k mean IS ≈ 0.67, P(IS > 0) ≈ 1; MoGE exactly 0', () => {
    const progress: StudyProgress[] = [];
    const r = runImbalanceStudy({ batchSizes: [16], trials: 2000, seed: 1 }, (p) => progress.push(p));
    const topk = r.rows.find((x) => x.router === 'topk')!;
    const moge = r.rows.find((x) => x.router === 'moge')!;
    expect(Math.abs(topk.meanIS - 0.67)).toBeLessThanOrEqual(0.02);
    expect(topk.pImbalanced).toBeGreaterThan(0.99);
    // IS moves in steps of 1/16 here and the median sits on the 0.625 | 0.6875 boundary (0.625 at 20k trials).
    expect(Math.abs(topk.medianIS - 0.625)).toBeLessThanOrEqual(0.0625);
    expect(topk.trials).toBe(2000);
    expect(topk.stderrIS).toBeLessThan(0.01);
    expect(moge).toMatchObject({ meanIS: 0, medianIS: 0, pImbalanced: 0, stderrIS: 0 });
    expect(r.backend).toBe('reference');
    expect(progress.at(-1)).toEqual({ done: 4000, total: 4000 });
  });

  it('shrinks like 1/√|X| at 64 and 256 tokens (≈ 0.34 and ≈ 0.17)', () => {
    const r = runImbalanceStudy({ batchSizes: [64, 256], trials: 300, seed: 2 });
    const mean = (tokens: number) => r.rows.find((x) => x.router === 'topk' && x.tokens === tokens)!.meanIS;
    expect(Math.abs(mean(64) - 0.34)).toBeLessThan(0.03);
    expect(Math.abs(mean(256) - 0.17)).toBeLessThan(0.02);
    expect(r.rows.filter((x) => x.router === 'moge').every((x) => x.meanIS === 0)).toBe(true);
  });

  it('is reproducible from its seed', () => {
    const a = runImbalanceStudy({ batchSizes: [16], trials: 50, seed: 9 });
    const b = runImbalanceStudy({ batchSizes: [16], trials: 50, seed: 9 });
    const c = runImbalanceStudy({ batchSizes: [16], trials: 50, seed: 10 });
    expect(b.rows).toEqual(a.rows);
    expect(c.rows[0]!.meanIS).not.toBe(a.rows[0]!.meanIS);
  });

  it('validates its options', () => {
    expect(() => runImbalanceStudy({ trials: 0 })).toThrow(ValidationError);
    expect(() => runImbalanceStudy({ numDevices: 3 })).toThrow(/numDevices: got 3, expected a divisor of numExperts \(64\)/);
    expect(() => runImbalanceStudy({ topK: 4 })).toThrow(/topK: got 4, expected a multiple of numDevices \(8\)/);
  });
});

describe('formatImbalanceStudy', () => {
  it('prints one row per router and batch size, with the paper reference for top-k', () => {
    const text = formatImbalanceStudy(runImbalanceStudy({ batchSizes: [64, 16], trials: 40, seed: 3 }));
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toMatch(/E=64 experts, K=8, D=8 devices of 8 contiguous experts, seed 3, backend reference/);
    expect(lines[1]).toMatch(/^router\s+tokens\s+trials\s+mean IS\s+stderr\s+median IS\s+P\(IS>0\)\s+paper mean$/);
    // Sorted by batch size, top-k first; MoGE rows are exactly zero and have no paper figure.
    expect(lines[3]).toMatch(/^topk\s+16\s+40\s+0\.\d{4}\s+±0\.\d{4}\s+0\.\d{4}\s+1\.000\s+0\.67$/);
    expect(lines[4]).toMatch(/^moge\s+16\s+40\s+0\.0000\s+±0\.0000\s+0\.0000\s+0\.000\s+-$/);
    expect(lines[5]).toMatch(/^topk\s+64 .* 0\.34$/);
    expect(lines[6]).toMatch(/^moge\s+64 /);
    expect(lines.at(-1)).toMatch(/IS-1/);
  });

  it('shows no paper figure outside the paper setting', () => {
    const text = formatImbalanceStudy(runImbalanceStudy({ batchSizes: [16], trials: 10, numExperts: 32, topK: 4, numDevices: 4 }));
    expect(text).not.toMatch(/IS-1/);
    expect(text).toMatch(/^topk\s+16\s+10\s.*\s-$/m);
  });
});
