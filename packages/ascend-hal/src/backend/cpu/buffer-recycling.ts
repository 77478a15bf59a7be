/**
 * Reuse of kernel-output buffers whose owner knows they are dead (Backend.collectAllocations /
 * Backend.recycle), so that a training step stops handing V8 a fresh external buffer for every
 * activation.
 *
 * Why: V8 starts a full (mark-compact) collection each time ≈ 64 MiB of new external memory has been
 * allocated since the last one. A moge-small training step allocates ≈ 1 GB of kernel outputs, so it
 * ran ≈ 15 mark-compacts and ≈ 25 scavenges a step (≈ 7 % of the step on the main thread) plus
 * concurrent marking on a second core (≈ 25 % more CPU than wall time). The model knows exactly when
 * a layer's activations die (after that layer's backward), which a garbage collector can only learn by
 * scanning; handing those buffers back here lets the next layer and the next step reuse them.
 *
 * Only the buffers the uninitialized allocator made are pooled (≥ 64 KiB, or every size under vitest),
 * keyed by exact byte length: a training loop repeats the same shapes step after step. Idle buffers are
 * capped at RECYCLE_IDLE_MAX_BYTES; past that a released buffer is left to the garbage collector.
 * Under vitest a recycled buffer is filled with NaN at once, so a read after recycle fails the tests.
 */
import type { AllocationGroup, HostArray, Tensor } from '../backend';

/** Idle bytes kept for reuse (a moge-small 4 × 256 step holds ≈ 0.4 GB of activations). */
export const RECYCLE_IDLE_MAX_BYTES = 2 ** 30;

/**
 * Under vitest, uninitialized and recycled buffers are filled with NaN / INT32_MIN, so a kernel that
 * skips an element, or a read after recycle, fails the tests instead of finding plausible values.
 */
export const POISON = typeof process !== 'undefined' && process.env.VITEST !== undefined;

class BufferGroup implements AllocationGroup {
  recycled = false;
  constructor(readonly buffers: ArrayBuffer[]) {}
  get byteLength(): number {
    return this.buffers.reduce((s, b) => s + b.byteLength, 0);
  }
}

const idle = new Map<number, ArrayBuffer[]>();
let idleBytes = 0;
/** Open collections, innermost last; a new buffer is recorded in the innermost one only. */
const open: ArrayBuffer[][] = [];

/** A released buffer of exactly `bytes`, if one is idle. */
export function takeRecycled(bytes: number): ArrayBuffer | undefined {
  const list = idle.get(bytes);
  const buf = list?.pop();
  if (buf) idleBytes -= bytes;
  return buf;
}

/** Records a buffer just handed to a kernel in the innermost open collection. */
export function noteAllocation(buf: ArrayBuffer): void {
  open[open.length - 1]?.push(buf);
}

/** Runs `fn`, recording every buffer the allocator hands out meanwhile (outside nested collections). */
export function collectAllocations<T>(fn: () => T): { result: T; group: AllocationGroup } {
  const buffers: ArrayBuffer[] = [];
  open.push(buffers);
  try {
    return { result: fn(), group: new BufferGroup(buffers) };
  } finally {
    open.pop();
  }
}

/**
 * Hands the group's buffers back for reuse, except those under `keep` (tensors or host arrays, views
 * included); returns the kept ones as a new group, to be recycled once they die too. A group is
 * recycled at most once.
 */
export function recycle(group: AllocationGroup, keep: Iterable<Tensor | HostArray> = []): AllocationGroup {
  if (!(group instanceof BufferGroup)) throw new TypeError('recycle: the group was not made by this backend\'s collectAllocations');
  if (group.recycled) throw new Error('recycle: this allocation group was already recycled (its buffers may be in use again)');
  group.recycled = true;
  const kept = new Set<ArrayBufferLike>();
  for (const k of keep) kept.add(storageOf(k));
  const remaining: ArrayBuffer[] = [];
  for (const buf of group.buffers) {
    if (kept.has(buf)) {
      remaining.push(buf);
      continue;
    }
    if (idleBytes + buf.byteLength > RECYCLE_IDLE_MAX_BYTES) continue;
    if (POISON) new Float32Array(buf, 0, buf.byteLength >> 2).fill(Number.NaN);
    const list = idle.get(buf.byteLength);
    if (list) list.push(buf);
    else idle.set(buf.byteLength, [buf]);
    idleBytes += buf.byteLength;
  }
  return new BufferGroup(remaining);
}

/** Bytes idle in the pool (for tests and memory reports). */
export function recycledIdleBytes(): number {
  return idleBytes;
}

/** Lets the garbage collector have every idle buffer (e.g. when training ends). */
export function dropRecycledBuffers(): void {
  idle.clear();
  idleBytes = 0;
}

function storageOf(k: Tensor | HostArray): ArrayBufferLike {
  if (ArrayBuffer.isView(k)) return k.buffer;
  const data = (k as { data?: HostArray }).data;
  if (!data) throw new TypeError('recycle: keep holds a tensor of another backend');
  return data.buffer;
}
