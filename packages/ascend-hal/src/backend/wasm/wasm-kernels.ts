/**
 * The memory-bound kernels of a CPU backend on WebAssembly SIMD (kernel-module.ts): SwiGLU and its
 * backward, softmax (plain and causal) and its backward, RMSNorm and its backward, RoPE, axpy,
 * affine and the row scatter-add of expert outputs. Inputs the kernels do not cover — integer tensors, mismatched shapes, anything the reference
 * kernel must reject — go to the reference code, which also produces the errors; so does everything
 * where WebAssembly SIMD is unavailable. Results stay within the conformance tolerance of the
 * reference (fp32 lanes with float64 sums, exp within ~3 ulps; see the kernels' comments).
 */
import type { CpuKernelOverrides } from '../cpu/cpu-backend';
import { allF32, allocateOutputF32, CpuTensor, sameShape } from '../cpu/cpu-tensor';
import { affine as jsAffine, axpyInPlace as jsAxpy, swiglu as jsSwiglu, swigluBackward as jsSwigluBackward } from '../reference/elementwise';
import { rmsNorm as jsRmsNorm, rmsNormBackward as jsRmsNormBackward } from '../reference/norm';
import { scatterAddRows as jsScatterAddRows } from '../reference/indexing';
import { rope as jsRope } from '../reference/rope';
import { softmax as jsSoftmax, softmaxBackward as jsSoftmaxBackward } from '../reference/softmax';
import { wasmKernelModule, type WasmKernelModule } from './kernel-module';
import { RopeTables } from './rope-tables';

/** The kernels wasmKernels can provide. */
export type WasmKernelName =
  | 'swiglu' | 'swigluBackward' | 'softmax' | 'softmaxBackward' | 'rmsNorm' | 'rmsNormBackward' | 'rope' | 'axpyInPlace' | 'affine' | 'scatterAddRows';

const f32 = (t: CpuTensor) => t.data as Float32Array;
const lastAxis = (t: CpuTensor) => t.shape[t.shape.length - 1] ?? 0;

/**
 * scatterAddRows copies dst in and out whole, so it runs on WebAssembly only when src is at least as
 * large as dst (JS costs ≈ 1.4 ns per src element, WebAssembly ≈ 0.45 plus 0.6 per dst element), and
 * dst at most this many elements (its copy must fit the scratch memory comfortably).
 */
export const SCATTER_MAX_DST = 1 << 22;

function indicesInside(index: Int32Array, limit: number): boolean {
  for (let i = 0; i < index.length; i++) if (!(index[i]! >= 0 && index[i]! < limit)) return false;
  return true;
}

