import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { countParameters, MoeArchSchema, ValidationError, MogeError, type MoeArch } from '@moge/core';
import { archFromHfConfig, getPreset, hfConfigFromArch, listPresets } from '@moge/model';
import { stringify as stringifyYaml } from 'yaml';
import { assertPresetFlag, resolveArch, resolveArchWithNotes } from './resolve-arch';

describe('resolveArch', () => {
  const dir = mkdtempSync(join(tmpdir(), 'moge-arch-'));

  it('takes a preset name', () => {
    expect(resolveArch('pangu-pro-moe')).toEqual(getPreset('pangu-pro-moe'));
  });

  it('takes a MoeArch YAML or JSON file, applying defaults', () => {
    const yaml = join(dir, 'a.yaml');
    writeFileSync(yaml, 'numLayers: 2\nhiddenSize: 8\nnumHeads: 2\nnumKvHeads: 1\nheadDim: 4\nvocabSize: 10\ndenseFfnSize: 16\n');
    expect(resolveArch(yaml)).toMatchObject({ numLayers: 2, numExperts: 0, ropeTheta: 10000 });
    const json = join(dir, 'a.json');
    writeFileSync(json, JSON.stringify(getPreset('moge-small')));
    expect(resolveArch(json)).toEqual(getPreset('moge-small'));
  });

  it('detects an HF config.json, also through its model directory', () => {
    const model = join(dir, 'model');
    mkdirSync(model);
    writeFileSync(join(model, 'config.json'), JSON.stringify(hfConfigFromArch(getPreset('moge-tiny'))));
    expect(resolveArch(join(model, 'config.json')).numExperts).toBe(8);
    expect(resolveArch(model).hiddenSize).toBe(64);
  });

  /** Every MoeArch a Pangu Pro `config.json` can state: MoGE router, GQA, all layers MoE, no MTP. */
  const hfExpressibleArch = fc
    .record({
      layers: fc.integer({ min: 1, max: 96 }),
      kv: fc.integer({ min: 1, max: 16 }),
      rep: fc.integer({ min: 1, max: 8 }),
      headDim: fc.integer({ min: 1, max: 128 }).map((d) => 2 * d),
      hidden: fc.integer({ min: 1, max: 2048 }).map((h) => 8 * h),
      vocab: fc.integer({ min: 1, max: 200_000 }),
      groups: fc.integer({ min: 1, max: 16 }),
      perGroup: fc.integer({ min: 1, max: 16 }),
      kPer: fc.integer({ min: 1, max: 16 }),
      expertFfn: fc.integer({ min: 1, max: 8192 }),
      sharedFfn: fc.integer({ min: 0, max: 16384 }),
      aux: fc.double({ min: 0, max: 1, noNaN: true }),
      bias: fc.boolean(),
      tied: fc.boolean(),
      ropeTheta: fc.double({ min: 1, max: 1e9, noNaN: true }),
      normEps: fc.double({ min: 1e-12, max: 1e-2, noNaN: true }),
      positions: fc.integer({ min: 1, max: 1 << 20 }),
    })
    .map((p): MoeArch =>
      MoeArchSchema.parse({
        numLayers: p.layers, hiddenSize: p.hidden, numHeads: p.kv * p.rep, numKvHeads: p.kv, headDim: p.headDim, vocabSize: p.vocab, denseFfnSize: 0,
        numExperts: p.groups * p.perGroup, numExpertGroups: p.groups, topK: p.groups * Math.min(p.kPer, p.perGroup), expertFfnSize: p.expertFfn,
        sharedExpertFfnSize: p.sharedFfn, routerAuxLossCoef: p.aux, attentionBias: p.bias, tiedEmbeddings: p.tied, ropeTheta: p.ropeTheta, normEps: p.normEps,
        maxPositionEmbeddings: p.positions,
      }),
    );

  it('MoeArch -> config.json -> MoeArch through --arch is the identity, as a file and as a model directory (property)', () => {
    let n = 0;
    fc.assert(
      fc.property(hfExpressibleArch, (arch) => {
        const model = join(dir, `rt-${n++}`);
        mkdirSync(model);
        writeFileSync(join(model, 'config.json'), `${JSON.stringify(hfConfigFromArch(arch), null, 2)}\n`);
        expect(resolveArch(join(model, 'config.json'))).toEqual(arch);
        expect(resolveArch(model)).toEqual(arch);
      }),
      { seed: 20261202, numRuns: 200 },
    );
  });

  it('MoeArch -> MoeArch JSON/YAML file -> MoeArch through --arch is the identity, for every preset', () => {
    for (const name of listPresets()) {
      const arch = getPreset(name);
      const json = join(dir, `${name}.json`);
      writeFileSync(json, JSON.stringify(arch));
      expect(resolveArch(json)).toEqual(arch);
      const yaml = join(dir, `${name}.yaml`);
      writeFileSync(yaml, stringifyYaml(arch));
      expect(resolveArch(yaml)).toEqual(arch);
    }
  });

  it('refuses an HF config of a family it does not read in one line saying what to give instead', () => {
    const gemma = join(dir, 'gemma', 'config.json');
    mkdirSync(join(dir, 'gemma'));
    writeFileSync(gemma, JSON.stringify({ model_type: 'gemma', hidden_size: 3072, num_hidden_layers: 28, num_attention_heads: 16, intermediate_size: 24576, vocab_size: 256000 }));
    for (const value of [gemma, join(dir, 'gemma')]) {
      expect(() => resolveArch(value)).toThrow(
        /^\S*gemma\/config\.json: model_type "gemma" is not a Hugging Face family moge reads \(PanguProMoE, deepseek_v3, .*, qwen3\); describe this model as a MoeArch JSON\/YAML file \(.*\) or start from a preset \(pangu-pro-moe, .*\)$/,
      );
    }
    // A Pangu config with a bad field still gets the field-by-field report.
    const pangu = join(dir, 'pangu-bad.json');
    writeFileSync(pangu, JSON.stringify({ ...hfConfigFromArch(getPreset('moge-tiny')), num_experts_per_tok: 3 }));
    expect(() => resolveArch(pangu)).toThrow(/invalid HF config .*\n {2}- topK: got 3/);
  });

  /** The sizing fields of deepseek-ai/DeepSeek-V3's published config.json (the full file is in @moge/model's tests). */
  const deepseekV3 = {
    model_type: 'deepseek_v3', vocab_size: 129280, hidden_size: 7168, intermediate_size: 18432, moe_intermediate_size: 2048, num_hidden_layers: 61,
    num_attention_heads: 128, num_key_value_heads: 128, n_shared_experts: 1, n_routed_experts: 256, routed_scaling_factor: 2.5, kv_lora_rank: 512,
    q_lora_rank: 1536, qk_rope_head_dim: 64, v_head_dim: 128, qk_nope_head_dim: 128, topk_method: 'noaux_tc', n_group: 8, topk_group: 4,
    num_experts_per_tok: 8, moe_layer_freq: 1, first_k_dense_replace: 3, norm_topk_prob: true, scoring_func: 'sigmoid', num_nextn_predict_layers: 1,
    max_position_embeddings: 163840, rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: false,
  };

  it('reads another family\'s config.json (file or directory) as an architecture for planning, with its notes', () => {
    const model = join(dir, 'deepseek-v3');
    mkdirSync(model);
    writeFileSync(join(model, 'config.json'), JSON.stringify(deepseekV3));
    for (const value of [model, join(model, 'config.json')]) {
      const { arch, notes } = resolveArchWithNotes(value);
      expect(arch).toMatchObject({ attention: 'mla', numDenseLayers: 3, numExperts: 256, router: 'group-limited', routerTopGroups: 4, mtpDepth: 1 });
      expect(Math.abs(countParameters(arch).total / 671e9 - 1)).toBeLessThan(0.01);
      expect(notes).toContain(`${join(model, 'config.json')}: deepseek_v3 scoring_func: "sigmoid": experts are scored with sigmoid, not softmax (same experts per token and FLOPs)`);
    }
  });

  it('resolveArch prints the notes on stderr, one line each', () => {
    const file = join(dir, 'mixtral.json');
    writeFileSync(file, JSON.stringify({ model_type: 'mixtral', vocab_size: 32000, hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 8, num_local_experts: 8, num_experts_per_tok: 2 }));
    const lines: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (lines.push(String(chunk)), true));
    try {
      expect(resolveArch(file)).toMatchObject({ numExperts: 8, topK: 2, expertFfnSize: 14336 });
    } finally {
      spy.mockRestore();
    }
    expect(lines).toEqual([`note: ${file}: mixtral num_experts_per_tok: the top-k weights are a softmax over the chosen experts only (renormalised): no parameters, negligible FLOPs\n`]);
  });

  it('refuses a field MoeArch cannot express, naming it', () => {
    const file = join(dir, 'qwen3-moe-alternating.json');
    writeFileSync(file, JSON.stringify({ model_type: 'qwen3_moe', vocab_size: 1000, hidden_size: 64, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16, num_experts: 8, num_experts_per_tok: 2, moe_intermediate_size: 32, decoder_sparse_step: 2 }));
    expect(() => resolveArch(file)).toThrow(/decoder_sparse_step: got 2, expected 1: with a step of more than one/);
  });

  it('with runnable: true, an HF config must be PanguProMoE: other families are refused in one line', () => {
    const file = join(dir, 'deepseek-v3-runnable.json');
    writeFileSync(file, JSON.stringify(deepseekV3));
    expect(() => resolveArch(file, { runnable: true })).toThrow(/^\S*deepseek-v3-runnable\.json: model_type "deepseek_v3" is read as an architecture for planning only \(moge model info, sim, mem\); the model moge builds and runs is Pangu Pro MoE/);
    const pangu = join(dir, 'pangu-runnable.json');
    writeFileSync(pangu, JSON.stringify(hfConfigFromArch(getPreset('moge-tiny'))));
    expect(resolveArch(pangu, { runnable: true })).toEqual(archFromHfConfig(hfConfigFromArch(getPreset('moge-tiny'))));
  });

  it('names the bad field or the unknown value', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...getPreset('moge-tiny'), topK: 3 }));
    expect(() => resolveArch(bad)).toThrow(ValidationError);
    expect(() => resolveArch(bad)).toThrow(/topK: got 3/);
    expect(() => resolveArch('no-such-model')).toThrow(MogeError);
    expect(() => resolveArch('no-such-model')).toThrow(/no-such-model.*pangu-pro-moe/);
  });

  it('names the preset a misspelt name was meant to be; a path-like or distant name gets the list alone', () => {
    expect(() => resolveArch('pangu-pro-mo')).toThrow(/^architecture "pangu-pro-mo": not a preset \(pangu-pro-moe, .*\) and no such file; did you mean "pangu-pro-moe"\?$/);
    expect(() => resolveArch('Moge-Tiny')).toThrow(/did you mean "moge-tiny"\?$/);
    expect(() => resolveArch(join(dir, 'pangu-pro-mo'))).toThrow(/and no such file$/);
    expect(() => resolveArch('llama-70b')).toThrow(/and no such file$/);
  });

  it('assertPresetFlag refuses a --preset that names no preset, by flag, with the name meant', () => {
    expect(() => assertPresetFlag('moge-tin')).toThrow(/^--preset moge-tin: not a model preset \(pangu-pro-moe, .*\); did you mean "moge-tiny"\?$/);
    expect(() => assertPresetFlag('moge-tiny')).not.toThrow();
    expect(() => assertPresetFlag(undefined)).not.toThrow();
  });

  it('reads a JSON file that starts with a UTF-8 byte-order mark', () => {
    const bom = join(dir, 'bom.json');
    writeFileSync(bom, `\uFEFF${JSON.stringify(getPreset('moge-tiny'))}`);
    expect(resolveArch(bom)).toEqual(getPreset('moge-tiny'));
  });

  it('says a binary file is one instead of echoing its bytes', () => {
    const binary = join(dir, 'model.safetensors');
    writeFileSync(binary, Buffer.from([8, 0, 0, 0, 0, 0, 0, 0, 123, 125]));
    expect(() => resolveArch(binary)).toThrow(/model\.safetensors: a binary file, not JSON or YAML \(for a model, give its directory\)$/);
  });
});
