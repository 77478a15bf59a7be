import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { countParameters, ValidationError } from '@moge/core';
import { getPreset } from '../../presets/presets';
import { archFromHfConfig, hfConfigFromArch, splitHfConfig } from '../hf-config';
import { readHfArch } from './read-hf-arch';
import { DEEPSEEK_V2_LITE, DEEPSEEK_V3, LLAMA_3_8B, MIXTRAL_8X7B, QWEN2_57B_A14B, QWEN3_30B_A3B } from './published-configs.test-data';

const B = 1e9;
/** |x / published − 1| — the published figures are rounded, so each test says how far it may be. */
const off = (x: number, published: number) => Math.abs(x / published - 1);

describe('readHfArch: published models against their published parameter counts', () => {
  it('DeepSeek-V3: 671 B total (MTP apart), 37 B active without the input embedding', () => {
    const c = countParameters(readHfArch(DEEPSEEK_V3).arch);
    expect(off(c.total, 671 * B)).toBeLessThan(0.001); // 671.03 B
    // DeepSeek's "37 B activated" is rounded to whole billions: 36.63 B without the input embedding
    // (the convention of this package's Pangu Ultra figure) is 1.01 % under it; 37.55 B with the
    // embedding would round to 38. So: within half a billion, i.e. what "37" can mean.
    expect(Math.abs(c.activeExcludingEmbedding - 37 * B)).toBeLessThan(0.5 * B);
    expect(Math.round(c.activeExcludingEmbedding / B)).toBe(37);
    // The MTP module is counted apart (mtp, totalWithMtp) and shares the embedding and head; DeepSeek's
    // 14 B MTP figure (685 B − 671 B on the model card) counts its own copies of both.
    expect(c.mtp.total).toBeGreaterThan(11.5 * B);
    expect(off(c.totalWithMtp + 2 * c.embedding, 685 * B)).toBeLessThan(0.01);
  });

  it('DeepSeek-V2-Lite (q_lora_rank null): 15.7 B total, 2.4 B active without the input embedding', () => {
    const c = countParameters(readHfArch(DEEPSEEK_V2_LITE).arch);
    expect(off(c.total, 15.7 * B)).toBeLessThan(0.01); // 15.71 B
    // 2.45 B: "2.4" truncates it, as DeepSeek's whole-billion "37" rounds V3's 36.63 B.
    expect(off(c.activeExcludingEmbedding, 2.4 * B)).toBeLessThan(0.025);
  });

  it('Qwen3-30B-A3B: 30.5 B total, 3.3 B active, 29.9 B non-embedding', () => {
    const c = countParameters(readHfArch(QWEN3_30B_A3B).arch);
    expect(off(c.total, 30.5 * B)).toBeLessThan(0.01); // 30.53 B
    // Qwen counts embedding and head in the active figure (Qwen3-235B-A22B: 22.1 B by the same rule);
    // ours is 3.35 B, which Qwen's "3.3" truncates (1.6 % off).
    expect(off(c.active, 3.3 * B)).toBeLessThan(0.02);
    expect(off(c.total - c.embedding - c.head, 29.9 * B)).toBeLessThan(0.01); // the model card's non-embedding figure
  });

  it('Mixtral-8x7B: 46.7 B total, 12.9 B active', () => {
    const c = countParameters(readHfArch(MIXTRAL_8X7B).arch);
    expect(off(c.total, 46.7 * B)).toBeLessThan(0.01);
    expect(off(c.active, 12.9 * B)).toBeLessThan(0.01);
  });

  it('Llama-3-8B: 8.0 B, dense', () => {
    const { arch } = readHfArch(LLAMA_3_8B);
    const c = countParameters(arch);
    expect(off(c.total, 8.03 * B)).toBeLessThan(0.01);
    expect(c.active).toBe(c.total);
    expect(arch).toMatchObject({ numExperts: 0, denseFfnSize: 14336, numKvHeads: 8, headDim: 128, ropeTheta: 500000, attentionBias: false });
  });

  it('Qwen2-57B-A14B (qwen2_moe): 57 B total, 14 B active', () => {
    const c = countParameters(readHfArch(QWEN2_57B_A14B).arch);
    expect(off(c.total, 57 * B)).toBeLessThan(0.01); // 57.41 B
    // 14.25 B with the embedding and head (Qwen's convention, as for Qwen3), 1.8 % over the whole-billion "14".
    expect(Math.round(c.active / B)).toBe(14);
  });
});

