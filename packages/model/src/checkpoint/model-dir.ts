import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { writeFileAtomic } from './atomic-file';
import { basename, join } from 'node:path';
import { z } from 'zod';
import type { Backend } from '@moge/ascend-hal';
import { FileFormatError, MogeError, ValidationError, parseWith, type MoeArch } from '@moge/core';
import { archFromHfConfig, hfConfigFromArch } from '../config/hf-config';
import { readSafetensorsHeader, readSafetensorsTensors, writeSafetensorsFile } from '../safetensors/file';
import type { SafetensorsDType } from '../safetensors/dtype';
import { SafetensorsFormatError, checkTensorsToWrite, type SafetensorsHeader } from '../safetensors/format';
import { hfTensorShapes, stackHfTensors, toHfTensors, type HostTensor } from '../weights/hf-layout';
import { createModelWeights, weightsToHost, type ModelWeights } from '../weights/model-weights';

/**
 * An HF-style model directory: `config.json`, `model.safetensors` (or shards listed in
 * `model.safetensors.index.json`), optionally `tokenizer.json`.
 */
export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';
export const WEIGHTS_INDEX_FILE = 'model.safetensors.index.json';
export const TOKENIZER_FILE = 'tokenizer.json';

const IndexSchema = z.object({
  metadata: z.record(z.string(), z.unknown()).optional(),
  weight_map: z.record(z.string(), z.string().regex(/^[^/\\]+$/, 'a file name inside the model directory')),
});

function readJson(file: string): unknown {
  if (!existsSync(file)) throw new MogeError('E_NO_FILE', `${file}: no such file`);
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new FileFormatError(file, `not valid JSON: ${(e as Error).message}`);
  }
}

/** The architecture of a model directory (its config.json), validated. */
export function readModelConfig(dir: string): MoeArch {
  const file = join(dir, CONFIG_FILE);
  return archFromHfConfig(readJson(file), file);
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
  const arch = readModelConfig(dir);
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
  if (issues.length > 0) throw new ValidationError(`checkpoint ${dir} against its config.json`, issues);

  // Data, tensor by tensor (a byte range each), experts straight into their stacked buffers: the
  // process holds the weights plus one tensor, never the checkpoint twice.
  const readOne = (name: string): HostTensor => {
    const file = owner.get(name)!;
    return readSafetensorsTensors(file, headers.get(file)!, [name]).get(name)!;
  };
  return createModelWeights(arch, backend, stackHfTensors(arch, readOne));
}

export interface SaveModelOptions {
  /** Storage format of the weights (default F32). */
  dtype?: SafetensorsDType;
  /** Split into shards of at most this many bytes of tensor data (default: one file). */
  maxShardBytes?: number;
  /** tokenizer.json contents to write beside the weights. */
  tokenizerJson?: string;
}


/** Writes HF-named host tensors (e.g. gradients) as one safetensors file, atomically. */
export function saveHfTensors(file: string, arch: MoeArch, stacked: ReadonlyMap<string, HostTensor>, dtype: SafetensorsDType = 'F32'): void {
  const hf = toHfTensors(arch, stacked);
  writeSafetensorsFile(file, [...hf].map(([name, t]) => ({ name, shape: t.shape, data: t.data })), { dtype, metadata: { format: 'pt' } });
}

/** Hugging Face's weight file names: the single file, the shard index and the shards. */
const WEIGHT_FILE_PATTERN = /^(model\.safetensors|model\.safetensors\.index\.json|model-\d+-of-\d+\.safetensors)$/;

/**
 * Removes the weight files of an earlier save that this one did not write — after the new ones are in
 * place. Left behind, a single `model.safetensors` beside a new shard index would be what Hugging
 * Face's loader reads (it looks for the single file first), and old shards would pile up.
 */
function removeStaleWeightFiles(dir: string, written: ReadonlySet<string>): void {
  for (const name of readdirSync(dir)) if (WEIGHT_FILE_PATTERN.test(name) && !written.has(name)) rmSync(join(dir, name), { force: true });
}

/**
 * Writes `weights` as an HF model directory. Every file is written atomically; the weights go first
 * and config.json last, so a directory with a config.json always has complete weights beside it.
 * Whatever can be refused — an arch config.json cannot express, a value the dtype cannot hold, a bad
 * shard size — is refused before the first file is written: a shard written before the refusal
 * would sit beside the previous save's index and config, a checkpoint that is half new.
 */
export function saveModelDir(dir: string, weights: ModelWeights, options: SaveModelOptions = {}): void {
  const dtype = options.dtype ?? 'F32';
  const torchDtype = { F32: 'float32', F16: 'float16', BF16: 'bfloat16', F64: 'float64' }[dtype];
  const configJson = `${JSON.stringify({ ...hfConfigFromArch(weights.arch), torch_dtype: torchDtype }, null, 2)}\n`;
  const hf = [...toHfTensors(weights.arch, weightsToHost(weights))].map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
  try {
    checkTensorsToWrite(hf, dtype); // every name, shape and value, as a single file would hold them
  } catch (e) {
    if (e instanceof SafetensorsFormatError) throw new FileFormatError(dir, `cannot save as ${dtype}: ${e.message}`, { cause: e });
    throw e;
  }
  const bytesPer = { F32: 4, F16: 2, BF16: 2, F64: 8 }[dtype];
  const max = options.maxShardBytes;
  if (max !== undefined && !(max > 0)) throw new MogeError('E_BAD_OPTION', `maxShardBytes: got ${max}, expected a positive byte count`);
  const written = new Set<string>();
  if (max === undefined) {
    writeSafetensorsFile(join(dir, WEIGHTS_FILE), hf, { dtype, metadata: { format: 'pt' } });
    written.add(WEIGHTS_FILE);
  } else {
    const shards: (typeof hf)[] = [[]];
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
    const weightMap: Record<string, string> = {};
    shards.forEach((shard, i) => {
      const name = `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
      writeSafetensorsFile(join(dir, name), shard, { dtype, metadata: { format: 'pt' } });
      written.add(name);
      for (const t of shard) weightMap[t.name] = name;
    });
    const totalSize = hf.reduce((s, t) => s + t.data.length * bytesPer, 0);
    writeFileAtomic(join(dir, WEIGHTS_INDEX_FILE), `${JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 2)}\n`);
    written.add(WEIGHTS_INDEX_FILE);
  }
  removeStaleWeightFiles(dir, written);
  if (options.tokenizerJson !== undefined) writeFileAtomic(join(dir, TOKENIZER_FILE), options.tokenizerJson);
  writeFileAtomic(join(dir, CONFIG_FILE), configJson);
}
