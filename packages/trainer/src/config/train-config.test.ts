import { describe, expect, it } from 'vitest';
import { parseWith, ValidationError } from '@moge/core';
import { TrainConfigSchema } from './train-config';

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
});
