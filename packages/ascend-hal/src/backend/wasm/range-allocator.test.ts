import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALIGN, RangeAllocator } from './range-allocator';

describe('RangeAllocator', () => {
  it('hands out aligned ranges that never overlap, reuses freed ones, and merges them back into one', () => {
    const op = fc.oneof(fc.record({ alloc: fc.integer({ min: 1, max: 5000 }) }), fc.record({ free: fc.nat() }));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const a = new RangeAllocator(100);
        const live: { at: number; bytes: number }[] = [];
        for (const o of ops) {
          if ('alloc' in o) {
            const at = a.alloc(o.alloc);
            expect(at % ALIGN).toBe(0);
            expect(at).toBeGreaterThanOrEqual(100);
            expect(at + o.alloc).toBeLessThanOrEqual(a.top);
            for (const r of live) expect(at + o.alloc <= r.at || r.at + r.bytes <= at).toBe(true);
            live.push({ at, bytes: o.alloc });
          } else if (live.length > 0) {
            const [r] = live.splice(o.free % live.length, 1);
            a.release(r!.at, r!.bytes);
          }
        }
        for (const r of live.splice(0)) a.release(r.at, r.bytes);
        // Everything back: one free range from the base to the top, which a request of that size reuses.
        const base = Math.ceil(100 / ALIGN) * ALIGN;
        expect(a.freeBytes()).toBe(a.top - base);
        if (a.top > base) expect(a.alloc(a.top - base)).toBe(base);
      }),
    );
  });

  it('takes a freed range before growing', () => {
    const a = new RangeAllocator();
    const first = a.alloc(1000);
    a.alloc(10);
    const top = a.top;
    a.release(first, 1000);
    expect(a.alloc(500)).toBe(first);
    expect(a.top).toBe(top);
  });
});
