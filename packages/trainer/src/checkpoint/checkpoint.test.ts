import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createReferenceBackend } from '@moge/ascend-hal';
import { getPreset, initModelWeights, paramSpecs } from '@moge/model';
import { TrainConfigSchema } from '../config/train-config';
import { trainTokenizer } from '../tokenizer/train-tokenizer';
import { flatParamsOf, loadCheckpoint, saveCheckpoint, type CheckpointContents } from './checkpoint';
import { checkManifest } from './manifest';

const arch = { ...getPreset('moge-tiny'), vocabSize: 300 };
const tokenizer = trainTokenizer(['the quick brown fox jumps over the lazy dog '.repeat(50)], { vocabSize: 300 });
const config = TrainConfigSchema.parse({ preset: 'moge-tiny', vocabSize: 300, steps: 10 });

function contents(step: number, seed: number): CheckpointContents {
  const weights = initModelWeights(arch, createReferenceBackend(), { seed });
  const m = new Map(paramSpecs(arch).map((s) => [s.name, Float32Array.from({ length: s.shape.reduce((a, b) => a * b, 1) }, (_, i) => (i % 7) * 1e-3 * step)]));
  const v = new Map([...m].map(([k, a]) => [k, a.map((x) => x * x)]));
  return { weights, tokenizer, optimizer: { step, m, v }, state: { step, config, cursor: { epoch: 0, position: step * 8 }, dataFingerprint: 'abcd1234', optimizerStep: step } };
}

