/**
 * Pointwise WebAssembly kernels over flat f32 buffers of `n` elements, four lanes at a time. Buffers
 * are padded to a multiple of 16 bytes by the caller, so the last vector may read and write up to
 * three elements past `n` (nothing there is copied back).
 */
import { op } from './encoder';
import { EXP_LOCALS, F32, I32, V128, bytesOf, defineKernel, expF32x4, forVectors, initExpConstants, load, splatF32, store, type Code } from './kernel-dsl';

type GateLocals = Record<'g' | 'o' | 'x' | 't' | 'k' | 'r' | keyof typeof EXP_LOCALS, number>;

/** Both SwiGLU kernels: the gate vector into local x, −x into local t (for sigmoidDenominator). */
const loadGate = (v: GateLocals): Code => [...load(v.g, v.o), op.set(v.x), op.get(v.x), op.f32x4Neg(), op.set(v.t)];

/** 1 + exp(−g) on the stack, after loadGate: the denominator of σ(g) and of silu(g). */
const sigmoidDenominator = (v: GateLocals): Code => [op.get(v.eOne), ...expF32x4(v, v.t, v.k, v.r), op.f32x4Add()];

/**
 * y = silu(g) · u = g · (u / (1 + exp(−g))). Dividing u first keeps fp32 from overflowing: with g far
 * below 0 the denominator is ∞ and y must be ±0, but g · u of g = −3e38 is already −∞, and −∞ / ∞ NaN.
 */
export const swigluKernel = defineKernel(
  'swiglu',
  { g: I32, u: I32, y: I32, n: I32 },
  { o: I32, end: I32, x: V128, t: V128, k: V128, r: V128, ...EXP_LOCALS },
  (v) => [
    ...bytesOf(v.n), op.set(v.end),
    ...initExpConstants(v),
    ...forVectors(v.o, v.end, [
      ...loadGate(v),
      ...store(v.y, v.o, [op.get(v.x), ...load(v.u, v.o), ...sigmoidDenominator(v), op.f32x4Div(), op.f32x4Mul()]),
    ]),
  ],
);

/**
 * With s = σ(g): dU = dy · (g · s) and dG = dy · ((u · s) · (1 + g · (1 − s))), one sigmoid per
 * element. The grouping keeps the bounded factors together, as in swiglu: for g far below 0, s = 0
 * and g · s = −0, where (dy · g) · s overflowed to −∞ · 0 = NaN.
 */
export const swigluBackwardKernel = defineKernel(
  'swiglu_backward',
  { g: I32, u: I32, dy: I32, dg: I32, du: I32, n: I32 },
  { o: I32, end: I32, x: V128, s: V128, d: V128, t: V128, k: V128, r: V128, ...EXP_LOCALS },
  (v) => [
    ...bytesOf(v.n), op.set(v.end),
    ...initExpConstants(v),
    ...forVectors(v.o, v.end, [
      ...loadGate(v),
      op.get(v.eOne), ...sigmoidDenominator(v), op.f32x4Div(), op.set(v.s),
      ...load(v.dy, v.o), op.set(v.d),
      ...store(v.du, v.o, [op.get(v.d), op.get(v.x), op.get(v.s), op.f32x4Mul(), op.f32x4Mul()]),
      ...store(v.dg, v.o, [
        op.get(v.d),
        ...load(v.u, v.o), op.get(v.s), op.f32x4Mul(),
        op.get(v.eOne), op.get(v.x), op.get(v.eOne), op.get(v.s), op.f32x4Sub(), op.f32x4Mul(), op.f32x4Add(),
        op.f32x4Mul(),
        op.f32x4Mul(),
      ]),
    ]),
  ],
);

/** y += alpha · x, in place. */
export const axpyKernel = defineKernel(
  'axpy',
  { y: I32, x: I32, n: I32, alpha: F32 },
  { o: I32, end: I32, a: V128 },
  (v) => [
    ...bytesOf(v.n), op.set(v.end),
    ...splatF32(v.alpha, v.a),
    ...forVectors(v.o, v.end, [...store(v.y, v.o, [...load(v.y, v.o), op.get(v.a), ...load(v.x, v.o), op.f32x4Mul(), op.f32x4Add()])]),
  ],
);

