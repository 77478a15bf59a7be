import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createReferenceBackend } from '@moge/ascend-hal';
import { crossEntropy } from './loss';
import { IGNORE_LABEL } from './batch';

const b = createReferenceBackend();

/** Float64 reference: mean over labelled rows of logsumexp(z) − z_y, and its gradient. */
function reference(z: number[][], labels: number[]): { loss: number; grad: number[][] } {
  const rows = labels.map((y, i) => [y, i] as const).filter(([y]) => y !== IGNORE_LABEL);
  let loss = 0;
  const grad = z.map((r) => r.map(() => 0));
  for (const [y, i] of rows) {
    const m = Math.max(...z[i]!);
    const total = z[i]!.reduce((s, v) => s + Math.exp(v - m), 0);
    loss += m + Math.log(total) - z[i]![y]!;
    z[i]!.forEach((v, j) => (grad[i]![j] = (Math.exp(v - m) / total - (j === y ? 1 : 0)) / rows.length));
  }
  return { loss: rows.length ? loss / rows.length : 0, grad };
}

describe('crossEntropy', () => {
  it('equals a float64 log-softmax reference, loss and gradient, with ignored rows (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 2, max: 12 }),
        fc.integer({ min: 0, max: 1 << 30 }),
        (t, v, seed) => {
          const z = Array.from({ length: t }, (_, i) => Array.from({ length: v }, (_, j) => Math.fround(Math.sin(seed + i * 13 + j * 7) * 8)));
          const labels = Array.from({ length: t }, (_, i) => ((seed >> i) & 3) === 0 ? IGNORE_LABEL : (seed + i) % v);
          const ce = crossEntropy(b, b.fromArray(z.flat(), [t, v]), Int32Array.from(labels), true);
          const ref = reference(z, labels);
          expect(ce.count).toBe(labels.filter((y) => y !== IGNORE_LABEL).length);
          expect(Math.abs(ce.loss - ref.loss)).toBeLessThan(1e-5 * Math.max(1, ref.loss));
          const got = b.read(ce.dLogits!);
          ref.grad.flat().forEach((g, k) => expect(Math.abs(got[k]! - g)).toBeLessThan(1e-6));
        },
      ),
    );
  });

  it('stays exact when the label probability underflows float32', () => {
    // p_y = e^-300: far below float32's range, so log p_y comes from the host fallback.
    const ce = crossEntropy(b, b.fromArray([300, 0, 0, 0, 1, 2], [2, 3]), Int32Array.of(1, 2), false);
    const second = Math.log(Math.exp(0) + Math.exp(1) + Math.exp(2)) - 2;
    expect(ce.loss).toBeCloseTo((300 + Math.log(1 + 2 * Math.exp(-300)) + second) / 2, 6);
    expect(ce.dLogits).toBeUndefined();
  });

  it('is zero with a zero gradient when every label is ignored, and names a bad label', () => {
    const ce = crossEntropy(b, b.zeros([2, 3]), Int32Array.of(-1, -1), true);
    expect(ce).toMatchObject({ loss: 0, count: 0 });
    expect(Array.from(b.read(ce.dLogits!))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(() => crossEntropy(b, b.zeros([1, 3]), Int32Array.of(3), true)).toThrow(/labels\[0\]: got 3/);
  });
});
