/**
 * Strict UTF-8 for corpus files. Node's `readFileSync(path, 'utf8')` turns every malformed byte into
 * U+FFFD without a word, so a Latin-1 or damaged file trains on replacement characters; Python's
 * `open(path, encoding='utf-8')` (what HF datasets' text loader uses) refuses it, naming the byte.
 * This does the same, and says where.
 */

/** Byte offset of the first byte that does not start a well-formed UTF-8 sequence, or −1. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    // Lead byte → sequence length and the range its first continuation byte must fall in; the
    // narrowed ranges exclude overlong forms, UTF-16 surrogates and code points above U+10FFFF.
    let len: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) len = 2;
    else if (b >= 0xe0 && b <= 0xef) {
      len = 3;
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      len = 4;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    } else return i;
    if (i + len > n) return i;
    const c1 = bytes[i + 1]!;
    if (c1 < lo || c1 > hi) return i;
    for (let k = 2; k < len; k++) {
      const c = bytes[i + k]!;
      if (c < 0x80 || c > 0xbf) return i;
    }
    i += len;
  }
  return -1;
}

/** 1-based line of byte `offset` (lines end at LF), for messages people can jump to. */
export function lineAt(bytes: Uint8Array, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (bytes[i] === 0x0a) line++;
  return line;
}
