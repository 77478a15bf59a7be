import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { loadMatrixFromRows } from '../loads/load-matrix';
import { EmaLoadPredictor } from './ema';

describe('EmaLoadPredictor', () => {
  it('predicts nothing before the first step, then α·new + (1 − α)·old', () => {
    const ema = new EmaLoadPredictor(0.25);
    expect(ema.predict()).toBeNull();
    ema.observe(loadMatrixFromRows([[100, 0]]));
    ema.observe(loadMatrixFromRows([[0, 100]]));
    expect(Array.from(ema.predict()!.layers[0]!)).toEqual([75, 25]);
    expect(ema.steps).toBe(2);
  });

  it('a constant load is predicted exactly, and α = 1 predicts the last step', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 8 }), fc.double({ min: 0.01, max: 1, noNaN: true }), (row, alpha) => {
        const ema = new EmaLoadPredictor(alpha);
        for (let i = 0; i < 5; i++) ema.observe(loadMatrixFromRows([row]));
        Array.from(ema.predict()!.layers[0]!).forEach((v, e) => expect(v).toBeCloseTo(row[e]!, 9));
        const last = new EmaLoadPredictor(1);
        last.observe(loadMatrixFromRows([row]));
        last.observe(loadMatrixFromRows([row.map((v) => v + 1)]));
        expect(Array.from(last.predict()!.layers[0]!)).toEqual(row.map((v) => v + 1));
      }),
    );
  });

  it('rejects α outside (0, 1] and steps of another shape', () => {
    expect(() => new EmaLoadPredictor(0)).toThrow(/alpha must be in \(0, 1\]/);
    const ema = new EmaLoadPredictor(0.5);
    ema.observe(loadMatrixFromRows([[1, 2]]));
    expect(() => ema.observe(loadMatrixFromRows([[1, 2, 3]]))).toThrow(/1×3 loads, earlier steps 1×2/);
  });

  it('refuses NaN, negative and wrong-length rows, which would stay in the average for good', () => {
    const ema = new EmaLoadPredictor(0.5);
    ema.observe(loadMatrixFromRows([[1, 2]]));
    expect(() => ema.observe({ numLayers: 1, numExperts: 2, layers: [Float64Array.from([1, Number.NaN])] })).toThrow(/layers\[0\]\[1\]: got NaN/);
    expect(() => ema.observe({ numLayers: 1, numExperts: 2, layers: [Float64Array.from([-1, 1])] })).toThrow(/layers\[0\]\[0\]: got -1/);
    expect(() => ema.observe({ numLayers: 1, numExperts: 2, layers: [Float64Array.from([1, 1, 1])] })).toThrow(/layers\[0\]: got 3, expected 2 entries/);
    expect(Array.from(ema.predict()!.layers[0]!)).toEqual([1, 2]);
  });
});
