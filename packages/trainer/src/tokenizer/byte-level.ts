/**
 * GPT-2 byte-level alphabet and pre-tokenizer, exactly as Hugging Face `ByteLevel` defines them, so a
 * `tokenizer.json` we write encodes the same way in HF tokenizers / transformers.js as in our encoder.
 *
 * Every byte gets a printable stand-in character (printable Latin-1 bytes map to themselves, the rest
 * to U+0100…): BPE then works on strings without control characters or spaces, and merges can be
 * written as `"A B"` lines.
 */

function buildByteToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table = new Array<string>(256);
  for (const b of printable) table[b] = String.fromCharCode(b);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    if (table[b] === undefined) table[b] = String.fromCharCode(256 + next++);
  }
  return table;
}

/** byte value → stand-in character. */
export const BYTE_TO_UNICODE: readonly string[] = buildByteToUnicode();

/** stand-in character code → byte value (−1 for characters that are not stand-ins). */
const UNICODE_TO_BYTE: Int16Array = (() => {
  const out = new Int16Array(512).fill(-1);
  BYTE_TO_UNICODE.forEach((ch, b) => {
    out[ch.charCodeAt(0)] = b;
  });
  return out;
})();

/** Bytes of a byte-level token string (e.g. `"Ġthe"` → [0x20, 0x74, 0x68, 0x65]). */
export function tokenStringToBytes(token: string): Uint8Array {
  const out = new Uint8Array(token.length);
  for (let i = 0; i < token.length; i++) {
    const code = token.charCodeAt(i);
    const b = code < 512 ? UNICODE_TO_BYTE[code]! : -1;
    if (b < 0) throw new RangeError(`"${token}" is not a byte-level token (character U+${code.toString(16)} at ${i})`);
    out[i] = b;
  }
  return out;
}

export function bytesToTokenString(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += BYTE_TO_UNICODE[b]!;
  return s;
}

/**
 * Whitespace as HF tokenizers' regex engine (Oniguruma, Unicode mode) defines `\s`: the Unicode
 * White_Space characters. JavaScript's `\s` differs in two: it leaves out U+0085 (NEL) and adds
 * U+FEFF (BOM / zero-width no-break space). With JavaScript's `\s` a text holding either split into
 * other pieces than HF's, so a model trained here would see other ids than the same tokenizer.json
 * gives it in transformers or vLLM.
 */
const WS = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

/**
 * The GPT-2 split pattern (HF `ByteLevel` with `use_regex: true`):
 * `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` with `\s` as HF reads it
 * (WS above). Its alternatives cover every character (letters, numbers, whitespace and "anything
 * else"), so the pieces concatenate back to the input — which is what makes encode/decode a round trip.
 */
export const GPT2_SPLIT_PATTERN = new RegExp(
  `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WS}\\p{L}\\p{N}]+|[${WS}]+(?![^${WS}])|[${WS}]+`,
  'gu',
);

/** Splits text into pre-tokens (words) with the GPT-2 pattern. */
export function pretokenize(text: string): string[] {
  return text.match(GPT2_SPLIT_PATTERN) ?? [];
}
