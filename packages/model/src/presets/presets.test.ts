import { describe, expect, it } from 'vitest';
import { MoeArchSchema, ValidationError, countParameters } from '@moge/core';
import { getPreset, listPresets } from './presets';

describe('presets', () => {
  it('lists every preset and each one is a valid MoeArch', () => {
    expect(listPresets()).toEqual(['pangu-pro-moe', 'pangu-ultra-moe', 'dense-32b', 'dense-72b', 'moge-tiny', 'moge-small']);
    for (const name of listPresets()) expect(MoeArchSchema.safeParse(getPreset(name)).success).toBe(true);
  });

  it('gives Pangu Pro MoE 71.99 B total and 16.50 B active', () => {
    const c = countParameters(getPreset('pangu-pro-moe'));
    expect((c.total / 1e9).toFixed(2)).toBe('71.99');
    expect((c.active / 1e9).toFixed(2)).toBe('16.50');
  });

  it('gives Pangu Ultra MoE within 1 % of 718 B total and 39 B active (no MTP, no input embedding)', () => {
    const c = countParameters(getPreset('pangu-ultra-moe'));
    expect(Math.abs(c.total / 718e9 - 1)).toBeLessThan(0.01);
    expect(Math.abs(c.activeExcludingEmbedding / 39e9 - 1)).toBeLessThan(0.01);
    expect(getPreset('pangu-ultra-moe').router).toBe('topk');
  });

  it('sizes the dense baselines near their names', () => {
    expect(Math.abs(countParameters(getPreset('dense-32b')).total / 32.5e9 - 1)).toBeLessThan(0.02);
    expect(Math.abs(countParameters(getPreset('dense-72b')).total / 72.7e9 - 1)).toBeLessThan(0.02);
  });

  it('keeps moge-small near 25 M parameters with 16 experts in 4 groups, top-4', () => {
    const a = getPreset('moge-small');
    expect([a.numExperts, a.numExpertGroups, a.topK]).toEqual([16, 4, 4]);
    expect(Math.abs(countParameters(a).total / 25e6 - 1)).toBeLessThan(0.1);
  });

  it('returns a fresh copy and names the bad preset', () => {
    const a = getPreset('moge-tiny');
    a.numLayers = 99;
    expect(getPreset('moge-tiny').numLayers).toBe(2);
    expect(() => getPreset('pangu-mega')).toThrow(ValidationError);
    expect(() => getPreset('pangu-mega')).toThrow(/pangu-mega.*moge-small/s);
  });

  it('names the preset a misspelt name meant, and no preset for a name close to none', () => {
    expect(() => getPreset('moge-smal')).toThrow(/did you mean "moge-small"\?/);
    expect(() => getPreset('pangu_ultra_moe')).toThrow(/did you mean "pangu-ultra-moe"\?/);
    expect(() => getPreset('llama-70b')).not.toThrow(/did you mean/);
    expect(() => getPreset('llama-70b')).toThrow(/llama-70b/);
  });
});
