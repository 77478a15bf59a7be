import type * as NodeFs from 'node:fs';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { createReferenceBackend } from '@moge/ascend-hal';
import type { MoeArch, MogeError } from '@moge/core';
import { getPreset } from '../presets/presets';
import { initModelWeights, weightsToHost, type ModelWeights } from '../weights/model-weights';
import { loadModelDir, readModelConfigFile, saveModelDir, type SaveModelOptions } from './model-dir';

/**
 * A crash of the saving process at any point: every rename and removal (the steps that change what a
 * reader of the directory sees) counts; at step `at` the process "dies" — that step and every later
 * change to the disk are dropped, so cleanup code after the failure does nothing either, as after a
 * SIGKILL or a power cut.
 */
const crash = vi.hoisted(() => ({ at: Infinity, steps: 0, dead: false, failOnly: false }));
class Crash extends Error {}

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof NodeFs>();
  const step = () => {
    if (crash.dead) return false;
    if (crash.steps++ === crash.at) {
      // failOnly: an I/O error (ENOSPC, EACCES) the process lives through, so its cleanup runs.
      if (crash.failOnly) throw Object.assign(new Error(`ENOSPC: no space left on device (step ${crash.at})`), { code: 'ENOSPC' });
      crash.dead = true;
      throw new Crash(`crashed at step ${crash.at}`);
    }
    return true;
  };
  const dropWhenDead = () => {
    if (crash.dead) throw new Crash('dead');
  };
  const mocked = {
    ...fs,
    renameSync: ((...a: Parameters<typeof fs.renameSync>) => (step() ? fs.renameSync(...a) : undefined)) as typeof fs.renameSync,
    rmSync: ((...a: Parameters<typeof fs.rmSync>) => (step() ? fs.rmSync(...a) : undefined)) as typeof fs.rmSync,
    unlinkSync: ((...a: Parameters<typeof fs.unlinkSync>) => (step() ? fs.unlinkSync(...a) : undefined)) as typeof fs.unlinkSync,
    writeFileSync: ((...a: Parameters<typeof fs.writeFileSync>) => (dropWhenDead(), fs.writeFileSync(...a))) as typeof fs.writeFileSync,
    openSync: ((...a: Parameters<typeof fs.openSync>) => (a[1] !== undefined && a[1] !== 'r' && dropWhenDead(), fs.openSync(...a))) as typeof fs.openSync,
  };
  return { ...mocked, default: mocked };
});

const backend = createReferenceBackend();
const tiny = getPreset('moge-tiny');
const root = mkdtempSync(join(tmpdir(), 'moge-crash-'));

function sameAs(w: ModelWeights, want: ModelWeights): boolean {
  const a = weightsToHost(w);
  for (const [name, t] of weightsToHost(want)) {
    const u = a.get(name);
    if (!u || u.data.length !== t.data.length || u.data.some((x, i) => x !== t.data[i])) return false;
  }
  return a.size === want.params.size;
}

/** The files a reader needs: config.json, tokenizer.json when there, the weight files the checkpoint uses. */
function checkpointFiles(dir: string): string[] {
  const files = new Set(readdirSync(dir).filter((f) => !/^model/.test(f) && !f.startsWith('.')));
  const names = readdirSync(dir);
  if (names.includes('model.safetensors')) files.add('model.safetensors');
  else {
    files.add('model.safetensors.index.json');
    const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8')) as { weight_map: Record<string, string> };
    for (const f of Object.values(index.weight_map)) files.add(f);
  }
  return [...files].sort();
}

interface Side {
  weights: ModelWeights;
  options: SaveModelOptions;
}

/**
 * Saves `before` into a directory holding user files, then replays saving `after` over it crashing at
 * every step in turn: after each crash the directory must load as exactly the old model or exactly the
 * new one (weights, arch and extra config keys agreeing), the user files must be untouched, and a
 * save that then runs to the end must leave the new checkpoint and nothing stale.
 */
