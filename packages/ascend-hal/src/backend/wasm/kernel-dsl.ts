/**
 * Building blocks shared by the HAL's WebAssembly kernels: named locals, the vector loops, lane masks
 * for the ragged end of a row, float64 accumulation of f32x4 terms and an f32x4 exp. Every kernel is
 * then a short readable list of instructions over these.
 */
import { F32, F64, I32, V128, op, type FunctionSpec, type ValType } from './encoder';

export type Code = number[][];

/**
 * A kernel with named parameters and locals (indices follow the key order of the two records). The
 * body gets the name → index map, so instructions read `op.get(v.src)` instead of magic numbers.
 */
export function defineKernel<P extends string, L extends string>(
  name: string,
  params: Record<P, ValType>,
  locals: Record<L, ValType>,
  body: (v: Record<P | L, number>) => Code,
): FunctionSpec {
  const names = [...Object.keys(params), ...Object.keys(locals)] as (P | L)[];
  const index = Object.fromEntries(names.map((n, i) => [n, i])) as Record<P | L, number>;
  return { name, params: Object.values(params) as ValType[], results: [], locals: Object.values(locals) as ValType[], body: body(index) };
}

export { F32, F64, I32, V128 };

/** Bytes of `count` f32 elements: count << 2. */
export const bytesOf = (count: number): Code => [op.get(count), op.i32Const(2), op.i32Shl()];

/** The address `base + offset` (two i32 locals) on the stack. */
export const at = (base: number, offset: number): Code => [op.get(base), op.get(offset), op.i32Add()];

/** Local `to` (v128) = the f32 local `from` in all four lanes. */
export const splatF32 = (from: number, to: number): Code => [op.get(from), op.f32x4Splat(), op.set(to)];

/** v128 load / store at `base + offset`. */
export const load = (base: number, offset: number): Code => [...at(base, offset), op.v128Load()];
export const store = (base: number, offset: number, value: Code): Code => [...at(base, offset), ...value, op.v128Store()];

/**
 * `for (offset = 0; offset < end; offset += 16) body` over bytes, four f32 lanes per step. The last
 * step may run past `end` (into the ragged lanes of the vector), which the callers' buffers leave
 * room for; `end` is a local holding a byte count, and nothing runs when it is 0.
 */
export function forVectors(offset: number, end: number, body: Code): Code {
  return [
    op.i32Const(0), op.set(offset),
    op.block(),
    op.get(end), op.i32Eqz(), op.brIf(0),
    op.loop(),
    ...body,
    op.get(offset), op.i32Const(16), op.i32Add(), op.tee(offset), op.get(end), op.i32LtU(), op.brIf(0),
    op.end(),
    op.end(),
  ];
}

/**
 * Like forVectors over the first `count` elements of a row, keeping `remaining` = elements left from
 * the current vector on (count − offset/4), so `laneMask(remaining)` selects the lanes inside the
 * row. Runs nothing when count ≤ 0 (signed). Leaves `offset` just past the last vector it touched.
 */
export function forRowVectors(offset: number, remaining: number, count: number, body: Code): Code {
  return [
    op.i32Const(0), op.set(offset),
    op.get(count), op.set(remaining),
    op.block(),
    op.get(remaining), op.i32Const(0), op.i32GtS(), op.i32Eqz(), op.brIf(0),
    op.loop(),
    ...body,
    op.get(offset), op.i32Const(16), op.i32Add(), op.set(offset),
    op.get(remaining), op.i32Const(4), op.i32Sub(), op.tee(remaining), op.i32Const(0), op.i32GtS(), op.brIf(0),
    op.end(),
    op.end(),
  ];
}

/**
 * forRowVectors with the row's ragged last vector split off: `body(false)` runs on the whole vectors
 * (no lane mask to build), then `body(true)` once on the last 1–3 elements if there are any, with
 * `remaining` = their count for laneMask. Same `offset` on exit as forRowVectors.
 */
export function forRowVectorsSplit(offset: number, remaining: number, count: number, body: (ragged: boolean) => Code): Code {
  return [
    op.i32Const(0), op.set(offset),
    op.get(count), op.set(remaining),
    op.block(),
    op.loop(),
    op.get(remaining), op.i32Const(4), op.i32LtS(), op.brIf(1),
    ...body(false),
    op.get(offset), op.i32Const(16), op.i32Add(), op.set(offset),
    op.get(remaining), op.i32Const(4), op.i32Sub(), op.set(remaining),
    op.br(0),
    op.end(),
    op.end(),
    op.get(remaining), op.i32Const(0), op.i32GtS(), op.if(),
    ...body(true),
    op.get(offset), op.i32Const(16), op.i32Add(), op.set(offset),
    op.end(),
  ];
}

