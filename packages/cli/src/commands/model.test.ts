import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createReferenceBackend } from '@moge/ascend-hal';
import { createModelWeights, getPreset, initModelWeights, listPresets, weightsToHost } from '@moge/model';
import { readSafetensorsFile, saveModelDir } from '@moge/model/node';
import { captureOutput } from '../test-support/capture';
import { main } from '../main';
import { sharedDir } from '../../../../tools/test/shared-dir';

// The golden model, read in place: <repo root>/../shared/golden/tiny-moge-a.
const golden = resolve(sharedDir(), 'golden', 'tiny-moge-a');
const tmp = mkdtempSync(join(tmpdir(), 'moge-cli-model-'));

const capture = captureOutput;

afterEach(() => vi.restoreAllMocks());

describe('moge model forward', () => {
  const expected = JSON.parse(readFileSync(join(golden, 'expected.json'), 'utf8'));
  const input = join(tmp, 'input.json');
  writeFileSync(input, JSON.stringify({ input_ids: expected.input_ids }));

  it.each(['reference', 'onnxruntime'])('reproduces the golden result and gradients on %s', async (backend) => {
    capture();
    const out = join(tmp, `result-${backend}.json`);
    const grads = join(tmp, `grads-${backend}.safetensors`);
    const code = await main(['model', 'forward', '--model', golden, '--input', input, '--out', out, '--grads', grads, '--aux-alpha', '0.01', '--backend', backend, ...(backend === 'onnxruntime' ? ['--threads', '1'] : [])]);
    expect(code).toBe(0);
    const got = JSON.parse(readFileSync(out, 'utf8'));
    expect(Object.keys(got).sort()).toEqual(['input_ids', 'logits', 'logits_shape', 'loss', 'routing']);
    expect(got.logits_shape).toEqual(expected.logits_shape);
    expect(Math.abs(got.loss.total - expected.loss.total)).toBeLessThan(1e-5);
    expect(got.routing.map((r: { expert_ids: unknown }) => r.expert_ids)).toEqual(expected.routing.map((r: { expert_ids: unknown }) => r.expert_ids));
    expect(got.routing[1].counts).toEqual(expected.routing[1].counts);
    expect(Object.keys(got.routing[0])).toEqual(Object.keys(expected.routing[0]));
    const g = readSafetensorsFile(grads).tensors;
    const ref = readSafetensorsFile(join(golden, 'grads.safetensors')).tensors;
    expect([...g.keys()].sort()).toEqual([...ref.keys()].sort());
    // Values, at the golden README's tolerances: logits 1e-4 relative (1e-5 absolute near zero),
    // every gradient tensor 1e-4 relative in norm.
    const logitErr = got.logits.reduce((w: number, v: number, i: number) => Math.max(w, Math.abs(v - expected.logits[i]) / (1e-4 * Math.abs(expected.logits[i]) + 1e-5)), 0);
    expect(logitErr).toBeLessThanOrEqual(1);
    for (const [name, r] of ref) {
      const d = g.get(name)!.data;
      let diff = 0;
      let norm = 0;
      r.data.forEach((v, i) => ((diff += (d[i]! - v) ** 2), (norm += v * v)));
      expect(Math.sqrt(diff / norm), name).toBeLessThan(1e-4);
    }
  });

  it('names a bad flag, a bad input file and a missing model', async () => {
    const { err } = capture();
    expect(await main(['model', 'forward', '--model', golden, '--input', input, '--out', join(tmp, 'x.json'), '--backend', 'cuda'])).toBe(1);
    expect(err.join('')).toMatch(/--backend: got "cuda"/);
    const bad = join(tmp, 'bad.json');
    writeFileSync(bad, JSON.stringify({ input_ids: [[1, 2], [3]] }));
    expect(await main(['model', 'forward', '--model', golden, '--input', bad, '--out', join(tmp, 'x.json')])).toBe(1);
    expect(err.join('')).toMatch(/input_ids.*\[1\]: got "1 tokens"/s);
    expect(await main(['model', 'forward', '--model', join(tmp, 'nowhere'), '--input', input, '--out', join(tmp, 'x.json')])).toBe(1);
    expect(err.join('')).toMatch(/nowhere.*config\.json: no such file/);
    // --threads sizes onnxruntime's pool; the reference backend (the default) would drop it silently.
    expect(await main(['model', 'forward', '--model', golden, '--input', input, '--out', join(tmp, 'x.json'), '--threads', '2'])).toBe(1);
    expect(err.join('')).toMatch(/--threads: got "2", expected nothing with --backend reference \(it sets onnxruntime's intra-op threads; add --backend onnxruntime\)/);
  });

  it('refuses an output it cannot write before writing the other one', async () => {
    const { err } = capture();
    const kept = join(tmp, 'kept-result.json');
    writeFileSync(kept, '{"earlier": true}\n');
    const aDirectory = join(tmp, 'grads-dir');
    mkdirSync(aDirectory, { recursive: true });
    expect(await main(['model', 'forward', '--model', golden, '--input', input, '--out', kept, '--grads', aDirectory])).toBe(1);
    expect(err.join('')).toMatch(/--grads .*grads-dir: is a directory; give a file path/);
    expect(await main(['model', 'forward', '--model', golden, '--input', input, '--out', join(kept, 'x.json')])).toBe(1);
    expect(err.join('')).toMatch(/--out .*kept-result\.json\/x\.json: .*kept-result\.json is a file, not a directory/);
    expect(readFileSync(kept, 'utf8')).toBe('{"earlier": true}\n');
    expect(await main(['model', 'forward', '--model', golden, '--input', input, '--out', kept, '--grads', kept])).toBe(1);
    expect(err.join('')).toMatch(/--grads .*kept-result\.json: is the --out file too/);
    expect(await main(['model', 'forward', '--model', golden, '--input', input, '--out', input])).toBe(1);
    expect(err.join('')).toMatch(/--out .*: is the --input file/);
    expect(await main(['model', 'forward', '--model', golden, '--input', input, '--out', kept, '--aux-alpha', '1e308'])).toBe(1);
    expect(err.join('')).toMatch(/--aux-alpha: got "1e308", expected a number in \[0, 1000\]/);
    expect(readFileSync(kept, 'utf8')).toBe('{"earlier": true}\n');
  });

  it('refuses non-finite logits (JSON would hold null) even where one-token rows leave no loss to check, writing nothing', async () => {
    const { err } = capture();
    const dir = join(tmp, 'overflowing');
    const backend = createReferenceBackend();
    const host = weightsToHost(initModelWeights(getPreset('moge-tiny'), backend, { seed: 0 }));
    host.get('lm_head.weight')!.data.fill(3e38); // finite, so the checkpoint loads; the logits are not
    saveModelDir(dir, createModelWeights(getPreset('moge-tiny'), backend, host));
    const one = join(tmp, 'one-token.json');
    writeFileSync(one, JSON.stringify({ input_ids: [[1], [2]] }));
    const out = join(tmp, 'overflowing-out.json');
    expect(await main(['model', 'forward', '--model', dir, '--input', one, '--out', out])).toBe(1);
    expect(err.join('')).toMatch(/logit of token 0 at sequence 0, position 0 is (-)?Infinity: nothing written; the weights overflow float32/);
    expect(existsSync(out)).toBe(false);
  });

  it('model init refuses a model this machine cannot hold before allocating it, writing nothing', async () => {
    const { err } = capture();
    const dir = join(tmp, 'init-too-large');
    // 72 B parameters, ~805 GiB to initialise and write: beyond any machine these tests run on.
    expect(await main(['model', 'init', '--arch', 'pangu-pro-moe', '--out', dir])).toBe(1);
    expect(err.join('')).toMatch(/^moge: --arch pangu-pro-moe: 72\.0 B parameters need at least 804\.54 GiB of memory to initialise and write in F32, and this machine has .*; model init is for models that fit/);
    expect(existsSync(dir)).toBe(false);
  });

  it('model init refuses an HF config of a family read for planning only, writing nothing', async () => {
    const { err } = capture();
    const config = join(tmp, 'qwen3-moe-tiny.json');
    writeFileSync(config, JSON.stringify({
      model_type: 'qwen3_moe', vocab_size: 64, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1,
      head_dim: 8, intermediate_size: 32, moe_intermediate_size: 8, num_experts: 4, num_experts_per_tok: 2, decoder_sparse_step: 1, mlp_only_layers: [],
    }));
    expect(await main(['model', 'info', config])).toBe(0); // planning reads it
    const dir = join(tmp, 'init-qwen');
    expect(await main(['model', 'init', '--arch', config, '--out', dir])).toBe(1);
    expect(err.join('')).toMatch(/model_type "qwen3_moe" is read as an architecture for planning only/);
    expect(existsSync(dir)).toBe(false);
  });

  it('model init refuses a directory that already holds a model', async () => {
    const { err } = capture();
    const dir = join(tmp, 'init-twice');
    expect(await main(['model', 'init', '--arch', 'moge-tiny', '--out', dir])).toBe(0);
    const before = readFileSync(join(dir, 'model.safetensors'));
    expect(await main(['model', 'init', '--arch', 'moge-tiny', '--out', dir, '--seed', '5'])).toBe(1);
    expect(err.join('')).toMatch(/init-twice: already holds a model \(config\.json, model\.safetensors\)/);
    expect(readFileSync(join(dir, 'model.safetensors')).equals(before)).toBe(true);
  });
});

describe('moge model info and init', () => {
  it('prints Pangu Pro MoE parameters as JSON', async () => {
    const { out } = capture();
    expect(await main(['model', 'info', 'pangu-pro-moe', '--json'])).toBe(0);
    const info = JSON.parse(out.join(''));
    expect((info.parameters.total / 1e9).toFixed(2)).toBe('71.99');
    expect(info.kvBytesPerToken.bf16).toBe(2 * 8 * 128 * 48 * 2);
  });

  it('takes the architecture as its operand or as --arch, as model init and sim do', async () => {
    const byFlag = capture();
    expect(await main(['model', 'info', '--arch', 'pangu-pro-moe', '--json'])).toBe(0);
    expect((JSON.parse(byFlag.out.join('')).parameters.total / 1e9).toFixed(2)).toBe('71.99');
    vi.restoreAllMocks();
    const both = capture();
    expect(await main(['model', 'info', 'moge-tiny', '--arch', 'moge-small'])).toBe(1);
    expect(both.err.join('')).toMatch(/--arch moge-small: the operand already names moge-tiny; give the architecture once/);
    vi.restoreAllMocks();
    const neither = capture();
    expect(await main(['model', 'info'])).toBe(1);
    expect(neither.err.join('')).toMatch(/no architecture: .*moge model info <arch> or --arch <arch>/);
  });

  it('prints parameter counts exactly, with thousands separators and a unit per value', async () => {
    const { out } = capture();
    expect(await main(['model', 'info', 'moge-tiny'])).toBe(0);
    expect(out.join('')).toMatch(/parameters \(total\) +181,968 \(182\.0 K\)\n/);
    expect(out.join('')).toMatch(/MTP parameters \(apart\) +0\n/);
    vi.restoreAllMocks();
    const pro = capture();
    expect(await main(['model', 'info', 'pangu-pro-moe'])).toBe(0);
    expect(pro.out.join('')).toMatch(/parameters \(total\) +71,988,781,056 \(72\.0 B\)\n/);
  });

  it("names each FLOP convention: sim train's MFU count (with the head) and targets.md's (without)", async () => {
    const { out } = capture();
    expect(await main(['model', 'info', 'pangu-pro-moe', '--json'])).toBe(0);
    const info = JSON.parse(out.join(''));
    vi.restoreAllMocks();
    const sim = capture();
    const plan = JSON.stringify({ tp: 4, pp: 4, vpp: 2, ep: 8, dp: 4, microBatchSize: 1, globalBatchSize: 64, seqLength: 4096, sequenceParallel: true });
    expect(await main(['sim', 'train', '--arch', 'pangu-pro-moe', '--cluster', 'atlas-800t-a2:64', '--plan', plan, '--json'])).toBe(0);
    // The number model info calls sim train's is the one sim train divides by.
    expect(info.flopsPerToken.trainingMegatron.total).toBe(JSON.parse(sim.out.join('')).modelFlopsPerToken);
    expect(info.flopsPerToken.training.mfu).toBeLessThan(info.flopsPerToken.trainingMegatron.total);
    vi.restoreAllMocks();
    const table = capture();
    expect(await main(['model', 'info', 'pangu-pro-moe'])).toBe(0);
    const text = table.out.join('');
    expect(text).toMatch(/training FLOP\/token, sim train MFU \(6N \+ head \+ attn \+ MTP, s=4096\) +106\.36 GFLOP/);
    expect(text).toMatch(/training FLOP\/token, targets\.md MFU \(6N \+ attn, s=4096\) +101\.65 GFLOP/);
    expect(text).not.toMatch(/MFU convention/);
  });

  it('refuses a missing required flag of model init and model forward as a usage error (status 2)', async () => {
    const { err } = capture();
    expect(await main(['model', 'init', '--out', join(tmp, 'no-arch')])).toBe(2);
    expect(err.join('')).toMatch(/required option '--arch <arch>' not specified/);
    expect(await main(['model', 'forward', '--input', 'x.json', '--out', join(tmp, 'y.json')])).toBe(2);
    expect(err.join('')).toMatch(/required option '--model <dir>' not specified/);
  });

  it('lists every preset in the help of each option that takes an architecture', async () => {
    for (const argv of [['model', 'info'], ['model', 'init'], ['mem', 'train'], ['sim', 'train'], ['sim', 'infer']]) {
      const { out } = capture();
      expect(await main([...argv, '--help'])).toBe(0);
      const help = out.join('').replace(/\s+/g, ' ');
      for (const preset of listPresets()) expect(help, argv.join(' ')).toContain(preset);
      vi.restoreAllMocks();
    }
  });

  it('initialises a model directory that forward then loads', async () => {
    capture();
    const dir = join(tmp, 'tiny');
    expect(await main(['model', 'init', '--arch', 'moge-tiny', '--out', dir, '--seed', '5'])).toBe(0);
    const input = join(tmp, 'tiny-in.json');
    writeFileSync(input, JSON.stringify({ input_ids: [[1, 2, 3, 4]] }));
    const out = join(tmp, 'tiny-out.json');
    expect(await main(['model', 'forward', '--model', dir, '--input', input, '--out', out])).toBe(0);
    const r = JSON.parse(readFileSync(out, 'utf8'));
    // Untrained: the loss is near log(vocab) = log(256).
    expect(Math.abs(r.loss.cross_entropy - Math.log(256))).toBeLessThan(0.5);
  });
});
