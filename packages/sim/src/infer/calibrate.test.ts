import { describe, expect, it } from 'vitest';
import { fitInferenceProfile, INFERENCE_FIT_TARGETS } from './calibrate';
import { getInferenceProfile } from './profile';

describe('fitInferenceProfile', () => {
  it('reproduces the committed profile: its fitted numbers are a fixed point of the fit', () => {
    const committed = getInferenceProfile();
    const refit = fitInferenceProfile(committed, 1, 24);
    for (const t of INFERENCE_FIT_TARGETS) {
      expect(refit[t.key].value / committed[t.key].value, t.key).toBeCloseTo(1, 2);
      expect(refit[t.key].source).toContain(t.case.id);
    }
    // Assumed numbers are held, not fitted.
    expect(refit.stepOverheadS).toEqual(committed.stepOverheadS);
    expect(refit.launchFraction).toEqual(committed.launchFraction);
  });
});
