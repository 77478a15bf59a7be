import { readFileSync, existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from '@moge/model/node';
import { parse as parseYaml } from 'yaml';
import { FileFormatError, MogeError } from '@moge/core';

/**
 * Reads a JSON or YAML file (by extension; JSON is tried first otherwise). Errors name the file, and
 * the flag it came from when `flag` is given (`--loads x.json: no such file`).
 */
export function readStructuredFile(path: string, flag?: string): unknown {
  const named = flag ? `${flag} ${path}` : path;
  if (!existsSync(path)) throw new MogeError('E_NO_FILE', `${named}: no such file`);
  if (!statSync(path).isFile()) throw new MogeError('E_NOT_A_FILE', `${named}: not a file (a directory?); expected a JSON or YAML file`);
  // Editors on Windows often start UTF-8 files with a byte-order mark, which JSON.parse rejects.
  const text = readFileSync(path, 'utf8').replace(/^\uFEFF/, '');
  // A binary file (a checkpoint given where a config goes) would otherwise be echoed back in the error.
  if (text.includes('\u0000')) throw new FileFormatError(path, 'a binary file, not JSON or YAML (for a model, give its directory)');
  if (/\.ya?ml$/i.test(path)) {
    try {
      return parseYaml(text);
    } catch (e) {
      throw new FileFormatError(path, `not valid YAML: ${(e as Error).message}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    if (/\.json$/i.test(path)) throw new FileFormatError(path, `not valid JSON: ${(e as Error).message}`);
    try {
      return parseYaml(text);
    } catch (e2) {
      // A file that opens like JSON is most likely JSON with a mistake: say what JSON found first.
      const reasons = /^\s*[{[]/.test(text)
        ? `as JSON: ${(e as Error).message}; as YAML: ${(e2 as Error).message}`
        : `as YAML: ${(e2 as Error).message}; as JSON: ${(e as Error).message}`;
      throw new FileFormatError(path, `neither JSON nor YAML (${reasons})`);
    }
  }
}

/**
 * Accepts inline JSON (`{"tp": 8}`) or a path to a JSON/YAML file, as flags like `--plan` do. Errors
 * name `flag` when given; a value that is neither says both forms, since `tp=8` or `null` was likely meant inline.
 */
export function readInlineOrFile(value: string, flag?: string): unknown {
  const trimmed = value.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return JSON.parse(trimmed);
    } catch (e) {
      throw new MogeError('E_BAD_JSON', `${flag ? `${flag}: ` : ''}inline JSON does not parse: ${(e as Error).message}`);
    }
  }
  if (!existsSync(value)) throw new MogeError('E_NO_FILE', `${flag ? `${flag} ` : ''}${value}: no such file, and not inline JSON (which starts with "{")`);
  return readStructuredFile(value, flag);
}

/** Writes a file atomically (temp + fsync + rename): the shared writer from @moge/model. */
export { writeFileAtomic };

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Refuses an output path that cannot be written — a directory, or a path under a file — before a
 * command does its work and writes anything: a command with two outputs would otherwise replace the
 * first and then fail on the second.
 */
export function assertWritablePath(flag: string, path: string): void {
  if (statOrNothing(path)?.isDirectory()) throw new MogeError('E_WRITE', `${flag} ${path}: is a directory; give a file path`);
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    const stat = statOrNothing(dir);
    if (stat && !stat.isDirectory()) throw new MogeError('E_WRITE', `${flag} ${path}: ${dir} is a file, not a directory`);
    if (stat || dirname(dir) === dir) return;
  }
}

/** The path's stat, or undefined when nothing is there — also when a parent is a file (ENOTDIR). */
function statOrNothing(path: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw e;
  }
}
