import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { countParameters, numMoeLayers, ValidationError, type MoeArch } from '@moge/core';
import { readHfArch } from './read-hf-arch';
import { DEEPSEEK_V2_LITE, DEEPSEEK_V3, LLAMA_3_8B, MIXTRAL_8X7B, QWEN1_5_MOE_A2_7B, QWEN2_57B_A14B, QWEN3_30B_A3B } from './published-configs.test-data';
import { transformersParamCount } from './transformers-param-count.test-support';

/** `config` without `keys`: what transformers then fills in from its config class defaults. */
function omit(config: Record<string, unknown>, ...keys: string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(config).filter(([key]) => !keys.includes(key)));
}

/**
 * What countParameters counts and transformers 5.18 does not instantiate, or the reverse: only what
 * MoeArch cannot state, each a note of readHfArch. Qwen2's o bias, which Qwen2 lacks, its
 * shared-expert gate, which MoeArch lacks, and Qwen3's q/k norms. (The router's per-expert vector is
 * stated: routerExpertVector, true for DeepSeek-V3's e_score_correction_bias, false for the Mixtral,
 * Qwen-MoE and DeepSeek-V2 routers, which have only the weight.)
 */
function namedDifferences(type: string, arch: MoeArch): { note: RegExp; params: number }[] {
  const h = arch.hiddenSize;
  const moeLayers = numMoeLayers(arch);
  return [
    { note: /q\/k\/v have biases and o has none/, params: type === 'qwen2' || type === 'qwen2_moe' ? arch.numLayers * h : 0 },
    { note: /shared_expert_gate.*is not counted/, params: type === 'qwen2_moe' ? -moeLayers * h : 0 },
    { note: /RMSNorm of q and k .* is not counted/, params: type === 'qwen3' || type === 'qwen3_moe' ? -arch.numLayers * 2 * arch.headDim : 0 },
  ];
}

/** A small dense decoder's sizes (not a published model), for the dense Qwen families. */
const DENSE = { hidden_size: 1024, num_hidden_layers: 28, num_attention_heads: 16, num_key_value_heads: 8, intermediate_size: 3072, vocab_size: 151936 };

const CONFIGS: Record<string, Record<string, unknown>> = {
  DEEPSEEK_V3,
  DEEPSEEK_V2_LITE,
  QWEN3_30B_A3B,
  QWEN2_57B_A14B,
  QWEN1_5_MOE_A2_7B,
  MIXTRAL_8X7B,
  LLAMA_3_8B,
  'dense qwen2': { ...DENSE, model_type: 'qwen2' },
  'dense qwen3, tied embeddings': { ...DENSE, model_type: 'qwen3', head_dim: 128, tie_word_embeddings: true },
  'Llama-3-8B with attention_bias, without num_key_value_heads': { ...omit(LLAMA_3_8B, 'num_key_value_heads'), attention_bias: true },
  // Fields left to the config class defaults.
  'DeepSeek-V3 without n_group, topk_group, num_nextn_predict_layers': omit(DEEPSEEK_V3, 'n_group', 'topk_group', 'num_nextn_predict_layers'),
  'Qwen3-30B-A3B without head_dim': omit(QWEN3_30B_A3B, 'head_dim'),
  'Qwen1.5-MoE-A2.7B with mlp_only_layers [1, 0]': { ...QWEN1_5_MOE_A2_7B, mlp_only_layers: [1, 0] },
};

