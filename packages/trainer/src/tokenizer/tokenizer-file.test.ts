import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTokenizerFile } from './tokenizer-file';
import { toTokenizerJson } from './tokenizer-json';
import { trainTokenizer } from './train-tokenizer';

const dir = mkdtempSync(join(tmpdir(), 'moge-tokenizer-file-'));
const tok = trainTokenizer(['the state of the union is strong, the state of the union'], { vocabSize: 270 });

describe('readTokenizerFile', () => {
  it('reads back what toTokenizerJson wrote', () => {
    const file = join(dir, 'tokenizer.json');
    writeFileSync(file, JSON.stringify(toTokenizerJson(tok)));
    const back = readTokenizerFile(file, { needEndOfText: true });
    expect(back.size).toBe(tok.size);
    expect(back.encode('the union')).toEqual(tok.encode('the union'));
  });

  it('names the file when it is missing, not JSON, or (for training) lacks <|endoftext|>', () => {
    expect(() => readTokenizerFile(join(dir, 'absent.json'))).toThrow(/absent\.json: cannot read/);
    writeFileSync(join(dir, 'broken.json'), '{"model": ');
    expect(() => readTokenizerFile(join(dir, 'broken.json'))).toThrow(/broken\.json.*not valid JSON/);
    const json = toTokenizerJson(tok);
    writeFileSync(join(dir, 'no-eot.json'), JSON.stringify({ ...json, added_tokens: [] }));
    expect(() => readTokenizerFile(join(dir, 'no-eot.json'))).not.toThrow();
    expect(() => readTokenizerFile(join(dir, 'no-eot.json'), { needEndOfText: true })).toThrow(/no-eot\.json.*has no "<\|endoftext\|>" among its added_tokens/);
  });
});
