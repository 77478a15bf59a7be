import type { BinaryOp, UnaryOp } from '../backend';
import { allocateOutputF32, CpuTensor, describeShape, sameShape, shapeError } from '../cpu/cpu-tensor';

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** Scalar definitions of the unary ops; computed in float64, rounded once on store. */
export const UNARY_FUNCTIONS: Readonly<Record<UnaryOp, (x: number) => number>> = {
  silu: (x) => x * sigmoid(x),
  exp: Math.exp,
  neg: (x) => -x,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  square: (x) => x * x,
  sigmoid,
  log: Math.log,
  abs: Math.abs,
  relu: (x) => (x > 0 ? x : 0),
};

export function unary(op: UnaryOp, a: CpuTensor): CpuTensor {
  const f = UNARY_FUNCTIONS[op];
  if (!f) throw shapeError('unary', `unknown op '${String(op)}'`);
  const src = a.f32(`unary ${op}`);
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f(src[i]!);
  return new CpuTensor(a.backend, 'f32', a.shape, out);
}

const BINARY_FUNCTIONS: Readonly<Record<BinaryOp, (x: number, y: number) => number>> = {
  add: (x, y) => x + y,
  sub: (x, y) => x - y,
  mul: (x, y) => x * y,
  div: (x, y) => x / y,
  max: (x, y) => (x >= y || Number.isNaN(x) ? x : y),
};

/**
 * Maps every element of `a` to the index of its partner in `b` under NumPy broadcasting of b into a's
 * shape (b right-aligned, each of its axes equal to a's or 1). Null when b is a suffix of a (or equal),
 * where the partner is simply `i mod b.size`.
 */
function broadcastIndex(aShape: readonly number[], bShape: readonly number[]): Int32Array | null {
  const offset = aShape.length - bShape.length;
  const isSuffix = offset >= 0 && bShape.every((d, i) => d === aShape[offset + i]);
  if (isSuffix) return null;
  const ok = offset >= 0 && bShape.every((d, i) => d === 1 || d === aShape[offset + i]);
  if (!ok) throw shapeError('binary', `cannot broadcast ${describeShape(bShape)} into ${describeShape(aShape)}`);
  const size = aShape.reduce((p, d) => p * d, 1);
  const index = new Int32Array(size);
  // Strides of b as seen from a's axes: 0 on broadcast (size-1 or missing) axes.
  const strides = new Array<number>(aShape.length).fill(0);
  let stride = 1;
  for (let i = bShape.length - 1; i >= 0; i--) {
    strides[offset + i] = bShape[i] === 1 ? 0 : stride;
    stride *= bShape[i]!;
  }
  const coord = new Array<number>(aShape.length).fill(0);
  let bIdx = 0;
  for (let i = 0; i < size; i++) {
    index[i] = bIdx;
    // Odometer increment of a's coordinate, keeping b's flat index in step.
    for (let ax = aShape.length - 1; ax >= 0; ax--) {
      coord[ax]!++;
      bIdx += strides[ax]!;
      if (coord[ax]! < aShape[ax]!) break;
      bIdx -= strides[ax]! * coord[ax]!;
      coord[ax] = 0;
    }
  }
  return index;
}

/**
 * Products and sums of same-shape operands (`cols` 0) or with one b value per row of `cols` elements,
 * as plain loops: through BINARY_FUNCTIONS every element pays a call V8 cannot inline (one loop
 * serves five ops), ≈ 5 ns against ≈ 0.5. The ops the model runs at size; false for the others.
 */
function fastBinary(op: BinaryOp, ad: Float32Array, bd: Float32Array, out: Float32Array, cols: number): boolean {
  const n = ad.length;
  if (op === 'mul') {
    if (cols === 0) for (let i = 0; i < n; i++) out[i] = ad[i]! * bd[i]!;
    else for (let r = 0, i = 0; i < n; r++) for (const v = bd[r]!, end = i + cols; i < end; i++) out[i] = ad[i]! * v;
    return true;
  }
  if (op === 'add') {
    if (cols === 0) for (let i = 0; i < n; i++) out[i] = ad[i]! + bd[i]!;
    else for (let r = 0, i = 0; i < n; r++) for (const v = bd[r]!, end = i + cols; i < end; i++) out[i] = ad[i]! + v;
    return true;
  }
  return false;
}