const IOTA = [0, 1, 2, 3].flatMap((n) => Array.from(new Uint8Array(new Int32Array([n]).buffer)));

/** Sets the v128 local `iota` to the i32 lanes (0, 1, 2, 3), for laneMask; once, before the loops. */
export const initIota = (iota: number): Code => [op.v128Const(IOTA), op.set(iota)];

/** All-ones in the lanes whose index is below the i32 local `remaining`, zero elsewhere. */
export const laneMask = (iota: number, remaining: number): Code => [op.get(iota), op.get(remaining), op.i32x4Splat(), op.i32x4LtS()];

/**
 * In forRowVectorsSplit's ragged step, zeroes the lanes of the v128 on the stack that lie past the
 * row's end (so they add nothing to a row sum); in whole vectors, nothing.
 */
export const zeroPastRowEnd = (ragged: boolean, iota: number, remaining: number): Code => (ragged ? [...laneMask(iota, remaining), op.v128And()] : []);

/** The upper two f32 lanes moved down, so f64x2.promote_low widens them. */
export const HIGH_TO_LOW = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];

/** Lanes 0–1 (f32) of the first operand, then lanes 0–1 of the second: two demoted f64x2 joined. */
const JOIN_LOW_PAIRS = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];

/** Lanes 0–1 (`half` 0) or 2–3 (`half` 1) of the f32x4 local `v`, widened to an f64x2 on the stack. */
export const widen = (v: number, half: 0 | 1): Code =>
  half === 0 ? [op.get(v), op.f64x2PromoteLowF32x4()] : [op.get(v), op.get(v), op.i8x16Shuffle(HIGH_TO_LOW), op.f64x2PromoteLowF32x4()];

/** One f32x4 from two f64x2 computations (`low` gives lanes 0–1, `high` lanes 2–3), each rounded once. */
export const narrowPairs = (low: Code, high: Code): Code => [
  ...low, op.f32x4DemoteF64x2Zero(), ...high, op.f32x4DemoteF64x2Zero(), op.i8x16Shuffle(JOIN_LOW_PAIRS),
];

/** acc (f64x2) += the four f32 lanes of the v128 local `v`, widened: no fp32 rounding builds up in a long sum. */
export const accumulateF64 = (acc: number, v: number): Code => [
  op.get(acc), op.get(v), op.f64x2PromoteLowF32x4(), op.f64x2Add(),
  op.get(v), op.get(v), op.i8x16Shuffle(HIGH_TO_LOW), op.f64x2PromoteLowF32x4(), op.f64x2Add(),
  op.set(acc),
];

/** The two lanes of the f64x2 local `acc` added, as an f64 on the stack. */
export const horizontalSumF64 = (acc: number): Code => [op.get(acc), op.f64x2ExtractLane(0), op.get(acc), op.f64x2ExtractLane(1), op.f64Add()];

const SWAP_HALVES = [8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7];
const SWAP_PAIRS = [4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11];

/** Sets the v128 local `v` to the max of its four lanes in every lane (f32x4.max: a NaN lane wins). */
export const horizontalMaxF32 = (v: number): Code => [
  op.get(v), op.get(v), op.get(v), op.i8x16Shuffle(SWAP_HALVES), op.f32x4Max(), op.set(v),
  op.get(v), op.get(v), op.get(v), op.i8x16Shuffle(SWAP_PAIRS), op.f32x4Max(), op.set(v),
];

