import { describe, expect, it } from 'vitest';
import { parseWith, ValidationError } from '@moge/core';
import { SavedTrainConfigSchema, TrainConfigSchema } from './train-config';

describe('TrainConfigSchema', () => {
  it('refuses a schedule whose minLr is above its peakLr, naming schedule.minLr', () => {
    let err: unknown;
    try {
      parseWith(TrainConfigSchema, { preset: 'moge-tiny', steps: 4, schedule: { peakLr: 1e-4, minLr: 1e-3 } }, 'train config');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    const issues = (err as ValidationError).issues;
    expect(issues.map((i) => i.path)).toEqual(['schedule.minLr']);
    expect(issues[0]!.expected).toMatch(/at most schedule\.peakLr \(0\.0001\)/);
    // Equal is a constant rate after warmup: allowed.
    expect(TrainConfigSchema.parse({ preset: 'moge-tiny', steps: 4, schedule: { peakLr: 1e-3, minLr: 1e-3 } }).schedule.minLr).toBe(1e-3);
  });

  it('a new config takes the latest held-out split rule; a saved one without the field reads as rule 1, one with it keeps it', () => {
    const input = { preset: 'moge-tiny', steps: 4 };
    expect(TrainConfigSchema.parse(input).heldOutSplit).toBe(2);
    expect(SavedTrainConfigSchema.parse(input).heldOutSplit).toBe(1);
    expect(SavedTrainConfigSchema.parse({ ...input, heldOutSplit: 2 }).heldOutSplit).toBe(2);
    expect(() => parseWith(TrainConfigSchema, { ...input, heldOutSplit: 3 }, 'train config')).toThrow(/heldOutSplit/);
  });
});
