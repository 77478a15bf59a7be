/**
 * The HAL's WebAssembly kernel module behind a typed-array interface. Data is copied into the
 * module's memory and back in chunks of CHUNK_ELEMENTS per operand (64 KiB: every operand of a
 * kernel stays in L2 between the copy in, the kernel and the copy out), so the copies cost L2
 * bandwidth rather than DRAM's and the memory stays small whatever the tensor size (a few hundred
 * KiB for the moge-small workloads). The memory only ever grows. Copying is the price of tensors
 * living in their own Float32Arrays; measured against it, at 1M elements a plain copy in and out
 * costs ≈ 0.3 ns an element, the kernels 0.15 (affine) to 1.3 (softmax) — and JS 1.4 to 10.
 */
import type { MatmulProblem } from '../cpu/matmul-shapes';
import type { AdamWScalars } from '../host/vector-math';
import { encodeModule, growMemoryTo, instantiateModule, type FunctionSpec } from './encoder';
import { adamwKernel, affineKernel, axpyKernel, scatterAddRowsKernel, swigluBackwardKernel, swigluKernel } from './pointwise-kernels';
import { rmsNormBackwardRowsKernel, rmsNormRowsKernel, softmaxBackwardRowsKernel, softmaxRowsKernel } from './row-kernels';
import { ropeKernel } from './rope-kernel';
import { smallMatmulNnKernel, smallMatmulNtKernel } from './small-matmul-kernels';

/**
 * The shape of WasmKernelModule.smallMatmuls' products, as resolveMatmul states it; `transB` here
 * means B is stored [n, k] (k a multiple of 4), otherwise [k, n] (n a multiple of 4).
 */
export type SmallMatmuls = Pick<MatmulProblem, 'batch' | 'm' | 'k' | 'n' | 'aBatched' | 'bBatched' | 'transB'>;

interface Exports {
  memory: WebAssembly.Memory;
  swiglu(g: number, u: number, y: number, n: number): void;
  swiglu_backward(g: number, u: number, dy: number, dg: number, du: number, n: number): void;
  axpy(y: number, x: number, n: number, alpha: number): void;
  affine(x: number, y: number, n: number, scale: number, shift: number): void;
  softmax_rows(src: number, dst: number, rows: number, cols: number, sq: number, phase: number): void;
  softmax_backward_rows(y: number, dy: number, dx: number, rows: number, cols: number): void;
  rms_norm_rows(x: number, w: number, y: number, inv: number, rows: number, cols: number, eps: number): void;
  rms_norm_backward_rows(x: number, w: number, r: number, dy: number, dx: number, dw: number, rows: number, cols: number): void;
  rope(x: number, y: number, cos: number, sin: number, tokens: number, heads: number, half: number, sign: number): void;
  scatter_add_rows(dst: number, src: number, index: number, n: number, d: number): void;
  adamw(w: number, g: number, m: number, v: number, n: number, decay: number, stepSize: number, invSqrtBc2: number, eps: number, beta1: number, oneMinusBeta1: number, beta2: number, oneMinusBeta2: number): void;
  small_matmul_nn(a: number, b: number, c: number, batch: number, m: number, k: number, n: number, aStep: number, bStep: number): void;
  small_matmul_nt(a: number, b: number, c: number, batch: number, m: number, k: number, n: number, aStep: number, bStep: number): void;
}

const KERNELS: FunctionSpec[] = [
  swigluKernel, swigluBackwardKernel, axpyKernel, affineKernel,
  softmaxRowsKernel, softmaxBackwardRowsKernel, rmsNormRowsKernel, rmsNormBackwardRowsKernel, ropeKernel, scatterAddRowsKernel, adamwKernel,
  smallMatmulNnKernel, smallMatmulNtKernel,
];

/** Elements per operand per chunk (64 KiB of f32). */
export const CHUNK_ELEMENTS = 16384;
/** A slot of `bytes`, rounded up to 16 and with one spare vector for the ragged end of the last row. */
const slotBytes = (bytes: number) => Math.ceil(bytes / 16) * 16 + 16;

export function kernelModuleBytes(): Uint8Array<ArrayBuffer> {
  return encodeModule(KERNELS, 1);
}

/**
 * The kernels over host Float32Arrays. Each method takes whole tensors and does the chunking; shapes
 * are the caller's business (wasm-kernels.ts checks them and falls back to the reference kernels).
 */