function crashEverywhere(label: string, before: Side | undefined, after: Side): { old: number; new: number; staged: number } {
  const template = join(root, `${label}-template`);
  mkdirSync(template, { recursive: true });
  writeFileSync(join(template, 'README.md'), '# my model\n');
  writeFileSync(join(template, 'generation_config.json'), '{"max_new_tokens": 5}\n');
  if (before) saveModelDir(template, before.weights, before.options);
  const seen = { old: 0, new: 0, staged: 0 };
  for (let at = 0; ; at++) {
    const dir = join(root, `${label}-${at}`);
    cpSync(template, dir, { recursive: true });
    crash.at = at;
    crash.steps = 0;
    crash.dead = false;
    let completed = false;
    try {
      saveModelDir(dir, after.weights, after.options);
      completed = true;
    } catch (e) {
      if (!(e instanceof Crash || (e as Error).cause instanceof Crash)) throw e;
    } finally {
      crash.at = Infinity;
      crash.dead = false;
    }
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toBe('# my model\n');
    expect(readFileSync(join(dir, 'generation_config.json'), 'utf8')).toBe('{"max_new_tokens": 5}\n');
    let loaded: ModelWeights | undefined;
    try {
      loaded = loadModelDir(dir, backend);
    } catch (e) {
      // Only a directory that held no model may hold none after the crash.
      if (before !== undefined || (e as MogeError).code !== 'E_NO_FILE') throw e;
    }
    if (loaded && before && sameAs(loaded, before.weights)) {
      seen.old++;
      expect(loaded.arch).toEqual({ ...before.weights.arch, name: undefined });
      expect(loaded.extraConfig).toMatchObject(before.options.extraConfig ?? {});
    } else if (loaded) {
      seen.new++;
      expect(sameAs(loaded, after.weights), `${label}: a crash at step ${at} left neither the old nor the new checkpoint`).toBe(true);
      expect(loaded.arch).toEqual({ ...after.weights.arch, name: undefined });
      expect(loaded.extraConfig).toMatchObject(after.options.extraConfig ?? {});
      expect(readModelConfigFile(dir).arch).toEqual(loaded.arch);
      // Crashed after the commit, before config.json was renamed: the loader took the staged one.
      if (existsSync(join(dir, '.moge-save.config.json'))) seen.staged++;
    }
    if (completed) {
      expect(at, `${label}: the save took ${at} steps`).toBeGreaterThan(0);
      return seen;
    }
    // The next save, run to the end, leaves exactly the new checkpoint beside the user's files.
    saveModelDir(dir, after.weights, after.options);
    expect(sameAs(loadModelDir(dir, backend), after.weights)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(checkpointFiles(dir));
    expect(readdirSync(dir)).toEqual(expect.arrayContaining(['README.md', 'generation_config.json', 'config.json']));
  }
}

const wider: MoeArch = { ...tiny, name: 'wider', numLayers: 3, vocabSize: 320 };
const a = initModelWeights(tiny, backend, { seed: 1 });
const b = initModelWeights(tiny, backend, { seed: 2 });
const c = initModelWeights(wider, backend, { seed: 3 });
const sharded = { maxShardBytes: 100_000 }; // 8 shards of moge-tiny in F32
const extraA = { extraConfig: { architectures: ['PanguProMoEForCausalLM'], auto_map: { AutoConfig: 'configuration_pangu_moe.PanguProMoEConfig' }, bos_token_id: 1 } };
const extraC = { extraConfig: { eos_token_id: 45892, transformers_version: '4.48.2' } };

describe('saving over a checkpoint, crashing at every step', () => {
  it('sharded over sharded with the same shard names: never a mix of old and new shards', () => {
    const seen = crashEverywhere('same-names', { weights: a, options: { ...sharded, ...extraA } }, { weights: b, options: { ...sharded, tokenizerJson: '{"v": 2}' } });
    expect(seen.old).toBeGreaterThan(3); // crashes while the new shards were being written
    expect(readdirSync(join(root, 'same-names-template')).filter((f) => /^model-\d+-of-\d+\.safetensors$/.test(f)).length).toBe(8);
    expect(seen.new).toBeGreaterThan(0);
  });

  it('sharded over sharded of another architecture and shard count: the config goes with its weights', () => {
    const seen = crashEverywhere('other-arch', { weights: a, options: { ...sharded, ...extraA } }, { weights: c, options: { maxShardBytes: 200_000, ...extraC } });
    expect(seen.old).toBeGreaterThan(0);
    expect(seen.staged).toBeGreaterThan(0); // new weights beside the old config.json: the staged config is read
    expect(seen.new).toBeGreaterThan(0);
  });

  it('single file over shards, and shards over a single file (the single file is what readers take first)', () => {
    const toSingle = crashEverywhere('to-single', { weights: a, options: sharded }, { weights: c, options: extraC });
    const toShards = crashEverywhere('to-shards', { weights: a, options: extraA }, { weights: c, options: { ...sharded, ...extraC } });
    for (const seen of [toSingle, toShards]) {
      expect(seen.old).toBeGreaterThan(0);
      expect(seen.new).toBeGreaterThan(0);
    }
  });

  it('into a directory without a model: nothing or the whole new one', () => {
    const seen = crashEverywhere('fresh', undefined, { weights: c, options: sharded });
    expect(seen.new).toBeGreaterThan(0);
  });

  it('a save that fails (disk full, say) before its commit removes what it wrote; after it, says to save again', () => {
    const template = join(root, 'failing-template');
    saveModelDir(template, a, { ...sharded, ...extraA });
    writeFileSync(join(template, 'README.md'), 'mine');
    const snapshot = (dir: string) => readdirSync(dir).sort().map((f) => `${f}:${readFileSync(join(dir, f)).toString('base64')}`).join();
    const before = snapshot(template);
    const seen = { unchanged: 0, committed: 0 };
    for (let at = 0; ; at++) {
      const dir = join(root, `failing-${at}`);
      cpSync(template, dir, { recursive: true });
      Object.assign(crash, { at, steps: 0, dead: false, failOnly: true });
      let err: unknown;
      try {
        saveModelDir(dir, c, { ...sharded, tokenizerJson: '{}' });
      } catch (e) {
        err = e;
      } finally {
        Object.assign(crash, { at: Infinity, failOnly: false });
      }
      if (err === undefined) break;
      expect((err as MogeError).code).toBe('E_WRITE');
      const message = (err as Error).message;
      expect(message.startsWith(`${dir}: `)).toBe(true);
      if (snapshot(dir) === before) {
        seen.unchanged++;
        expect(message).toMatch(/saving the model failed at .*ENOSPC.*the checkpoint there is unchanged .* save again/);
      } else {
        seen.committed++;
        expect(message).toMatch(/the new weights are saved, .*ENOSPC.* save again to finish/);
        expect(sameAs(loadModelDir(dir, backend), c)).toBe(true);
      }
    }
    expect(seen.unchanged).toBeGreaterThan(8);
    expect(seen.committed).toBeGreaterThan(0);
  });
});
