import { describe, expect, it } from 'vitest';
import { parseWith } from '@moge/core';
import { getPreset } from '@moge/model';
import { ArchRangesSchema, enumerateArchs } from './arch-ranges';

const small = getPreset('moge-small') as unknown as Record<string, unknown>;
const parse = (ranges: unknown) => parseWith(ArchRangesSchema, ranges, 'architecture ranges');

describe('ArchRangesSchema', () => {
  it('varies the fields it is given', () => {
    expect(enumerateArchs(parse({ base: small, vary: { numLayers: [2, 4] } })).map((a) => a.numLayers)).toEqual([2, 4]);
    expect(parse({ base: small })).toMatchObject({ vary: {}, totalParams: { min: 0, max: Infinity } });
  });

  it('refuses a misspelt vary field, naming it and the MoeArch field meant, instead of searching one architecture', () => {
    expect(() => parse({ base: small, vary: { numLayer: [2, 4] } })).toThrow(/vary\.numLayer: got \[2,4\], expected no such field; did you mean "numLayers"\?/);
    expect(() => parse({ base: small, vary: { hiddenSize: [64], numkvheads: [1, 2] } })).toThrow(/vary\.numkvheads: .*did you mean "numKvHeads"\?/);
  });

  it('says which fields can vary when the key is a fixed MoeArch field or nothing like one', () => {
    expect(() => parse({ base: small, vary: { vocabSize: [1000] } })).toThrow(/vary\.vocabSize: got \[1000\], expected a field that can be varied; "vocabSize" is fixed by the base \(can vary: numLayers, hiddenSize/);
    expect(() => parse({ base: small, vary: { depth: [2] } })).toThrow(/vary\.depth: got \[2\], expected no such field \(can vary: numLayers,/);
    expect(() => parse({ base: small, vary: [2] })).toThrow(/vary: got \[2\], expected an object of field: \[values\]/);
  });

  it('refuses unknown fields of the budget and at the top level too', () => {
    expect(() => parse({ base: small, totalParams: { mx: 1e9 } })).toThrow(/totalParams\.mx: got 1000000000, expected no such field; did you mean "max"\?/);
    expect(() => parse({ base: small, totalParam: { max: 1e9 } })).toThrow(/totalParam: .*did you mean "totalParams"\?/);
  });

  it('refuses a budget whose max is below its min, naming it', () => {
    expect(() => parse({ base: small, totalParams: { min: 8e10, max: 6e10 } })).toThrow(/totalParams\.max: got 60000000000, expected at least min/);
  });
});
