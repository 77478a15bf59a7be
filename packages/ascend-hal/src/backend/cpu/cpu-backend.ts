// The shared host-memory base of both shipped backends: `reference` is createCpuBackend('reference')
// with no overrides, `onnxruntime` is the same with its FLOP-heavy kernels overridden by native
// sessions. Keeping one base means the onnxruntime backend's fallbacks are the oracle's own code.
import { MogeError } from '@moge/core';
import type { Backend, HostArray, MatmulOptions, Tensor, TensorDType } from '../backend';
import { affine, axpyInPlace, binary, swiglu, swigluBackward, unary } from '../reference/elementwise';
import { groupTopK } from '../reference/group-topk';
import { concatColumns, gatherRows, scatterAddRows, sliceColumns, transpose, writeColumns, type CopyRows, type CopyStrided } from '../reference/indexing';
import { groupedMatmul, groupedMatmulWeightGrad, matmul, matmulBias } from '../reference/matmul';
import { rmsNorm, rmsNormBackward } from '../reference/norm';
import { max, sum, sumAll } from '../reference/reductions';
import { rope } from '../reference/rope';
import { logSoftmax, softmax, softmaxBackward } from '../reference/softmax';
import { CpuTensor, allocate, describeShape, requireMutable, shapeError, shapeSize } from './cpu-tensor';

/** Kernels a CPU backend may replace with faster ones; everything else runs the reference code. */
export interface CpuKernelOverrides {
  matmul?(a: CpuTensor, b: CpuTensor, options?: MatmulOptions): CpuTensor;
  matmulBias?(a: CpuTensor, b: CpuTensor, bias: CpuTensor, options?: MatmulOptions): CpuTensor;
  groupedMatmul?(x: CpuTensor, w: CpuTensor, offsets: Int32Array, options?: { transB?: boolean }): CpuTensor;
  groupedMatmulWeightGrad?(x: CpuTensor, dy: CpuTensor, offsets: Int32Array): CpuTensor;
  swiglu?(gate: CpuTensor, up: CpuTensor): CpuTensor;
  swigluBackward?(gate: CpuTensor, up: CpuTensor, dy: CpuTensor): [CpuTensor, CpuTensor];
  softmax?(a: CpuTensor, options?: { causal?: boolean }): CpuTensor;
  softmaxBackward?(y: CpuTensor, dy: CpuTensor): CpuTensor;
  transpose?(a: CpuTensor, perm: readonly number[]): CpuTensor;
  /** The row copy of gatherRows, after its checks (the checks and the output stay with the backend). */
  gatherRowsCopy?: CopyRows;
  /** The row loop of sliceColumns, concatColumns and writeColumns, once their shapes are checked. */
  copyStrided?: CopyStrided;
  rmsNormBackward?(x: CpuTensor, weight: CpuTensor, invRms: CpuTensor, dy: CpuTensor): { dx: CpuTensor; dWeight: CpuTensor };
  rmsNorm?(x: CpuTensor, weight: CpuTensor, eps: number): { y: CpuTensor; invRms: CpuTensor };
  rope?(x: CpuTensor, positions: Int32Array, theta: number, options?: { inverse?: boolean }): CpuTensor;
  axpyInPlace?(dst: CpuTensor, src: CpuTensor, alpha?: number): void;
  affine?(a: CpuTensor, scale: number, shift?: number): CpuTensor;
  scatterAddRows?(dst: CpuTensor, index: Int32Array, src: CpuTensor): void;
  sum?(a: CpuTensor, axis: number): CpuTensor;
  /** Sees every constant as `constant` makes it, so the kernels can prepare a form of their own (bf16-weight-kernels.ts). */
  adoptConstant?(t: CpuTensor): void;
}

/**
 * A dtype from untyped callers (JS, JSON) must be one the storage knows: anything else was stamped on
 * the tensor while the data was stored as i32 (fromArray) or f32 (zeros), so kernels met a tensor
 * whose dtype matched neither its storage nor any dtype they check for.
 */
function checkDType(dtype: TensorDType, kernel: string): TensorDType {
  if (dtype !== 'f32' && dtype !== 'i32') throw new MogeError('E_DTYPE', `${kernel}: dtype ${JSON.stringify(dtype)} is not a tensor dtype; use 'f32' or 'i32'`);
  return dtype;
}

