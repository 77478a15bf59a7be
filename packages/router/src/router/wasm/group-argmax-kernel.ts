import { wasmEncoder } from '@moge/ascend-hal';

const { F32, I32, op, V128 } = wasmEncoder;
type FunctionSpec = wasmEncoder.FunctionSpec;

/**
 * `group_argmax_x4(probs, ids, values, rows, cols, groupSize)`: group_argmax of softmax-kernel.ts
 * (best position in every contiguous group of every row, ties → lower index, into ids and values)
 * for group sizes that are multiples of 4, four columns at a time: a lane-wise running best over the
 * group's vectors (strict '>', so a later vector, holding higher indices, never wins a tie), then a
 * reduction across the four lanes that breaks equal values by the lower index. As in group_argmax,
 * values are compared as i32 bit patterns (ordered like the non-negative floats; a NaN row, which the
 * softmax kernels write as one pattern, CANONICAL_NAN_BITS, makes every pattern equal, and the first
 * column wins: NaN above every number, the lower index among NaNs, as in groupTopK).
 * It also writes the MoGE gate of each choice, so that no JS loop walks the [T, M] outputs again:
 * scaleOut = routerScale[id] and weightsOut = value · routerScale[id] (routerScale: E f32).
 */

// params
const PROBS = 0;
const IDS = 1;
const VALS = 2;
const ROWS = 3;
const COLS = 4;
const G = 5;
const RSCALE = 6;
const SCALE_OUT = 7;
const WEIGHTS_OUT = 8;
// locals
const COL = 9; // first column of the current group
const END = 10; // one past the group's last column, in bytes from the row start
const AT = 11; // byte offset of the vector being compared
const ROWPTR = 12;
const SC = 13; // f32: routerScale[best]
const V = 14; // best values per lane
const I = 15; // their column indices
const VN = 16; // the next vector
const IN = 17; // its indices
const TAKE = 18;
const VS = 19; // shuffled V
const IS = 20; // shuffled I

const swapHalves = [8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7];
const swapPairs = [4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11];
const iota = [0, 1, 2, 3].flatMap((n) => Array.from(new Uint8Array(new Int32Array([n]).buffer)));

/** V, I = the better of (V, I) and its lanes permuted by `lanes`: larger value, then lower index. */
const reduceStep = (lanes: number[]): number[][] => [
  op.get(V), op.get(V), op.i8x16Shuffle(lanes), op.set(VS),
  op.get(I), op.get(I), op.i8x16Shuffle(lanes), op.set(IS),
  op.get(VS), op.get(V), op.i32x4GtS(),
  op.get(VS), op.get(V), op.i32x4Eq(), op.get(IS), op.get(I), op.i32x4LtS(), op.v128And(),
  op.v128Or(), op.set(TAKE),
  op.get(VS), op.get(V), op.get(TAKE), op.v128Bitselect(), op.set(V),
  op.get(IS), op.get(I), op.get(TAKE), op.v128Bitselect(), op.set(I),
];

export const groupArgmaxX4: FunctionSpec = {
  name: 'group_argmax_x4',
  params: [I32, I32, I32, I32, I32, I32, I32, I32, I32],
  results: [],
  locals: [I32, I32, I32, I32, F32, V128, V128, V128, V128, V128, V128, V128],
  body: [
    op.get(ROWS), op.i32Eqz(), op.if(), op.br(1), op.end(),
    op.get(PROBS), op.set(ROWPTR),
    op.loop(), // rows
    op.i32Const(0), op.set(COL),
    op.loop(), // groups
    // first vector of the group: V = its values, I = col + (0, 1, 2, 3)
    op.get(COL), op.i32Const(2), op.i32Shl(), op.set(AT),
    op.get(ROWPTR), op.get(AT), op.i32Add(), op.v128Load(), op.set(V),
    op.get(COL), op.i32x4Splat(), op.v128Const(iota), op.i32x4Add(), op.set(I),
    op.get(COL), op.get(G), op.i32Add(), op.i32Const(2), op.i32Shl(), op.set(END),
    op.get(I), op.set(IN),
    op.block(),
    op.get(AT), op.i32Const(16), op.i32Add(), op.tee(AT), op.get(END), op.i32GeU(), op.brIf(0), // a group of 4
    op.loop(),
    op.get(ROWPTR), op.get(AT), op.i32Add(), op.v128Load(), op.set(VN),
    op.get(IN), op.i32x4Const(4), op.i32x4Add(), op.set(IN),
    op.get(VN), op.get(V), op.i32x4GtS(), op.set(TAKE),
    op.get(VN), op.get(V), op.get(TAKE), op.v128Bitselect(), op.set(V),
    op.get(IN), op.get(I), op.get(TAKE), op.v128Bitselect(), op.set(I),
    op.get(AT), op.i32Const(16), op.i32Add(), op.tee(AT), op.get(END), op.i32LtU(), op.brIf(0),
    op.end(),
    op.end(),
    ...reduceStep(swapHalves),
    ...reduceStep(swapPairs),
    op.get(IDS), op.get(I), op.i32x4ExtractLane(0), op.i32Store(),
    op.get(VALS), op.get(V), op.i32x4ExtractLane(0), op.i32Store(),
    op.get(RSCALE), op.get(I), op.i32x4ExtractLane(0), op.i32Const(2), op.i32Shl(), op.i32Add(), op.f32Load(), op.set(SC),
    op.get(SCALE_OUT), op.get(SC), op.f32Store(),
    op.get(WEIGHTS_OUT), op.get(V), op.f32x4ExtractLane(0), op.get(SC), op.f32Mul(), op.f32Store(),
    op.get(IDS), op.i32Const(4), op.i32Add(), op.set(IDS),
    op.get(VALS), op.i32Const(4), op.i32Add(), op.set(VALS),
    op.get(SCALE_OUT), op.i32Const(4), op.i32Add(), op.set(SCALE_OUT),
    op.get(WEIGHTS_OUT), op.i32Const(4), op.i32Add(), op.set(WEIGHTS_OUT),
    op.get(COL), op.get(G), op.i32Add(), op.tee(COL), op.get(COLS), op.i32LtU(), op.brIf(0),
    op.end(),
    op.get(ROWPTR), op.get(COLS), op.i32Const(2), op.i32Shl(), op.i32Add(), op.set(ROWPTR),
    op.get(ROWS), op.i32Const(1), op.i32Sub(), op.tee(ROWS), op.brIf(0),
    op.end(),
  ],
};
