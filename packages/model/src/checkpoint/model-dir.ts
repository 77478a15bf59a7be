import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { fsyncPath, writeFileAtomic } from './atomic-file';
import { basename, join } from 'node:path';
import type { Backend } from '@moge/ascend-hal';
import { FileFormatError, MogeError, ValidationError, parseWith, type MoeArch } from '@moge/core';
import { hfConfigFromArch, splitHfConfig, type HfExtraConfig } from '../config/hf-config';
import { readSafetensorsHeader, readSafetensorsTensors, writeSafetensorsFile } from '../safetensors/file';
import { SAFETENSORS_DTYPES, SAFETENSORS_DTYPE_BYTES, isSafetensorsDType, type SafetensorsDType } from '../safetensors/dtype';
import { SafetensorsFormatError, checkTensorsToWrite, type SafetensorsHeader } from '../safetensors/format';
import { capTensorIssues, hfTensorShapes, stackHfTensors, toHfTensors, type HostTensor } from '../weights/hf-layout';
import { createModelWeights, weightsToHost, type ModelWeights } from '../weights/model-weights';
import { assertSupportedArch } from '../weights/param-specs';
import {
  INDEX_FILE,
  IndexSchema,
  RECORDED_HASH_KEYS,
  SINGLE_FILE,
  STAGED_PREFIX,
  committedFile,
  finishInterruptedSave,
  removeStaleWeightFiles,
  sha256,
} from './save-protocol';

/**
 * An HF-style model directory: `config.json`, `model.safetensors` (or shards listed in
 * `model.safetensors.index.json`), optionally `tokenizer.json`.
 */
export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = SINGLE_FILE;
export const WEIGHTS_INDEX_FILE = INDEX_FILE;
export const TOKENIZER_FILE = 'tokenizer.json';

