import { wasmEncoder } from '@moge/ascend-hal';
import { CANONICAL_NAN_BITS } from './canonical-nan';
import { inverseFactorials } from './taylor';

const { F64, I32, op, V128 } = wasmEncoder;
type FunctionSpec = wasmEncoder.FunctionSpec;

/**
 * `softmax_rows_f32(src, dst, scratch, rows, cols)`: the softmax of every row of `cols` f32 logits,
 * four fp32 lanes at a time (f32x4), for the fused MoGE forward's fast path. `cols` must be a multiple
 * of 4; `scratch` holds `cols` f32. The float64 kernel (softmax-kernel.ts) reproduces the reference
 * backend bit for bit; this one trades that for twice the lanes and a shorter polynomial, and stays
 * within ~3e-7 relative of it (the tests hold it to 1e-6):
 *
 * - d = z − max is rounded, so its rounding error is kept exactly (TwoSum) and added back into the
 *   reduced argument: without it a logit 100 below the max would carry ~6e-6 relative error in exp.
 * - exp(d), d ≤ 0: n = nearest(d/ln2), r = (d − n·C1) + (err − n·C2) with C1 = 0.693359375 (9 bits,
 *   so n·C1 is exact for |n| < 2^15), exp(r) by Taylor to degree 7 (truncation < 6e-9 on |r| ≤ ln2/2).
 * - The result is scaled by 2^(n+64), not 2^n: exp down to e^−104 then stays a normal fp32 number
 *   (no subnormal exponent bits to build), and the 2^64 cancels in e/Σ. Lanes with d < −104 are 0
 *   (their probability rounds to 0 whatever Σ ≥ 1 is); NaN stays NaN.
 * - Σ is accumulated in four fp32 lanes (16 terms each at E = 64: ~1e-7 relative, measured as cheaper
 *   than widening every term to float64), the lanes added in float64, and p = e · fp32(1/Σ): two fp32
 *   roundings instead of the reference's one. Measured worst case on 4M probabilities: 2.9e-7.
 */

const C1 = 0.693359375;
const C2 = Math.LN2 - C1; // −2.12194440054690583e-4
const FLUSH_BELOW = -104;
const SCALE_BIAS = 127 + 64; // fp32 exponent bias, plus the 2^64 scale
const DEGREE = 7;
const INV_FACTORIALS = inverseFactorials(DEGREE);

// params
const SRC = 0;
const DST = 1;
const SCRATCH = 2;
const ROWS = 3;
const COLS = 4;
// locals
const ROW_BYTES = 5;
const P = 6;
const END = 7;
const S = 8;
const VMAX = 9; // then −max in all lanes
const Z = 10;
const D = 11;
const BB = 12;
const ERR = 13;
const N = 14;
const R = 15;
const EX = 16;
const VSUM = 17; // f32x4
const INV = 18; // f32x4
const SUM = 19; // f64 scalar

const c = (x: number) => [op.f32x4Const(x)];
/** Lanes (2, 3, 0, 1) and (1, 0, 3, 2) of four 32-bit lanes, for the horizontal max. */
const swapHalves = [8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7];
const swapPairs = [4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11];

/** `while (P < END) { body; P += 16; S += 16 (if scratch) }`; rows are never empty. */
function walk(body: number[][], withScratch: boolean): number[][] {
  return [
    op.loop(),
    ...body,
    op.get(P), op.i32Const(16), op.i32Add(), op.set(P),
    ...(withScratch ? [op.get(S), op.i32Const(16), op.i32Add(), op.set(S)] : []),
    op.get(P), op.get(END), op.i32LtU(), op.brIf(0),
    op.end(),
  ];
}

const expQuad: number[][] = [
  // D = z + (−max), ERR = its exact rounding error (Knuth's TwoSum)
  op.get(Z), op.get(VMAX), op.f32x4Add(), op.set(D),
  op.get(D), op.get(Z), op.f32x4Sub(), op.set(BB),
  op.get(Z), op.get(D), op.get(BB), op.f32x4Sub(), op.f32x4Sub(),
  op.get(VMAX), op.get(BB), op.f32x4Sub(), op.f32x4Add(), op.set(ERR),
  // n = nearest(D / ln2)
  op.get(D), ...c(1 / Math.LN2), op.f32x4Mul(), op.f32x4Nearest(), op.set(N),
  // r = (D − n·C1) + (ERR − n·C2)
  op.get(D), op.get(N), ...c(C1), op.f32x4Mul(), op.f32x4Sub(),
  op.get(ERR), op.get(N), ...c(C2), op.f32x4Mul(), op.f32x4Sub(), op.f32x4Add(), op.set(R),
  // Horner
  ...c(INV_FACTORIALS[DEGREE]!),
  ...INV_FACTORIALS.slice(0, DEGREE)
    .reverse()
    .flatMap((k) => [op.get(R), op.f32x4Mul(), ...c(k), op.f32x4Add()]),
  // × 2^(n+64): exponent bits (n + 191) << 23, n ∈ [−151, 0] wherever the lane is kept
  op.get(N), op.i32x4TruncSatF32x4S(), op.i32x4Const(SCALE_BIAS), op.i32x4Add(), op.i32Const(23), op.i32x4Shl(),
  op.f32x4Mul(),
  // 0 where D < −104 (and where z = −∞: D = −∞, ERR = NaN); NaN compares false and stays
  op.get(D), ...c(FLUSH_BELOW), op.f32x4Lt(), op.v128AndNot(),
  op.set(EX),
];