/**
 * Index arguments must be Int32Arrays, as the interface types them: a plain array from JS with a
 * fractional or out-of-int32 entry passed the range checks and read between rows, silently.
 */
function int32Arg(kernel: string, field: string, values: Int32Array): Int32Array {
  // By tag rather than instanceof, so an Int32Array of another realm (a vm context) still passes.
  if (!ArrayBuffer.isView(values) || (values as { [Symbol.toStringTag]?: string })[Symbol.toStringTag] !== 'Int32Array') {
    const kind = Array.isArray(values) ? 'a plain array' : values === null ? 'null' : typeof values === 'object' ? (values as object).constructor?.name ?? 'an object' : typeof values;
    throw new MogeError('E_DTYPE', `${kernel}: ${field} must be an Int32Array, got ${kind} (Int32Array.from(...) converts it)`);
  }
  return values;
}

/** A scalar parameter of a kernel that would otherwise turn every output NaN (or Infinity), silently. */
function scalarArg(kernel: string, field: string, value: number, ok: (v: number) => boolean, expected: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) throw new MogeError('E_SHAPE', `${kernel}: ${field} must be ${expected}, got ${value}`);
  return value;
}

function toStorage(data: HostArray | readonly number[], dtype: TensorDType): HostArray {
  if (dtype === 'f32') return data instanceof Float32Array ? data : Float32Array.from(data);
  if (data instanceof Int32Array) return data;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isInteger(data[i])) throw new MogeError('E_DTYPE', `fromArray: i32 data holds a non-integer ${data[i]} at ${i}`);
  }
  return Int32Array.from(data);
}

/**
 * A Backend over `CpuTensor`s named `name`: buffers and bookkeeping, the reference kernels, and the
 * `overrides` a faster CPU backend brings. Every entry point checks that its tensors belong to this
 * backend, so a tensor from another backend fails loudly instead of computing on foreign memory.
 */
