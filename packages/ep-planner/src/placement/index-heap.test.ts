import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { IndexHeap } from './index-heap';

describe('IndexHeap', () => {
  it('pops ids in key order, ties by smaller id, for min and max heaps', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 60 }), fc.boolean(), (keys, min) => {
        const heap = new IndexHeap(keys.length, min ? 'min' : 'max');
        keys.forEach((k, id) => heap.push(id, k));
        const popped: number[] = [];
        while (heap.length > 0) popped.push(heap.pop());
        const expected = keys
          .map((k, id) => ({ k, id }))
          .sort((a, b) => (min ? a.k - b.k : b.k - a.k) || a.id - b.id)
          .map((x) => x.id);
        expect(popped).toEqual(expected);
        expect(heap.pop()).toBe(-1);
      }),
    );
  });

  it('replaceTopKey reorders the top element', () => {
    const heap = new IndexHeap(3, 'min');
    heap.push(0, 1);
    heap.push(1, 2);
    heap.push(2, 3);
    heap.replaceTopKey(10);
    expect([heap.pop(), heap.pop(), heap.pop()]).toEqual([1, 2, 0]);
  });
});
