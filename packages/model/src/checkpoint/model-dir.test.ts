import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createReferenceBackend } from '@moge/ascend-hal';
import { FileFormatError, MogeError, ValidationError } from '@moge/core';
import { getPreset } from '../presets/presets';
import { createModelWeights, initModelWeights, weightsToHost } from '../weights/model-weights';
import { readSafetensorsFile, writeSafetensorsFile } from '../safetensors/file';
import { freezeWeights } from '../weights/freeze';
import { loadModelDir, readModelConfig, readModelConfigFile, saveModelDir } from './model-dir';

const backend = createReferenceBackend();
const arch = getPreset('moge-tiny');
const weights = initModelWeights(arch, backend, { seed: 3 });
const root = mkdtempSync(join(tmpdir(), 'moge-ckpt-'));

/** Every value of `b` within `relTol` × |value| of `a`'s (0: equal). */
function sameWeights(a: typeof weights, b: typeof weights, relTol = 0): void {
  const ha = weightsToHost(a);
  const hb = weightsToHost(b);
  for (const [name, t] of ha) {
    const u = hb.get(name)!;
    expect(u.shape, name).toEqual(t.shape);
    let worst = 0;
    for (let i = 0; i < t.data.length; i++) worst = Math.max(worst, Math.abs(u.data[i]! - t.data[i]!) - relTol * Math.abs(t.data[i]!));
    expect(worst, name).toBeLessThanOrEqual(0);
  }
}

/** Rounding to bfloat16 (7 stored significand bits) is off by at most half a last place: 2^-8 of the value. */
const BF16_REL = 2 ** -8;

