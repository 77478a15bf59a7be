/**
 * y = W·x for a matrix W of bf16 values (rows of k, k a multiple of 8) and an f32 vector x, in f32
 * arithmetic: what a batch-1 decode step does with every weight matrix it touches. W is read as raw
 * bf16 bits, half the bytes of its f32 form; a bf16 value widens to f32 exactly by moving its 16 bits
 * to the top of a 32-bit lane, so the products are those of the f32 weights.
 *
 * Eight bf16 weights (one v128) make two f32x4 vectors without a shuffle: shifting each 32-bit lane
 * left by 16 gives the even-indexed weights, masking off its low half the odd-indexed ones. x comes
 * split the same way (`xe` = x[0], x[2], …; `xo` = x[1], x[3], …), so each half multiplies its own
 * slice of x. Four rows run at once so that every load of x serves four rows.
 *
 * Touch-ahead: WebAssembly has no prefetch instruction, and without one this loop read memory at about
 * half the bandwidth OpenBLAS's sgemv reached on the same host (≈ 12 against 24 GB/s, moge-small's
 * weights streamed cold). Each step of the inner loop therefore loads one i32 PREFETCH_ROWS rows
 * ahead — one cache line per step, which covers the four rows of a block in the steps the block
 * takes — and the hardware has the line by the time the loop gets there (≈ 20 GB/s). The caller
 * keeps PREFETCH_ROWS + 4 rows of readable memory past the end of every matrix (bf16-weight-store.ts).
 */
import { op } from './encoder';
import { defineKernel, I32, V128, type Code } from './kernel-dsl';

/** How far ahead the touch-ahead load reads, in rows (16 × 512 B = 8 KiB at moge-small's k = 256). */
export const PREFETCH_ROWS = 16;

/** The high 16 bits of every 32-bit lane: the odd-indexed bf16 of each pair, in place as f32. */
const HIGH_HALVES = [0, 0, 0xff, 0xff, 0, 0, 0xff, 0xff, 0, 0, 0xff, 0xff, 0, 0, 0xff, 0xff];

export const bf16GemvKernel = defineKernel(
  'gemv_bf16',
  { w: I32, xe: I32, xo: I32, y: I32, rows: I32, k: I32 },
  { rowBytes: I32, ahead: I32, o: I32, touched: I32, w1: I32, w2: I32, w3: I32, a0: V128, a1: V128, a2: V128, a3: V128, ve: V128, vo: V128, mask: V128, t: V128 },
  (v) => {
    /** acc += even(W[row, o..]) · xe + odd(W[row, o..]) · xo, for the row at byte address `row`. */
    const accumulate = (row: number, acc: number): Code => [
      op.get(row), op.get(v.o), op.i32Add(), op.v128Load(), op.set(v.t),
      op.get(acc),
      op.get(v.t), op.i32Const(16), op.i32x4Shl(), op.get(v.ve), op.f32x4Mul(), op.f32x4Add(),
      op.get(v.t), op.get(v.mask), op.v128And(), op.get(v.vo), op.f32x4Mul(), op.f32x4Add(),
      op.set(acc),
    ];
    const loadX = (): Code => [
      op.get(v.xe), op.get(v.o), op.i32Add(), op.v128Load(), op.set(v.ve),
      op.get(v.xo), op.get(v.o), op.i32Add(), op.v128Load(), op.set(v.vo),
    ];
    // One cache line PREFETCH_ROWS rows ahead of the block: step s (o = 16·s) touches byte 64·s.
    const touchAhead = (): Code => [
      op.get(v.w), op.get(v.ahead), op.i32Add(), op.get(v.o), op.i32Const(2), op.i32Shl(), op.i32Add(), op.i32Load(),
      op.get(v.touched), op.i32Add(), op.set(v.touched),
    ];
    const sumLanes = (acc: number): Code => [
      op.get(acc), op.f32x4ExtractLane(0), op.get(acc), op.f32x4ExtractLane(1), op.f32Add(),
      op.get(acc), op.f32x4ExtractLane(2), op.get(acc), op.f32x4ExtractLane(3), op.f32Add(),
      op.f32Add(),
    ];
    const zero = (acc: number): Code => [op.f32x4Const(0), op.set(acc)];
    /** y[i] = the lane sum of accs[i], then y, w and rows move past those rows. */
    const storeRows = (accs: number[]): Code => [
      ...accs.flatMap((acc, i) => [op.get(v.y), ...sumLanes(acc), op.f32Store(4 * i)]),
      op.get(v.y), op.i32Const(4 * accs.length), op.i32Add(), op.set(v.y),
      op.get(v.w), op.get(v.rowBytes), op.i32Const(accs.length), op.i32Mul(), op.i32Add(), op.set(v.w),
      op.get(v.rows), op.i32Const(accs.length), op.i32Sub(), op.set(v.rows),
    ];
    const rowLoop = (body: Code): Code => [
      op.i32Const(0), op.set(v.o),
      op.loop(),
      ...body,
      op.get(v.o), op.i32Const(16), op.i32Add(), op.tee(v.o), op.get(v.rowBytes), op.i32LtU(), op.brIf(0),
      op.end(),
    ];
    return [
      op.v128Const(HIGH_HALVES), op.set(v.mask),
      op.get(v.k), op.i32Const(1), op.i32Shl(), op.set(v.rowBytes),
      op.get(v.rowBytes), op.i32Const(PREFETCH_ROWS), op.i32Mul(), op.set(v.ahead),
      // Blocks of four rows.
      op.block(),
      op.loop(),
      op.get(v.rows), op.i32Const(4), op.i32LtS(), op.brIf(1),
      op.get(v.w), op.get(v.rowBytes), op.i32Add(), op.set(v.w1),
      op.get(v.w1), op.get(v.rowBytes), op.i32Add(), op.set(v.w2),
      op.get(v.w2), op.get(v.rowBytes), op.i32Add(), op.set(v.w3),
      ...zero(v.a0), ...zero(v.a1), ...zero(v.a2), ...zero(v.a3),
      ...rowLoop([...touchAhead(), ...loadX(), ...accumulate(v.w, v.a0), ...accumulate(v.w1, v.a1), ...accumulate(v.w2, v.a2), ...accumulate(v.w3, v.a3)]),
      ...storeRows([v.a0, v.a1, v.a2, v.a3]),
      op.br(0),
      op.end(),
      op.end(),
      // The last 0–3 rows one at a time (no touch-ahead: nothing of this matrix is left to fetch).
      op.block(),
      op.loop(),
      op.get(v.rows), op.i32Eqz(), op.brIf(1),
      ...zero(v.a0),
      ...rowLoop([...loadX(), ...accumulate(v.w, v.a0)]),
      ...storeRows([v.a0]),
      op.br(0),
      op.end(),
      op.end(),
    ];
  },
);
