import { describe, expect, it } from 'vitest';
import { ValidationError } from '@moge/core';
import { loadMatrixFromRows, parseLoadsFile } from './load-matrix';

describe('loads file', () => {
  it('parses {"loads": [[…], …]} into one Float64Array per layer', () => {
    const m = parseLoadsFile({ loads: [[1, 2.5], [0, 4]] });
    expect(m.numLayers).toBe(2);
    expect(m.numExperts).toBe(2);
    expect(Array.from(m.layers[0]!)).toEqual([1, 2.5]);
  });

  it('names the field at fault', () => {
    const issues = (value: unknown) => {
      try {
        parseLoadsFile(value, 'loads.json');
      } catch (e) {
        expect(e).toBeInstanceOf(ValidationError);
        return (e as ValidationError).message;
      }
      throw new Error('expected a ValidationError');
    };
    expect(issues({ loads: [[1, 2], [3]] })).toMatch(/loads\[1\]: got \[3\], expected 2 entries, as many as loads\[0\]/);
    expect(issues({ loads: [[1, 'x']] })).toMatch(/loads\[0\]\[1\]: got "x"/);
    expect(issues({ loads: [] })).toMatch(/loads: got \[\], expected at least one layer/);
    expect(issues({ layers: [[1]] })).toMatch(/invalid loads\.json:\n {2}- loads: got nothing/);
  });

  it('rejects negative and non-finite loads from code too', () => {
    expect(() => loadMatrixFromRows([[1, -1]])).toThrow(/layers\[0\]\[1\]: got -1, expected a finite load in \[0, 1000000000000000\]/);
    expect(() => loadMatrixFromRows([[1, Number.NaN]])).toThrow(/layers\[0\]\[1\]/);
    // Sums of such loads overflow to Infinity and every imbalance becomes NaN.
    expect(() => loadMatrixFromRows([[1, 1e308]])).toThrow(/layers\[0\]\[1\]: got 1e\+308/);
    expect(() => loadMatrixFromRows([[1, 2], [1]])).toThrow(/layers\[1\]: got 1, expected 2 entries/);
  });
});
