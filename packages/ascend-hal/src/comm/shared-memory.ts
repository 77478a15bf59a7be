import { MogeError } from '@moge/core';
import { allocLike, type AllToAllResult, type CommArray, type Communicator, type ReduceOp } from './communicator';

/**
 * A Communicator for ranks that share memory (worker threads of one process), over one
 * SharedArrayBuffer: control words for a barrier, a header for counts, and one staging slot per rank.
 * A collective larger than a slot runs in rounds, so memory is fixed whatever the message size.
 *
 * Data is staged as float64 (exact for f32 and i32), and every reduction adds ranks in rank order,
 * which is what makes results independent of thread timing.
 */

const GEN = 0; // barrier generation
const ARRIVED = 1; // ranks arrived at the current barrier
const ABORT = 2; // non-zero once any rank failed: peers stop waiting and throw
const CONTROL_WORDS = 4;

/** What every rank needs to join the group; structured-cloneable (post it to workers). */
export interface SharedGroupInit {
  size: number;
  /** float64 elements per rank slot. */
  slotElems: number;
  control: SharedArrayBuffer;
  header: SharedArrayBuffer;
  slots: SharedArrayBuffer;
  result: SharedArrayBuffer;
  /** A barrier waiting longer than this throws (a peer died or diverged). */
  timeoutMs: number;
}

export class CommAbortedError extends MogeError {
  constructor(reason: string) {
    super('E_COMM_ABORTED', `collective aborted: ${reason}`);
  }
}

/** Allocates the shared buffers for a group of `size` ranks with `slotBytes` of staging per rank. */
export function createSharedGroup(size: number, options: { slotBytes?: number; timeoutMs?: number } = {}): SharedGroupInit {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`group size must be an integer ≥ 1, got ${size}`);
  // A NaN slot size made every collective's chunk loop run zero times (all-gather returned zeros,
  // silently); a NaN timeout made Atomics.wait block forever instead of throwing.
  const { slotBytes, timeoutMs } = options;
  if (slotBytes !== undefined && !(Number.isFinite(slotBytes) && slotBytes > 0)) throw new RangeError(`slotBytes must be a finite number > 0, got ${slotBytes}`);
  if (timeoutMs !== undefined && !(timeoutMs > 0)) throw new RangeError(`timeoutMs must be > 0 (Infinity: wait for ever), got ${timeoutMs}`);
  const slotElems = Math.max(size, Math.floor((options.slotBytes ?? 8 * 1024 * 1024) / 8));
  return {
    size,
    slotElems,
    control: new SharedArrayBuffer(CONTROL_WORDS * 4),
    header: new SharedArrayBuffer(size * size * 4),
    slots: new SharedArrayBuffer(size * slotElems * 8),
    result: new SharedArrayBuffer(slotElems * 8),
    timeoutMs: options.timeoutMs ?? 600_000,
  };
}

/** Marks the group failed so that ranks blocked in a collective wake up and throw. */
export function abortSharedGroup(init: SharedGroupInit): void {
  const control = new Int32Array(init.control);
  Atomics.store(control, ABORT, 1);
  Atomics.notify(control, GEN);
}

export class SharedMemoryCommunicator implements Communicator {
  readonly rank: number;
  readonly size: number;
  private readonly control: Int32Array;
  private readonly header: Int32Array;
  private readonly slots: Float64Array;
  private readonly result: Float64Array;
  private readonly slotElems: number;
  private readonly timeoutMs: number;

  constructor(init: SharedGroupInit, rank: number) {
    if (!Number.isInteger(rank) || rank < 0 || rank >= init.size) throw new RangeError(`rank must be in [0, ${init.size}), got ${rank}`);
    this.rank = rank;
    this.size = init.size;
    this.control = new Int32Array(init.control);
    this.header = new Int32Array(init.header);
    this.slots = new Float64Array(init.slots);
    this.result = new Float64Array(init.result);
    this.slotElems = init.slotElems;
    this.timeoutMs = init.timeoutMs;
  }

  barrier(): void {
    const c = this.control;
    if (Atomics.load(c, ABORT) !== 0) throw new CommAbortedError('another rank failed');
    const gen = Atomics.load(c, GEN);
    if (Atomics.add(c, ARRIVED, 1) === this.size - 1) {
      Atomics.store(c, ARRIVED, 0); // reset before releasing, so a fast rank re-entering counts from 0
      Atomics.add(c, GEN, 1);
      Atomics.notify(c, GEN);
      return;
    }
    const deadline = Date.now() + this.timeoutMs;
    while (Atomics.load(c, GEN) === gen) {
      if (Atomics.load(c, ABORT) !== 0) throw new CommAbortedError('another rank failed');
      const left = deadline - Date.now();
      if (left <= 0) {
        Atomics.store(c, ABORT, 1);
        Atomics.notify(c, GEN);
        throw new CommAbortedError(`rank ${this.rank} waited ${this.timeoutMs} ms at a barrier`);
      }
      Atomics.wait(c, GEN, gen, Math.min(left, 1000));
    }
  }

  /** Publishes one integer per rank (in the header row of this rank) and returns everyone's. */
  private exchangeScalar(value: number): number[] {
    this.header[this.rank] = value;
    this.barrier();
    const out = Array.from(this.header.subarray(0, this.size));
    this.barrier(); // the header is reused by the next collective
    return out;
  }

