import { z } from 'zod';
import { SAFETENSORS_DTYPES, SAFETENSORS_DTYPE_BYTES, firstOverflow, isSafetensorsDType, type SafetensorsDType } from './dtype';

/**
 * The safetensors container (huggingface/safetensors): an 8-byte little-endian header length N, N
 * bytes of JSON `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {str: str}}`,
 * then the data; offsets are relative to the data start. This module is pure (bytes in, bytes out);
 * `file.ts` reads byte ranges from disk so that a large file is never loaded whole.
 */

/** Headers beyond this are refused as corrupt (the format's own reference reader uses 100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** Byte range in the file (absolute, header included). */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  entries: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
  /** Absolute offset of the data section. */
  dataStart: number;
}

/** Thrown for a malformed container; `tensor` names the entry at fault when there is one. */
export class SafetensorsFormatError extends Error {
  readonly tensor?: string;
  constructor(message: string, tensor?: string) {
    super(tensor ? `tensor ${tensor}: ${message}` : message);
    this.tensor = tensor;
  }
}

const EntrySchema = z.object({
  dtype: z.string(),
  shape: z.array(z.number().int().nonnegative()),
  data_offsets: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
});

/** Header length from the first 8 bytes, checked against the file size. */
export function readHeaderLength(prefix: Uint8Array, fileSize: number): number {
  if (prefix.length < 8 || fileSize < 8) throw new SafetensorsFormatError(`file is ${fileSize} bytes, shorter than the 8-byte header length`);
  const n = Number(new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true));
  if (n > MAX_HEADER_BYTES) throw new SafetensorsFormatError(`header length ${n} exceeds ${MAX_HEADER_BYTES} bytes (corrupt file?)`);
  if (8 + n > fileSize) throw new SafetensorsFormatError(`header of ${n} bytes does not fit in a ${fileSize}-byte file (truncated?)`);
  return n;
}

/**
 * The first key that the top-level object of `text` (valid JSON) has twice, if any. JSON.parse keeps
 * the last of them silently: a tensor named twice would load one entry's bytes, and the other's would
 * be reported as a hole or an overlap without the cause.
 */
function repeatedTopLevelKey(text: string): string | undefined {
  const seen = new Set<string>();
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    else if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      if (depth === 1) {
        let next = end + 1;
        while (text[next] === ' ' || text[next] === '\n' || text[next] === '\r' || text[next] === '\t') next++;
        if (text[next] === ':') {
          const key = JSON.parse(text.slice(i, end + 1)) as string;
          if (seen.has(key)) return key;
          seen.add(key);
        }
      }
      i = end;
    }
  }
  return undefined;
}

/**
 * Parses and validates the JSON header: every entry's dtype is a float format we read, its byte
 * length equals shape × element size, entries neither overlap nor leave holes, and the data section
 * ends exactly at the end of the file (a truncated file names the first tensor that is cut).
 */