/** y = x · scale + shift. */
export const affineKernel = defineKernel(
  'affine',
  { x: I32, y: I32, n: I32, scale: F32, shift: F32 },
  { o: I32, end: I32, a: V128, b: V128 },
  (v) => [
    ...bytesOf(v.n), op.set(v.end),
    ...splatF32(v.scale, v.a),
    ...splatF32(v.shift, v.b),
    ...forVectors(v.o, v.end, [...store(v.y, v.o, [...load(v.x, v.o), op.get(v.a), op.f32x4Mul(), op.get(v.b), op.f32x4Add()])]),
  ],
);

/**
 * scatter_add_rows(dst, src, index, n, d): dst row index[i] += src row i for i < n, rows of d f32
 * (d a multiple of 4, so rows are whole vectors), in order (repeated indices accumulate). `index`
 * holds n i32, already checked to lie inside dst by the caller.
 */
export const scatterAddRowsKernel = defineKernel(
  'scatter_add_rows',
  { dst: I32, src: I32, index: I32, n: I32, d: I32 },
  { rowBytes: I32, o: I32, row: I32 },
  (v) => [
    ...bytesOf(v.d), op.set(v.rowBytes),
    op.block(),
    op.get(v.n), op.i32Eqz(), op.brIf(0),
    op.loop(),
    op.get(v.dst), op.get(v.index), op.i32Load(), op.get(v.rowBytes), op.i32Mul(), op.i32Add(), op.set(v.row),
    ...forVectors(v.o, v.rowBytes, [...store(v.row, v.o, [...load(v.row, v.o), ...load(v.src, v.o), op.f32x4Add()])]),
    op.get(v.src), op.get(v.rowBytes), op.i32Add(), op.set(v.src),
    op.get(v.index), op.i32Const(4), op.i32Add(), op.set(v.index),
    op.get(v.n), op.i32Const(1), op.i32Sub(), op.tee(v.n), op.brIf(0),
    op.end(),
    op.end(),
  ],
);

/**
 * One AdamW step in place over n elements, in f32 as torch.optim.AdamW computes it (PyTorch's form:
 * step size lr / bc1, denominator √v / √bc2 + ε, decoupled decay as a factor):
 *   m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²;  w ← w·decay − stepSize · m / (√v · invSqrtBc2 + ε).
 */
export const adamwKernel = defineKernel(
  'adamw',
  { w: I32, g: I32, m: I32, v: I32, n: I32, decay: F32, stepSize: F32, invSqrtBc2: F32, eps: F32, beta1: F32, oneMinusBeta1: F32, beta2: F32, oneMinusBeta2: F32 },
  { o: I32, end: I32, cDecay: V128, cStep: V128, cInv: V128, cEps: V128, cB1: V128, cB1c: V128, cB2: V128, cB2c: V128, gi: V128, mi: V128, vi: V128 },
  (x) => [
    ...bytesOf(x.n), op.set(x.end),
    ...splatF32(x.decay, x.cDecay), ...splatF32(x.stepSize, x.cStep), ...splatF32(x.invSqrtBc2, x.cInv), ...splatF32(x.eps, x.cEps),
    ...splatF32(x.beta1, x.cB1), ...splatF32(x.oneMinusBeta1, x.cB1c), ...splatF32(x.beta2, x.cB2), ...splatF32(x.oneMinusBeta2, x.cB2c),
    ...forVectors(x.o, x.end, [
      ...load(x.g, x.o), op.set(x.gi),
      op.get(x.cB1), ...load(x.m, x.o), op.f32x4Mul(), op.get(x.cB1c), op.get(x.gi), op.f32x4Mul(), op.f32x4Add(), op.set(x.mi),
      op.get(x.cB2), ...load(x.v, x.o), op.f32x4Mul(), op.get(x.cB2c), op.get(x.gi), op.f32x4Mul(), op.get(x.gi), op.f32x4Mul(), op.f32x4Add(), op.set(x.vi),
      ...store(x.m, x.o, [op.get(x.mi)]),
      ...store(x.v, x.o, [op.get(x.vi)]),
      ...store(x.w, x.o, [
        ...load(x.w, x.o), op.get(x.cDecay), op.f32x4Mul(),
        op.get(x.cStep), op.get(x.mi), op.f32x4Mul(),
        op.get(x.vi), op.f32x4Sqrt(), op.get(x.cInv), op.f32x4Mul(), op.get(x.cEps), op.f32x4Add(),
        op.f32x4Div(),
        op.f32x4Sub(),
      ]),
    ]),
  ],
);