export const softmaxRowsF32: FunctionSpec = {
  name: 'softmax_rows_f32',
  params: [I32, I32, I32, I32, I32],
  results: [],
  locals: [I32, I32, I32, I32, V128, V128, V128, V128, V128, V128, V128, V128, V128, V128, F64],
  body: [
    op.get(COLS), op.i32Const(2), op.i32Shl(), op.set(ROW_BYTES),
    op.get(ROWS), op.i32Eqz(), op.if(), op.br(1), op.end(),
    op.loop(),
    op.get(SRC), op.set(P),
    op.get(SRC), op.get(ROW_BYTES), op.i32Add(), op.set(END),
    // max (pmax: a NaN logit never becomes the max, like `if (z > max)`), then into all four lanes
    ...c(-Infinity), op.set(VMAX),
    ...walk([[...op.get(VMAX), ...op.get(P), ...op.v128Load(), ...op.f32x4Pmax(), ...op.set(VMAX)]], false),
    op.get(VMAX), op.get(VMAX), op.get(VMAX), op.i8x16Shuffle(swapHalves), op.f32x4Pmax(), op.set(VMAX),
    op.get(VMAX), op.get(VMAX), op.get(VMAX), op.i8x16Shuffle(swapPairs), op.f32x4Pmax(), op.set(VMAX),
    op.get(VMAX), op.f32x4ExtractLane(0), op.f32x4Splat(), op.set(VMAX),
    ...c(0), op.get(VMAX), op.f32x4Sub(), op.set(VMAX), // −max (exact)
    // scaled exp into scratch, Σ in four lanes
    op.get(SRC), op.set(P),
    op.get(SCRATCH), op.set(S),
    ...c(0), op.set(VSUM),
    ...walk(
      [
        [...op.get(P), ...op.v128Load(), ...op.set(Z)],
        ...expQuad,
        [...op.get(S), ...op.get(EX), ...op.v128Store()],
        [...op.get(VSUM), ...op.get(EX), ...op.f32x4Add(), ...op.set(VSUM)],
      ],
      true,
    ),
    op.get(VSUM), op.f32x4ExtractLane(0), op.f64PromoteF32(), op.get(VSUM), op.f32x4ExtractLane(1), op.f64PromoteF32(), op.f64Add(),
    op.get(VSUM), op.f32x4ExtractLane(2), op.f64PromoteF32(), op.get(VSUM), op.f32x4ExtractLane(3), op.f64PromoteF32(), op.f64Add(),
    op.f64Add(), op.set(SUM),
    op.f64Const(1), op.get(SUM), op.f64Div(), op.f32DemoteF64(), op.f32x4Splat(), op.set(INV),
    // p = e · fp32(1/Σ)
    op.get(SCRATCH), op.set(S),
    op.get(DST), op.set(P),
    op.get(DST), op.get(ROW_BYTES), op.i32Add(), op.set(END),
    // A NaN Σ makes the whole row NaN: written as one pattern (see CANONICAL_NAN_BITS).
    op.get(SUM), op.get(SUM), op.f64Ne(), op.if(),
    ...walk([[...op.get(P), ...op.i32x4Const(CANONICAL_NAN_BITS), ...op.v128Store()]], false),
    op.else(),
    ...walk([[...op.get(P), ...op.get(S), ...op.v128Load(), ...op.get(INV), ...op.f32x4Mul(), ...op.v128Store()]], true),
    op.end(),
    // next row
    op.get(SRC), op.get(ROW_BYTES), op.i32Add(), op.set(SRC),
    op.get(DST), op.get(ROW_BYTES), op.i32Add(), op.set(DST),
    op.get(ROWS), op.i32Const(1), op.i32Sub(), op.set(ROWS),
    op.get(ROWS), op.brIf(0),
    op.end(),
  ],
};