export function parseHeader(headerBytes: Uint8Array, fileSize: number): SafetensorsHeader {
  let text: string;
  let json: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
    json = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsFormatError(`header is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new SafetensorsFormatError('header is not a JSON object');
  const twice = repeatedTopLevelKey(text);
  if (twice !== undefined) throw new SafetensorsFormatError('named twice in the header (which entry is the tensor?); the file is corrupt', twice);
  const dataStart = 8 + headerBytes.length;
  const dataLength = fileSize - dataStart;
  const entries = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(json)) {
    if (name === '__metadata__') {
      // null is how a writer without metadata may spell "none"; the reference reader (an Option in
      // Rust) accepts it, so files it reads must read here too.
      if (raw === null) continue;
      const m = z.record(z.string(), z.string()).safeParse(raw);
      if (!m.success) throw new SafetensorsFormatError('__metadata__ must map strings to strings');
      metadata = m.data;
      continue;
    }
    const p = EntrySchema.safeParse(raw);
    if (!p.success) throw new SafetensorsFormatError(`header entry is not {dtype, shape, data_offsets}: ${p.error.issues[0]?.message}`, name);
    const { dtype, shape, data_offsets: [b, e] } = p.data;
    if (!isSafetensorsDType(dtype)) throw new SafetensorsFormatError(`dtype ${dtype} is not supported (expected F32, F16, BF16 or F64)`, name);
    const expectBytes = shape.reduce((a, d) => a * d, 1) * SAFETENSORS_DTYPE_BYTES[dtype];
    if (e < b || e - b !== expectBytes) {
      throw new SafetensorsFormatError(`data_offsets [${b}, ${e}] hold ${e - b} bytes, shape [${shape.join(', ')}] of ${dtype} needs ${expectBytes}`, name);
    }
    if (e > dataLength) {
      throw new SafetensorsFormatError(`data ends at byte ${e} of the data section but the file has only ${Math.max(0, dataLength)} (truncated?)`, name);
    }
    entries.set(name, { name, dtype, shape, begin: dataStart + b, end: dataStart + e });
  }
  const sorted = [...entries.values()].sort((x, y) => x.begin - y.begin || x.end - y.end);
  let at = dataStart;
  for (const en of sorted) {
    if (en.begin < at) throw new SafetensorsFormatError(`data overlaps the previous tensor's`, en.name);
    if (en.begin > at) throw new SafetensorsFormatError(`a hole of ${en.begin - at} bytes precedes its data`, en.name);
    at = en.end;
  }
  if (at !== fileSize) throw new SafetensorsFormatError(`${fileSize - at} bytes after the last tensor (the file does not match its header)`);
  return { entries, metadata, dataStart };
}

/** A tensor to write: float32 data stored as `dtype`. */
export interface TensorToWrite {
  name: string;
  shape: readonly number[];
  data: Float32Array;
}

/** The header key of the metadata map: a tensor of that name would be read back as metadata. */
const METADATA_KEY = '__metadata__';

/**
 * Refuses everything that would make a file of `tensors` unreadable — a repeated or reserved name (the
 * header is a JSON object: the second entry would replace the first while both tensors' bytes are
 * written), a dimension that is not a whole number ≥ 0, a value count that does not match the shape, a
 * value `dtype` turns into ∞ — before any byte is written.
 */
export function checkTensorsToWrite(tensors: readonly TensorToWrite[], dtype: SafetensorsDType): void {
  // From JavaScript a misspelt dtype ('bf16') got through and wrote entries without byte offsets.
  if (!isSafetensorsDType(dtype)) throw new SafetensorsFormatError(`dtype ${JSON.stringify(dtype)} is not one this writer stores (expected ${SAFETENSORS_DTYPES.join(', ')})`);
  const names = new Set<string>();
  for (const t of tensors) {
    if (t.name === METADATA_KEY) throw new SafetensorsFormatError(`the name is reserved for the file's metadata map; rename the tensor`, t.name);
    if (names.has(t.name)) throw new SafetensorsFormatError('given twice; tensor names in a file must be unique', t.name);
    names.add(t.name);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsFormatError(`shape [${t.shape.join(', ')}]: every dimension must be a whole number ≥ 0`, t.name);
    }
    const count = t.shape.reduce((a, d) => a * d, 1);
    if (count !== t.data.length) throw new SafetensorsFormatError(`shape [${t.shape.join(', ')}] needs ${count} values, got ${t.data.length}`, t.name);
    const over = firstOverflow(dtype, t.data);
    if (over >= 0) {
      throw new SafetensorsFormatError(
        `element ${over} is ${t.data[over]}, beyond the range of ${dtype} (it would be stored as ∞ and refused on loading); save as ${dtype === 'F16' ? 'BF16 or ' : ''}F32`,
        t.name,
      );
    }
  }
}

/**
 * The header bytes (length prefix + JSON padded with spaces to a multiple of 8, as the reference
 * writer does) for tensors laid out in the given order, after checkTensorsToWrite.
 */
export function buildHeader(tensors: readonly TensorToWrite[], dtype: SafetensorsDType, metadata?: Record<string, string>): Uint8Array {
  checkTensorsToWrite(tensors, dtype);
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.data.length * SAFETENSORS_DTYPE_BYTES[dtype];
    header[t.name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  const raw = new TextEncoder().encode(json);
  json += ' '.repeat((8 - (raw.length % 8)) % 8);
  const body = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(body.length), true);
  out.set(body, 8);
  return out;
}