describe('readHfArch: what each family maps to', () => {
  it('DeepSeek-V3: MLA, group-limited router, 3 dense layers, shared expert, MTP, and notes for what MoeArch lacks', () => {
    const { arch, notes, modelType } = readHfArch(DEEPSEEK_V3);
    expect(modelType).toBe('deepseek_v3');
    expect(arch.name).toBe('deepseek_v3');
    expect(readHfArch({ ...DEEPSEEK_V3, _name_or_path: 'deepseek-ai/DeepSeek-V3' }).arch.name).toBe('deepseek-ai/DeepSeek-V3');
    expect(arch).toMatchObject({
      numLayers: 61, hiddenSize: 7168, numHeads: 128, numKvHeads: 128, headDim: 192, vocabSize: 129280,
      attention: 'mla', mla: { qLoraRank: 1536, kvLoraRank: 512, qkRopeHeadDim: 64, qkNopeHeadDim: 128, vHeadDim: 128 },
      numDenseLayers: 3, denseFfnSize: 18432, numExperts: 256, topK: 8, expertFfnSize: 2048, sharedExpertFfnSize: 2048,
      router: 'group-limited', numExpertGroups: 8, routerTopGroups: 4, mtpDepth: 1,
      ropeTheta: 10000, normEps: 1e-6, maxPositionEmbeddings: 163840, tiedEmbeddings: false, routerAuxLossCoef: 0.001,
    });
    for (const field of ['scoring_func', 'routed_scaling_factor', 'norm_topk_prob', 'topk_method', 'rope_scaling', 'quantization_config']) {
      expect(notes.some((n) => n.startsWith(`deepseek_v3 ${field}: `))).toBe(true);
    }
  });

  it('the pangu-ultra-moe preset and a DeepSeek-V3-layout config of its sizes count the same', () => {
    const ultra = getPreset('pangu-ultra-moe');
    const config = {
      ...DEEPSEEK_V3, num_hidden_layers: 61, hidden_size: 7680, vocab_size: 153600, num_attention_heads: 128, num_key_value_heads: 128,
      intermediate_size: 18432, moe_intermediate_size: 2048, n_routed_experts: 256, n_shared_experts: 1, num_experts_per_tok: 8,
      first_k_dense_replace: 3, n_group: 1, topk_group: 1,
    };
    const arch = readHfArch(config).arch;
    expect(countParameters(arch).total).toBe(countParameters(ultra).total);
    expect(countParameters(arch).mtp).toEqual(countParameters(ultra).mtp);
  });

  it('DeepSeek-V2-Lite: uncompressed queries (q_lora_rank null → 0), plain top-k for topk_method "greedy", two shared experts', () => {
    const { arch } = readHfArch(DEEPSEEK_V2_LITE);
    expect(arch).toMatchObject({ mla: { qLoraRank: 0 }, router: 'topk', numExpertGroups: 1, sharedExpertFfnSize: 2 * 1408, numDenseLayers: 1, mtpDepth: 0 });
    expect(arch.routerTopGroups).toBeUndefined();
  });

  it('DeepSeek-V2 "group_limited_greedy" is the group-limited router, with a note on its group score', () => {
    const { arch, notes } = readHfArch({ ...DEEPSEEK_V2_LITE, n_group: 8, topk_group: 3, topk_method: 'group_limited_greedy' });
    expect(arch).toMatchObject({ router: 'group-limited', numExpertGroups: 8, routerTopGroups: 3 });
    expect(notes.some((n) => n.startsWith('deepseek_v2 topk_method: "group_limited_greedy"'))).toBe(true);
  });

  it('qwen2_moe: q/k/v biases counted with o, the shared expert gate noted; qwen3_moe: explicit head_dim, no bias', () => {
    const q2 = readHfArch(QWEN2_57B_A14B);
    expect(q2.arch).toMatchObject({ attentionBias: true, sharedExpertFfnSize: 20480, numExperts: 64, topK: 8, headDim: 128, router: 'topk', numDenseLayers: 0 });
    expect(q2.notes.filter((n) => /attention_bias|shared_expert_gate/.test(n))).toHaveLength(2);
    const q3 = readHfArch(QWEN3_30B_A3B);
    expect(q3.arch).toMatchObject({ attentionBias: false, sharedExpertFfnSize: 0, headDim: 128, numKvHeads: 4, denseFfnSize: 0, ropeTheta: 1e6 });
  });

  it('Mixtral: intermediate_size is the expert width, every layer MoE, the renormalised top-k noted', () => {
    const { arch, notes } = readHfArch(MIXTRAL_8X7B);
    expect(arch).toMatchObject({ numExperts: 8, topK: 2, expertFfnSize: 14336, denseFfnSize: 0, numDenseLayers: 0, router: 'topk', routerAuxLossCoef: 0.02 });
    expect(notes).toHaveLength(1);
  });

  it('the router\'s per-expert vector: DeepSeek-V3\'s e_score_correction_bias and Pangu\'s router_scale; none in Mixtral, Qwen-MoE, DeepSeek-V2 routers', () => {
    const vector = (config: Record<string, unknown>) => readHfArch(config).arch.routerExpertVector;
    expect(vector(DEEPSEEK_V3)).toBe(true);
    expect(vector(hfConfigFromArch(getPreset('pangu-pro-moe')))).toBe(true);
    for (const config of [DEEPSEEK_V2_LITE, MIXTRAL_8X7B, QWEN2_57B_A14B, QWEN3_30B_A3B]) expect(vector(config)).toBe(false);
    // A DeepSeek config without routed experts is dense: no router to describe (MoeArch refuses false there).
    for (const config of [DEEPSEEK_V3, DEEPSEEK_V2_LITE]) expect(readHfArch({ ...config, n_routed_experts: null }).arch).toMatchObject({ numExperts: 0, routerExpertVector: true });
  });

  it('dense qwen2 / qwen3: q/k/v biases (qwen2), explicit head_dim and tied embeddings (qwen3)', () => {
    const base = { hidden_size: 1024, num_hidden_layers: 28, num_attention_heads: 16, num_key_value_heads: 8, intermediate_size: 3072, vocab_size: 151936 };
    expect(readHfArch({ ...base, model_type: 'qwen2' }).arch).toMatchObject({ attentionBias: true, headDim: 64, numExperts: 0, denseFfnSize: 3072 });
    const q3 = readHfArch({ ...base, model_type: 'qwen3', head_dim: 128, tie_word_embeddings: true });
    expect(q3.arch).toMatchObject({ attentionBias: false, headDim: 128, tiedEmbeddings: true });
    expect(countParameters(q3.arch).head).toBe(0);
  });

  it('reads rope_theta where transformers v5 writes it, and notes RoPE scaling', () => {
    const v5 = { ...LLAMA_3_8B, rope_theta: undefined, rope_parameters: { rope_type: 'llama3', rope_theta: 500000, factor: 8 } };
    const { arch, notes } = readHfArch(v5);
    expect(arch.ropeTheta).toBe(500000);
    expect(notes).toEqual([expect.stringMatching(/^llama rope_scaling: "llama3" RoPE scaling is not modelled/)]);
  });

  it('a PanguProMoE config reads as archFromHfConfig reads it, without notes', () => {
    const config = hfConfigFromArch(getPreset('pangu-pro-moe'));
    expect(readHfArch(config)).toEqual({ arch: archFromHfConfig(config), modelType: 'PanguProMoE', notes: [] });
  });
});

