import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { firstInvalidUtf8, lineAt } from './utf8';

const strict = (b: Uint8Array) => {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
};

// UTF-8 of arbitrary text with a few bytes overwritten: mostly near-valid input, where the edge
// cases (truncated sequences, overlongs, surrogates, > U+10FFFF) live.
const damaged = fc
  .tuple(fc.string({ unit: 'binary', maxLength: 40 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }))
  .map(([s, edits]) => {
    const b = new TextEncoder().encode(s);
    for (const [at, v] of edits) if (b.length) b[at % b.length] = v;
    return b;
  });

describe('firstInvalidUtf8', () => {
  it('agrees with the WHATWG decoder, and the bytes before the offset it names are valid (property)', () => {
    fc.assert(
      fc.property(fc.oneof(damaged, fc.uint8Array({ maxLength: 12 })), (b) => {
        const at = firstInvalidUtf8(b);
        expect(at === -1).toBe(strict(b));
        if (at >= 0) {
          expect(strict(b.subarray(0, at))).toBe(true);
          expect(strict(b.subarray(0, at + 1))).toBe(false);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('counts lines by LF', () => {
    const b = new TextEncoder().encode('one\r\ntwo\nthree');
    expect(lineAt(b, b.indexOf(0x74 /* t of two */))).toBe(2);
    expect(lineAt(b, b.length - 1)).toBe(3);
  });
});
