import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import { z } from 'zod';
import { FileFormatError, MogeError, parseWith } from '@moge/core';
import { createReferenceBackend } from '@moge/ascend-hal';
import { paramSpecs, weightsToHost, type ModelWeights } from '@moge/model';
import { loadModelDir, readSafetensorsFile, saveModelDir, writeSafetensorsFile } from '@moge/model/node';
import { SavedTrainConfigSchema } from '../config/train-config';
import { DataCursorStateSchema } from '../data/cursor';
import { toTokenizerConfigJson, toTokenizerJson } from '../tokenizer/tokenizer-json';
import { readTokenizerFile } from '../tokenizer/tokenizer-file';
import type { ByteLevelBpeTokenizer } from '../tokenizer/tokenizer';
import { flatLayout, views } from '../loop/flat-params';
import { publishDir, writeFileDurable } from './fs-durable';
import { MANIFEST_FILE, buildManifest, checkManifest, verifyManifest } from './manifest';
import { CHECKPOINTS_DIR, LATEST_FILE, listStepDirs, runDirOf } from './run-dir';

/**
 * A training checkpoint is an HF model directory (config.json, model.safetensors, tokenizer.json —
 * loadable for inference as is) plus what training needs to continue exactly: optimizer moments
 * (optimizer.safetensors), step, data cursor and the run's config (trainer_state.json), and a
 * manifest with the sha256 of every file.
 *
 * Layout of a run directory: `checkpoints/step-00000100/…` and `latest.json` naming the newest
 * complete one. A checkpoint is assembled in a temp directory, fsync'd, renamed into place, and only
 * then does `latest.json` move to it; older checkpoints beyond `keep` are deleted after that, so the
 * previous good checkpoint survives a crash at any instant.
 */
export { LATEST_FILE };
export const TRAINER_STATE_FILE = 'trainer_state.json';
export const OPTIMIZER_FILE = 'optimizer.safetensors';

export const TrainerStateSchema = z.object({
  format: z.literal('moge-trainer-state'),
  version: z.literal(1),
  step: z.number().int().nonnegative(),
  config: SavedTrainConfigSchema,
  cursor: DataCursorStateSchema,
  dataFingerprint: z.string(),
  optimizerStep: z.number().int().nonnegative(),
});
export type TrainerState = z.output<typeof TrainerStateSchema>;

const LatestSchema = z.object({ checkpoint: z.string().min(1), step: z.number().int().nonnegative() });

export interface CheckpointContents {
  weights: ModelWeights;
  tokenizer: ByteLevelBpeTokenizer;
  optimizer: { step: number; m: ReadonlyMap<string, Float32Array>; v: ReadonlyMap<string, Float32Array> };
  state: Omit<TrainerState, 'format' | 'version'>;
}

const stepDirName = (step: number) => `step-${String(step).padStart(8, '0')}`;

/** Writes a checkpoint of `runDir` durably and returns its directory. */
export function saveCheckpoint(runDir: string, c: CheckpointContents, keep: number): string {
  const checkpoints = join(runDir, CHECKPOINTS_DIR);
  mkdirSync(checkpoints, { recursive: true });
  for (const name of readdirSync(checkpoints)) if (name.startsWith('.tmp-')) rmSync(join(checkpoints, name), { recursive: true, force: true });
  const finalDir = join(checkpoints, stepDirName(c.state.step));
  const tmp = join(checkpoints, `.tmp-${stepDirName(c.state.step)}-${process.pid}`);
  try {
    writeAndPublish(runDir, tmp, finalDir, c);
  } catch (e) {
    throw writeFailure(e, runDir, tmp, c.state.step);
  }
  pruneCheckpoints(runDir, keep, finalDir);
  return finalDir;
}