export function createCpuBackend(name: string, overrides: CpuKernelOverrides = {}): Backend {
  const own = (t: Tensor, kernel: string): CpuTensor => {
    if (!(t instanceof CpuTensor) || t.backend !== name) {
      throw new MogeError('E_BACKEND', `${kernel}: tensor of backend '${t?.backend}' passed to backend '${name}'`);
    }
    return t;
  };
  const mm = overrides.matmul ?? matmul;
  const mmBias = overrides.matmulBias ?? matmulBias;
  const gmm = overrides.groupedMatmul ?? groupedMatmul;
  const gmmWg = overrides.groupedMatmulWeightGrad ?? groupedMatmulWeightGrad;
  const swi = overrides.swiglu ?? swiglu;
  const swiBack = overrides.swigluBackward ?? swigluBackward;
  const smax = overrides.softmax ?? softmax;
  const smaxBack = overrides.softmaxBackward ?? softmaxBackward;
  const perm = overrides.transpose ?? transpose;
  const rmsBack = overrides.rmsNormBackward ?? rmsNormBackward;
  const rms = overrides.rmsNorm ?? rmsNorm;
  const rot = overrides.rope ?? rope;
  const axpy = overrides.axpyInPlace ?? axpyInPlace;
  const aff = overrides.affine ?? affine;
  const scatter = overrides.scatterAddRows ?? scatterAddRows;
  const total = overrides.sum ?? sum;

  return {
    name,
    fromArray(data, shape, dtype) {
      const type = checkDType(dtype ?? (data instanceof Int32Array ? 'i32' : 'f32'), 'fromArray');
      const size = shapeSize(shape, 'fromArray');
      if (data.length !== size) throw shapeError('fromArray', `${data.length} values do not fill shape ${describeShape(shape)}`);
      return new CpuTensor(name, type, shape, toStorage(data, type));
    },
    zeros(shape, dtype = 'f32') {
      return new CpuTensor(name, dtype, shape, allocate(checkDType(dtype, 'zeros'), shapeSize(shape, 'zeros')));
    },
    full(shape, value) {
      return new CpuTensor(name, 'f32', shape, new Float32Array(shapeSize(shape, 'full')).fill(value));
    },
    read(t) {
      const src = own(t, 'read');
      // A constant's storage must stay as it is: hand out a copy rather than the array itself.
      return src.constant ? src.data.slice() : src.data;
    },
    reshape(t, shape) {
      const src = own(t, 'reshape');
      if (shapeSize(shape, 'reshape') !== src.size) {
        throw shapeError('reshape', `cannot view ${describeShape(src.shape)} (${src.size} elements) as ${describeShape(shape)}`);
      }
      return new CpuTensor(name, src.dtype, shape, src.data, src.constant);
    },
    constant(t) {
      const src = own(t, 'constant');
      // Copy: CPU tensors adopt host arrays, so the caller may still hold (and write) `t`'s storage.
      if (src.constant) return src;
      const c = new CpuTensor(name, src.dtype, src.shape, src.data.slice(), true);
      overrides.adoptConstant?.(c);
      return c;
    },
    isConstant: (t) => own(t, 'isConstant').constant,

    matmul: (a, b, options) => mm(own(a, 'matmul'), own(b, 'matmul'), options),
    matmulBias: (a, b, bias, options) => mmBias(own(a, 'matmulBias'), own(b, 'matmulBias'), own(bias, 'matmulBias'), options),
    groupedMatmul: (x, w, offsets, options) => gmm(own(x, 'groupedMatmul'), own(w, 'groupedMatmul'), int32Arg('groupedMatmul', 'offsets', offsets), options),
    groupedMatmulWeightGrad: (x, dy, offsets) =>
      gmmWg(own(x, 'groupedMatmulWeightGrad'), own(dy, 'groupedMatmulWeightGrad'), int32Arg('groupedMatmulWeightGrad', 'offsets', offsets)),

    unary: (op, a) => unary(op, own(a, 'unary')),
    binary: (op, a, b) => binary(op, own(a, 'binary'), own(b, 'binary')),
    affine: (a, scale, shift) => aff(own(a, 'affine'), scale, shift),
    swiglu: (gate, up) => swi(own(gate, 'swiglu'), own(up, 'swiglu')),
    swigluBackward: (gate, up, dy) => swiBack(own(gate, 'swigluBackward'), own(up, 'swigluBackward'), own(dy, 'swigluBackward')),
    axpyInPlace: (dst, src, alpha) => axpy(requireMutable(own(dst, 'axpyInPlace'), 'axpyInPlace'), own(src, 'axpyInPlace'), alpha),

    sum: (a, axis) => total(own(a, 'sum'), axis),
    max: (a, axis) => max(own(a, 'max'), axis),
    sumAll: (a) => sumAll(own(a, 'sumAll')),

    softmax: (a, options) => smax(own(a, 'softmax'), options),
    softmaxBackward: (y, dy) => smaxBack(own(y, 'softmaxBackward'), own(dy, 'softmaxBackward')),
    logSoftmax: (a) => logSoftmax(own(a, 'logSoftmax')),
    rmsNorm: (x, weight, eps) => rms(own(x, 'rmsNorm'), own(weight, 'rmsNorm'), scalarArg('rmsNorm', 'eps', eps, (e) => e >= 0, 'a finite number ≥ 0')),
    rmsNormBackward: (x, weight, invRms, dy) =>
      rmsBack(own(x, 'rmsNormBackward'), own(weight, 'rmsNormBackward'), own(invRms, 'rmsNormBackward'), own(dy, 'rmsNormBackward')),
    rope: (x, positions, theta, options) =>
      rot(own(x, 'rope'), int32Arg('rope', 'positions', positions), scalarArg('rope', 'theta', theta, (t) => t > 0, 'a finite number > 0'), options),

    gatherRows: (table, index) => gatherRows(own(table, 'gatherRows'), int32Arg('gatherRows', 'index', index), overrides.gatherRowsCopy),
    scatterAddRows: (dst, index, src) => scatter(requireMutable(own(dst, 'scatterAddRows'), 'scatterAddRows'), int32Arg('scatterAddRows', 'index', index), own(src, 'scatterAddRows')),
    sliceColumns: (a, start, width) => sliceColumns(own(a, 'sliceColumns'), start, width, overrides.copyStrided),
    concatColumns: (parts) => concatColumns(parts.map((p) => own(p, 'concatColumns')), overrides.copyStrided),
    writeColumns: (dst, src, start) =>
      writeColumns(requireMutable(own(dst, 'writeColumns'), 'writeColumns'), own(src, 'writeColumns'), start, overrides.copyStrided),
    transpose: (a, p) => perm(own(a, 'transpose'), p),
    groupTopK: (scores, groups, kPerGroup) => groupTopK(own(scores, 'groupTopK'), groups, kPerGroup),
  };
}
