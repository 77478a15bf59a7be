import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readStructuredFile } from './io';

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
});
