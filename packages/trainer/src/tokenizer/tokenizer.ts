import { BYTE_TO_UNICODE, pretokenize } from './byte-level';
import type { BpeVocabulary } from './bpe-trainer';
import { mergeWord } from './merge-word';

export interface SpecialToken {
  content: string;
  id: number;
}

export const END_OF_TEXT = '<|endoftext|>';

/**
 * Byte-level BPE encoder/decoder (GPT-2 scheme). Encoding matches HF tokenizers for the same
 * `tokenizer.json`: special tokens are split out first, the rest is pre-tokenized with the GPT-2
 * pattern, and in each word the lowest-ranked adjacent pair is merged first (leftmost on ties) until
 * no ranked pair is left. Decoding concatenates token bytes, so any well-formed string round-trips exactly.
 *
 * A lone UTF-16 surrogate (half of a pair cut by `slice`, a `"\ud83d"` JSON escape), which UTF-8
 * cannot hold, is encoded as U+FFFD — `encode(s)` is `encode(s.toWellFormed())`, and decoding gives
 * U+FFFD back. That is what TextEncoder does and what @huggingface/tokenizers (JavaScript) does with
 * the same `tokenizer.json`, ids for ids. Python's `tokenizers` cannot be given such text at all (its
 * str → Rust String conversion raises UnicodeEncodeError). Replacing rather than throwing keeps one
 * malformed character in a corpus or a prompt from failing a training run or a request.
 */
export class ByteLevelBpeTokenizer {
  readonly vocab: BpeVocabulary;
  readonly specialTokens: readonly SpecialToken[];
  /** rank of pair (a, b) keyed a·2^20 + b, and the id it merges into. */
  private readonly rank = new Map<number, { rank: number; id: number }>();
  private readonly cache = new Map<string, readonly number[]>();
  private readonly specialById = new Map<number, string>();
  private readonly specialPattern: RegExp | null;
  private readonly specialByContent = new Map<string, number>();

  constructor(vocab: BpeVocabulary, specialTokens: readonly SpecialToken[]) {
    this.vocab = vocab;
    this.specialTokens = specialTokens;
    const idOfBytes = new Map<string, number>();
    vocab.tokens.forEach((bytes, id) => idOfBytes.set(String.fromCharCode(...bytes), id));
    vocab.merges.forEach(([a, b], rank) => {
      const key = a * 1048576 + b;
      if (this.rank.has(key)) return; // a repeated merge never fires twice; the first rank wins
      const bytes = String.fromCharCode(...vocab.tokens[a]!, ...vocab.tokens[b]!);
      const id = idOfBytes.get(bytes);
      if (id === undefined) throw new RangeError(`merge ${rank} (${a}, ${b}) makes a token missing from the vocabulary`);
      this.rank.set(key, { rank, id });
    });
    for (const t of specialTokens) {
      this.specialById.set(t.id, t.content);
      this.specialByContent.set(t.content, t.id);
    }
    // Longest first so that a special token which is a prefix of another never wins over it.
    const contents = [...this.specialByContent.keys()].sort((x, y) => y.length - x.length);
    this.specialPattern = contents.length
      ? new RegExp(contents.map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g')
      : null;
  }

  /** Number of ids: learned tokens plus special tokens (the model's vocabulary must be at least this). */
  get size(): number {
    let max = this.vocab.tokens.length - 1;
    for (const t of this.specialTokens) max = Math.max(max, t.id);
    return max + 1;
  }

  /** Id of a special token by content, e.g. `<|endoftext|>`. */
  specialId(content: string): number | undefined {
    return this.specialByContent.get(content);
  }

  /**
   * Token ids of `text`; special-token text becomes its special id, as in HF. For prompts and chat
   * markup; training documents go through `encodeOrdinary`.
   */
  encode(text: string): number[] {
    const out: number[] = [];
    if (!this.specialPattern) {
      this.appendOrdinary(text, out);
      return out;
    }
    let last = 0;
    for (const m of text.matchAll(this.specialPattern)) {
      this.appendOrdinary(text.slice(last, m.index), out);
      out.push(this.specialByContent.get(m[0])!);
      last = m.index + m[0].length;
    }
    this.appendOrdinary(text.slice(last), out);
    return out;
  }

  /**
   * Token ids of `text` read as plain text: `<|endoftext|>` written in it is spelled with ordinary
   * tokens, never the special id (tiktoken's `encode_ordinary`). Training data needs this: a corpus
   * that mentions the marker (a web page about GPT-2, say) must not cut its document in two with a
   * separator the model then learns to predict there.
   */
  encodeOrdinary(text: string): number[] {
    const out: number[] = [];
    this.appendOrdinary(text, out);
    return out;
  }

  private appendOrdinary(text: string, out: number[]): void {
    if (!text) return;
    for (const word of pretokenize(text)) {
      let ids = this.cache.get(word);
      if (!ids) {
        ids = this.bpeWord(word);
        if (this.cache.size < 200_000) this.cache.set(word, ids);
      }
      for (const id of ids) out.push(id);
    }
  }

  private bpeWord(word: string): number[] {
    return mergeWord(Array.from(new TextEncoder().encode(word)), (a, b) => this.rank.get(a * 1048576 + b));
  }

  /** Bytes of the ids (special tokens contribute their UTF-8 text). */
  decodeBytes(ids: Iterable<number>): Uint8Array {
    const parts: Uint8Array[] = [];
    let length = 0;
    const encoder = new TextEncoder();
    for (const id of ids) {
      const special = this.specialById.get(id);
      const bytes = special !== undefined ? encoder.encode(special) : this.vocab.tokens[id];
      if (!bytes) throw new RangeError(`token id ${id} is outside the vocabulary [0, ${this.size})`);
      parts.push(bytes);
      length += bytes.length;
    }
    const out = new Uint8Array(length);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  /** Text of the ids; byte sequences that are not valid UTF-8 (a cut mid-character) become U+FFFD. */
  decode(ids: Iterable<number>): string {
    return new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(this.decodeBytes(ids));
  }

  /** The byte-level string of a token id as it appears in `tokenizer.json`. */
  tokenString(id: number): string {
    const special = this.specialById.get(id);
    if (special !== undefined) return special;
    const bytes = this.vocab.tokens[id];
    if (!bytes) throw new RangeError(`token id ${id} is outside the vocabulary`);
    let s = '';
    for (const b of bytes) s += BYTE_TO_UNICODE[b]!;
    return s;
  }
}
