import { countWords, trainBpe } from './bpe-trainer';
import { ByteLevelBpeTokenizer, END_OF_TEXT } from './tokenizer';

export interface TrainTokenizerOptions {
  /** Total ids including special tokens; the model's `vocabSize` (the tokenizer never exceeds it). */
  vocabSize: number;
  /** Special tokens, appended after the learned tokens; default `<|endoftext|>`. */
  specialTokens?: readonly string[];
  minFrequency?: number;
}

/**
 * Trains a byte-level BPE tokenizer on texts. Special tokens take the last ids, as `<|endoftext|>`
 * does in GPT-2. When the corpus runs out of pairs seen `minFrequency` times, the vocabulary is
 * smaller than asked; the model's embedding rows past `size` are then simply never used.
 */
export function trainTokenizer(texts: Iterable<string>, options: TrainTokenizerOptions): ByteLevelBpeTokenizer {
  const specials = options.specialTokens ?? [END_OF_TEXT];
  const learned = options.vocabSize - specials.length;
  if (learned < 256) {
    throw new RangeError(`vocabSize ${options.vocabSize} leaves ${learned} learned tokens; need at least 256 (the bytes) + ${specials.length} special`);
  }
  const vocab = trainBpe(countWords(texts), { vocabSize: learned, minFrequency: options.minFrequency ?? 2 });
  return new ByteLevelBpeTokenizer(
    vocab,
    specials.map((content, i) => ({ content, id: vocab.tokens.length + i })),
  );
}
