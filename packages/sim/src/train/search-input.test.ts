import { describe, expect, it } from 'vitest';
import { MoeArchSchema, ValidationError } from '@moge/core';
import { parseClusterSpec } from '@moge/ascend-hal';
import { getPreset } from '@moge/model';
import { getSimProfile } from '../common/training-profile';
import { searchTraining, type SearchInput } from './search';

const base: SearchInput = { archs: [getPreset('moge-tiny')], cluster: parseClusterSpec('atlas-800t-a2:8'), globalBatchSize: 16, seqLength: 512, space: { pp: [1], cp: [1] }, top: 1 };

/** The search's error for `change`, or a failure when it returns (an empty result is what this guards against). */
function searchError(change: Record<string, unknown>): ValidationError {
  try {
    searchTraining({ ...base, ...change } as SearchInput);
  } catch (e) {
    if (e instanceof ValidationError) return e;
    throw e;
  }
  throw new Error(`search with ${JSON.stringify(change)} returned instead of naming the bad field`);
}

describe('searchTraining checks its input at the door', () => {
  it('names a misspelt or invalid simulator option instead of skipping every plan ("no plan fits")', () => {
    expect(searchError({ options: { overlapp: false } }).issues[0]!.path).toBe('overlapp');
    expect(searchError({ options: { dispatch: 'ring' } }).message).toMatch(/training simulator options[\s\S]*dispatch: got "ring"/);
  });

  it('names a misspelt search-space dimension instead of searching the default', () => {
    expect(searchError({ space: { tpp: [2] } }).message).toMatch(/search space[\s\S]*tpp: got \[2\], expected no such field/);
  });

  it('names batch, length and counts that are not whole positive numbers', () => {
    for (const [field, value] of [['globalBatchSize', 0], ['globalBatchSize', 2.5], ['seqLength', 100.5], ['seqLength', -1], ['top', 0], ['survivors', 0], ['shortlist', 0]] as const) {
      const e = searchError({ [field]: value });
      expect(e.subject).toBe('search');
      expect(e.issues.map((i) => i.path)).toEqual([field]);
    }
  });

  it('names survivors fewer than top (it returned fewer plans than asked for)', () => {
    expect(searchError({ top: 3, survivors: 2 }).message).toMatch(/search:\n {2}- survivors: got 2, expected at least top \(3\)/);
  });

  it('names an invalid architecture, and fills the defaults of one from JSON (it hung the layer packer on NaN)', () => {
    const tiny = base.archs[0]!;
    expect(searchError({ archs: [{ ...tiny, topK: 0 }] }).message).toMatch(/invalid archs\[0\] \(moge-tiny\):\n {2}- topK: got 0/);
    const { numLayers, hiddenSize, numHeads, numKvHeads, headDim, vocabSize, denseFfnSize, numExperts, numExpertGroups, topK, expertFfnSize } = tiny;
    const json = { numLayers, hiddenSize, numHeads, numKvHeads, headDim, vocabSize, denseFfnSize, numExperts, numExpertGroups, topK, expertFfnSize };
    const parsed = MoeArchSchema.parse(json);
    expect(searchTraining({ ...base, archs: [json as typeof tiny] }).top[0]!.result.stepTimeS).toBeCloseTo(searchTraining({ ...base, archs: [parsed] }).top[0]!.result.stepTimeS, 12);
  });

  it('names a bad field of a profile object', () => {
    const base = getSimProfile('ascend-910b-training');
    expect(searchError({ profileData: { ...base, overlapEfficiency: { ...base.overlapEfficiency, value: Number.NaN } } }).message).toMatch(/invalid profileData:\n {2}- overlapEfficiency/);
  });

  it('still searches a valid input', () => {
    expect(searchTraining(base).top).toHaveLength(1);
  });
});
