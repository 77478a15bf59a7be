/**
 * bf16 copies of constant weight matrices whose values are all bf16, for the batch-1 matrix–vector
 * product (bf16-gemv-kernel.ts). A model loaded from a bf16 checkpoint has such weights: its f32
 * tensors hold bf16 values exactly, so the bf16 bits are the same numbers in half the bytes, and a
 * decode step at batch 1 — which streams every weight it uses from memory once per token — reads half
 * as much. Nothing is rounded: a matrix with any value that bf16 does not hold exactly is not taken.
 *
 * The copies live in one WebAssembly memory (the kernel reads them there), placed by a first-fit
 * allocator; a copy is found by its f32 storage (a WeakMap, so reshapes of the constant find it too)
 * and its range is reused once that storage is garbage-collected (a FinalizationRegistry). The memory
 * keeps PREFETCH_ROWS rows of the widest matrix readable past the highest copy, for the kernel's
 * touch-ahead loads.
 */
import { encodeModule, growMemoryTo, instantiateModule, PAGE_BYTES } from './encoder';
import { bf16GemvKernel, PREFETCH_ROWS } from './bf16-gemv-kernel';
import { RangeAllocator } from './range-allocator';

interface Exports {
  memory: WebAssembly.Memory;
  gemv_bf16(w: number, xe: number, xo: number, y: number, rows: number, k: number): void;
}

/** Matrices below this many elements stay f32 only: they are cheap to stream either way. */
export const BF16_MIN_ELEMENTS = 16384;
/** The store stops taking copies beyond this many bytes of memory (WebAssembly memories end at 4 GiB). */
export const BF16_STORE_MAX_BYTES = 2 ** 31;

interface Copy {
  at: number;
  bytes: number;
  rows: number;
  k: number;
}

/** Whether every element of `data` is a bf16 value (its low 16 bits are zero), i.e. converts exactly. */
export function holdsBf16Exactly(data: Float32Array): boolean {
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  for (let i = 0; i < bits.length; i++) if ((bits[i]! & 0xffff) !== 0) return false;
  return true;
}

export class Bf16WeightStore {
  private readonly x: Exports;
  private readonly ranges = new RangeAllocator(PAGE_BYTES);
  private readonly copies = new WeakMap<Float32Array, Copy>();
  private readonly registry = new FinalizationRegistry<Copy>((c) => this.ranges.release(c.at, c.bytes));
  /** Bytes the memory keeps readable past the highest copy (touch-ahead of the widest matrix). */
  private slack = 0;
  private scratch = { at: 0, bytes: 0 };
  private heapF32: Float32Array | null = null;

  constructor(x: Exports) {
    this.x = x;
  }

  private heap(): Float32Array {
    if (this.heapF32?.buffer !== this.x.memory.buffer) this.heapF32 = new Float32Array(this.x.memory.buffer);
    return this.heapF32;
  }

  /** Grows the memory to cover every range handed out plus the slack; false if it cannot. */
  private cover(): boolean {
    const need = this.ranges.top + this.slack;
    if (need <= this.x.memory.buffer.byteLength) return true;
    if (need > BF16_STORE_MAX_BYTES) return false;
    try {
      growMemoryTo(this.x.memory, need);
      return true;
    } catch {
      return false; // the engine refused the memory: the caller keeps the f32 path
    }
  }

  /**
   * Keeps a bf16 copy of `data` seen as `rows` rows of `k` when its values are all bf16, k is a
   * multiple of 8 and it is big enough to matter; returns whether it did (or already had one).
   */
  adopt(data: Float32Array, rows: number, k: number): boolean {
    if (this.copies.has(data)) return true;
    if (k % 8 !== 0 || rows * k !== data.length || data.length < BF16_MIN_ELEMENTS || !holdsBf16Exactly(data)) return false;
    const bytes = data.length * 2;
    const at = this.ranges.alloc(bytes);
    this.slack = Math.max(this.slack, PREFETCH_ROWS * k * 2);
    if (!this.cover()) {
      this.ranges.release(at, bytes);
      return false;
    }
    const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
    const dst = new Uint16Array(this.x.memory.buffer, at, data.length);
    for (let i = 0; i < bits.length; i++) dst[i] = bits[i]! >>> 16;
    const copy = { at, bytes, rows, k };
    this.copies.set(data, copy);
    this.registry.register(data, copy);
    return true;
  }

  /** The row length of `data`'s bf16 copy, or undefined when it has none. */
  rowLength(data: Float32Array): number | undefined {
    return this.copies.get(data)?.k;
  }

  /**
   * out[outAt + r] = Σ_j W[firstRow + r, j] · x[xAt + j] for r < rows, W being `data`'s bf16 copy
   * (which must exist: see rowLength).
   */
  gemv(data: Float32Array, firstRow: number, rows: number, x: Float32Array, xAt: number, out: Float32Array, outAt: number): void {
    const c = this.copies.get(data)!;
    const k = c.k;
    const need = k * 4 + rows * 4 + 32;
    if (need > this.scratch.bytes) {
      if (this.scratch.bytes > 0) this.ranges.release(this.scratch.at, this.scratch.bytes);
      this.scratch = { at: this.ranges.alloc(need), bytes: need };
      if (!this.cover()) throw new RangeError(`bf16 weight store: no memory for a ${rows}-row product's scratch`);
    }
    const heap = this.heap();
    // x split into its even- and odd-indexed elements, as the kernel's two halves of a bf16 vector.
    const xe = this.scratch.at >> 2;
    const xo = xe + k / 2;
    for (let j = 0, h = 0; j < k; j += 2, h++) {
      heap[xe + h] = x[xAt + j]!;
      heap[xo + h] = x[xAt + j + 1]!;
    }
    const y = xe + k;
    this.x.gemv_bf16(c.at + firstRow * k * 2, xe << 2, xo << 2, y << 2, rows, k);
    out.set(heap.subarray(y, y + rows), outAt);
  }
}

let cached: Bf16WeightStore | null | undefined;

/** The process's store, made on first use; null where WebAssembly (with SIMD) is unavailable. */
export function bf16WeightStore(): Bf16WeightStore | null {
  if (cached === undefined) {
    const exports = typeof FinalizationRegistry === 'function' ? instantiateModule<Exports>(encodeModule([bf16GemvKernel], 1)) : null;
    cached = exports ? new Bf16WeightStore(exports) : null;
  }
  return cached;
}
