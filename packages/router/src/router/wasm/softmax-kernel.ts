import { wasmEncoder } from '@moge/ascend-hal';
import { CANONICAL_NAN_BITS } from './canonical-nan';
import { inverseFactorials } from './taylor';
import { groupArgmaxX4 } from './group-argmax-kernel';
import { softmaxRowsF32 } from './softmax-f32-kernel';

const { encodeModule, I32, op, V128 } = wasmEncoder;
type FunctionSpec = wasmEncoder.FunctionSpec;

/**
 * Two WebAssembly kernels for the fused MoGE forward, two float64 lanes at a time (f64x2):
 *
 * `softmax_rows(src, dst, scratch, rows, cols)`: for each row of `cols` f32 logits at `src`, the
 * softmax over the row into f32 at `dst`, computed like the reference backend's softmax kernel —
 * max subtraction, exp and sum in float64, one float64 division per element, one rounding to fp32 —
 * so that a probability differs from the reference's only when its exact value sits within a few
 * float64 ulps of an fp32 rounding boundary (the exp below is within a few ulps of `Math.exp`, and the
 * sum is taken in two interleaved lanes). `cols` must be even; `scratch` holds `cols` float64.
 *
 * `group_argmax(probs, ids, values, rows, cols, groupSize)`: for every contiguous group of
 * `groupSize` f32 values of every row, the position of the largest inside the row (ties → lower
 * index) and its value: MoGE's selection when K/M = 1. Branch-free (integer `select`), as the
 * comparisons of random probabilities are unpredictable. A softmax row is either all non-negative
 * numbers or all NaN (its Σ is NaN); the softmax kernels write a NaN row as one bit pattern
 * (CANONICAL_NAN_BITS), so its argmax is the group's first column — NaN ranks above every number and
 * NaNs go to the lower index, as in groupTopK and the JS path.
 *
 * exp(x), x ≤ 0: n = nearest(x/ln2), r = x − n·ln2 (ln2 split in a high part with 32 trailing zero
 * bits, so n·ln2_hi is exact, and a low part; |r| ≤ ln2/2), exp(r) by its Taylor polynomial of
 * degree 13 (truncation < 5e-18 relative), times 2^n built from its exponent bits. Below x = −104,
 * exp(x) / Σ (Σ ≥ 1) rounds to fp32 zero whatever its value, so the lane is set to 0 there (this
 * also covers x = −∞); NaN stays NaN.
 */

const LN2_HI = 6.93147180369123816490e-1; // fdlibm's ln2_hi: 32 trailing zero bits
const LN2_LO = 1.90821492927058770002e-10;
const FLUSH_BELOW = -104;
const DEGREE = 13;
const INV_FACTORIALS = inverseFactorials(DEGREE);

// softmax_rows locals
const SRC = 0;
const DST = 1;
const SCRATCH = 2;
const ROWS = 3;
const COLS = 4;
const ROW_BYTES = 5; // cols·4
const P = 6; // walking pointer into the row
const END = 7;
const S = 8; // walking pointer into scratch
const VMAX = 9;
const VSUM = 10;
const X = 11;
const N = 12;
const R = 13;
const E = 14;

const splat = (x: number) => [op.f64x2Const(x)];

/** Two logits at the walking pointer, widened to f64x2. */
const loadPair = () => [op.get(P), op.v128Load64Zero(), op.f64x2PromoteLowF32x4()];

/** `while (P < END) { body; P += step }` (the body runs at least once: rows are never empty). */
function walk(body: number[][], step: number, extra: number[][] = []): number[][] {
  return [
    op.loop(),
    ...body,
    op.get(P), op.i32Const(step), op.i32Add(), op.set(P),
    ...extra,
    op.get(P), op.get(END), op.i32LtU(), op.brIf(0),
    op.end(),
  ];
}