function readJson(file: string): unknown {
  if (!existsSync(file)) throw new MogeError('E_NO_FILE', `${file}: no such file`);
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new FileFormatError(file, `not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * The architecture of a model directory (its config.json), validated, and the config.json keys
 * beyond it (`extraConfig`: `architectures`, `torch_dtype`, `auto_map`, token ids, unknown keys).
 * After a save interrupted between its commit and the rename of config.json, this is the config the
 * committed weights were saved with (see `save-protocol.ts`).
 */
export function readModelConfigFile(dir: string): { arch: MoeArch; extraConfig: HfExtraConfig } {
  const file = committedFile(dir, CONFIG_FILE);
  return splitHfConfig(readJson(file), file);
}

/** The architecture of a model directory (its config.json), validated. */
export function readModelConfig(dir: string): MoeArch {
  return readModelConfigFile(dir).arch;
}

/**
 * Which file holds each tensor: the single file, or the shards of the index. The single file wins
 * when both are there, as in Hugging Face's `from_pretrained`, so both load the same weights.
 */
function tensorFiles(dir: string): Map<string, string[]> {
  const single = join(dir, WEIGHTS_FILE);
  const files = new Map<string, string[]>();
  if (existsSync(single)) {
    files.set(single, []);
    return files;
  }
  const indexFile = join(dir, WEIGHTS_INDEX_FILE);
  if (!existsSync(indexFile)) throw new MogeError('E_NO_FILE', `${dir}: neither ${WEIGHTS_FILE} nor ${WEIGHTS_INDEX_FILE}`);
  const index = parseWith(IndexSchema, readJson(indexFile), indexFile);
  for (const [name, shard] of Object.entries(index.weight_map)) {
    const path = join(dir, shard);
    files.set(path, [...(files.get(path) ?? []), name]);
  }
  // A missing shard is an incomplete download or copy: say so, rather than a bare ENOENT.
  for (const [path, names] of files) {
    if (!existsSync(path)) {
      throw new MogeError(
        'E_NO_FILE',
        `${path}: no such file; ${WEIGHTS_INDEX_FILE} lists it for ${names.length} tensor${names.length === 1 ? '' : 's'} (first: ${names[0]}) — copy the missing shard (an incomplete download?) or fix weight_map`,
      );
    }
  }
  return files;
}

/**
 * Reads a model directory onto `backend`. Validation comes first and covers everything — config,
 * index, every shard header, every tensor name and shape against the config — before any tensor data
 * is read; data is then read tensor by tensor (byte ranges, never a whole shard at once), and the
 * weights are created only when all of it succeeded. Errors name the file and the tensor.
 */
export function loadModelDir(dir: string, backend: Backend): ModelWeights {
  const { arch, extraConfig } = readModelConfigFile(dir);
  // A valid config.json the model code cannot run (an odd head size, tied embeddings) is refused by
  // the file's name and its own field names, not as an anonymous "architecture".
  assertSupportedArch(arch, {
    subject: `${committedFile(dir, CONFIG_FILE)} for @moge/model`,
    hint: 'fields are named as in MoeArch: headDim = head_dim (or hidden_size / num_attention_heads when absent), tiedEmbeddings = tie_word_embeddings',
  });
  const files = tensorFiles(dir);
  const headers = new Map<string, SafetensorsHeader>();
  const owner = new Map<string, string>();
  for (const [file, listed] of files) {
    const header = readSafetensorsHeader(file);
    headers.set(file, header);
    for (const name of listed) {
      if (!header.entries.has(name)) throw new FileFormatError(file, `tensor ${name}: listed in ${WEIGHTS_INDEX_FILE} but not in this shard`);
    }
    for (const name of header.entries.keys()) {
      const prev = owner.get(name);
      if (prev) throw new FileFormatError(file, `tensor ${name}: also in ${prev}`);
      owner.set(name, file);
    }
  }
  const expected = hfTensorShapes(arch);
  const shapes = new Map<string, HostTensor>();
  for (const [name, file] of owner) shapes.set(name, { shape: headers.get(file)!.entries.get(name)!.shape, data: new Float32Array(0) });
  const issues: { path: string; received?: unknown; expected: string }[] = [];
  for (const [name, shape] of expected) {
    const got = shapes.get(name)?.shape;
    if (!got) issues.push({ path: name, expected: `a tensor of shape [${shape.join(', ')}] (missing from the checkpoint)` });
    else if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) issues.push({ path: name, received: got, expected: `shape [${shape.join(', ')}] (from config.json)` });
  }
  for (const [name, file] of owner) if (!expected.has(name)) issues.push({ path: name, expected: `no such tensor in this architecture (found in ${basename(file)})` });
  if (issues.length > 0) throw new ValidationError(`checkpoint ${dir} against its config.json`, capTensorIssues(issues));

  // Data, tensor by tensor (a byte range each), experts straight into their stacked buffers: the
  // process holds the weights plus one tensor, never the checkpoint twice.
  const readOne = (name: string): HostTensor => {
    const file = owner.get(name)!;
    return readSafetensorsTensors(file, headers.get(file)!, [name]).get(name)!;
  };
  return { ...createModelWeights(arch, backend, stackHfTensors(arch, readOne)), extraConfig };
}

export interface SaveModelOptions {
  /** Storage format of the weights (default F32). */
  dtype?: SafetensorsDType;
  /** Split into shards of at most this many bytes of tensor data (default: one file). */
  maxShardBytes?: number;
  /** tokenizer.json contents to write beside the weights. */
  tokenizerJson?: string;
  /**
   * config.json keys beyond the arch (`architectures`, `auto_map`, token ids, …), written with the
   * arch's; the arch wins on the keys it determines, and `torch_dtype` (and transformers v5's
   * `dtype`, when there) is the saved dtype. Default: `weights.extraConfig` — what `loadModelDir`
   * read — so a load → save round trip keeps them; `{}` writes none.
   */
  extraConfig?: HfExtraConfig;
}

/** Writes HF-named host tensors (e.g. gradients) as one safetensors file, atomically. */
export function saveHfTensors(file: string, arch: MoeArch, stacked: ReadonlyMap<string, HostTensor>, dtype: SafetensorsDType = 'F32'): void {
  const hf = toHfTensors(arch, stacked);
  writeSafetensorsFile(file, [...hf].map(([name, t]) => ({ name, shape: t.shape, data: t.data })), { dtype, metadata: { format: 'pt' } });
}

const TORCH_DTYPES = { F32: 'float32', F16: 'float16', BF16: 'bfloat16', F64: 'float64' } as const;

/** The config.json text of a save: the arch, the extra keys, the dtype. */
function configJsonOf(weights: ModelWeights, dtype: SafetensorsDType, extraConfig: HfExtraConfig): string {
  const torchDtype = TORCH_DTYPES[dtype];
  const config: Record<string, unknown> = { ...hfConfigFromArch(weights.arch, extraConfig), torch_dtype: torchDtype };
  // transformers v5 writes the dtype as `dtype`; a stale one would contradict torch_dtype.
  if (typeof config.dtype === 'string') config.dtype = torchDtype;
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** `name`, or `name` with a tag before `.safetensors` when a file of that name is in the directory. */
function freeShardName(name: string, taken: ReadonlySet<string>, tag: string): string {
  return taken.has(name) ? name.replace(/\.safetensors$/, `.${tag}.safetensors`) : name;
}

/**
 * loadModelDir refuses a NaN or ±∞ weight (corrupt data), so a save of such weights — a diverged
 * run, say — would replace a loadable checkpoint with one that cannot be loaded: refuse it first.
 */
function refuseNonFinite(tensors: readonly { name: string; data: Float32Array }[]): void {
  for (const t of tensors) {
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i]!)) {
        throw new SafetensorsFormatError(`element ${i} is ${t.data[i]}; a checkpoint holds finite weights only (loading refuses it) — the weights diverged or were corrupted`, t.name);
      }
    }
  }
}

/**
 * Writes `weights` as an HF model directory, replacing a checkpoint there so that a reader — and a
 * crash at any point — sees the complete old checkpoint or the complete new one (the protocol is in
 * `save-protocol.ts`: new files staged under unused names, one atomic commit, then config.json).
 * Files of the directory that are not weight files (`model.safetensors`, the index, `model-*-of-*`
 * shards) are never removed; tokenizer.json is replaced only when `tokenizerJson` is given.
 *
 * Whatever can be refused — an arch config.json cannot express, extra config keys that would change
 * the math, a value the dtype cannot hold, a bad shard size — is refused before the first file is
 * written. Two saves into one directory at the same time are not supported.
 */
export function saveModelDir(dir: string, weights: ModelWeights, options: SaveModelOptions = {}): void {
  const dtype = options.dtype ?? 'F32';
  // Unchecked, a misspelt dtype ('bf16') wrote headers without byte offsets over a loadable checkpoint.
  if (!isSafetensorsDType(dtype)) throw new MogeError('E_BAD_OPTION', `dtype: got ${JSON.stringify(dtype)}, expected one of ${SAFETENSORS_DTYPES.join(', ')}`);
  const configJson = configJsonOf(weights, dtype, options.extraConfig ?? weights.extraConfig ?? {});
  const hf = [...toHfTensors(weights.arch, weightsToHost(weights))].map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
  try {
    checkTensorsToWrite(hf, dtype); // every name, shape and value, as a single file would hold them
    refuseNonFinite(hf);
  } catch (e) {
    if (e instanceof SafetensorsFormatError) throw new FileFormatError(dir, `cannot save as ${dtype}: ${e.message}`, { cause: e });
    throw e;
  }
  const bytesPer = SAFETENSORS_DTYPE_BYTES[dtype];
  const max = options.maxShardBytes;
  if (max !== undefined && !(max > 0)) throw new MogeError('E_BAD_OPTION', `maxShardBytes: got ${max}, expected a positive byte count`);
  const shards: (typeof hf)[] = [[]];
  if (max !== undefined) {
    let used = 0;
    for (const t of hf) {
      const bytes = t.data.length * bytesPer;
      if (used > 0 && used + bytes > max) {
        shards.push([]);
        used = 0;
      }
      shards[shards.length - 1]!.push(t);
      used += bytes;
    }
  } else shards[0] = hf;
  // What the committed weights record: the hashes of the config.json (and tokenizer.json) that go with them.
  const recorded: Record<string, string> = { [RECORDED_HASH_KEYS['config.json']]: sha256(configJson) };
  if (options.tokenizerJson !== undefined) recorded[RECORDED_HASH_KEYS['tokenizer.json']] = sha256(options.tokenizerJson);

  mkdirSync(dir, { recursive: true });
  finishInterruptedSave(dir);
  const hadSingle = existsSync(join(dir, WEIGHTS_FILE));
  const staged = (name: string) => join(dir, STAGED_PREFIX + name);
  const written: string[] = []; // what to remove if the save fails before its commit
  const keep = new Set<string>();
  const write = (path: string, how: () => void) => {
    written.push(path);
    how();
  };

  try {
    // 1. Stage: nothing here changes what a reader of the directory loads.
    write(staged(CONFIG_FILE), () => writeFileAtomic(staged(CONFIG_FILE), configJson));
    const tokenizerJson = options.tokenizerJson;
    if (tokenizerJson !== undefined) write(staged(TOKENIZER_FILE), () => writeFileAtomic(staged(TOKENIZER_FILE), tokenizerJson));
    if (max === undefined) {
      write(staged(WEIGHTS_FILE), () => writeSafetensorsFile(staged(WEIGHTS_FILE), hf, { dtype, metadata: { format: 'pt', ...recorded } }));
      keep.add(WEIGHTS_FILE);
    } else {
      const taken = new Set(readdirSync(dir));
      const tag = `${Date.now().toString(36)}${process.pid.toString(36)}`;
      const weightMap: Record<string, string> = {};
      shards.forEach((shard, i) => {
        const name = freeShardName(`model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`, taken, tag);
        write(join(dir, name), () => writeSafetensorsFile(join(dir, name), shard, { dtype, metadata: { format: 'pt' } }));
        keep.add(name);
        for (const t of shard) weightMap[t.name] = name;
      });
      const totalSize = hf.reduce((s, t) => s + t.data.length * bytesPer, 0);
      const indexJson = `${JSON.stringify({ metadata: { total_size: totalSize, ...recorded }, weight_map: weightMap }, null, 2)}\n`;
      write(staged(WEIGHTS_INDEX_FILE), () => writeFileAtomic(staged(WEIGHTS_INDEX_FILE), indexJson));
      keep.add(WEIGHTS_INDEX_FILE);
    }
    fsyncPath(dir); // the shards' names, before an index that lists them can be committed

    // 2. Commit: the one step after which a reader loads the new weights (it takes the single file first).
    if (max === undefined) renameSync(staged(WEIGHTS_FILE), join(dir, WEIGHTS_FILE));
    else {
      renameSync(staged(WEIGHTS_INDEX_FILE), join(dir, WEIGHTS_INDEX_FILE));
      if (hadSingle) {
        written.push(join(dir, WEIGHTS_INDEX_FILE)); // unused while the old single file is there
        rmSync(join(dir, WEIGHTS_FILE));
      }
    }
  } catch (e) {
    for (const path of written) rmSync(path, { force: true });
    throw new MogeError(
      'E_WRITE',
      `${dir}: saving the model failed at ${basename(written.at(-1) ?? dir)} (${(e as Error).message}); the checkpoint there is unchanged — fix the cause (disk space, permissions) and save again`,
      { cause: e },
    );
  }

  // 3. Finish: the files that go with the weights, then what no reader needs any more.
  try {
    fsyncPath(dir);
    if (options.tokenizerJson !== undefined) renameSync(staged(TOKENIZER_FILE), join(dir, TOKENIZER_FILE));
    renameSync(staged(CONFIG_FILE), join(dir, CONFIG_FILE));
    fsyncPath(dir);
    removeStaleWeightFiles(dir, keep);
  } catch (e) {
    throw new MogeError(
      'E_WRITE',
      `${dir}: the new weights are saved, but putting config.json / tokenizer.json in place or removing old weight files failed (${(e as Error).message}); loadModelDir reads the new checkpoint already (with ${STAGED_PREFIX}${CONFIG_FILE} where config.json is still the old one) — save again to finish`,
      { cause: e },
    );
  }
}
