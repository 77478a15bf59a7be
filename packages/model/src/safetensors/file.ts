import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, rmSync, writeSync, mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FileFormatError, MogeError } from '@moge/core';
import type { HostTensor } from '../weights/hf-layout';
import { decodeToFloat32, encodeFromFloat32, type SafetensorsDType } from './dtype';
import { SafetensorsFormatError, buildHeader, parseHeader, readHeaderLength, type SafetensorsHeader, type TensorToWrite } from './format';
import { refuseDirectoryTarget } from '../checkpoint/atomic-file';

function readExactly(fd: number, length: number, position: number, file: string, what: string): Uint8Array {
  const buf = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) throw new FileFormatError(file, `${what}: file ended after ${done} of ${length} bytes (truncated?)`);
    done += n;
  }
  return buf;
}

function asFileError(file: string, e: unknown): unknown {
  if (e instanceof SafetensorsFormatError) return new FileFormatError(file, e.message, { cause: e });
  return e;
}

/** Reads and validates a safetensors file's header only (cheap, even for a 100 GB shard). */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    throw new MogeError('E_NO_FILE', `${file}: cannot open (${(e as Error).message})`);
  }
  // One stat of the open file serves both checks. A directory opens for reading on Linux; its first
  // read would fail with a bare EISDIR.
  const stat = fstatSync(fd);
  if (!stat.isFile()) {
    closeSync(fd);
    throw new MogeError('E_NO_FILE', `${file}: not a file (a directory?); expected a safetensors file`);
  }
  try {
    const size = stat.size;
    const n = readHeaderLength(readExactly(fd, Math.min(8, size), 0, file, 'header length'), size);
    return parseHeader(readExactly(fd, n, 8, file, 'header'), size);
  } catch (e) {
    throw asFileError(file, e);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads the tensors `names` (all when omitted) of a file whose header was validated, one byte range
 * at a time, converting to float32. Nothing is returned unless every tensor was read.
 */
export function readSafetensorsTensors(file: string, header: SafetensorsHeader, names?: Iterable<string>): Map<string, HostTensor> {
  const wanted = names ? [...names] : [...header.entries.keys()];
  const out = new Map<string, HostTensor>();
  const fd = openSync(file, 'r');
  try {
    for (const name of wanted) {
      const en = header.entries.get(name);
      if (!en) throw new FileFormatError(file, `tensor ${name}: not in this file`);
      const count = en.shape.reduce((a, d) => a * d, 1);
      const bytes = readExactly(fd, en.end - en.begin, en.begin, file, `tensor ${name}`);
      const data = decodeToFloat32(en.dtype, bytes, count);
      for (let i = 0; i < data.length; i++) {
        if (!Number.isFinite(data[i]!)) throw new FileFormatError(file, `tensor ${name}: ${notFiniteReason(en.dtype, bytes, i, data[i]!)}`);
      }
      out.set(name, { shape: en.shape, data });
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/**
 * Why element `i` did not load. An F64 value that is finite but beyond float32's range is not
 * corrupt, it just cannot be computed with (the model works in float32): say so, and how to fix it.
 */
function notFiniteReason(dtype: SafetensorsDType, bytes: Uint8Array, i: number, asF32: number): string {
  if (dtype === 'F64') {
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getFloat64(8 * i, true);
    if (Number.isFinite(v)) return `element ${i} is ${v}, beyond float32's range (±3.4e38) that the model computes in; rescale or clip the tensor before saving`;
  }
  return `element ${i} is ${asF32} (corrupt data?)`;
}

/** Header + all tensors of a file. */
export function readSafetensorsFile(file: string): { tensors: Map<string, HostTensor>; metadata: Record<string, string> } {
  const header = readSafetensorsHeader(file);
  return { tensors: readSafetensorsTensors(file, header), metadata: header.metadata };
}

/**
 * Writes tensors as one safetensors file, atomically: a temp file in the same folder, fsync, then
 * rename, so a reader sees the old file or the new one, never half of one. Tensors are encoded one
 * at a time, so memory holds one tensor's bytes beyond the inputs.
 */
export function writeSafetensorsFile(
  file: string,
  tensors: readonly TensorToWrite[],
  options: { dtype?: SafetensorsDType; metadata?: Record<string, string> } = {},
): void {
  const dtype = options.dtype ?? 'F32';
  let header: Uint8Array;
  try {
    header = buildHeader(tensors, dtype, options.metadata);
  } catch (e) {
    throw asFileError(file, e);
  }
  refuseDirectoryTarget(file);
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    writeAll(fd, header);
    for (const t of tensors) writeAll(fd, encodeFromFloat32(dtype, t.data));
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, file);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(tmp, { force: true });
    throw e;
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}