const expPair: number[][] = [
  // n = nearest(x / ln2)
  op.get(X), ...splat(1 / Math.LN2), op.f64x2Mul(), op.f64x2Nearest(), op.set(N),
  // r = (x − n·ln2_hi) − n·ln2_lo
  op.get(X), op.get(N), ...splat(LN2_HI), op.f64x2Mul(), op.f64x2Sub(),
  op.get(N), ...splat(LN2_LO), op.f64x2Mul(), op.f64x2Sub(), op.set(R),
  // Horner: ((c13·r + c12)·r + …)·r + c0
  ...splat(INV_FACTORIALS[DEGREE]!),
  ...INV_FACTORIALS.slice(0, DEGREE)
    .reverse()
    .flatMap((c) => [op.get(R), op.f64x2Mul(), ...splat(c), op.f64x2Add()]),
  // × 2^n: exponent bits (n + 1023) << 52, n ∈ [−151, 0] wherever the lane is kept
  op.get(N), op.i32x4TruncSatF64x2SZero(), op.i64x2ExtendLowI32x4S(),
  op.i64Const(1023), op.i64x2Splat(), op.i64x2Add(), op.i32Const(52), op.i64x2Shl(),
  op.f64x2Mul(),
  // 0 where x < −104 (and x = −∞); NaN compares false and stays
  op.get(X), ...splat(FLUSH_BELOW), op.f64x2Lt(), op.v128AndNot(),
  op.set(E),
];

const softmaxRows: FunctionSpec = {
  name: 'softmax_rows',
  params: [I32, I32, I32, I32, I32],
  results: [],
  locals: [I32, I32, I32, I32, V128, V128, V128, V128, V128, V128],
  body: [
    op.get(COLS), op.i32Const(2), op.i32Shl(), op.set(ROW_BYTES),
    op.get(ROWS), op.i32Eqz(), op.if(), op.br(1), op.end(), // no rows: return (depth 1 = the function body)
    op.loop(),
    op.get(SRC), op.set(P),
    op.get(SRC), op.get(ROW_BYTES), op.i32Add(), op.set(END),
    // max (pmax: a NaN logit never becomes the max, like `if (z > max)`)
    ...splat(-Infinity), op.set(VMAX),
    ...walk([[...op.get(VMAX), ...loadPair().flat(), ...op.f64x2Pmax(), ...op.set(VMAX)]], 8),
    op.get(VMAX), op.f64x2ExtractLane(1),
    op.get(VMAX), op.f64x2ExtractLane(0),
    op.get(VMAX), op.f64x2ExtractLane(1), op.get(VMAX), op.f64x2ExtractLane(0), op.f64Gt(),
    op.select(), op.f64x2Splat(), op.set(VMAX), // both lanes = the row's max
    // exp(x − max) into scratch, and the sum in two lanes
    op.get(SRC), op.set(P),
    op.get(SCRATCH), op.set(S),
    ...splat(0), op.set(VSUM),
    ...walk(
      [
        [...loadPair().flat(), ...op.get(VMAX), ...op.f64x2Sub(), ...op.set(X)],
        ...expPair,
        [...op.get(S), ...op.get(E), ...op.v128Store()],
        [...op.get(VSUM), ...op.get(E), ...op.f64x2Add(), ...op.set(VSUM)],
      ],
      8,
      [[...op.get(S), ...op.i32Const(16), ...op.i32Add(), ...op.set(S)]],
    ),
    // p = e / Σ, rounded to fp32 once
    op.get(SCRATCH), op.set(S),
    op.get(DST), op.set(P),
    op.get(DST), op.get(ROW_BYTES), op.i32Add(), op.set(END),
    op.get(VSUM), op.f64x2ExtractLane(0), op.get(VSUM), op.f64x2ExtractLane(1), op.f64Add(), op.f64x2Splat(), op.set(VSUM),
    // A NaN Σ (a NaN or +∞ logit, or a row of −∞) makes the whole row NaN: written as one pattern.
    op.get(VSUM), op.f64x2ExtractLane(0), op.get(VSUM), op.f64x2ExtractLane(0), op.f64Ne(), op.if(),
    ...walk([[...op.get(P), ...op.i32x4Const(CANONICAL_NAN_BITS), ...op.v128Store64Lane(0)]], 8),
    op.else(),
    ...walk(
      [[...op.get(P), ...op.get(S), ...op.v128Load(), ...op.get(VSUM), ...op.f64x2Div(), ...op.f32x4DemoteF64x2Zero(), ...op.v128Store64Lane(0)]],
      8,
      [[...op.get(S), ...op.i32Const(16), ...op.i32Add(), ...op.set(S)]],
    ),
    op.end(),
    // next row
    op.get(SRC), op.get(ROW_BYTES), op.i32Add(), op.set(SRC),
    op.get(DST), op.get(ROW_BYTES), op.i32Add(), op.set(DST),
    op.get(ROWS), op.i32Const(1), op.i32Sub(), op.set(ROWS),
    op.get(ROWS), op.brIf(0),
    op.end(),
  ],
};

