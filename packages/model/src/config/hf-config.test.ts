import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ValidationError } from '@moge/core';
import { getPreset, listPresets } from '../presets/presets';
import { archFromHfConfig, hfConfigFromArch, looksLikeHfConfig } from './hf-config';
import { goldenDir } from '../test-support/golden';

describe('HF config.json ↔ MoeArch', () => {
  it('reads the golden tiny model config (num_expert_groups, biases, default α)', () => {
    const json = JSON.parse(readFileSync(`${goldenDir('tiny-moge-a')}/config.json`, 'utf8'));
    const arch = archFromHfConfig(json);
    expect(arch).toMatchObject({ numLayers: 2, hiddenSize: 64, numHeads: 4, numKvHeads: 2, headDim: 16, numExperts: 8, numExpertGroups: 4, topK: 4, attentionBias: true, routerAuxLossCoef: 0.01 });
    expect(looksLikeHfConfig(json)).toBe(true);
    expect(looksLikeHfConfig(getPreset('moge-tiny'))).toBe(false);
  });

  it('defaults num_expert_groups to 8 when absent', () => {
    const hf = hfConfigFromArch(getPreset('pangu-pro-moe'));
    delete (hf as Record<string, unknown>).num_expert_groups;
    expect(archFromHfConfig(hf).numExpertGroups).toBe(8);
  });

  it('round-trips every expressible preset', () => {
    for (const name of ['pangu-pro-moe', 'moge-tiny', 'moge-small']) {
      const arch = getPreset(name);
      const back = archFromHfConfig(JSON.parse(JSON.stringify(hfConfigFromArch(arch))));
      expect({ ...back, name: arch.name }).toEqual(arch);
    }
  });

  it('round-trips arbitrary valid MoGE shapes (property)', () => {
    fc.assert(
      fc.property(
        fc.record({ layers: fc.integer({ min: 1, max: 8 }), kv: fc.integer({ min: 1, max: 4 }), rep: fc.integer({ min: 1, max: 4 }), headDim: fc.integer({ min: 1, max: 32 }).map((d) => 2 * d), groups: fc.integer({ min: 1, max: 4 }), perGroup: fc.integer({ min: 1, max: 4 }), kPer: fc.integer({ min: 1, max: 4 }) }),
        (p) => {
          const arch = { ...getPreset('moge-tiny'), numLayers: p.layers, numKvHeads: p.kv, numHeads: p.kv * p.rep, headDim: p.headDim, numExpertGroups: p.groups, numExperts: p.groups * p.perGroup, topK: p.groups * Math.min(p.kPer, p.perGroup) };
          const back = archFromHfConfig(hfConfigFromArch(arch));
          expect({ ...back, name: arch.name }).toEqual(arch);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('names the field, value and expectation of a bad config', () => {
    expect(() => archFromHfConfig({ model_type: 'PanguProMoE', hidden_size: -1 })).toThrow(ValidationError);
    try {
      archFromHfConfig({ ...hfConfigFromArch(getPreset('moge-tiny')), num_experts_per_tok: 3 });
    } catch (e) {
      expect((e as ValidationError).issues[0]).toMatchObject({ path: 'topK', received: 3 });
    }
    expect(() => archFromHfConfig({ ...hfConfigFromArch(getPreset('moge-tiny')), num_experts_per_tok: 3 })).toThrow(/topK.*3.*multiple/s);
    expect(() => archFromHfConfig({ ...hfConfigFromArch(getPreset('moge-tiny')), model_type: 'llama' })).toThrow(/model_type/);
  });

  it('refuses what PanguProMoE cannot express', () => {
    expect(() => hfConfigFromArch(getPreset('pangu-ultra-moe'))).toThrow(/attention.*mla/s);
    expect(() => hfConfigFromArch(getPreset('dense-32b'))).toThrow(/numExperts/);
    expect(listPresets()).toContain('dense-32b');
  });
});
