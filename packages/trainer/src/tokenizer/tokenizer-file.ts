import { readFileSync } from 'node:fs';
import { FileFormatError, MogeError } from '@moge/core';
import { fromTokenizerJson } from './tokenizer-json';
import { END_OF_TEXT, type ByteLevelBpeTokenizer } from './tokenizer';

/**
 * A tokenizer.json file, with every way it can be wrong named against the file: missing, not JSON,
 * not the byte-level BPE layout moge writes (fromTokenizerJson), and — for training, which separates
 * documents with it — without `<|endoftext|>`.
 */
export function readTokenizerFile(file: string, options: { needEndOfText?: boolean } = {}): ByteLevelBpeTokenizer {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new MogeError('E_NO_FILE', `${file}: cannot read (${(e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new FileFormatError(file, `not valid JSON: ${(e as Error).message}`);
  }
  const tokenizer = fromTokenizerJson(json, file);
  if (options.needEndOfText && tokenizer.specialId(END_OF_TEXT) === undefined) {
    throw new FileFormatError(file, `has no "${END_OF_TEXT}" among its added_tokens; training separates documents with it (a tokenizer.json written by moge train has it)`);
  }
  return tokenizer;
}
