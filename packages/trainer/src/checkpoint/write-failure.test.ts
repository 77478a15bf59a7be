import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { createReferenceBackend } from '@moge/ascend-hal';
import { getPreset, initModelWeights, paramSpecs } from '@moge/model';
import type * as ModelNode from '@moge/model/node';
import { TrainConfigSchema } from '../config/train-config';
import { trainTokenizer } from '../tokenizer/train-tokenizer';
import { loadCheckpoint, saveCheckpoint, type CheckpointContents } from './checkpoint';

/**
 * A full disk, stood in for by the optimizer file's writer: it writes part of the file into the temp
 * directory and then fails as writeSync does with ENOSPC. (A real full file system needs a mount.)
 */
const disk = vi.hoisted(() => ({ full: false, modelFull: false }));
vi.mock('@moge/model/node', async (importOriginal) => {
  const real = await importOriginal<typeof ModelNode>();
  const { writeFileSync } = await import('node:fs');
  const { MogeError } = await import('@moge/core');
  return {
    ...real,
    // saveModelDir's own failure, as it reports one: E_WRITE naming its directory, the cause attached.
    saveModelDir: (...args: Parameters<typeof real.saveModelDir>) => {
      if (!disk.modelFull) return real.saveModelDir(...args);
      writeFileSync(`${args[0]}/.staged-model.safetensors`, Buffer.alloc(4096));
      const cause = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
      throw new MogeError('E_WRITE', `${args[0]}: saving the model failed at model.safetensors (${cause.message}); the checkpoint there is unchanged — fix the cause (disk space, permissions) and save again`, { cause });
    },
    writeSafetensorsFile: (...args: Parameters<typeof real.writeSafetensorsFile>) => {
      if (!disk.full) return real.writeSafetensorsFile(...args);
      writeFileSync(args[0], Buffer.alloc(4096));
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
    },
  };
});

const arch = { ...getPreset('moge-tiny'), vocabSize: 300 };
const tokenizer = trainTokenizer(['the quick brown fox jumps over the lazy dog '.repeat(50)], { vocabSize: 300 });
const config = TrainConfigSchema.parse({ preset: 'moge-tiny', vocabSize: 300, steps: 10 });

function contents(step: number): CheckpointContents {
  const weights = initModelWeights(arch, createReferenceBackend(), { seed: step });
  const m = new Map(paramSpecs(arch).map((s) => [s.name, new Float32Array(s.shape.reduce((a, b) => a * b, 1)).fill(step * 1e-3)]));
  return { weights, tokenizer, optimizer: { step, m, v: m }, state: { step, config, cursor: { epoch: 0, position: step }, dataFingerprint: 'abcd1234', optimizerStep: step } };
}

describe('a checkpoint the file system refuses', () => {
  it('leaves the previous checkpoint as latest, removes its partial files and says how to continue', () => {
    const run = mkdtempSync(join(tmpdir(), 'moge-ck-full-'));
    saveCheckpoint(run, contents(2), 2);
    const latest = readFileSync(join(run, 'latest.json'), 'utf8');
    disk.full = true;
    try {
      expect(() => saveCheckpoint(run, contents(4), 2)).toThrow(
        expect.objectContaining({
          code: 'E_CHECKPOINT_WRITE',
          message: expect.stringMatching(/checkpoint of step 4 .* failed: ENOSPC: no space left on device, write\. The partial temp directory was removed; latest\.json still names .*step-00000002, which is intact: .*--resume /),
        }),
      );
    } finally {
      disk.full = false;
    }
    // Nothing but the good checkpoint: the partial one would hold the space a resume needs.
    expect(readdirSync(join(run, 'checkpoints'))).toEqual(['step-00000002']);
    expect(readFileSync(join(run, 'latest.json'), 'utf8')).toBe(latest);
    expect(loadCheckpoint(run).state.step).toBe(2);
    expect(saveCheckpoint(run, contents(4), 2)).toBe(join(run, 'checkpoints', 'step-00000004'));
  });

  it('a model file the disk refuses (E_WRITE from saveModelDir) reads the same, without advice about the temp directory', () => {
    const run = mkdtempSync(join(tmpdir(), 'moge-ck-full-'));
    saveCheckpoint(run, contents(2), 2);
    disk.modelFull = true;
    let err: unknown;
    try {
      saveCheckpoint(run, contents(4), 2);
    } catch (e) {
      err = e;
    } finally {
      disk.modelFull = false;
    }
    expect(err).toMatchObject({ code: 'E_CHECKPOINT_WRITE' });
    expect((err as Error).message).toMatch(/checkpoint of step 4 .* failed: ENOSPC: no space left on device, write\. The partial temp directory was removed; latest\.json still names .*step-00000002, which is intact/);
    expect((err as Error).message).not.toMatch(/\.tmp-|save again/);
    expect(readdirSync(join(run, 'checkpoints'))).toEqual(['step-00000002']);
  });

  it('on the first checkpoint says there is nothing to resume yet', () => {
    const run = mkdtempSync(join(tmpdir(), 'moge-ck-full-'));
    disk.full = true;
    try {
      expect(() => saveCheckpoint(run, contents(1), 2)).toThrow(/checkpoint of step 1 .* failed: ENOSPC.*no earlier checkpoint of this run was written/);
    } finally {
      disk.full = false;
    }
    expect(readdirSync(join(run, 'checkpoints'))).toEqual([]);
    expect(existsSync(join(run, 'latest.json'))).toBe(false);
  });
});
