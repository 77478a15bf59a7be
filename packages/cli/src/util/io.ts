import { readFileSync, existsSync } from 'node:fs';
import { writeFileAtomic } from '@moge/model/node';
import { parse as parseYaml } from 'yaml';
import { FileFormatError, MogeError } from '@moge/core';

/** Reads a JSON or YAML file (by extension; JSON is tried first otherwise). Errors name the file. */
export function readStructuredFile(path: string): unknown {
  if (!existsSync(path)) throw new MogeError('E_NO_FILE', `${path}: no such file`);
  const text = readFileSync(path, 'utf8');
  try {
    if (/\.ya?ml$/i.test(path)) return parseYaml(text);
    return JSON.parse(text);
  } catch (e) {
    if (/\.json$/i.test(path)) throw new FileFormatError(path, `not valid JSON: ${(e as Error).message}`);
    try {
      return parseYaml(text);
    } catch (e2) {
      throw new FileFormatError(path, `neither JSON nor YAML: ${(e2 as Error).message}`);
    }
  }
}

/**
 * Accepts inline JSON (`{"tp": 8}`) or a path to a JSON/YAML file, as flags like `--plan` do.
 */
export function readInlineOrFile(value: string): unknown {
  const trimmed = value.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return JSON.parse(trimmed);
    } catch (e) {
      throw new MogeError('E_BAD_JSON', `inline JSON does not parse: ${(e as Error).message}`);
    }
  }
  return readStructuredFile(value);
}

/** Writes a file atomically (temp + fsync + rename): the shared writer from @moge/model. */
export { writeFileAtomic };

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}