describe('readHfArch: notes are for fields that change no count', () => {
  /** Per family, settings of fields that may only add notes: the arch must come out the same. */
  const neutral = fc.record({
    hidden_act: fc.constantFrom('silu', 'gelu', 'gelu_pytorch_tanh'),
    rope_scaling: fc.constantFrom(null, { type: 'yarn', factor: 4, original_max_position_embeddings: 4096 }, { rope_type: 'linear', factor: 2 }),
    attention_dropout: fc.constantFrom(0, 0.1),
    norm_topk_prob: fc.boolean(),
    routed_scaling_factor: fc.constantFrom(1, 2.5, 16),
    scoring_func: fc.constantFrom('softmax', 'sigmoid'),
    seq_aux: fc.boolean(),
    quantization_config: fc.constantFrom(undefined, { quant_method: 'fp8' }),
  });

  it('changing a noted field changes the notes, never the arch (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom(DEEPSEEK_V3, DEEPSEEK_V2_LITE, QWEN3_30B_A3B, QWEN2_57B_A14B, MIXTRAL_8X7B, LLAMA_3_8B), neutral, (config, fields) => {
        const base = readHfArch(config).arch;
        const changed = readHfArch({ ...config, ...fields });
        expect(changed.arch).toEqual(base);
        expect(changed.notes.every((n) => n.startsWith(`${config.model_type} `))).toBe(true);
        // …and what changed is said.
        const noted = (field: string) => changed.notes.some((n) => n.startsWith(`${config.model_type} ${field}: `));
        if (fields.hidden_act !== 'silu') expect(noted('hidden_act')).toBe(true);
        if (fields.rope_scaling !== null) expect(noted('rope_scaling')).toBe(true);
        if (fields.attention_dropout > 0) expect(noted('attention_dropout')).toBe(true);
        if (fields.quantization_config) expect(noted('quantization_config')).toBe(true);
      }),
      { seed: 20261202, numRuns: 200 },
    );
  });
});