// group_argmax locals
const A_PROBS = 0;
const A_IDS = 1;
const A_VALS = 2;
const A_ROWS = 3;
const A_COLS = 4;
const A_G = 5;
const A_COL = 6; // first column of the current group
const A_I = 7; // column being compared
const A_END = 8; // one past the group's last column
const A_BEST = 9;
const A_ROWPTR = 10;
const A_BESTV = 11; // bits of the best value so far
const A_V = 12;
const A_COND = 13;

/**
 * The comparisons run on the probabilities' bit patterns as i32: for non-negative floats the order of
 * the bits is the order of the values, and an integer `select` is a conditional move where a float
 * one may be a branch. Probabilities are never negative; a NaN probability makes its whole row NaN
 * (the softmax sum is NaN), which the softmax kernels write as CANONICAL_NAN_BITS everywhere, so every
 * bit pattern is equal and the first column wins, as in JS (NaN first, lower index among NaNs).
 */
const groupArgmax: FunctionSpec = {
  name: 'group_argmax',
  params: [I32, I32, I32, I32, I32, I32],
  results: [],
  locals: [I32, I32, I32, I32, I32, I32, I32, I32],
  body: [
    op.get(A_ROWS), op.i32Eqz(), op.if(), op.br(1), op.end(),
    op.get(A_PROBS), op.set(A_ROWPTR),
    op.loop(), // rows
    op.i32Const(0), op.set(A_COL),
    op.loop(), // groups
    op.get(A_COL), op.set(A_BEST),
    op.get(A_ROWPTR), op.get(A_COL), op.i32Const(2), op.i32Shl(), op.i32Add(), op.i32Load(), op.set(A_BESTV),
    op.get(A_COL), op.get(A_G), op.i32Add(), op.set(A_END),
    op.get(A_COL), op.i32Const(1), op.i32Add(), op.set(A_I),
    op.block(),
    op.get(A_I), op.get(A_END), op.i32GeU(), op.brIf(0), // a group of one
    op.loop(),
    op.get(A_ROWPTR), op.get(A_I), op.i32Const(2), op.i32Shl(), op.i32Add(), op.i32Load(), op.set(A_V),
    op.get(A_V), op.get(A_BESTV), op.i32GtS(), op.set(A_COND),
    op.get(A_V), op.get(A_BESTV), op.get(A_COND), op.select(), op.set(A_BESTV),
    op.get(A_I), op.get(A_BEST), op.get(A_COND), op.select(), op.set(A_BEST),
    op.get(A_I), op.i32Const(1), op.i32Add(), op.tee(A_I), op.get(A_END), op.i32LtU(), op.brIf(0),
    op.end(),
    op.end(),
    op.get(A_IDS), op.get(A_BEST), op.i32Store(),
    op.get(A_VALS), op.get(A_BESTV), op.i32Store(),
    op.get(A_IDS), op.i32Const(4), op.i32Add(), op.set(A_IDS),
    op.get(A_VALS), op.i32Const(4), op.i32Add(), op.set(A_VALS),
    op.get(A_END), op.tee(A_COL), op.get(A_COLS), op.i32LtU(), op.brIf(0),
    op.end(),
    op.get(A_ROWPTR), op.get(A_COLS), op.i32Const(2), op.i32Shl(), op.i32Add(), op.set(A_ROWPTR),
    op.get(A_ROWS), op.i32Const(1), op.i32Sub(), op.tee(A_ROWS), op.brIf(0),
    op.end(),
  ],
};

/**
 * The module's bytes: the float64 softmax, the group argmax, the fp32 softmax of softmax-f32-kernel.ts,
 * the four-lane group argmax of group-argmax-kernel.ts, and one exported memory of `pages` × 64 KiB
 * to start with.
 */
export function softmaxModuleBytes(pages = 1): Uint8Array<ArrayBuffer> {
  return encodeModule([softmaxRows, groupArgmax, softmaxRowsF32, groupArgmaxX4], pages);
}
