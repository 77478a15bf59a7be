import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { readSafetensorsHeader } from '../safetensors/file';
import { fsyncPath } from './atomic-file';

/**
 * How `saveModelDir` replaces a checkpoint in place so that a reader sees the complete old one or the
 * complete new one, never a mix — including after a crash at any point of the save.
 *
 * 1. Stage. New shards go under names that no file of the directory has (HF's
 *    `model-0000i-of-0000N.safetensors`, or `model-0000i-of-0000N.<tag>.safetensors` where a file of
 *    that name exists), so no index of the old checkpoint can point at them; the single file, the
 *    index, config.json and tokenizer.json are written as `.moge-save.<name>`. Each is fsync'd. A
 *    crash here leaves the old checkpoint as it was, plus files no reader looks at.
 * 2. Commit: one atomic step makes the new weights the ones a reader loads — the rename of the new
 *    `model.safetensors` (a reader takes the single file first), or of the new index where no single
 *    file is there, or, where an old single file is, the rename of the index and then the unlink of
 *    the single file. The committed weights record the SHA-256 of the config.json (and
 *    tokenizer.json) written with them (`moge_config_sha256` in the index's `metadata` or the single
 *    file's `__metadata__`).
 * 3. Finish: tokenizer.json and config.json are renamed into place, then the weight files of earlier
 *    saves that the new checkpoint does not use (stale shards, an index beside the new single file)
 *    are removed. Nothing else in the directory is touched.
 *
 * A crash between 2 and 3 leaves new weights beside the old config.json and the new one staged as
 * `.moge-save.config.json`: `loadModelDir` and `readModelConfig` read the staged file when its hash is
 * the one the weights recorded (and config.json's is not), and the next save renames it into place
 * before anything else. Hugging Face's loader knows nothing of the staged file: in that window (two
 * renames long, or after such a crash until the next save) it reads new weights with the old
 * config.json — harmless unless the save changed the architecture.
 *
 * Why not write into `<dir>.tmp` and swap directories: a directory cannot replace a non-empty one in
 * one rename (Node has no `renameat2(RENAME_EXCHANGE)`), so the swap takes two renames with no
 * directory in between; it fails where `dir` is a mount point (a container volume); and the user's
 * files in `dir` (README.md, tokenizer_config.json, generation_config.json, …) would have to be moved
 * or copied into the new directory.
 */

/** Prefix of the files a save stages in the model directory. */
export const STAGED_PREFIX = '.moge-save.';
/** Keys under which the committed weights record the hashes of the files written with them. */
export const RECORDED_HASH_KEYS = { 'config.json': 'moge_config_sha256', 'tokenizer.json': 'moge_tokenizer_sha256' } as const;
export type CompanionFile = keyof typeof RECORDED_HASH_KEYS;

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

export const IndexSchema = z.object({
  metadata: z.record(z.string(), z.unknown()).optional(),
  weight_map: z.record(z.string(), z.string().regex(/^[^/\\]+$/, 'a file name inside the model directory')),
});

/** Hugging Face's weight file names (the single file, the index, shards) and our tagged shards. */
export const WEIGHT_FILE_PATTERN = /^(model\.safetensors|model\.safetensors\.index\.json|model-\d+-of-\d+(\.[0-9a-z]+)?\.safetensors)$/;

/**
 * Temp files of `writeFileAtomic` / `writeSafetensorsFile` (`.<name>.<pid>.<ms>.tmp`) for the files a
 * save writes; a killed save leaves them behind.
 */
const SAVE_TEMP_PATTERN = /^\.(\.moge-save\.)?(model[-.][^/]*|config\.json|tokenizer\.json)\.(\d+)\.\d+\.tmp$/;

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * The hashes that the weights a reader of `dir` loads recorded for config.json and tokenizer.json;
 * empty when there are no weights, they recorded none (an older save, another tool), or they cannot
 * be read (the loader names that problem itself).
 */