describe('readHfArch: refusals name the field', () => {
  const refusal = (json: unknown): string => {
    try {
      readHfArch(json);
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      return (e as ValidationError).message;
    }
    throw new Error('not refused');
  };

  it('refuses layouts MoeArch cannot place: dense layers between MoE layers', () => {
    expect(refusal({ ...DEEPSEEK_V3, moe_layer_freq: 2 })).toMatch(/moe_layer_freq: got 2/);
    expect(refusal({ ...QWEN3_30B_A3B, decoder_sparse_step: 2 })).toMatch(/decoder_sparse_step: got 2/);
    expect(refusal({ ...QWEN3_30B_A3B, mlp_only_layers: [0, 5] })).toMatch(/mlp_only_layers: got .*not at \[5\]/s);
  });

  it('refuses sliding-window attention (it changes attention FLOPs and the KV cache)', () => {
    expect(refusal({ ...QWEN2_57B_A14B, use_sliding_window: true })).toMatch(/use_sliding_window: got true/);
    expect(refusal({ ...MIXTRAL_8X7B, sliding_window: 4096 })).toMatch(/sliding_window: got 4096/);
    expect(refusal({ ...LLAMA_3_8B, layer_types: ['full_attention', 'sliding_attention'] })).toMatch(/layer_types\[1\]: got "sliding_attention"/);
  });

  it('refuses a dense qwen3 config without head_dim (Qwen3Config defaults it to 128), rather than guessing hidden_size / heads', () => {
    const dense = { model_type: 'qwen3', hidden_size: 1024, num_hidden_layers: 28, num_attention_heads: 16, num_key_value_heads: 8, intermediate_size: 3072, vocab_size: 151936 };
    expect(refusal(dense)).toMatch(/head_dim: got .*transformers' default is 128/s);
  });

  it('refuses a sizing field left to a transformers class default it does not guess; llama\'s absent kv heads are one per head', () => {
    const { first_k_dense_replace: _k, ...noDense } = DEEPSEEK_V3;
    expect(refusal(noDense)).toMatch(/first_k_dense_replace: got nothing, expected a stated value: without it transformers uses its deepseek_v3 class default/);
    const { shared_expert_intermediate_size: _s, ...noShared } = QWEN2_57B_A14B;
    expect(refusal(noShared)).toMatch(/shared_expert_intermediate_size: got nothing/);
    const { num_key_value_heads: _h, ...noKv } = MIXTRAL_8X7B;
    expect(refusal(noKv)).toMatch(/num_key_value_heads: got nothing/);
    expect(refusal({ ...noKv, model_type: 'qwen2' })).toMatch(/num_key_value_heads: got nothing/);
    expect(readHfArch({ ...noKv, model_type: 'llama' }).arch.numKvHeads).toBe(32);
    expect(readHfArch({ ...MIXTRAL_8X7B, num_key_value_heads: null }).arch.numKvHeads).toBe(32);
  });

  it('refuses a family it does not read, listing the ones it does', () => {
    expect(refusal({ ...LLAMA_3_8B, model_type: 'gemma' })).toMatch(/model_type: got "gemma".*"deepseek_v3".*"mixtral"/s);
    expect(refusal({ hidden_size: 8 })).toMatch(/model_type: got nothing, expected one of/);
  });

  it('names the config field a MoeArch rule breaks', () => {
    expect(refusal({ ...MIXTRAL_8X7B, num_experts_per_tok: 9 })).toMatch(/topK: got 9.*topK = num_experts_per_tok/s);
    expect(refusal({ ...DEEPSEEK_V3, kv_lora_rank: undefined })).toMatch(/kv_lora_rank/);
  });

  it('leading mlp_only_layers, in any order, are the leading dense layers; any other set is refused (property)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 47 }), { maxLength: 48 }), (layers) => {
        const json = { ...QWEN3_30B_A3B, mlp_only_layers: layers };
        const prefix = layers.every((l) => l < layers.length);
        if (!prefix) {
          expect(() => readHfArch(json)).toThrow(/mlp_only_layers/);
          return;
        }
        const { arch } = readHfArch(json);
        expect(arch.numDenseLayers).toBe(layers.length);
        expect(arch.denseFfnSize).toBe(layers.length > 0 ? 6144 : 0);
      }),
      { seed: 20261202, numRuns: 200 },
    );
  });
});

describe('the runnable model stays Pangu Pro MoE only', () => {
  it('archFromHfConfig and splitHfConfig (what loadModelDir reads) refuse other families, saying they are architecture-only', () => {
    for (const config of [DEEPSEEK_V3, QWEN3_30B_A3B, MIXTRAL_8X7B, LLAMA_3_8B]) {
      expect(() => archFromHfConfig(config)).toThrow(new RegExp(`model_type: got "${config.model_type}".*cannot load or run ${config.model_type} weights`, 's'));
      expect(() => splitHfConfig(config)).toThrow(/the runnable model is Pangu Pro MoE only/);
    }
  });
});
