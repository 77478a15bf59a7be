/**
 * Node's uninitialized memory for kernel outputs (allocateOutput): Buffer.allocUnsafeSlow skips the
 * zero fill that every typed array pays. Measured here for a 4 MiB array: 0.04 ms against 0.22 ms
 * zeroed; a gather into it 0.78 ms against 0.86 ms. Node-only (Buffer), so only the onnxruntime
 * backend installs it.
 *
 * Under vitest every array is filled with NaN (f32) or INT32_MIN (i32) instead, so a kernel that
 * leaves an element unwritten produces garbage in the tests rather than a zero that happened to be
 * right (fresh pages from the OS are zero, so such a bug would otherwise pass).
 */
import { Buffer } from 'node:buffer';
import type { HostArray, TensorDType } from '../backend';
import { noteAllocation, POISON, takeRecycled } from './buffer-recycling';
import { allocate, type OutputAllocator } from './cpu-tensor';

/**
 * Below this many bytes an output is carved from a shared slab (smallOutput) instead of getting a
 * buffer of its own: Buffer.allocUnsafeSlow costs ≈ 1 µs of bookkeeping, and a zeroed typed array of
 * a few KiB ≈ 3 µs once the garbage collector's share is counted (each one is an off-heap backing
 * store to track and free), where a view on a slab costs ≈ 0.1 µs. A batch-1 decode step makes
 * ~250 such outputs, about a sixth of its time before this.
 */
export const UNINITIALIZED_MIN_BYTES = 64 * 1024;

/** Typed arrays up to this size live on V8's heap already (its typed_array_max_size_in_heap): nothing to save. */
const ON_HEAP_MAX_BYTES = 64;

/**
 * Slab size. A slab is freed when the last view on it dies, so a long-lived small output keeps its
 * whole slab alive: at most SLAB_BYTES per such tensor, bounded as the outputs are below
 * UNINITIALIZED_MIN_BYTES and long-lived small outputs are few (a model's biases and norms).
 */
const SLAB_BYTES = 256 * 1024;

let slab: ArrayBuffer | undefined;
let slabUsed = 0;

/** `bytes` (a multiple of 4) of uninitialized memory from the current slab, 16-byte aligned for SIMD kernels. */
function smallOutput(bytes: number): { buffer: ArrayBuffer; offset: number } {
  const aligned = (bytes + 15) & ~15;
  if (!slab || slabUsed + aligned > SLAB_BYTES) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES).buffer as ArrayBuffer;
    slabUsed = 0;
  }
  const offset = slabUsed;
  slabUsed += aligned;
  return { buffer: slab, offset };
}

export const uninitializedAllocator: OutputAllocator = (dtype: TensorDType, size: number): HostArray => {
  const bytes = size * 4;
  if (bytes <= ON_HEAP_MAX_BYTES && !POISON) return allocate(dtype, size);
  let buffer: ArrayBuffer;
  let offset = 0;
  if (bytes < UNINITIALIZED_MIN_BYTES) {
    // Not recycled (buffer-recycling.ts): a slab is shared by outputs of different lifetimes.
    ({ buffer, offset } = smallOutput(bytes));
  } else {
    // A buffer a finished layer handed back (buffer-recycling.ts), else a fresh one of its own.
    buffer = takeRecycled(bytes) ?? (Buffer.allocUnsafeSlow(bytes).buffer as ArrayBuffer);
    noteAllocation(buffer);
  }
  if (dtype === 'i32') {
    const a = new Int32Array(buffer, offset, size);
    return POISON ? a.fill(-2147483648) : a;
  }
  const a = new Float32Array(buffer, offset, size);
  return POISON ? a.fill(Number.NaN) : a;
};