describe('checkpoints', () => {
  it('round-trip weights, optimizer moments, cursor and config exactly; keep only the newest `keep`', () => {
    const run = mkdtempSync(join(tmpdir(), 'moge-ck-'));
    for (const step of [1, 2, 3]) saveCheckpoint(run, contents(step, step), 2);
    expect(readdirSync(join(run, 'checkpoints')).sort()).toEqual(['step-00000002', 'step-00000003']);
    const ck = loadCheckpoint(run);
    expect(ck.state.step).toBe(3);
    expect(ck.state.cursor).toEqual({ epoch: 0, position: 24 });
    expect(flatParamsOf(ck.weights)).toEqual(flatParamsOf(contents(3, 3).weights));
    const want = contents(3, 3).optimizer;
    for (const [name, m] of want.m) {
      expect(ck.optimizer.m.get(name)).toEqual(m);
      expect(ck.optimizer.v.get(name)).toEqual(want.v.get(name));
    }
    expect(ck.tokenizer.encode('the lazy fox')).toEqual(tokenizer.encode('the lazy fox'));
  });

  it('a write killed half-way leaves the previous checkpoint as latest, and the debris is cleared next time', () => {
    const run = mkdtempSync(join(tmpdir(), 'moge-ck-'));
    saveCheckpoint(run, contents(1, 1), 2);
    // What a SIGKILL during the next save leaves: a partial temp directory, latest.json untouched.
    const debris = join(run, 'checkpoints', '.tmp-step-00000002-99999');
    mkdirSync(debris);
    writeFileSync(join(debris, 'model.safetensors'), 'partial');
    expect(loadCheckpoint(run).state.step).toBe(1);
    saveCheckpoint(run, contents(2, 2), 2);
    expect(existsSync(debris)).toBe(false);
    expect(loadCheckpoint(run).state.step).toBe(2);
  });

  it('refuses a damaged checkpoint, naming the damage and the previous good one, and deletes nothing', () => {
    const run = mkdtempSync(join(tmpdir(), 'moge-ck-'));
    saveCheckpoint(run, contents(1, 1), 3);
    const newest = saveCheckpoint(run, contents(2, 2), 3);
    const state = join(newest, 'trainer_state.json');
    writeFileSync(state, readFileSync(state, 'utf8').replace('"step": 2', '"step": 9'));
    expect(() => loadCheckpoint(run)).toThrow(/checkpoint is corrupt[\s\S]*trainer_state\.json[\s\S]*step-00000001/);
    expect(existsSync(state)).toBe(true);
    rmSync(join(newest, 'optimizer.safetensors'));
    expect(checkManifest(newest)).toEqual(expect.arrayContaining(['optimizer.safetensors is missing']));
    expect(loadCheckpoint(join(run, 'checkpoints', 'step-00000001')).state.step).toBe(1);
  });

  it('after a resume from an earlier checkpoint of the run, pruning keeps that one, not the later ones of the abandoned continuation', () => {
    const run = mkdtempSync(join(tmpdir(), 'moge-ck-'));
    const names = () => readdirSync(join(run, 'checkpoints')).sort();
    saveCheckpoint(run, contents(10, 10), 2);
    const abandoned = saveCheckpoint(run, contents(20, 20), 2);
    // The newest is damaged; its message names step 10, and the run resumes from there (checkpointing every 5).
    writeFileSync(join(abandoned, 'model.safetensors'), 'damaged');
    expect(() => loadCheckpoint(run)).toThrow(/resume from it with --resume \S*step-00000010/);
    saveCheckpoint(run, contents(15, 15), 2);
    expect(names()).toEqual(['step-00000010', 'step-00000015', 'step-00000020']);
    // The checkpoint before a damaged one is an earlier step's, never the later, other continuation's.
    writeFileSync(join(run, 'checkpoints', 'step-00000015', 'model.safetensors'), 'damaged too');
    expect(() => loadCheckpoint(run)).toThrow(/resume from it with --resume \S*step-00000010/);
    saveCheckpoint(run, contents(16, 16), 2);
    expect(names()).toEqual(['step-00000015', 'step-00000016', 'step-00000020']);
    saveCheckpoint(run, contents(20, 20), 2);
    expect(names()).toEqual(['step-00000016', 'step-00000020']);
    expect(loadCheckpoint(run).state.step).toBe(20);
  });

  it('refuses optimizer moments that do not fit the model or the trainer state, though the manifest matches', () => {
    const run = mkdtempSync(join(tmpdir(), 'moge-ck-'));
    const c = contents(2, 2);
    const name = paramSpecs(arch)[1]!.name;
    const cut = (moments: ReadonlyMap<string, Float32Array>) => new Map([...moments].map(([k, a]) => [k, k === name ? a.subarray(1) : a]));
    saveCheckpoint(run, { ...c, optimizer: { ...c.optimizer, m: cut(c.optimizer.m), v: cut(c.optimizer.v) } }, 2);
    expect(() => loadCheckpoint(run)).toThrow(new RegExp(`exp_avg\\.${name.replace(/\./g, '\\.')} has \\d+ elements, but ${name.replace(/\./g, '\\.')} \\[`));
    const other = mkdtempSync(join(tmpdir(), 'moge-ck-'));
    saveCheckpoint(other, { ...c, optimizer: { ...c.optimizer, step: 1 } }, 2);
    expect(() => loadCheckpoint(other)).toThrow(/moments of optimizer step 1, but trainer_state\.json says 2/);
  });

  it('says when latest.json names a checkpoint that no longer exists, and names the previous one', () => {
    const run = mkdtempSync(join(tmpdir(), 'moge-ck-'));
    saveCheckpoint(run, contents(1, 1), 3);
    rmSync(saveCheckpoint(run, contents(2, 2), 3), { recursive: true });
    expect(() => loadCheckpoint(run)).toThrow(/step-00000002: checkpoint is corrupt and was not loaded:\n {2}- the checkpoint directory does not exist[\s\S]*--resume \S*step-00000001/);
  });

  it('refuses a latest.json that points outside the run\'s checkpoints', () => {
    const run = mkdtempSync(join(tmpdir(), 'moge-ck-'));
    saveCheckpoint(run, contents(1, 1), 3);
    writeFileSync(join(run, 'latest.json'), JSON.stringify({ checkpoint: '../../etc', step: 1 }));
    expect(() => loadCheckpoint(run)).toThrow(/latest\.json: checkpoint "\.\.\/\.\.\/etc" is outside this run's checkpoints\/ folder/);
  });
});
