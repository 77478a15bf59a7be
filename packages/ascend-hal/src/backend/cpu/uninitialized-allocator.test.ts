import { describe, expect, it } from 'vitest';
import { createOnnxBackend } from '../onnxruntime/onnx-backend';
import { allocate, allocateOutput, useOutputAllocator } from './cpu-tensor';
import { uninitializedAllocator } from './uninitialized-allocator';

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
    expect(a.buffer).not.toBe(b.buffer);
    a.fill(1);
    expect(b.some((v) => v === 1)).toBe(false);
  });
});
