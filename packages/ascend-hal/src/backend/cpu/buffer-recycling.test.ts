import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { createOnnxBackend } from '../onnxruntime/onnx-backend';
import type { AllocationGroup, HostArray } from '../backend';
import { collectAllocations, dropRecycledBuffers, recycle, recycledIdleBytes } from './buffer-recycling';
import { uninitializedAllocator } from './uninitialized-allocator';

afterEach(() => dropRecycledBuffers());

const alloc = (n: number) => uninitializedAllocator('f32', n) as Float32Array;

describe('buffer recycling', () => {
  it('collects what the allocator hands out, reuses a recycled buffer of the same size and keeps what is kept', () => {
    const { result, group } = collectAllocations(() => [alloc(20_000), alloc(20_000), alloc(30_000)] as const);
    const [a, b, c] = result;
    expect(group.byteLength).toBe((20_000 + 20_000 + 30_000) * 4);
    const kept = recycle(group, [b]);
    expect(kept.byteLength).toBe(20_000 * 4);
    expect(recycledIdleBytes()).toBe((20_000 + 30_000) * 4);
    // Poisoned at once under vitest: a read after recycle shows NaN.
    expect(Number.isNaN(a[0]!)).toBe(true);
    const again = alloc(20_000);
    expect(again.buffer).toBe(a.buffer);
    expect(alloc(20_000).buffer).not.toBe(b.buffer);
    expect(alloc(30_000).buffer).toBe(c.buffer);
    expect(recycledIdleBytes()).toBe(0);
  });

  it('a view or a reshape keeps its whole buffer', () => {
    const backend = createOnnxBackend({ intraOpThreads: 1 });
    const table = backend.fromArray(new Float32Array(20_000).fill(1), [100, 200]);
    const { result, group } = backend.collectAllocations!(() => backend.gatherRows(table, Int32Array.from({ length: 100 }, (_, i) => i)));
    expect(group.byteLength).toBe(20_000 * 4);
    backend.recycle!(group, [backend.reshape(result, [200, 100])]);
    expect(recycledIdleBytes()).toBe(0);
    expect([...backend.read(result).subarray(0, 3)]).toEqual([1, 1, 1]);
  });

  it('refuses a second recycle of a group and a group it did not make', () => {
    const { group } = collectAllocations(() => alloc(20_000));
    recycle(group);
    expect(() => recycle(group)).toThrow(/already recycled/);
    expect(() => recycle({ byteLength: 0 } as AllocationGroup)).toThrow(/not made by this backend/);
  });

  it('records only in the innermost collection', () => {
    const outer = collectAllocations(() => {
      alloc(20_000);
      return collectAllocations(() => alloc(20_000)).group;
    });
    expect(outer.group.byteLength).toBe(20_000 * 4);
    expect(outer.result.byteLength).toBe(20_000 * 4);
  });

  it('the onnxruntime backend offers recycling unless told not to', () => {
    expect(createOnnxBackend({ intraOpThreads: 1 }).recycle).toBeTypeOf('function');
    expect(createOnnxBackend({ intraOpThreads: 1, recycleBuffers: false }).recycle).toBeUndefined();
  });

  it('never hands out a buffer that is still held (property)', () => {
    // Steps: allocate a few arrays in a group, then recycle an earlier group keeping some of its arrays.
    const step = fc.record({
      sizes: fc.array(fc.constantFrom(16_384, 20_000, 32_768), { minLength: 1, maxLength: 4 }),
      recycleIndex: fc.nat(),
      keepMask: fc.nat(15),
    });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 12 }), (steps) => {
        dropRecycledBuffers();
        const held = new Set<ArrayBufferLike>();
        const open: { group: AllocationGroup; arrays: HostArray[] }[] = [];
        for (const s of steps) {
          const { result, group } = collectAllocations(() => s.sizes.map(alloc));
          for (const a of result) {
            if (held.has(a.buffer)) return false; // handed out while still held
            held.add(a.buffer);
          }
          open.push({ group, arrays: result });
          const victim = open.splice(s.recycleIndex % open.length, 1)[0]!;
          const keep = victim.arrays.filter((_, i) => (s.keepMask >> i) & 1);
          const remaining = recycle(victim.group, keep);
          for (const a of victim.arrays) if (!keep.includes(a)) held.delete(a.buffer);
          open.push({ group: remaining, arrays: keep });
        }
        return true;
      }),
    );
  });
});