describe('readHfArch against transformers 5.18 module shapes', () => {
  it.each(Object.keys(CONFIGS))('%s: countParameters is what transformers instantiates, up to the noted differences', (name) => {
    const config = CONFIGS[name]!;
    const { arch, notes } = readHfArch(config);
    const ours = countParameters(arch);
    const theirs = transformersParamCount(config);
    const differences = namedDifferences(config.model_type as string, arch).filter((d) => d.params !== 0);
    const named = differences.reduce((sum, d) => sum + d.params, 0);
    expect(ours.total - theirs.total).toBe(named);
    expect(ours.active - theirs.active).toBe(named);
    expect(ours.mtp.total).toBe(theirs.mtp);
    for (const { note } of differences) expect(notes.some((n) => note.test(n))).toBe(true);
  });

  // The class defaults are these models' sizes (each class's docstring names the checkpoint): a
  // fixture field that differs from them is a transcription error.
  it.each([['DeepSeek-V3', DEEPSEEK_V3], ['Mixtral-8x7B', MIXTRAL_8X7B], ['Qwen1.5-MoE-A2.7B', QWEN1_5_MOE_A2_7B]])('%s counts as its config class defaults do', (_, config) => {
    expect(transformersParamCount(config)).toEqual(transformersParamCount({ model_type: config.model_type }));
  });

  it('Qwen1.5-MoE-A2.7B (the Qwen2MoeConfig defaults): 14.3 B total, 2.7 B active', () => {
    const c = countParameters(readHfArch(QWEN1_5_MOE_A2_7B).arch);
    expect(Math.abs(c.total / 14.3e9 - 1)).toBeLessThan(0.01);
    expect(Math.abs(c.active / 2.7e9 - 1)).toBeLessThan(0.01);
  });
});

describe('readHfArch: fields left to the transformers 5.18 config class defaults', () => {
  it('deepseek_v3 without n_group / topk_group routes as DeepseekV3Config does: 8 groups, the best 4', () => {
    const { arch } = readHfArch(omit(DEEPSEEK_V3, 'n_group', 'topk_group'));
    expect(arch).toMatchObject({ router: 'group-limited', numExpertGroups: 8, routerTopGroups: 4 });
    expect(readHfArch(omit(DEEPSEEK_V3, 'topk_group')).arch.routerTopGroups).toBe(4);
    // DeepseekV2Config leaves both None: "group_limited_greedy" without them is refused, naming them.
    const v2Grouped = { ...DEEPSEEK_V2_LITE, topk_method: 'group_limited_greedy', n_group: 8, topk_group: 3 };
    expect(() => readHfArch(omit(v2Grouped, 'topk_group'))).toThrow(/topk_group: got nothing, expected a stated value/);
    expect(() => readHfArch(omit(v2Grouped, 'n_group', 'topk_group'))).toThrow(/n_group: got nothing.*topk_group: got nothing/s);
  });

  it('deepseek_v3 without num_nextn_predict_layers has DeepseekV3Config\'s one MTP module; num_mtp_layers (its v5 name) is read too', () => {
    expect(readHfArch(omit(DEEPSEEK_V3, 'num_nextn_predict_layers')).arch.mtpDepth).toBe(1);
    expect(readHfArch({ ...omit(DEEPSEEK_V3, 'num_nextn_predict_layers'), num_mtp_layers: 2 }).arch.mtpDepth).toBe(2);
    expect(readHfArch({ ...DEEPSEEK_V3, num_nextn_predict_layers: 0 }).arch.mtpDepth).toBe(0);
  });

  it('qwen3_moe / qwen2_moe without head_dim: hidden_size / heads, as their attention takes it (their configs have no head_dim)', () => {
    fc.assert(
      fc.property(fc.constantFrom(QWEN3_30B_A3B, QWEN2_57B_A14B, QWEN1_5_MOE_A2_7B), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 8 }), (config, heads, kvDivisor) => {
        const kv = heads % kvDivisor === 0 ? heads / kvDivisor : heads;
        const json = { ...omit(config, 'head_dim'), num_attention_heads: heads, num_key_value_heads: kv, hidden_size: heads * 64 };
        expect(readHfArch(json).arch.headDim).toBe(64);
      }),
      { seed: 20261202, numRuns: 100 },
    );
  });

  it('qwen2_moe / qwen3_moe refuse a null num_key_value_heads (transformers has no one-per-head fallback there)', () => {
    for (const config of [QWEN3_30B_A3B, QWEN2_57B_A14B]) {
      expect(() => readHfArch({ ...config, num_key_value_heads: null })).toThrow(ValidationError);
      expect(() => readHfArch({ ...config, num_key_value_heads: null })).toThrow(/num_key_value_heads: got null.*has no null/s);
    }
  });
});