export class WasmKernelModule {
  private readonly x: Exports;
  /** An f32 view of the whole memory, remade when growing replaces the buffer. */
  private heapView: Float32Array | null = null;
  private intView: Int32Array | null = null;

  constructor(x: Exports) {
    this.x = x;
  }

  /**
   * The memory as f32, grown to at least `bytes` first. One cached view serves every copy in and out
   * (with element offsets), so a call at decode sizes allocates no views of its own.
   */
  private heap(bytes: number): Float32Array {
    growMemoryTo(this.x.memory, bytes);
    const buffer = this.x.memory.buffer;
    if (this.heapView?.buffer !== buffer) {
      this.heapView = new Float32Array(buffer);
      this.intView = new Int32Array(buffer);
    }
    return this.heapView;
  }

  /**
   * Runs `call(slot, count)` over `n` elements in chunks: operand i lives at byte i·slot (inputs
   * first); inputs are copied in before each call and outputs copied out after. `outSlots[k]` is the
   * operand index output k is read from (an in-place kernel reads its result from an input's slot).
   */
  private pointwise(n: number, inputs: readonly Float32Array[], outputs: readonly Float32Array[], outSlots: readonly number[], call: (slot: number, count: number) => void): void {
    if (n === 0) return;
    const chunk = Math.min(n, CHUNK_ELEMENTS);
    const slot = slotBytes(chunk * 4);
    const at = slot >> 2; // slot size in elements
    let operands = inputs.length;
    for (const o of outSlots) operands = Math.max(operands, o + 1);
    const heap = this.heap(operands * slot);
    for (let start = 0; start < n; start += chunk) {
      const count = Math.min(chunk, n - start);
      for (let i = 0; i < inputs.length; i++) heap.set(count === n ? inputs[i]! : inputs[i]!.subarray(start, start + count), i * at);
      call(slot, count);
      for (let k = 0; k < outputs.length; k++) outputs[k]!.set(heap.subarray(outSlots[k]! * at, outSlots[k]! * at + count), start);
    }
  }

  swiglu(g: Float32Array, u: Float32Array, y: Float32Array): void {
    this.pointwise(g.length, [g, u], [y], [2], (s, n) => this.x.swiglu(0, s, 2 * s, n));
  }

  swigluBackward(g: Float32Array, u: Float32Array, dy: Float32Array, dg: Float32Array, du: Float32Array): void {
    this.pointwise(g.length, [g, u, dy], [dg, du], [3, 4], (s, n) => this.x.swiglu_backward(0, s, 2 * s, 3 * s, 4 * s, n));
  }

  /** y += alpha · x in place; alpha is rounded to fp32. */
  axpy(y: Float32Array, x: Float32Array, alpha: number): void {
    this.pointwise(y.length, [y, x], [y], [0], (s, n) => this.x.axpy(0, s, n, alpha));
  }

  /** One AdamW step over w, m and v in place (same lengths as g). */
  adamw(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, h: AdamWScalars): void {
    this.pointwise(w.length, [w, g, m, v], [w, m, v], [0, 2, 3], (s, n) =>
      this.x.adamw(0, s, 2 * s, 3 * s, n, h.decay, h.stepSize, h.invSqrtBc2, h.eps, h.beta1, 1 - h.beta1, h.beta2, 1 - h.beta2),
    );
  }

  affine(x: Float32Array, y: Float32Array, scale: number, shift: number): void {
    this.pointwise(x.length, [x], [y], [1], (s, n) => this.x.affine(0, s, n, scale, shift));
  }

