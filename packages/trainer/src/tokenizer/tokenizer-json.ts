import { z } from 'zod';
import { FileFormatError, parseWith } from '@moge/core';
import { tokenStringToBytes } from './byte-level';
import type { BpeVocabulary } from './bpe-trainer';
import { ByteLevelBpeTokenizer, type SpecialToken } from './tokenizer';

/**
 * Hugging Face `tokenizer.json` for a GPT-2 style byte-level BPE: ByteLevel pre-tokenizer, decoder
 * and post-processor, a BPE model with vocab + merges, and the special tokens as added tokens.
 * Loadable by HF tokenizers (Rust/Python) and transformers.js / @huggingface/tokenizers.
 */
const AddedTokenSchema = z.object({
  id: z.number().int().nonnegative(),
  content: z.string().min(1),
  single_word: z.boolean().default(false),
  lstrip: z.boolean().default(false),
  rstrip: z.boolean().default(false),
  normalized: z.boolean().default(false),
  special: z.boolean().default(true),
});

const ByteLevelSchema = z.object({ type: z.literal('ByteLevel') }).loose();

/** The subset of `tokenizer.json` we read back: exactly what we write, validated field by field. */
export const TokenizerJsonSchema = z.object({
  version: z.string(),
  added_tokens: z.array(AddedTokenSchema),
  normalizer: z.null(),
  pre_tokenizer: ByteLevelSchema.extend({
    add_prefix_space: z.literal(false, { message: 'false (GPT-2 style, no prefix space)' }),
    use_regex: z.literal(true).default(true),
  }),
  post_processor: ByteLevelSchema.nullable(),
  decoder: ByteLevelSchema,
  model: z.object({
    type: z.literal('BPE'),
    vocab: z.record(z.string(), z.number().int().nonnegative()),
    merges: z.array(z.union([z.string().regex(/^\S+ \S+$/, 'a merge "A B"'), z.tuple([z.string(), z.string()])])),
    byte_fallback: z.literal(false).default(false),
    ignore_merges: z.literal(false).default(false),
  }).loose(),
}).loose();
export type TokenizerJson = z.input<typeof TokenizerJsonSchema>;

/** The `tokenizer.json` object of a tokenizer. */
export function toTokenizerJson(tok: ByteLevelBpeTokenizer): TokenizerJson {
  const vocab: Record<string, number> = {};
  for (let id = 0; id < tok.vocab.tokens.length; id++) vocab[tok.tokenString(id)] = id;
  return {
    version: '1.0',
    added_tokens: tok.specialTokens.map((t) => ({
      id: t.id,
      content: t.content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: tok.vocab.merges.map(([a, b]) => `${tok.tokenString(a)} ${tok.tokenString(b)}`),
    },
  };
}

/** `tokenizer_config.json` beside it, so transformers / transformers.js pick the right special tokens. */
export function toTokenizerConfigJson(tok: ByteLevelBpeTokenizer, modelMaxLength: number): Record<string, unknown> {
  const eot = tok.specialTokens[0]?.content ?? null;
  return {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: eot,
    eos_token: eot,
    unk_token: null,
    add_prefix_space: false,
    clean_up_tokenization_spaces: false,
    model_max_length: modelMaxLength,
  };
}

/**
 * Reads a `tokenizer.json` object back into a tokenizer. Byte tokens must be ids 0–255 in byte order
 * (what we write); any other layout is refused with the file named.
 */
export function fromTokenizerJson(json: unknown, file = 'tokenizer.json'): ByteLevelBpeTokenizer {
  const t = parseWith(TokenizerJsonSchema, json, file);
  const vocabSize = Object.keys(t.model.vocab).length;
  const tokens: Uint8Array[] = new Array(vocabSize);
  for (const [str, id] of Object.entries(t.model.vocab)) {
    if (id >= vocabSize || tokens[id]) throw new FileFormatError(file, `vocab ids must be 0..${vocabSize - 1}, each once; "${str}" has ${id}`);
    tokens[id] = tokenStringToBytes(str);
  }
  for (let b = 0; b < 256; b++) {
    const bytes = tokens[b];
    if (!bytes || bytes.length !== 1 || bytes[0] !== b) throw new FileFormatError(file, `id ${b} must be the single byte 0x${b.toString(16)}`);
  }
  const merges: [number, number][] = t.model.merges.map((m, i) => {
    const [l, r] = typeof m === 'string' ? (m.split(' ') as [string, string]) : m;
    const a = t.model.vocab[l];
    const b = t.model.vocab[r];
    if (a === undefined || b === undefined) throw new FileFormatError(file, `merges[${i}] "${l} ${r}" names a token missing from the vocab`);
    return [a, b];
  });
  const vocab: BpeVocabulary = { tokens, merges };
  const special: SpecialToken[] = t.added_tokens.map((a) => ({ content: a.content, id: a.id }));
  for (const s of special) {
    if (s.id < vocabSize) throw new FileFormatError(file, `added token "${s.content}" reuses vocab id ${s.id}`);
  }
  return new ByteLevelBpeTokenizer(vocab, special);
}
