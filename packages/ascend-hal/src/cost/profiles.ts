import { parseWith, ValidationError } from '@moge/core';
import ascend310p from '../../profiles/ascend-310p.json';
import ascend910b from '../../profiles/ascend-910b.json';
import ascend910c from '../../profiles/ascend-910c.json';
import a100 from '../../profiles/nvidia-a100.json';
import h200 from '../../profiles/nvidia-h200.json';
import { EfficiencyProfileSchema, type EfficiencyProfile } from './profile';

/**
 * Efficiency profiles are data (packages/ascend-hal/profiles/*.json), parsed once at load so that a
 * malformed file fails loudly here rather than as NaN times deep inside a simulation.
 */
const PROFILES: ReadonlyMap<string, EfficiencyProfile> = new Map(
  [ascend910b, ascend910c, ascend310p, h200, a100].map((raw) => {
    const profile = parseWith(EfficiencyProfileSchema, raw, `efficiency profile ${raw.name}`);
    return [profile.name, profile] as const;
  }),
);

export function listEfficiencyProfiles(): EfficiencyProfile[] {
  return [...PROFILES.values()];
}

export function getEfficiencyProfile(name: string): EfficiencyProfile {
  const profile = PROFILES.get(name);
  if (!profile) {
    throw new ValidationError('efficiency profile', [{ path: 'efficiencyProfile.name', received: name, expected: `one of ${[...PROFILES.keys()].join(', ')}` }]);
  }
  return profile;
}