  /**
   * Row-chunked variant of `pointwise`: whole rows of `cols` per chunk (at least one row, however
   * long), operand i at byte i·slot; `fixed` operands (weights) copied once into their own slots
   * after the row operands, then `extraBytes` of scratch at `extraAt`.
   */
  private rowwise(
    rows: number, cols: number,
    inputs: readonly Float32Array[], outputs: readonly Float32Array[], fixed: readonly Float32Array[], extraBytes: number,
    call: (slot: number, fixedAt: readonly number[], extraAt: number, row0: number, count: number) => void,
  ): void {
    if (rows === 0) return;
    const perChunk = cols === 0 ? rows : Math.max(1, Math.min(rows, Math.floor(CHUNK_ELEMENTS / cols)));
    const slot = slotBytes(perChunk * cols * 4);
    const operands = inputs.length + outputs.length;
    const fixedAt: number[] = [];
    let end = operands * slot;
    for (const f of fixed) {
      fixedAt.push(end);
      end += slotBytes(f.length * 4);
    }
    const heap = this.heap(end + slotBytes(extraBytes));
    fixed.forEach((f, i) => heap.set(f, fixedAt[i]! >> 2));
    const at = slot >> 2;
    for (let row0 = 0; row0 < rows; row0 += perChunk) {
      const count = Math.min(perChunk, rows - row0);
      const [from, to] = [row0 * cols, (row0 + count) * cols];
      for (let i = 0; i < inputs.length; i++) heap.set(count === rows ? inputs[i]! : inputs[i]!.subarray(from, to), i * at);
      call(slot, fixedAt, end, row0, count);
      for (let k = 0; k < outputs.length; k++) {
        const o = (inputs.length + k) * at;
        outputs[k]!.set(heap.subarray(o, o + to - from), from);
      }
    }
  }

  /** Softmax of every row; `sq` > 0 makes it causal over [.., sq, cols] blocks (see softmax_rows). */
  softmaxRows(src: Float32Array, dst: Float32Array, rows: number, cols: number, sq: number): void {
    this.rowwise(rows, cols, [src], [dst], [], 0, (s, _f, _e, row0, count) => this.x.softmax_rows(0, s, count, cols, sq, sq > 0 ? row0 % sq : 0));
  }

  softmaxBackwardRows(y: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, cols: number): void {
    this.rowwise(rows, cols, [y, dy], [dx], [], 0, (s, _f, _e, _row0, count) => this.x.softmax_backward_rows(0, s, 2 * s, count, cols));
  }

  rmsNormRows(x: Float32Array, w: Float32Array, y: Float32Array, inv: Float32Array, rows: number, cols: number, eps: number): void {
    // inv of one chunk at a time: a chunk holds at most CHUNK_ELEMENTS rows
    this.rowwise(rows, cols, [x], [y], [w], Math.min(rows, CHUNK_ELEMENTS) * 4, (s, f, extraAt, row0, count) => {
      this.x.rms_norm_rows(0, f[0]!, s, extraAt, count, cols, eps);
      inv.set(this.heapView!.subarray(extraAt >> 2, (extraAt >> 2) + count), row0);
    });
  }

  /** dx, and dW summed over all rows in float64 (returned rounded to fp32). */
  rmsNormBackwardRows(x: Float32Array, w: Float32Array, invRms: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, cols: number): Float32Array {
    const dwLanes = Math.ceil(cols / 4) * 4;
    let dwAt = -1;
    this.rowwise(rows, cols, [x, dy], [dx], [w, invRms], dwLanes * 8, (s, f, extraAt, row0, count) => {
      if (row0 === 0) new Float64Array(this.x.memory.buffer, extraAt, dwLanes).fill(0);
      dwAt = extraAt;
      this.x.rms_norm_backward_rows(0, f[0]!, f[1]! + row0 * 4, s, 2 * s, extraAt, count, cols);
    });
    return dwAt < 0 ? new Float32Array(cols) : Float32Array.from(new Float64Array(this.x.memory.buffer, dwAt, cols));
  }

  /**
   * Rotary embedding of x [tokens, heads, 2·half] with per-token rows of cos/sin taken from the
   * tables (row p = position p) at `positions`. sign −1 rotates backwards. half must be a multiple of 4.
   */
  rope(x: Float32Array, y: Float32Array, cosTable: Float32Array, sinTable: Float32Array, positions: Int32Array, heads: number, half: number, sign: number): void {
    const tokens = positions.length;
    const width = heads * 2 * half;
    if (tokens === 0 || width === 0) return;
    const perChunk = Math.max(1, Math.min(tokens, Math.floor(CHUNK_ELEMENTS / width)));
    const slot = slotBytes(perChunk * width * 4);
    const tableSlot = slotBytes(perChunk * half * 4);
    const [xAt, yAt, cosAt, sinAt] = [0, slot, 2 * slot, 2 * slot + tableSlot];
    const heap = this.heap(sinAt + tableSlot);
    const [cosEl, sinEl] = [cosAt >> 2, sinAt >> 2];
    for (let t0 = 0; t0 < tokens; t0 += perChunk) {
      const count = Math.min(perChunk, tokens - t0);
      heap.set(count === tokens ? x : x.subarray(t0 * width, (t0 + count) * width), xAt >> 2);
      // The tokens' table rows, copied a run of consecutive positions at a time.
      for (let t = 0; t < count; ) {
        const p = positions[t0 + t]!;
        let run = 1;
        while (t + run < count && positions[t0 + t + run] === p + run) run++;
        heap.set(cosTable.subarray(p * half, (p + run) * half), cosEl + t * half);
        heap.set(sinTable.subarray(p * half, (p + run) * half), sinEl + t * half);
        t += run;
      }
      this.x.rope(xAt, yAt, cosAt, sinAt, count, heads, half, sign);
      y.set(heap.subarray(yAt >> 2, (yAt >> 2) + count * width), t0 * width);
    }
  }