export function recordedHashes(dir: string): Partial<Record<CompanionFile, string>> {
  let recorded: Record<string, unknown> = {};
  try {
    if (existsSync(join(dir, SINGLE_FILE))) recorded = readSafetensorsHeader(join(dir, SINGLE_FILE)).metadata;
    else if (existsSync(join(dir, INDEX_FILE))) recorded = IndexSchema.parse(JSON.parse(readFileSync(join(dir, INDEX_FILE), 'utf8'))).metadata ?? {};
  } catch {
    return {};
  }
  const out: Partial<Record<CompanionFile, string>> = {};
  for (const [file, key] of Object.entries(RECORDED_HASH_KEYS) as [CompanionFile, string][]) {
    if (typeof recorded[key] === 'string') out[file] = recorded[key];
  }
  return out;
}

/**
 * The path holding the committed version of `name`: `<dir>/<name>`, or `<dir>/.moge-save.<name>`
 * when a save was interrupted after its commit (the staged file's hash is the one the committed
 * weights recorded and the final file's is not).
 */
export function committedFile(dir: string, name: CompanionFile, recorded?: Partial<Record<CompanionFile, string>>): string {
  const final = join(dir, name);
  const staged = join(dir, STAGED_PREFIX + name);
  if (!existsSync(staged)) return final; // the common case: no hashing
  const want = (recorded ?? recordedHashes(dir))[name];
  if (want === undefined) return final;
  if (existsSync(final) && sha256(readFileSync(final)) === want) return final;
  return sha256(readFileSync(staged)) === want ? staged : final;
}

/**
 * Brings `dir` to a clean committed state before a save stages anything: finishes a save interrupted
 * after its commit (its staged config.json / tokenizer.json are renamed into place — staging over
 * them first would lose the config of the weights a reader loads), then removes what interrupted
 * saves staged and never committed: `.moge-save.*` files, shards no index lists (a reader that takes
 * every `*.safetensors` of a directory without an index, as vLLM does, would load them too), and the
 * temp files of killed writers.
 */
export function finishInterruptedSave(dir: string): void {
  const recorded = recordedHashes(dir);
  let changed = false;
  for (const name of Object.keys(RECORDED_HASH_KEYS) as CompanionFile[]) {
    const path = committedFile(dir, name, recorded);
    if (path !== join(dir, name)) {
      renameSync(path, join(dir, name));
      changed = true;
    }
  }
  const referenced = referencedShards(dir);
  for (const name of readdirSync(dir)) {
    const temp = SAVE_TEMP_PATTERN.exec(name);
    const orphan = referenced !== undefined && SHARD_PATTERN.test(name) && !referenced.has(name);
    if (orphan || name.startsWith(STAGED_PREFIX) || (temp && !isRunning(Number(temp[3])))) {
      rmSync(join(dir, name), { force: true, recursive: name.startsWith(STAGED_PREFIX) });
      changed = true;
    }
  }
  if (changed) fsyncPath(dir);
}

const SHARD_PATTERN = /^model-\d+-of-\d+(\.[0-9a-z]+)?\.safetensors$/;

/**
 * The shards the directory's index lists (none when a single file is the checkpoint); undefined when
 * there is no checkpoint or its index cannot be read, so that nothing is taken for an orphan.
 */
function referencedShards(dir: string): Set<string> | undefined {
  if (!existsSync(join(dir, INDEX_FILE))) return existsSync(join(dir, SINGLE_FILE)) ? new Set() : undefined;
  try {
    return new Set(Object.values(IndexSchema.parse(JSON.parse(readFileSync(join(dir, INDEX_FILE), 'utf8'))).weight_map));
  } catch {
    return undefined;
  }
}

function isRunning(pid: number): boolean {
  // Saves are synchronous, so none of this process's is in flight while another starts (concurrent
  // saves into one directory, from worker threads or processes, are not supported).
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the weight files that the committed checkpoint does not use (`keep`): the shards and index
 * of an earlier save, a single file beside a new index. Left behind, old shards would pile up, and an
 * old `model.safetensors` beside a new index would be what every reader loads.
 */
export function removeStaleWeightFiles(dir: string, keep: ReadonlySet<string>): void {
  let changed = false;
  for (const name of readdirSync(dir)) {
    if (WEIGHT_FILE_PATTERN.test(name) && !keep.has(name)) {
      rmSync(join(dir, name), { force: true });
      changed = true;
    }
  }
  if (changed) fsyncPath(dir);
}