describe('readHfArch: router notes say what transformers 5.18 computes', () => {
  const note = (config: Record<string, unknown>, field: string) => readHfArch(config).notes.find((n) => n.startsWith(`${config.model_type as string} ${field}: `));

  it('deepseek_v3 scores with sigmoid and renormalises whatever scoring_func / topk_method / an absent norm_topk_prob say', () => {
    const bare = omit(DEEPSEEK_V3, 'scoring_func', 'topk_method', 'norm_topk_prob', 'routed_scaling_factor');
    expect(note(bare, 'scoring_func')).toMatch(/"sigmoid"/);
    expect(note(bare, 'topk_method')).toMatch(/"noaux_tc"/);
    expect(note(bare, 'norm_topk_prob')).toMatch(/renormalised/);
    expect(note(bare, 'routed_scaling_factor')).toMatch(/^deepseek_v3 routed_scaling_factor: 2\.5/);
    expect(note({ ...DEEPSEEK_V3, scoring_func: 'softmax' }, 'scoring_func')).toMatch(/"sigmoid".*scoring_func "softmax" is not read/);
    expect(note({ ...DEEPSEEK_V3, topk_method: 'greedy' }, 'topk_method')).toMatch(/topk_method "greedy" is not read/);
  });

  it('deepseek_v2 scores with softmax and does not renormalise, whatever scoring_func / norm_topk_prob say', () => {
    expect(note(DEEPSEEK_V2_LITE, 'scoring_func')).toBeUndefined();
    expect(note({ ...DEEPSEEK_V2_LITE, scoring_func: 'sigmoid' }, 'scoring_func')).toMatch(/"softmax".*scoring_func "sigmoid" is not read by transformers' DeepseekV2/);
    expect(note({ ...DEEPSEEK_V2_LITE, norm_topk_prob: true }, 'norm_topk_prob')).toMatch(/not applied by transformers' DeepseekV2/);
    expect(note({ ...DEEPSEEK_V2_LITE, mlp_bias: true }, 'mlp_bias')).toMatch(/not counted/);
    expect(note({ ...DEEPSEEK_V2_LITE, topk_method: 'noaux_tc' }, 'topk_method')).toMatch(/"noaux_tc" is not a method of transformers' DeepseekV2 router/);
    expect(readHfArch({ ...DEEPSEEK_V2_LITE, topk_method: 'noaux_tc', n_group: 8, topk_group: 3 }).arch).toMatchObject({ router: 'topk', numExpertGroups: 1 });
  });
});

describe('readHfArch: use_sliding_window slides the layers transformers 5.18 makes sliding, and only those', () => {
  const refused = (config: Record<string, unknown>): string | undefined => {
    try {
      readHfArch(config);
      return undefined;
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      return (e as ValidationError).message;
    }
  };
  const dense = { qwen2: { ...DENSE, model_type: 'qwen2' }, qwen3: { ...DENSE, model_type: 'qwen3', head_dim: 128 } };

  it('qwen2 / qwen3: the layers from max_window_layers on (28 when absent)', () => {
    for (const config of Object.values(dense)) {
      // 28 layers, max_window_layers 28: no layer slides.
      const { arch, notes } = readHfArch({ ...config, use_sliding_window: true });
      expect(arch).toEqual(readHfArch(config).arch);
      expect(notes.some((n) => /use_sliding_window: true, but no layer slides \(max_window_layers 28\)/.test(n))).toBe(true);
      expect(refused({ ...config, use_sliding_window: true, max_window_layers: 20 })).toMatch(/use_sliding_window: got true.*layer 20 \(max_window_layers 20\)/s);
      expect(refused({ ...config, use_sliding_window: true, max_window_layers: 20, sliding_window: null })).toBeUndefined();
    }
  });

  it('qwen2_moe: the even layers below max_window_layers; qwen3_moe: every layer', () => {
    expect(refused({ ...QWEN2_57B_A14B, use_sliding_window: true })).toMatch(/layer 0 \(max_window_layers 28\)/);
    expect(refused({ ...QWEN2_57B_A14B, use_sliding_window: true, max_window_layers: 0 })).toBeUndefined();
    expect(refused({ ...QWEN3_30B_A3B, use_sliding_window: true, max_window_layers: 0, sliding_window: 4096 })).toMatch(/use_sliding_window: got true.*layer 0/s);
    expect(refused({ ...QWEN3_30B_A3B, use_sliding_window: true })).toBeUndefined(); // its sliding_window is null
  });
});