/** The files of a checkpoint into `tmp`, published as `finalDir`, then latest.json moved to it. */
function writeAndPublish(runDir: string, tmp: string, finalDir: string, c: CheckpointContents): void {
  mkdirSync(tmp, { recursive: true });
  saveModelDir(tmp, c.weights, { tokenizerJson: `${JSON.stringify(toTokenizerJson(c.tokenizer))}\n` });
  writeFileSync(join(tmp, 'tokenizer_config.json'), `${JSON.stringify(toTokenizerConfigJson(c.tokenizer, c.weights.arch.maxPositionEmbeddings), null, 2)}\n`);
  const moments = [...c.optimizer.m.keys()].flatMap((name) => {
    const shape = [c.optimizer.m.get(name)!.length];
    return [
      { name: `exp_avg.${name}`, shape, data: c.optimizer.m.get(name)! },
      { name: `exp_avg_sq.${name}`, shape, data: c.optimizer.v.get(name)! },
    ];
  });
  writeSafetensorsFile(join(tmp, OPTIMIZER_FILE), moments, { dtype: 'F32', metadata: { format: 'moge-adamw', step: String(c.optimizer.step) } });
  const state: TrainerState = { format: 'moge-trainer-state', version: 1, ...c.state };
  writeFileSync(join(tmp, TRAINER_STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
  writeFileSync(join(tmp, MANIFEST_FILE), `${JSON.stringify(buildManifest(tmp), null, 2)}\n`);

  publishDir(tmp, finalDir);
  writeFileDurable(join(runDir, LATEST_FILE), `${JSON.stringify({ checkpoint: relative(runDir, finalDir), step: c.state.step })}\n`);
}

/**
 * A checkpoint the file system refused (disk full, quota, permissions, read-only): the partial temp
 * directory goes at once, since on a full disk it holds the very space a resume needs, and the error
 * says what is intact (latest.json still names the previous checkpoint) and how to continue, instead
 * of a bare ENOSPC with a stack. Errors that are not the file system's pass through unchanged.
 */
function writeFailure(e: unknown, runDir: string, tmp: string, step: number): unknown {
  try {
    rmSync(tmp, { recursive: true, force: true });
  } catch {
    // Removing it is a courtesy; the next save clears .tmp- debris too.
  }
  const cause = fileSystemCause(e);
  if (!cause) return e;
  let previous = 'no earlier checkpoint of this run was written, so there is nothing to resume yet';
  try {
    const dir = resolveCheckpointDir(runDir);
    const damage = checkManifest(dir);
    previous = damage.length === 0
      ? `${LATEST_FILE} still names ${dir}, which is intact: fix the cause (free space, permissions) and continue with --resume ${runDir}`
      : `${LATEST_FILE} still names ${dir}, but it is damaged too (${damage.join('; ')})`;
  } catch {
    // No latest.json yet: the message above stands.
  }
  return new MogeError('E_CHECKPOINT_WRITE', `writing the checkpoint of step ${step} into ${join(runDir, CHECKPOINTS_DIR)} failed: ${cause.message}. The partial temp directory was removed; ${previous}`, { cause: e });
}

/**
 * The file system's error behind `e`: `e` itself (ENOSPC, EACCES, ...) or the cause of @moge/model's
 * E_WRITE, whose own advice ("save again" into the temp directory) does not apply to a checkpoint.
 */
function fileSystemCause(e: unknown): Error | undefined {
  for (let at: unknown = e, depth = 0; at instanceof Error && depth < 8; at = at.cause, depth++) {
    const code = (at as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return at;
    if (!(at instanceof MogeError && at.code === 'E_WRITE')) return undefined;
  }
  return undefined;
}

/**
 * Deletes the checkpoints before `newest` beyond the `keep − 1` latest of them. Checkpoints of later
 * steps are left alone: they are there when a run was resumed from an earlier checkpoint of its own
 * directory (as a damaged latest one asks), so they are another continuation's, not older history —
 * counting them would delete the good checkpoint this run resumed from and keep the damaged one.
 * The resumed run writes over them by name when it reaches their steps.
 */
function pruneCheckpoints(runDir: string, keep: number, newest: string): void {
  const older = listStepDirs(runDir).filter((d) => basename(d) < basename(newest));
  for (const d of older.slice(0, Math.max(0, older.length - (keep - 1)))) rmSync(d, { recursive: true, force: true });
}

/** `path` may be a run directory (its latest.json is followed) or a checkpoint directory. */
export function resolveCheckpointDir(path: string): string {
  const abs = resolve(path);
  if (existsSync(join(abs, LATEST_FILE))) {
    let latest: z.infer<typeof LatestSchema>;
    try {
      latest = parseWith(LatestSchema, JSON.parse(readFileSync(join(abs, LATEST_FILE), 'utf8')), join(abs, LATEST_FILE));
    } catch (e) {
      if (e instanceof MogeError) throw e;
      throw new FileFormatError(join(abs, LATEST_FILE), `not valid JSON: ${(e as Error).message}`);
    }
    // latest.json only ever names a checkpoint of its own run (saveCheckpoint writes it so).
    const target = resolve(abs, latest.checkpoint);
    const inside = relative(join(abs, CHECKPOINTS_DIR), target);
    if (inside.startsWith('..') || isAbsolute(inside)) {
      throw new FileFormatError(join(abs, LATEST_FILE), `checkpoint "${latest.checkpoint}" is outside this run's checkpoints/ folder; a run's latest.json names one of its own checkpoints`);
    }
    return target;
  }
  if (existsSync(join(abs, MANIFEST_FILE)) || existsSync(join(abs, TRAINER_STATE_FILE))) return abs;
  const steps = listStepDirs(abs);
  // A run killed while publishing its first checkpoint has checkpoints but no latest.json yet.
  const hint = steps.length ? `; its ${CHECKPOINTS_DIR}/ holds ${steps.length} checkpoint(s) without ${LATEST_FILE}: resume from the newest with --resume ${steps.at(-1)}` : '';
  throw new MogeError('E_NO_CHECKPOINT', `--resume ${path}: neither a run directory (with ${LATEST_FILE}) nor a checkpoint directory (with ${MANIFEST_FILE})${hint}`);
}

/**
 * The newest intact checkpoint of the run that `dir` belongs to from a step before `dir`'s (a later
 * one is another continuation's: a run resumed from an earlier checkpoint of its directory).
 */
function previousGood(dir: string): string | undefined {
  const runDir = runDirOf(dir);
  const earlier = (runDir ? listStepDirs(runDir) : []).filter((d) => basename(d) < basename(dir));
  return earlier.reverse().find((d) => checkManifest(d).length === 0);
}

/**
 * Loads a checkpoint after checking every file against the manifest. A damaged checkpoint is refused
 * (nothing is deleted) and the message names the previous intact one to resume from instead.
 */
export function loadCheckpoint(path: string): CheckpointContents & { dir: string } {
  const dir = resolveCheckpointDir(path);
  const prev = previousGood(dir);
  verifyManifest(dir, prev ? `The previous good checkpoint is intact and kept: resume from it with --resume ${prev}` : 'No earlier intact checkpoint of this run was found.');
  const stateFile = join(dir, TRAINER_STATE_FILE);
  const state = parseWith(TrainerStateSchema, JSON.parse(readFileSync(stateFile, 'utf8')), stateFile);
  const weights = loadModelDir(dir, createReferenceBackend());
  const tokenizer = readTokenizerFile(join(dir, 'tokenizer.json'));
  const optFile = join(dir, OPTIMIZER_FILE);
  const { tensors: opt, metadata } = readSafetensorsFile(optFile);
  // The manifest only proves the files are as written; these prove they belong together. A resume
  // copies each moment into the flat buffer at its parameter's offset, so one of another length would
  // silently leave zeros (shorter) or spill into the next parameter's moments (longer).
  if (metadata.step !== undefined && metadata.step !== String(state.optimizerStep)) {
    throw new FileFormatError(optFile, `holds the moments of optimizer step ${metadata.step}, but ${TRAINER_STATE_FILE} says ${state.optimizerStep}: the files are from different checkpoints`);
  }
  const m = new Map<string, Float32Array>();
  const v = new Map<string, Float32Array>();
  for (const s of paramSpecs(weights.arch)) {
    if (state.optimizerStep === 0) continue;
    const size = s.shape.reduce((x, y) => x * y, 1);
    for (const [kind, into] of [['exp_avg', m], ['exp_avg_sq', v]] as const) {
      const t = opt.get(`${kind}.${s.name}`);
      if (!t) throw new FileFormatError(optFile, `optimizer moments of ${s.name} are missing (${kind}.${s.name})`);
      if (t.data.length !== size) throw new FileFormatError(optFile, `${kind}.${s.name} has ${t.data.length} elements, but ${s.name} [${s.shape.join(', ')}] has ${size}: the optimizer state is another model's`);
      into.set(s.name, t.data);
    }
  }
  const { format: _f, version: _v, ...rest } = state;
  return { dir, weights, tokenizer, optimizer: { step: state.optimizerStep, m, v }, state: rest };
}

/** Host copy of a model's parameters as one flat buffer in parameter order. */
export function flatParamsOf(weights: ModelWeights): Float32Array {
  const layout = flatLayout(paramSpecs(weights.arch));
  const flat = new Float32Array(layout.total);
  const host = weightsToHost(weights);
  for (const [name, view] of views(layout, flat)) view.set(host.get(name)!.data);
  return flat;
}

