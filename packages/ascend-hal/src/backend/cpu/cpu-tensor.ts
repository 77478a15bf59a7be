import { MogeError } from '@moge/core';
import type { HostArray, Tensor, TensorDType } from '../backend';

/**
 * The tensor of the CPU backends (`reference`, `onnxruntime`): a row-major typed array plus its shape.
 * Both backends share this class so that the onnxruntime backend can reuse the reference kernels
 * where a native call would cost more than the work; the `backend` stamp still keeps tensors of one
 * backend out of the other.
 */
export class CpuTensor implements Tensor {
  readonly shape: readonly number[];
  readonly dtype: TensorDType;
  readonly size: number;
  readonly backend: string;
  /** Row-major storage; Float32Array for 'f32', Int32Array for 'i32'. */
  readonly data: HostArray;
  /**
   * Made by `Backend.constant` (or a reshape of such a tensor): the storage is the backend's own copy
   * and no kernel writes it, which is what lets the onnxruntime backend bake it into a session.
   */
  readonly constant: boolean;

  constructor(backend: string, dtype: TensorDType, shape: readonly number[], data: HostArray, constant = false) {
    this.backend = backend;
    this.dtype = dtype;
    this.shape = Object.freeze([...shape]);
    this.size = data.length;
    this.data = data;
    this.constant = constant;
  }

  /** The storage as Float32Array; throws for integer tensors (a kernel that needs floats says so). */
  f32(kernel: string): Float32Array {
    if (!(this.data instanceof Float32Array)) {
      throw new MogeError('E_DTYPE', `${kernel}: expected an f32 tensor, got ${this.dtype} [${this.shape.join(', ')}]`);
    }
    return this.data;
  }
}

/** Whether every tensor holds f32 storage (the fast kernels' precondition; others go to the reference code). */
export const allF32 = (...ts: CpuTensor[]): boolean => ts.every((t) => t.data instanceof Float32Array);

/**
 * The error of an in-place kernel handed a constant as its destination. Constants may be cached by
 * the backend (onnxruntime bakes them into sessions), so writing one would silently desynchronise
 * the copies; the message says how to get a tensor that may be written.
 */
export function requireMutable(t: CpuTensor, kernel: string): CpuTensor {
  if (t.constant) {
    throw new MogeError(
      'E_CONSTANT',
      `${kernel}: the destination ${t.dtype} ${describeShape(t.shape)} is a constant (made by Backend.constant) and cannot be written in place; ` +
        'write into an ordinary tensor instead, e.g. backend.fromArray(Float32Array.from(backend.read(t)), t.shape)',
    );
  }
  return t;
}

/** A kernel's input is malformed (wrong rank, mismatched sizes, bad index). */
export function shapeError(kernel: string, message: string): MogeError {
  return new MogeError('E_SHAPE', `${kernel}: ${message}`);
}

export function describeShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Element count of a shape, after checking every dimension is a non-negative integer. */
export function shapeSize(shape: readonly number[], kernel = 'shape'): number {
  let size = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw shapeError(kernel, `invalid dimension ${d} in ${describeShape(shape)}`);
    size *= d;
  }
  return size;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Resolves a possibly negative axis against a rank. */
export function normalizeAxis(axis: number, rank: number, kernel: string): number {
  const ax = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(ax) || ax < 0 || ax >= rank) throw shapeError(kernel, `axis ${axis} out of range for rank ${rank}`);
  return ax;
}

/** Last-axis view used by the row-wise kernels: `rows` rows of `cols` elements. */
export function rowsAndCols(shape: readonly number[], kernel: string): { rows: number; cols: number } {
  if (shape.length === 0) throw shapeError(kernel, 'expected a tensor of rank ≥ 1, got a scalar');
  const cols = shape[shape.length - 1]!;
  return { rows: cols === 0 ? shapeSize(shape.slice(0, -1)) : shapeSize(shape) / cols, cols };
}

/** A zero-filled array: for outputs a kernel accumulates into, or writes only in part. */
export function allocate(dtype: TensorDType, size: number): HostArray {
  return dtype === 'i32' ? new Int32Array(size) : new Float32Array(size);
}

/** Makes an array whose contents are unspecified (`allocateOutput`'s source). */
export type OutputAllocator = (dtype: TensorDType, size: number) => HostArray;

let outputAllocator: OutputAllocator = allocate;

/**
 * An array for a kernel output that the kernel overwrites in full, where skipping the zero fill
 * pays: a JS typed array is always zeroed, ≈ 0.2 ms for 4 MiB here, and a training step allocates
 * gigabytes. Only call it where every element is written before anyone reads the tensor. The
 * default allocator zeroes anyway (safe everywhere, e.g. browsers); the onnxruntime backend installs
 * one over Node's uninitialized buffers (useOutputAllocator).
 */
/**
 * Rows [first + 1, first + count) of `data` (rows of `rowLength`) become copies of row `first`, by
 * doubling copies: ⌈log₂ count⌉ native copies instead of one per row, which for short rows costs
 * more in calls than in bytes.
 */
export function repeatRow(data: HostArray, rowLength: number, first: number, count: number): void {
  for (let filled = 1; filled < count; filled *= 2) {
    data.copyWithin((first + filled) * rowLength, first * rowLength, (first + Math.min(filled, count - filled)) * rowLength);
  }
}

export function allocateOutput(dtype: TensorDType, size: number): HostArray {
  return outputAllocator(dtype, size);
}

export function allocateOutputF32(size: number): Float32Array {
  return outputAllocator('f32', size) as Float32Array;
}

/** Installs the allocator behind allocateOutput for the whole process (it serves every CPU backend). */
export function useOutputAllocator(allocator: OutputAllocator): void {
  outputAllocator = allocator;
}

/**
 * Input stride (in elements) of each output axis of the axis permutation `perm` of a row-major
 * tensor of `shape`: out axis i walks input axis perm[i].
 */
export function permutedStrides(shape: readonly number[], perm: readonly number[]): number[] {
  const inStrides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= shape[i]!;
  }
  return perm.map((p) => inStrides[p]!);
}