  allReduce(data: CommArray, op: ReduceOp = 'sum'): void {
    const lengths = this.exchangeScalar(data.length);
    if (lengths.some((n) => n !== data.length)) throw new RangeError(`allReduce: lengths differ between ranks: ${lengths.join(', ')}`);
    const mine = this.rank * this.slotElems;
    for (let off = 0; off < data.length; off += this.slotElems) {
      const n = Math.min(this.slotElems, data.length - off);
      for (let i = 0; i < n; i++) this.slots[mine + i] = data[off + i]!;
      this.barrier();
      // Each rank reduces its share of the chunk (in rank order), so the work is split, not repeated.
      const [lo, hi] = share(n, this.size, this.rank);
      for (let i = lo; i < hi; i++) this.result[i] = this.reduceAt(i, op);
      this.barrier();
      for (let i = 0; i < n; i++) data[off + i] = this.result[i]!;
      this.barrier();
    }
  }

  private reduceAt(i: number, op: ReduceOp): number {
    let acc = this.slots[i]!;
    for (let r = 1; r < this.size; r++) {
      const v = this.slots[r * this.slotElems + i]!;
      acc = op === 'sum' ? acc + v : Math.max(acc, v);
    }
    return acc;
  }

  reduceScatter<T extends CommArray>(data: T, op: ReduceOp = 'sum'): T {
    if (data.length % this.size !== 0) throw new RangeError(`reduceScatter: length ${data.length} is not a multiple of size ${this.size}`);
    const lengths = this.exchangeScalar(data.length);
    if (lengths.some((n) => n !== data.length)) throw new RangeError(`reduceScatter: lengths differ between ranks: ${lengths.join(', ')}`);
    const per = data.length / this.size;
    const out = allocLike(data, per);
    const myLo = this.rank * per;
    const mine = this.rank * this.slotElems;
    for (let off = 0; off < data.length; off += this.slotElems) {
      const n = Math.min(this.slotElems, data.length - off);
      for (let i = 0; i < n; i++) this.slots[mine + i] = data[off + i]!;
      this.barrier();
      const lo = Math.max(off, myLo);
      const hi = Math.min(off + n, myLo + per);
      for (let g = lo; g < hi; g++) out[g - myLo] = this.reduceAt(g - off, op);
      this.barrier();
    }
    return out;
  }

  allGather<T extends CommArray>(data: T): T {
    const lengths = this.exchangeScalar(data.length);
    const starts = prefix(lengths);
    const out = allocLike(data, starts[this.size]!);
    const longest = Math.max(...lengths);
    const mine = this.rank * this.slotElems;
    for (let off = 0; off < longest; off += this.slotElems) {
      const n = Math.max(0, Math.min(this.slotElems, data.length - off));
      for (let i = 0; i < n; i++) this.slots[mine + i] = data[off + i]!;
      this.barrier();
      for (let r = 0; r < this.size; r++) {
        const m = Math.max(0, Math.min(this.slotElems, lengths[r]! - off));
        for (let i = 0; i < m; i++) out[starts[r]! + off + i] = this.slots[r * this.slotElems + i]!;
      }
      this.barrier();
    }
    return out;
  }

  allToAllV<T extends CommArray>(send: T, sendCounts: readonly number[]): AllToAllResult<T> {
    const P = this.size;
    if (sendCounts.length !== P) throw new RangeError(`allToAllV: sendCounts has ${sendCounts.length} entries, expected one per rank (${P})`);
    const total = sendCounts.reduce((a, b) => a + b, 0);
    if (total !== send.length || sendCounts.some((c) => !Number.isInteger(c) || c < 0)) {
      throw new RangeError(`allToAllV: sendCounts ${JSON.stringify(sendCounts)} must be non-negative integers summing to send.length=${send.length}`);
    }
    for (let d = 0; d < P; d++) this.header[this.rank * P + d] = sendCounts[d]!;
    this.barrier();
    const matrix = Array.from(this.header.subarray(0, P * P));
    this.barrier();
    const recvCounts = Array.from({ length: P }, (_, s) => matrix[s * P + this.rank]!);
    const recvStarts = prefix(recvCounts);
    const sendStarts = prefix(sendCounts);
    const out = allocLike(send, recvStarts[P]!);
    // Each slot is cut into P lanes (one per destination); a round moves up to `lane` elements per pair.
    const lane = Math.floor(this.slotElems / P);
    const rounds = Math.ceil(Math.max(0, ...matrix) / lane);
    const mine = this.rank * this.slotElems;
    for (let round = 0; round < rounds; round++) {
      const off = round * lane;
      for (let d = 0; d < P; d++) {
        const n = Math.max(0, Math.min(lane, sendCounts[d]! - off));
        const base = mine + d * lane;
        for (let i = 0; i < n; i++) this.slots[base + i] = send[sendStarts[d]! + off + i]!;
      }
      this.barrier();
      for (let s = 0; s < P; s++) {
        const n = Math.max(0, Math.min(lane, recvCounts[s]! - off));
        const base = s * this.slotElems + this.rank * lane;
        for (let i = 0; i < n; i++) out[recvStarts[s]! + off + i] = this.slots[base + i]!;
      }
      this.barrier();
    }
    return { data: out, recvCounts };
  }
}

/** [lo, hi) of rank r's share when n items are split over p ranks as evenly as possible. */
function share(n: number, p: number, r: number): [number, number] {
  const base = Math.floor(n / p);
  const extra = n % p;
  const lo = r * base + Math.min(r, extra);
  return [lo, lo + base + (r < extra ? 1 : 0)];
}

function prefix(counts: readonly number[]): number[] {
  const out = [0];
  for (const c of counts) out.push(out[out.length - 1]! + c);
  return out;
}
