import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileSystemMessage } from './errors';

const dir = mkdtempSync(join(tmpdir(), 'moge-cli-errors-'));
const thrown = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
};

describe('fileSystemMessage', () => {
  it('names the path and the reason of the errors any path flag can meet', () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const folder = join(dir, 'a-folder');
    mkdirSync(folder);
    expect(fileSystemMessage(thrown(() => readFileSync(folder)))).toBeUndefined(); // read on a descriptor: no path, left to the caller's checks
    expect(fileSystemMessage(thrown(() => mkdirSync(join(file, 'sub'), { recursive: true })))).toMatch(/a-file.*: (a part of this path is a file|exists as a file)/);
    expect(fileSystemMessage(thrown(() => writeFileSync(folder, 'x')))).toBe(`${folder}: is a directory; give a file path (open EISDIR)`);
    expect(fileSystemMessage(thrown(() => readFileSync(join(dir, 'missing'))))).toBe(`${join(dir, 'missing')}: no such file or directory (open ENOENT)`);
  });

  it('leaves other errors alone', () => {
    expect(fileSystemMessage(new Error('boom'))).toBeUndefined();
    expect(fileSystemMessage('not an error')).toBeUndefined();
  });
});