/** b is a's shape with the last axis 1 (one value per row of a). */
function isRowScalar(aShape: readonly number[], bShape: readonly number[]): boolean {
  return aShape.length >= 1 && bShape.length === aShape.length && bShape[bShape.length - 1] === 1 && aShape.slice(0, -1).every((d, i) => d === bShape[i]);
}

export function binary(op: BinaryOp, a: CpuTensor, b: CpuTensor): CpuTensor {
  const f = BINARY_FUNCTIONS[op];
  if (!f) throw shapeError('binary', `unknown op '${String(op)}'`);
  const ad = a.f32(`binary ${op}`);
  const bd = b.f32(`binary ${op}`);
  const out = allocateOutputF32(ad.length);
  const same = sameShape(a.shape, b.shape);
  // b with one value per row of a ([..., R, 1] against [..., R, C]), e.g. the MoE combine's weights.
  const perRow = !same && isRowScalar(a.shape, b.shape);
  if ((same || perRow) && fastBinary(op, ad, bd, out, perRow ? a.shape[a.shape.length - 1]! : 0)) {
    return new CpuTensor(a.backend, 'f32', a.shape, out);
  }
  const index = broadcastIndex(a.shape, b.shape);
  if (index) {
    for (let i = 0; i < ad.length; i++) out[i] = f(ad[i]!, bd[index[i]!]!);
  } else if (bd.length > 0) {
    const bn = bd.length;
    for (let i = 0; i < ad.length; i++) out[i] = f(ad[i]!, bd[i % bn]!);
  }
  return new CpuTensor(a.backend, 'f32', a.shape, out);
}

export function affine(a: CpuTensor, scale: number, shift = 0): CpuTensor {
  const src = a.f32('affine');
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i]! * scale + shift;
  return new CpuTensor(a.backend, 'f32', a.shape, out);
}

function requireSameShape(kernel: string, ...ts: CpuTensor[]): void {
  for (const t of ts) {
    if (!sameShape(t.shape, ts[0]!.shape)) {
      throw shapeError(kernel, `operands must have the same shape, got ${ts.map((x) => describeShape(x.shape)).join(' and ')}`);
    }
  }
}

export function swiglu(gate: CpuTensor, up: CpuTensor): CpuTensor {
  requireSameShape('swiglu', gate, up);
  const g = gate.f32('swiglu');
  const u = up.f32('swiglu');
  const out = new Float32Array(g.length);
  for (let i = 0; i < g.length; i++) out[i] = (g[i]! * u[i]!) / (1 + Math.exp(-g[i]!));
  return new CpuTensor(gate.backend, 'f32', gate.shape, out);
}

/** y = silu(g)·u ⇒ dU = dy·silu(g), dG = dy·u·σ(g)·(1 + g·(1 − σ(g))). */
export function swigluBackward(gate: CpuTensor, up: CpuTensor, dy: CpuTensor): [CpuTensor, CpuTensor] {
  requireSameShape('swigluBackward', gate, up, dy);
  const g = gate.f32('swigluBackward');
  const u = up.f32('swigluBackward');
  const d = dy.f32('swigluBackward');
  const dGate = new Float32Array(g.length);
  const dUp = new Float32Array(g.length);
  for (let i = 0; i < g.length; i++) {
    const x = g[i]!;
    const s = sigmoid(x);
    dUp[i] = d[i]! * x * s;
    dGate[i] = d[i]! * u[i]! * s * (1 + x * (1 - s));
  }
  return [new CpuTensor(gate.backend, 'f32', gate.shape, dGate), new CpuTensor(gate.backend, 'f32', gate.shape, dUp)];
}

export function axpyInPlace(dst: CpuTensor, src: CpuTensor, alpha = 1): void {
  requireSameShape('axpyInPlace', dst, src);
  const y = dst.f32('axpyInPlace');
  const x = src.f32('axpyInPlace');
  for (let i = 0; i < y.length; i++) y[i] = y[i]! + alpha * x[i]!;
}