  /**
   * dst[index[i]] += src[i] row-wise (rows of d, d a multiple of 4), in place, indices already
   * checked: dst is copied in whole, src and index stream through in chunks, dst is copied back.
   */
  scatterAddRows(dst: Float32Array, index: Int32Array, src: Float32Array, d: number): void {
    const n = index.length;
    if (n === 0 || d === 0) return;
    const dstSlot = slotBytes(dst.length * 4);
    const perChunk = Math.max(1, Math.min(n, Math.floor(CHUNK_ELEMENTS / d)));
    const srcSlot = slotBytes(perChunk * d * 4);
    const indexAt = dstSlot + srcSlot;
    const heap = this.heap(indexAt + slotBytes(perChunk * 4));
    heap.set(dst, 0);
    for (let i0 = 0; i0 < n; i0 += perChunk) {
      const count = Math.min(perChunk, n - i0);
      heap.set(count === n ? src : src.subarray(i0 * d, (i0 + count) * d), dstSlot >> 2);
      this.intView!.set(count === n ? index : index.subarray(i0, i0 + count), indexAt >> 2);
      this.x.scatter_add_rows(0, dstSlot, indexAt, count, d);
    }
    dst.set(heap.subarray(0, dst.length));
  }

  /**
   * `batch` products C[s] = A[s]·op(B[s]) (small-matmul-kernels.ts): A [m, k]; B [k, n], or [n, k]
   * with `transB`; an operand that is not `batched` is the same for every product. C is [batch, m, n].
   * Products stream through in chunks of whole batches; a shared operand is copied in once.
   */
  smallMatmuls(a: Float32Array, b: Float32Array, c: Float32Array, p: SmallMatmuls): void {
    const { batch, m, k, n } = p;
    if (batch === 0 || m * n === 0) return;
    const [aSize, bSize, cSize] = [m * k, k * n, m * n];
    const perProduct = (p.aBatched ? aSize : 0) + (p.bBatched ? bSize : 0) + cSize;
    const chunk = Math.max(1, Math.min(batch, Math.floor((3 * CHUNK_ELEMENTS) / perProduct)));
    const aSlot = slotBytes((p.aBatched ? chunk : 1) * aSize * 4);
    const bSlot = slotBytes((p.bBatched ? chunk : 1) * bSize * 4);
    const cAt = aSlot + bSlot;
    const heap = this.heap(cAt + slotBytes(chunk * cSize * 4));
    if (!p.aBatched) heap.set(a, 0);
    if (!p.bBatched) heap.set(b, aSlot >> 2);
    const kernel = p.transB ? this.x.small_matmul_nt : this.x.small_matmul_nn;
    for (let s0 = 0; s0 < batch; s0 += chunk) {
      const count = Math.min(chunk, batch - s0);
      if (p.aBatched) heap.set(count === batch ? a : a.subarray(s0 * aSize, (s0 + count) * aSize), 0);
      if (p.bBatched) heap.set(count === batch ? b : b.subarray(s0 * bSize, (s0 + count) * bSize), aSlot >> 2);
      kernel(0, aSlot, cAt, count, m, k, n, p.aBatched ? aSize * 4 : 0, p.bBatched ? bSize * 4 : 0);
      c.set(heap.subarray(cAt >> 2, (cAt >> 2) + count * cSize), s0 * cSize);
    }
  }
}

let cached: WasmKernelModule | null | undefined;

/** The kernels, compiled on first use; null where WebAssembly (with SIMD) is unavailable. */
export function wasmKernelModule(): WasmKernelModule | null {
  if (cached === undefined) {
    const exports = instantiateModule<Exports>(kernelModuleBytes());
    cached = exports ? new WasmKernelModule(exports) : null;
  }
  return cached;
}