function kernelsOn(m: WasmKernelModule): Required<Pick<CpuKernelOverrides, WasmKernelName>> {
  const ropeTables = new RopeTables();
  return {
    swiglu(gate, up) {
      if (!allF32(gate, up) || !sameShape(gate.shape, up.shape)) return jsSwiglu(gate, up);
      const y = allocateOutputF32(gate.size);
      m.swiglu(f32(gate), f32(up), y);
      return new CpuTensor(gate.backend, 'f32', gate.shape, y);
    },

    swigluBackward(gate, up, dy) {
      if (!allF32(gate, up, dy) || !sameShape(gate.shape, up.shape) || !sameShape(gate.shape, dy.shape)) return jsSwigluBackward(gate, up, dy);
      const dg = allocateOutputF32(gate.size);
      const du = allocateOutputF32(gate.size);
      m.swigluBackward(f32(gate), f32(up), f32(dy), dg, du);
      return [new CpuTensor(gate.backend, 'f32', gate.shape, dg), new CpuTensor(gate.backend, 'f32', gate.shape, du)];
    },

    softmax(a, options) {
      const rank = a.shape.length;
      const cols = lastAxis(a);
      const causal = options?.causal ?? false;
      if (!allF32(a) || rank === 0 || cols === 0 || (causal && rank < 2)) return jsSoftmax(a, options);
      const sq = causal ? a.shape[rank - 2]! : 0;
      if (causal && sq === 0) return jsSoftmax(a, options);
      const out = allocateOutputF32(a.size);
      m.softmaxRows(f32(a), out, a.size / cols, cols, sq);
      return new CpuTensor(a.backend, 'f32', a.shape, out);
    },

    softmaxBackward(y, dy) {
      const cols = lastAxis(y);
      if (!allF32(y, dy) || y.shape.length === 0 || cols === 0 || !sameShape(y.shape, dy.shape)) return jsSoftmaxBackward(y, dy);
      const dx = allocateOutputF32(y.size);
      m.softmaxBackwardRows(f32(y), f32(dy), dx, y.size / cols, cols);
      return new CpuTensor(y.backend, 'f32', y.shape, dx);
    },

    rmsNorm(x, weight, eps) {
      const cols = lastAxis(x);
      if (!allF32(x, weight) || x.shape.length === 0 || cols === 0 || weight.shape.length !== 1 || weight.size !== cols) return jsRmsNorm(x, weight, eps);
      const rows = x.size / cols;
      const y = allocateOutputF32(x.size);
      const inv = allocateOutputF32(rows);
      m.rmsNormRows(f32(x), f32(weight), y, inv, rows, cols, eps);
      return { y: new CpuTensor(x.backend, 'f32', x.shape, y), invRms: new CpuTensor(x.backend, 'f32', x.shape.slice(0, -1), inv) };
    },

    rmsNormBackward(x, weight, invRms, dy) {
      const cols = lastAxis(x);
      const rows = cols === 0 ? 0 : x.size / cols;
      const fits =
        allF32(x, weight, invRms, dy) && x.shape.length > 0 && cols > 0 && weight.shape.length === 1 && weight.size === cols &&
        invRms.size === rows && sameShape(x.shape, dy.shape);
      if (!fits) return jsRmsNormBackward(x, weight, invRms, dy);
      const dx = allocateOutputF32(x.size);
      const dw = m.rmsNormBackwardRows(f32(x), f32(weight), f32(invRms), f32(dy), dx, rows, cols);
      return { dx: new CpuTensor(x.backend, 'f32', x.shape, dx), dWeight: new CpuTensor(x.backend, 'f32', [cols], dw) };
    },

    rope(x, positions, theta, options) {
      if (!allF32(x) || x.shape.length !== 3 || positions.length !== x.shape[0]) return jsRope(x, positions, theta, options);
      const [, heads, d] = x.shape as [number, number, number];
      // the kernel takes whole vectors per half head (D/2 a multiple of 4); other sizes, and positions
      // outside the tables, run the reference kernel
      const tables = d % 8 === 0 ? ropeTables.get(theta, d, positions) : null;
      if (!tables) return jsRope(x, positions, theta, options);
      const y = allocateOutputF32(x.size);
      m.rope(f32(x), y, tables.cos, tables.sin, positions, heads, d / 2, options?.inverse ? -1 : 1);
      return new CpuTensor(x.backend, 'f32', x.shape, y);
    },

    axpyInPlace(dst, src, alpha = 1) {
      if (!allF32(dst, src) || !sameShape(dst.shape, src.shape)) return jsAxpy(dst, src, alpha);
      m.axpy(f32(dst), f32(src), alpha);
    },

    scatterAddRows(dst, index, src) {
      const d = lastAxis(dst);
      const fits =
        allF32(dst, src) && dst.shape.length === 2 && src.shape.length === 2 && src.shape[1] === d && src.shape[0] === index.length &&
        d % 4 === 0 && dst.size <= SCATTER_MAX_DST && src.size >= dst.size && indicesInside(index, dst.shape[0]!);
      if (!fits) return jsScatterAddRows(dst, index, src);
      m.scatterAddRows(f32(dst), index, f32(src), d);
    },

    affine(a, scale, shift = 0) {
      if (!allF32(a)) return jsAffine(a, scale, shift);
      const y = allocateOutputF32(a.size);
      m.affine(f32(a), y, scale, shift);
      return new CpuTensor(a.backend, 'f32', a.shape, y);
    },
  };
}

/**
 * The WebAssembly kernels as CPU-backend overrides, or {} where WebAssembly SIMD is unavailable (the
 * backend then keeps its JS kernels).
 */
export function wasmKernels(): Partial<Pick<CpuKernelOverrides, WasmKernelName>> {
  const m = wasmKernelModule();
  return m ? kernelsOn(m) : {};
}