// exp(x) = 2^n · exp(r), n = nearest(x/ln2), r = x − n·ln2 with ln2 split so n·C1 is exact in fp32
// (C1 has 9 significant bits and |n| ≤ 127) and |r| ≤ ln2/2. exp(r) by a degree-5 polynomial fitted
// for relative error on [−ln2/2, ln2/2] (Lawson's iteration, float64): 7.5e-8 in exact arithmetic,
// 2.1e-7 evaluated by fp32 Horner over 200 001 points — two fewer multiply-adds than the degree-7
// Taylor polynomial of the same accuracy, and exp is what these kernels spend their time on.
const C1 = 0.693359375;
const C2 = Math.LN2 - C1;
const POLY = [1.0000000716546544, 0.9999996919902643, 0.4999889485139918, 0.16667574733013435, 0.04191538197643546, 0.008297654793071];
// x is clamped to [−87, 88] first: there 2^n is a normal fp32 number (n ∈ [−126, 127]) built from its
// exponent bits alone, and exp(88) ≈ 1.7e38 is still finite. Below, exp(x) < 1.7e-38 but the clamp
// returns exp(−87): the callers either mask such lanes to 0 (softmax) or only need 1 + exp(x)
// (sigmoid), where it vanishes anyway. Above 88 the result is +∞ rather than the clamp's exp(88):
// silu(g) = g / (1 + exp(−g)) for a gate g below −88 must come out ≈ 0 (g / ∞), and with a finite
// denominator it was g / 1.7e38, e.g. −1.8 for g = −3e38 (exp(88.72) is fp32's largest finite
// value, so only exp of (88, 88.72] overflows early, which no 1 + exp(x) can tell).
const X_MIN = -87;
const X_MAX = 88;
// Rounding by the shifter: x/ln2 + 1.5·2^23 rounds to an integer (fp32 ulp there is 1), whose low
// mantissa bits are n, so (bits << 23) + (127 << 23) is the bit pattern of 2^n — a few single
// instructions where f32x4.nearest + i32x4.trunc_sat_f32x4_s expand to many on x86.
const SHIFTER = 1.5 * 2 ** 23;

/**
 * v128 locals holding exp's constants: a kernel that calls expF32x4 spreads EXP_LOCALS into its
 * locals and runs initExpConstants once before its loops, rather than a v128.const per use inside
 * the loop.
 */
export const EXP_LOCALS = {
  eMin: V128, eMax: V128, eInf: V128, eLog2e: V128, eShift: V128, eC1: V128, eC2: V128, eBias: V128, eOne: V128,
  eP0: V128, eP1: V128, eP2: V128, eP3: V128, eP4: V128, eP5: V128,
} as const;
type ExpLocals = Record<keyof typeof EXP_LOCALS, number>;

export function initExpConstants(v: ExpLocals): Code {
  const set = (value: number, local: number) => [op.f32x4Const(value), op.set(local)];
  const poly = [v.eP0, v.eP1, v.eP2, v.eP3, v.eP4, v.eP5];
  return [
    ...set(X_MIN, v.eMin), ...set(X_MAX, v.eMax), ...set(Infinity, v.eInf), ...set(1 / Math.LN2, v.eLog2e), ...set(SHIFTER, v.eShift),
    ...set(C1, v.eC1), ...set(C2, v.eC2), [...op.i32x4Const(127 << 23), ...op.set(v.eBias)], ...set(1, v.eOne),
    ...POLY.flatMap((c, k) => set(c, poly[k]!)),
  ];
}

/**
 * exp of the f32x4 local `x`, left on the stack, within ~3 fp32 ulps (≈ 3e-7 relative) on
 * [−87, 88], +∞ above 88; NaN stays NaN (pmax/pmin with x first keep a NaN x, and x > 88 is false
 * for it). `n` and `r` are v128 scratch locals; `v` names the constants of EXP_LOCALS (set by
 * initExpConstants). `nonPositive` promises the argument is never positive (softmax), which skips
 * the upper clamp and the overflow select.
 */
export function expF32x4(v: ExpLocals, x: number, n: number, r: number, options: { nonPositive?: boolean } = {}): Code {
  const horner = [v.eP4, v.eP3, v.eP2, v.eP1, v.eP0].flatMap((k) => [op.get(r), op.f32x4Mul(), op.get(k), op.f32x4Add()]);
  return [
    op.get(x), op.get(v.eMin), op.f32x4Pmax(), ...(options.nonPositive ? [] : [op.get(v.eMax), op.f32x4Pmin()]), op.set(r),
    op.get(r), op.get(v.eLog2e), op.f32x4Mul(), op.get(v.eShift), op.f32x4Add(), op.set(n), // n holds the shifted value j
    op.get(r),
    op.get(n), op.get(v.eShift), op.f32x4Sub(), op.tee(r), // r = n as a float, for now
    op.get(v.eC1), op.f32x4Mul(), op.f32x4Sub(), op.get(r), op.get(v.eC2), op.f32x4Mul(), op.f32x4Sub(), op.set(r),
    op.get(v.eP5),
    ...horner,
    // × 2^n
    op.get(n), op.i32Const(23), op.i32x4Shl(), op.get(v.eBias), op.i32x4Add(),
    op.f32x4Mul(),
    // +∞ where x > 88 (r is free again: it holds the result while the select is built)
    ...(options.nonPositive ? [] : [op.set(r), op.get(v.eInf), op.get(r), op.get(x), op.get(v.eMax), op.f32x4Gt(), op.v128Bitselect()]),
  ];
}
