import { describe, expect, it } from 'vitest';
import { createOnnxBackend } from '../onnxruntime/onnx-backend';
import { allocate, allocateOutput, useOutputAllocator } from './cpu-tensor';
import { UNINITIALIZED_MIN_BYTES, uninitializedAllocator } from './uninitialized-allocator';

describe('kernel output allocation', () => {
  it('zeroes by default (browsers, the reference backend on its own)', () => {
    useOutputAllocator(allocate);
    expect([...allocateOutput('f32', 5)]).toEqual([0, 0, 0, 0, 0]);
  });

  it('the onnxruntime backend installs the uninitialized allocator, which tests poison', () => {
    createOnnxBackend({ intraOpThreads: 1 });
    // Under vitest every element is NaN / INT32_MIN, so a kernel that skips an element fails its
    // conformance case instead of reading a zero that happened to be there.
    const f = allocateOutput('f32', 7);
    expect(f).toBeInstanceOf(Float32Array);
    expect(f.every((v) => Number.isNaN(v))).toBe(true);
    const i = allocateOutput('i32', 3);
    expect(i).toBeInstanceOf(Int32Array);
    expect([...i]).toEqual([-2147483648, -2147483648, -2147483648]);
    useOutputAllocator(allocate);
  });

  it('gives each call its own memory of the requested size', () => {
    const a = uninitializedAllocator('f32', 1000);
    const b = uninitializedAllocator('f32', 1000);
    expect(a.length).toBe(1000);
    a.fill(1);
    expect(b.some((v) => v === 1)).toBe(false);
  });

  it('carves small outputs from shared slabs, aligned and apart, and gives large ones their own buffer', () => {
    const sizes = [17, 1000, 3, 4096, 255, 16383];
    const arrays = sizes.map((n, i) => uninitializedAllocator(i % 2 ? 'i32' : 'f32', n));
    arrays.forEach((a, i) => {
      expect(a.length).toBe(sizes[i]);
      expect(a.byteOffset % 16).toBe(0);
      a.fill(i + 1);
    });
    // Each kept what was written to it: no two outputs overlap.
    arrays.forEach((a, i) => expect(a.every((v) => v === i + 1)).toBe(true));
    expect(arrays[0]!.buffer).toBe(arrays[1]!.buffer);
    const large = uninitializedAllocator('f32', UNINITIALIZED_MIN_BYTES / 4);
    expect(large.byteOffset).toBe(0);
    expect(large.buffer.byteLength).toBe(UNINITIALIZED_MIN_BYTES);
  });
});