describe('model directories', () => {
  it('saves and loads a single-file F32 checkpoint exactly, with HF tensor names', () => {
    const dir = join(root, 'single');
    saveModelDir(dir, weights, { tokenizerJson: '{"model":{}}' });
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json']);
    const names = [...readSafetensorsFile(join(dir, 'model.safetensors')).tensors.keys()];
    expect(names).toContain('model.layers.1.mlp.experts.7.down_proj.weight');
    expect(names).not.toContain('model.layers.1.mlp.experts.down_proj.weight');
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toMatchObject({ model_type: 'PanguProMoE', num_expert_groups: 4, torch_dtype: 'float32' });
    expect(readModelConfig(dir)).toEqual({ ...arch, name: undefined });
    sameWeights(weights, loadModelDir(dir, backend));
  });

  it('saves and loads a sharded BF16 checkpoint (index.json)', () => {
    const dir = join(root, 'sharded');
    saveModelDir(dir, weights, { dtype: 'BF16', maxShardBytes: 40_000 });
    const files = readdirSync(dir);
    expect(files).toContain('model.safetensors.index.json');
    expect(files.filter((f) => f.endsWith('.safetensors')).length).toBeGreaterThan(2);
    sameWeights(weights, loadModelDir(dir, backend), BF16_REL);
  });

  it('saving over a directory replaces the earlier weight files, single or sharded', () => {
    const dir = join(root, 'resaved');
    saveModelDir(dir, weights);
    saveModelDir(dir, weights, { maxShardBytes: 40_000 });
    const sharded = readdirSync(dir);
    expect(sharded).not.toContain('model.safetensors');
    expect(sharded.filter((f) => /^model-\d+-of-\d+\.safetensors$/.test(f)).length).toBeGreaterThan(2);
    saveModelDir(dir, weights, { maxShardBytes: 400_000 });
    const fewer = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8')) as { weight_map: Record<string, string> };
    expect(readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort()).toEqual([...new Set(Object.values(fewer.weight_map))].sort());
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    saveModelDir(dir, weights);
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors', 'notes.txt']);
    sameWeights(weights, loadModelDir(dir, backend));
  });

  it('refuses a save it cannot complete before writing any file, leaving the earlier checkpoint whole', () => {
    const dir = join(root, 'refused-save');
    saveModelDir(dir, weights, { maxShardBytes: 40_000 });
    const snapshot = () => new Map(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f))]));
    const before = snapshot();
    // A value F16 cannot hold in the last tensor: every shard before it would already be written.
    const host = weightsToHost(weights);
    host.get('lm_head.weight')!.data[5] = 1e5;
    const overflowing = createModelWeights(arch, backend, host);
    expect(() => saveModelDir(dir, overflowing, { dtype: 'F16', maxShardBytes: 40_000 })).toThrow(FileFormatError);
    expect(() => saveModelDir(dir, overflowing, { dtype: 'F16', maxShardBytes: 40_000 })).toThrow(/refused-save: cannot save as F16: tensor lm_head\.weight: element 5 is 100000/);
    // A dtype misspelt from JavaScript (the type does not stop it there).
    for (const dtype of ['bf16', 'I8']) {
      expect(() => saveModelDir(dir, weights, { dtype: dtype as 'BF16' })).toThrow(new RegExp(`^dtype: got "${dtype}", expected one of F32, F16, BF16, F64`));
    }
    // An arch that config.json cannot express (plain top-k over 4 groups), found only when config.json was written last.
    const topk = initModelWeights({ ...arch, router: 'topk' }, backend, { seed: 4 });
    expect(() => saveModelDir(dir, topk)).toThrow(ValidationError);
    expect(snapshot()).toEqual(before);
    sameWeights(weights, loadModelDir(dir, backend));
  });

  it('refuses to save NaN or ±∞ weights (loading would refuse them), leaving the earlier checkpoint loadable', () => {
    const dir = join(root, 'non-finite-save');
    saveModelDir(dir, weights);
    const before = readFileSync(join(dir, 'model.safetensors'));
    for (const bad of [NaN, Infinity, -Infinity]) {
      const host = weightsToHost(weights);
      host.get('model.norm.weight')!.data[3] = bad;
      const diverged = createModelWeights(arch, backend, host);
      expect(() => saveModelDir(dir, diverged)).toThrow(FileFormatError);
      expect(() => saveModelDir(dir, diverged)).toThrow(new RegExp(`cannot save as F32: tensor model\\.norm\\.weight: element 3 is ${bad}`));
    }
    expect(readFileSync(join(dir, 'model.safetensors')).equals(before)).toBe(true);
    sameWeights(weights, loadModelDir(dir, backend));
  });

  it('names config.json and its field when the model code cannot run a valid config (odd head size, tied embeddings)', () => {
    const dir = join(root, 'unrunnable');
    saveModelDir(dir, weights);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, hidden_size: 60 }));
    expect(() => loadModelDir(dir, backend)).toThrow(/^invalid .*unrunnable\/config\.json for @moge\/model:\n {2}- headDim: got 15, expected an even number.*\nfields are named as in MoeArch: headDim = head_dim/s);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, tie_word_embeddings: true }));
    expect(() => loadModelDir(dir, backend)).toThrow(/unrunnable\/config\.json for @moge\/model:\n {2}- tiedEmbeddings: got true.*tiedEmbeddings = tie_word_embeddings/s);
  });

  it('names every missing, extra or mis-shaped tensor before reading any data', () => {
    const dir = join(root, 'mismatch');
    saveModelDir(dir, weights);
    const t = readSafetensorsFile(join(dir, 'model.safetensors')).tensors;
    t.delete('model.layers.0.self_attn.q_proj.bias');
    t.set('model.layers.0.mlp.experts.8.up_proj.weight', { shape: [32, 64], data: new Float32Array(32 * 64) });
    const bad = t.get('lm_head.weight')!;
    t.set('lm_head.weight', { shape: [64, 256], data: bad.data });
    writeSafetensorsFile(join(dir, 'model.safetensors'), [...t].map(([name, v]) => ({ name, shape: v.shape, data: v.data })));
    let err: unknown;
    try {
      loadModelDir(dir, backend);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    const paths = (err as ValidationError).issues.map((i) => i.path).sort();
    expect(paths).toEqual(['lm_head.weight', 'model.layers.0.mlp.experts.8.up_proj.weight', 'model.layers.0.self_attn.q_proj.bias']);
  });

  it('lists the first 20 tensor issues and counts the rest when config.json describes another model', () => {
    const dir = join(root, 'other-expert-count');
    saveModelDir(dir, weights);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, num_experts: 4 })); // the checkpoint has 8
    let err: unknown;
    try {
      loadModelDir(dir, backend);
    } catch (e) {
      err = e;
    }
    // 2 layers × (gate + router_scale mis-shaped, 4 experts × 3 projections unknown) = 28 issues.
    const issues = (err as ValidationError).issues;
    expect(issues).toHaveLength(21);
    expect(issues[0]).toMatchObject({ path: 'model.layers.0.mlp.gate.weight', received: [8, 64] });
    expect(issues[20]).toEqual({ path: '…', expected: '8 more tensors of the same kinds (28 in all); the first ones show the cause' });
    expect((err as Error).message.split('\n')).toHaveLength(22);
  });

  it('refuses a truncated shard naming file and tensor, and returns nothing', () => {
    const dir = join(root, 'truncated');
    cpSync(join(root, 'single'), dir, { recursive: true });
    const file = join(dir, 'model.safetensors');
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.length - 100));
    expect(() => loadModelDir(dir, backend)).toThrow(FileFormatError);
    expect(() => loadModelDir(dir, backend)).toThrow(/model\.safetensors: tensor lm_head\.weight: .*truncated/);
  });

  it('reads model.safetensors when an index is there too, as Hugging Face does', () => {
    const dir = join(root, 'both');
    const other = initModelWeights(arch, backend, { seed: 11 });
    saveModelDir(dir, other, { maxShardBytes: 40_000 });
    cpSync(join(root, 'single', 'model.safetensors'), join(dir, 'model.safetensors'));
    sameWeights(weights, loadModelDir(dir, backend));
  });

  it('names a shard the index lists but the directory lacks, and what it was to hold', () => {
    const dir = join(root, 'missing-shard');
    cpSync(join(root, 'sharded'), dir, { recursive: true });
    const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8')) as { weight_map: Record<string, string> };
    const shard = Object.values(index.weight_map).at(-1)!;
    const held = Object.keys(index.weight_map).filter((n) => index.weight_map[n] === shard);
    rmSync(join(dir, shard));
    expect(() => loadModelDir(dir, backend)).toThrow(MogeError);
    expect(() => loadModelDir(dir, backend)).toThrow(`${shard}: no such file; model.safetensors.index.json lists it for ${held.length} tensor${held.length === 1 ? '' : 's'} (first: ${held[0]})`);
    expect(() => loadModelDir(dir, backend)).toThrow(/incomplete download/);
  });

  it('refuses an index that lists a tensor its shard lacks, and a directory with no weights', () => {
    const dir = join(root, 'badindex');
    cpSync(join(root, 'sharded'), dir, { recursive: true });
    const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
    const [first, firstFile] = Object.entries(index.weight_map as Record<string, string>)[0]!;
    const other = Object.values(index.weight_map as Record<string, string>).find((f) => f !== firstFile)!;
    index.weight_map[first] = other;
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify(index));
    expect(() => loadModelDir(dir, backend)).toThrow(new RegExp(`tensor ${first.replace(/\./g, '\\.')}: listed in`));
    const empty = join(root, 'empty');
    cpSync(join(root, 'single', 'config.json'), join(empty, 'config.json'));
    expect(() => loadModelDir(empty, backend)).toThrow(MogeError);
    expect(existsSync(join(empty, 'model.safetensors'))).toBe(false);
  });

  it('keeps the config.json keys it does not model through a load → save round trip, as save_pretrained does', () => {
    const dir = join(root, 'hf-extras');
    saveModelDir(dir, weights, { dtype: 'BF16' });
    const extras = {
      architectures: ['PanguProMoEForCausalLM'],
      auto_map: { AutoConfig: 'configuration_pangu_moe.PanguProMoEConfig', AutoModelForCausalLM: 'modeling_pangu_moe.PanguProMoEForCausalLM' },
      transformers_version: '4.48.2',
      bos_token_id: 1,
      eos_token_id: 45892,
      use_cache: true,
      quantization_config: { bits: 8, skip: ['lm_head'] },
    };
    const original = { ...JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), ...extras };
    writeFileSync(join(dir, 'config.json'), JSON.stringify(original));
    const loaded = loadModelDir(dir, backend);
    expect(loaded.extraConfig).toEqual({ ...extras, torch_dtype: 'bfloat16' });
    expect(readModelConfigFile(dir).extraConfig).toEqual(loaded.extraConfig);
    const out = join(root, 'hf-extras-resaved');
    saveModelDir(out, loaded); // F32 now
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'))).toEqual({ ...original, torch_dtype: 'float32' });
    // Frozen for inference and saved again: still there.
    saveModelDir(out, freezeWeights(loadModelDir(out, backend)), { dtype: 'BF16' });
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'))).toEqual(original);
    // A changed arch wins over the keys it determines; `extraConfig` replaces the loaded keys, `{}` drops them.
    const changed = { ...loaded, arch: { ...loaded.arch, routerAuxLossCoef: 0.05 } };
    saveModelDir(out, changed, { extraConfig: { eos_token_id: 2, router_aux_loss_coef: 0.5, dtype: 'float16' } });
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ eos_token_id: 2, router_aux_loss_coef: 0.05, torch_dtype: 'float32', dtype: 'float32' });
    expect(config).not.toHaveProperty('auto_map');
    saveModelDir(out, loaded, { extraConfig: {} });
    expect(Object.keys(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')))).not.toContain('auto_map');
  });

  it('refuses extra config keys that would change the math before writing anything, naming the key and the fix', () => {
    const dir = join(root, 'bad-extras');
    saveModelDir(dir, weights);
    const snapshot = () => readdirSync(dir).map((f) => [f, readFileSync(join(dir, f)).toString('base64')]);
    const before = snapshot();
    const bad = { ...weights, extraConfig: { rope_scaling: { rope_type: 'yarn', factor: 4 } } };
    expect(() => saveModelDir(dir, bad)).toThrow(ValidationError);
    expect(() => saveModelDir(dir, bad)).toThrow(/rope_scaling: .*remove rope_scaling/);
    expect(snapshot()).toEqual(before);
  });

  it('keeps the files of the directory that are not the model, and tokenizer.json unless given one', () => {
    const dir = join(root, 'user-files');
    saveModelDir(dir, weights, { tokenizerJson: '{"v":1}', maxShardBytes: 40_000 });
    writeFileSync(join(dir, 'README.md'), '# mine\n');
    writeFileSync(join(dir, 'model-card.safetensors.txt'), 'not a shard');
    saveModelDir(dir, weights, { maxShardBytes: 40_000 });
    saveModelDir(dir, weights);
    expect(readdirSync(dir).sort()).toEqual(['README.md', 'config.json', 'model-card.safetensors.txt', 'model.safetensors', 'tokenizer.json']);
    expect(readFileSync(join(dir, 'tokenizer.json'), 'utf8')).toBe('{"v":1}');
    saveModelDir(dir, weights, { tokenizerJson: '{"v":2}', maxShardBytes: 40_000 });
    expect(readFileSync(join(dir, 'tokenizer.json'), 'utf8')).toBe('{"v":2}');
    expect(readdirSync(dir)).not.toContain('model.safetensors');
    sameWeights(weights, loadModelDir(dir, backend));
  });
});

