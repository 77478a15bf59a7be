import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ValidationError } from '@moge/core';
import { getPreset, listPresets } from '../presets/presets';
import { HF_ARCH_KEYS, archFromHfConfig, hfConfigFromArch, looksLikeHfConfig, splitHfConfig } from './hf-config';
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
    // A Mixtral-style router (no per-expert vector) would lose nothing in config.json but gain a router_scale.
    expect(() => hfConfigFromArch({ ...getPreset('moge-tiny'), routerExpertVector: false })).toThrow(/- routerExpertVector: got false, expected true \(every PanguProMoE router has router_scale\)/);
    expect(listPresets()).toContain('dense-32b');
  });
});

describe('HF config.json as Hugging Face writes it', () => {
  // The extra fields transformers and the released Pangu Pro MoE config carry: bookkeeping and
  // defaults that leave the math unchanged.
  const plain = hfConfigFromArch(getPreset('pangu-pro-moe'));
  const harmless = {
    architectures: ['PanguProMoEForCausalLM'],
    auto_map: { AutoConfig: 'configuration_pangu_moe.PanguProMoEConfig', AutoModelForCausalLM: 'modeling_pangu_moe.PanguProMoEForCausalLM' },
    torch_dtype: 'bfloat16',
    transformers_version: '4.48.2',
    bos_token_id: 1,
    eos_token_id: 45892,
    pad_token_id: 0,
    use_cache: true,
    initializer_range: 0.02,
    output_router_logits: false,
    intermediate_size: 1344,
    attention_dropout: 0.0,
    rope_scaling: null,
    use_sliding_window: false,
    sliding_window: 4096,
    max_window_layers: 28,
    norm_topk_prob: false,
    decoder_sparse_step: 1,
    mlp_only_layers: [],
    partial_rotary_factor: 1,
  };

  it('accepts and ignores the fields that do not change the math', () => {
    expect(archFromHfConfig({ ...plain, ...harmless })).toEqual(archFromHfConfig(plain));
    expect(archFromHfConfig({ ...plain, rope_scaling: { rope_type: 'default' } })).toEqual(archFromHfConfig(plain));
  });

  // Each would run a different model than the config describes, with every tensor shape still right.
  const mathChanging: [string, unknown, RegExp][] = [
    ['rope_scaling', { type: 'yarn', factor: 4, original_max_position_embeddings: 4096 }, /RoPE scaling.*remove rope_scaling/],
    ['rope_scaling', { rope_type: 'linear', factor: 2 }, /RoPE scaling/],
    ['attention_dropout', 0.1, /attention dropout.*set attention_dropout to 0\.0/],
    ['hidden_act', 'gelu', /"silu".*not implemented/],
    ['use_sliding_window', true, /sliding-window attention/],
    ['norm_topk_prob', true, /without renormalising/],
    ['decoder_sparse_step', 2, /every PanguProMoE layer is MoE/],
    ['mlp_only_layers', [0, 47], /every PanguProMoE layer is MoE/],
    ['partial_rotary_factor', 0.5, /whole head/],
    ['rope_parameters', { rope_type: 'yarn', rope_theta: 1.6e7, factor: 4 }, /rope_parameters\.rope_type.*RoPE scaling/],
  ];
  it.each(mathChanging)('refuses %s = %j, naming the field, the value and the fix', (field, value, fix) => {
    let err: unknown;
    try {
      archFromHfConfig({ ...plain, ...harmless, [field]: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    const issue = (err as ValidationError).issues[0]!;
    expect(issue.path.startsWith(field)).toBe(true);
    expect((err as ValidationError).message).toMatch(fix);
  });

  it('reads RoPE θ from rope_parameters, where transformers v5 writes it, and refuses a disagreement', () => {
    fc.assert(
      fc.property(fc.double({ min: 1, max: 1e9, noNaN: true }), (theta) => {
        const { rope_theta: _dropped, ...v5 } = { ...plain, ...harmless };
        expect(archFromHfConfig({ ...v5, rope_parameters: { rope_type: 'default', rope_theta: theta } }).ropeTheta).toBe(theta);
        expect(archFromHfConfig({ ...v5, rope_theta: theta, rope_parameters: { rope_type: 'default', rope_theta: theta } }).ropeTheta).toBe(theta);
        expect(() => archFromHfConfig({ ...v5, rope_theta: theta, rope_parameters: { rope_type: 'default', rope_theta: theta * 2 } })).toThrow(/rope_parameters\.rope_theta.*disagree/s);
      }),
      { numRuns: 30 },
    );
  });

  it('splits a config into the arch and every other key, and writes those keys back (the arch wins)', () => {
    const unknown = { quantization_config: { bits: 8, modules: ['lm_head'] }, my_note: 'kept' };
    const json = JSON.parse(JSON.stringify({ ...plain, ...harmless, ...unknown }));
    const { arch, extraConfig } = splitHfConfig(json);
    expect(arch).toEqual(archFromHfConfig(plain));
    expect(extraConfig).toEqual({ ...harmless, ...unknown });
    for (const key of HF_ARCH_KEYS) expect(extraConfig).not.toHaveProperty(key);
    // Every key hfConfigFromArch writes is an arch key, but architectures (the modeling class) and head_dim.
    const written = Object.keys(hfConfigFromArch({ ...getPreset('moge-tiny'), headDim: 8 }));
    expect(written.filter((k) => !(HF_ARCH_KEYS as readonly string[]).includes(k)).sort()).toEqual(['architectures', 'head_dim']);
    expect(hfConfigFromArch(arch, extraConfig)).toEqual(json);
    // The arch wins where it meets the extra keys; a changed arch writes its own values.
    const wider = { ...arch, numLayers: 50, ropeTheta: 1e6 };
    const out = hfConfigFromArch(wider, { ...extraConfig, num_hidden_layers: 3, head_dim: 1, rope_parameters: { rope_type: 'default', rope_theta: 5 }, architectures: ['Mine'] });
    expect(out).toMatchObject({ num_hidden_layers: 50, rope_theta: 1e6, head_dim: 128, rope_parameters: { rope_type: 'default', rope_theta: 1e6 }, architectures: ['Mine'], my_note: 'kept' });
    expect(archFromHfConfig(out)).toEqual({ ...wider, name: undefined });
  });

  it('refuses extra config keys that would change the math or are not JSON, naming the key', () => {
    const arch = archFromHfConfig(plain);
    expect(() => hfConfigFromArch(arch, { rope_scaling: { rope_type: 'linear', factor: 2 } })).toThrow(ValidationError);
    expect(() => hfConfigFromArch(arch, { rope_scaling: { rope_type: 'linear', factor: 2 } })).toThrow(/with extraConfig:\n {2}- rope_scaling: .*remove rope_scaling/);
    expect(() => hfConfigFromArch(arch, { attention_dropout: 0.1 })).toThrow(/attention_dropout/);
    expect(() => hfConfigFromArch(arch, { eos_token_id: Number.NaN })).toThrow(/extraConfig.*\n {2}- eos_token_id: got NaN/);
    expect(() => hfConfigFromArch(arch, { hook: (() => 1) as never })).toThrow(/- hook:.*\ngive JSON values/);
  });
});

