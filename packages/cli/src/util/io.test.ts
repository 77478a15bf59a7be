import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readInlineOrFile, readStructuredFile } from './io';

describe('readStructuredFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'moge-io-'));
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('reads YAML, JSON, and flow-style YAML in a file of neither extension', () => {
    expect(readStructuredFile(file('a.yaml', 'tp: 8\npp: 2\n'))).toEqual({ tp: 8, pp: 2 });
    expect(readStructuredFile(file('a.json', '{"tp": 8}'))).toEqual({ tp: 8 });
    expect(readStructuredFile(file('a.cfg', '{tp: 8, pp: 2}'))).toEqual({ tp: 8, pp: 2 });
  });

  it('names YAML as the format of a .yaml file that does not parse, with the reason', () => {
    expect(() => readStructuredFile(file('dup.yaml', 'tp: 8\ntp: 4\n'))).toThrow(/dup\.yaml.*not valid YAML: .*unique/s);
  });

  it('puts the JSON reason first for a file that opens like JSON', () => {
    const path = file('broken.cfg', '{"tp": 8,, "pp": 2}');
    expect(() => readStructuredFile(path)).toThrow(/neither JSON nor YAML \(as JSON: .*; as YAML: /);
    expect(() => readStructuredFile(file('broken.txt', 'tp: [8\n'))).toThrow(/neither JSON nor YAML \(as YAML: .*; as JSON: /s);
  });

  it('names the flag a missing file or a directory came from', () => {
    expect(() => readStructuredFile(join(dir, 'missing.json'), '--loads')).toThrow(/^--loads \S*missing\.json: no such file$/);
    expect(() => readStructuredFile(dir, '--input')).toThrow(/^--input \S*: not a file \(a directory\?\); expected a JSON or YAML file$/);
    expect(() => readStructuredFile(join(dir, 'missing.json'))).toThrow(/^\S*missing\.json: no such file$/);
  });
});

describe('readInlineOrFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'moge-io-inline-'));

  it('reads inline JSON or a file, and names the flag of a value that is neither', () => {
    expect(readInlineOrFile(' {"tp": 8}', '--plan')).toEqual({ tp: 8 });
    const path = join(dir, 'plan.yaml');
    writeFileSync(path, 'tp: 4\n');
    expect(readInlineOrFile(path, '--plan')).toEqual({ tp: 4 });
    // tp=8 or null were meant inline: say both forms, not only "no such file".
    expect(() => readInlineOrFile('tp=8', '--plan')).toThrow(/^--plan tp=8: no such file, and not inline JSON \(which starts with "\{"\)$/);
    expect(() => readInlineOrFile('{tp: 8}', '--options')).toThrow(/^--options: inline JSON does not parse: /);
    expect(() => readInlineOrFile(dir, '--plan')).toThrow(/^--plan \S*: not a file \(a directory\?\)/);
  });
});
