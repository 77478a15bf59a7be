/**
 * Row-wise WebAssembly kernels (softmax, RMSNorm and their backwards) over `rows` contiguous rows of
 * `cols` f32. Rows need not start on a 16-byte boundary (WebAssembly loads have no alignment
 * requirement). The vector at a row's ragged end also covers the next row's first elements: its
 * reductions mask those lanes out (`laneMask`, `zeroPastRowEnd`), and its stores there are overwritten when the next
 * row is processed (or land in the buffer's padding after the last row). Sums are accumulated in
 * float64 lanes, as the reference kernels do, so long rows lose nothing to fp32 accumulation.
 */
import { op } from './encoder';
import { EXP_LOCALS, F32, F64, I32, V128, accumulateF64, bytesOf, defineKernel, expF32x4, initExpConstants, initIota, forRowVectors, forRowVectorsSplit, horizontalMaxF32, horizontalSumF64, laneMask, load, splatF32, zeroPastRowEnd, narrowPairs, store, widen, type Code } from './kernel-dsl';

/** Moves the row pointers `ptrs` on by `rowBytes`. */
const nextRow = (rowBytes: number, ...ptrs: number[]) => ptrs.flatMap((p) => [op.get(p), op.get(rowBytes), op.i32Add(), op.set(p)]);

/** `for (row = rows; row > 0; row--) body` (nothing when rows is 0). */
const forRows = (rows: number, body: number[][]) => [
  op.block(),
  op.get(rows), op.i32Eqz(), op.brIf(0),
  op.loop(),
  ...body,
  op.get(rows), op.i32Const(1), op.i32Sub(), op.tee(rows), op.brIf(0),
  op.end(),
  op.end(),
];

/**
 * softmax_rows(src, dst, rows, cols, sq, phase): softmax of each row with max subtraction. With sq = 0
 * every key is visible; otherwise the rows are the query rows of [Sq, Sk] blocks (Sk = cols), `phase`
 * is the first row's index inside its block, and row i sees keys j ≤ i + Sk − Sq; masked entries
 * (and rows that see nothing) are 0. exp within ~3 ulps, Σ in float64, p = e · fp32(1/Σ).
 */
export const softmaxRowsKernel = defineKernel(
  'softmax_rows',
  { src: I32, dst: I32, rows: I32, cols: I32, sq: I32, phase: I32 },
  { iota: V128, rowBytes: I32, vis: I32, o: I32, rem: I32, vmax: V128, x: V128, e: V128, sum: V128, inv: V128, k: V128, r: V128, ninf: V128, zero: V128, ...EXP_LOCALS },
  (v) => [
    ...bytesOf(v.cols), op.set(v.rowBytes),
    ...initIota(v.iota),
    ...initExpConstants(v),
    op.f32x4Const(-Infinity), op.set(v.ninf),
    op.f32x4Const(0), op.set(v.zero),
    ...forRows(v.rows, [
      // visible keys of this row
      op.get(v.cols), op.set(v.vis),
      op.get(v.sq), op.if(),
      op.get(v.phase), op.get(v.cols), op.i32Add(), op.get(v.sq), op.i32Sub(), op.i32Const(1), op.i32Add(), op.set(v.vis),
      op.get(v.vis), op.get(v.cols), op.i32GtS(), op.if(), op.get(v.cols), op.set(v.vis), op.end(),
      op.get(v.phase), op.i32Const(1), op.i32Add(), op.tee(v.phase), op.get(v.sq), op.i32GeU(), op.if(), op.i32Const(0), op.set(v.phase), op.end(),
      op.end(),
      // max over the visible keys (lanes past them read as −∞)
      op.get(v.ninf), op.set(v.vmax),
      ...forRowVectorsSplit(v.o, v.rem, v.vis, (ragged) => [
        ...load(v.src, v.o), ...(ragged ? [op.get(v.ninf), ...laneMask(v.iota, v.rem), op.v128Bitselect()] : []), op.get(v.vmax), op.f32x4Pmax(), op.set(v.vmax),
      ]),
      ...horizontalMaxF32(v.vmax),
      // e = exp(x − max) (0 in masked lanes) into dst, Σ e in float64
      op.f64x2Const(0), op.set(v.sum),
      ...forRowVectorsSplit(v.o, v.rem, v.vis, (ragged) => [
        ...load(v.src, v.o), op.get(v.vmax), op.f32x4Sub(), op.set(v.x),
        // exp clamps below −87 (exp there < 1.7e-38): such lanes, −∞ (a mask) among them, give exactly 0.
        // The test is x < −87, not x ≥ −87: a NaN lane fails both, and it must stay NaN so that Σ,
        // and with it the whole row, is NaN as in the reference (pmax above may have dropped it).
        ...expF32x4(v, v.x, v.k, v.r, { nonPositive: true }), op.get(v.x), op.get(v.eMin), op.f32x4Lt(), op.v128AndNot(),
        ...zeroPastRowEnd(ragged, v.iota, v.rem), op.set(v.e),
        ...store(v.dst, v.o, [op.get(v.e)]),
        ...accumulateF64(v.sum, v.e),
      ]),
      // p = e / Σ; the lanes past the visible keys are zeroed again, since 0 · (1/Σ) is NaN when Σ is
      // NaN or 0 (a row of NaN, +∞ or only −∞), and a masked entry is 0 whatever the row holds.
      op.f64Const(1), ...horizontalSumF64(v.sum), op.f64Div(), op.f32DemoteF64(), op.f32x4Splat(), op.set(v.inv),
      ...forRowVectorsSplit(v.o, v.rem, v.vis, (ragged) => [
        ...store(v.dst, v.o, [...load(v.dst, v.o), op.get(v.inv), op.f32x4Mul(), ...zeroPastRowEnd(ragged, v.iota, v.rem)]),
      ]),
      // zeros after the visible keys (o is where the loops above stopped)
      op.block(),
      op.get(v.o), op.get(v.rowBytes), op.i32GeU(), op.brIf(0),
      op.loop(),
      ...store(v.dst, v.o, [op.get(v.zero)]),
      op.get(v.o), op.i32Const(16), op.i32Add(), op.tee(v.o), op.get(v.rowBytes), op.i32LtU(), op.brIf(0),
      op.end(),
      op.end(),
      ...nextRow(v.rowBytes, v.src, v.dst),
    ]),
  ],
);

/** softmax_backward_rows(y, dy, dx, rows, cols): dx = y · (dy − Σ dy·y) per row. */
export const softmaxBackwardRowsKernel = defineKernel(
  'softmax_backward_rows',
  { y: I32, dy: I32, dx: I32, rows: I32, cols: I32 },
  { iota: V128, rowBytes: I32, o: I32, rem: I32, t: V128, acc: V128, dot: V128 },
  (v) => [
    ...bytesOf(v.cols), op.set(v.rowBytes),
    ...initIota(v.iota),
    ...forRows(v.rows, [
      op.f64x2Const(0), op.set(v.acc),
      ...forRowVectorsSplit(v.o, v.rem, v.cols, (ragged) => [
        ...load(v.y, v.o), ...load(v.dy, v.o), op.f32x4Mul(), ...zeroPastRowEnd(ragged, v.iota, v.rem), op.set(v.t),
        ...accumulateF64(v.acc, v.t),
      ]),
      ...horizontalSumF64(v.acc), op.f32DemoteF64(), op.f32x4Splat(), op.set(v.dot),
      ...forRowVectors(v.o, v.rem, v.cols, [
        ...store(v.dx, v.o, [...load(v.y, v.o), ...load(v.dy, v.o), op.get(v.dot), op.f32x4Sub(), op.f32x4Mul()]),
      ]),
      ...nextRow(v.rowBytes, v.y, v.dy, v.dx),
    ]),
  ],
);

/**
 * rms_norm_rows(x, w, y, inv, rows, cols, eps): inv[r] = 1/sqrt(mean(x²) + eps) (squares and mean in float64),
 * y = w · (x · inv). `w` holds `cols` weights (padded like every buffer).
 */
export const rmsNormRowsKernel = defineKernel(
  'rms_norm_rows',
  { x: I32, w: I32, y: I32, inv: I32, rows: I32, cols: I32, eps: F64 },
  { iota: V128, rowBytes: I32, o: I32, rem: I32, s: F32, t: V128, acc: V128, vinv: V128 },
  (v) => [
    ...bytesOf(v.cols), op.set(v.rowBytes),
    ...initIota(v.iota),
    ...forRows(v.rows, [
      op.f64x2Const(0), op.set(v.acc),
      ...forRowVectorsSplit(v.o, v.rem, v.cols, (ragged) => [
        ...load(v.x, v.o), ...zeroPastRowEnd(ragged, v.iota, v.rem), op.set(v.t),
        // squared in float64, as the reference does: an fp32 square would move inv by an ulp now and
        // then, which the backward of a near-degenerate row amplifies
        op.get(v.acc), ...widen(v.t, 0), ...widen(v.t, 0), op.f64x2Mul(), op.f64x2Add(), ...widen(v.t, 1), ...widen(v.t, 1), op.f64x2Mul(), op.f64x2Add(), op.set(v.acc),
      ]),
      op.f64Const(1), ...horizontalSumF64(v.acc), op.get(v.cols), op.f64ConvertI32S(), op.f64Div(), op.get(v.eps), op.f64Add(), op.f64Sqrt(), op.f64Div(),
      op.f32DemoteF64(), op.set(v.s),
      op.get(v.inv), op.get(v.s), op.f32Store(),
      op.get(v.inv), op.i32Const(4), op.i32Add(), op.set(v.inv),
      ...splatF32(v.s, v.vinv),
      ...forRowVectors(v.o, v.rem, v.cols, [...store(v.y, v.o, [...load(v.w, v.o), ...load(v.x, v.o), op.get(v.vinv), op.f32x4Mul(), op.f32x4Mul()])]),
      ...nextRow(v.rowBytes, v.x, v.y),
    ]),
  ],
);

/**
 * rms_norm_backward_rows(x, w, r, dy, dx, dw, rows, cols): with x̂ = x·r (r = the stored inverse RMS
 * of the row) and g = dy·w, dx = r · (g − x̂ · mean(g·x̂)) and dw[j] += dy·x̂ into float64
 * accumulators (`dw` holds cols f64, padded to a multiple of 4; the caller zeroes it once and calls
 * this chunk by chunk). mean(g·x̂) and dx are computed in float64 lanes, like the reference kernel,
 * and dx is rounded once: dx is a difference of two nearly equal terms whenever g lies almost along x̂
 * (always, for a one-element row), and fp32 rounding of those terms would be amplified by it.
 */
export const rmsNormBackwardRowsKernel = defineKernel(
  'rms_norm_backward_rows',
  { x: I32, w: I32, r: I32, dy: I32, dx: I32, dw: I32, rows: I32, cols: I32 },
  { iota: V128, rowBytes: I32, o: I32, rem: I32, a: I32, xv: V128, d: V128, wv: V128, t: V128, acc: V128, vinv: V128, inv64: V128, mean: V128 },
  (v) => {
    /** (dy·w)·(x·r) in float64 for lanes 0–1 or 2–3, from the locals d, wv, xv. */
    const gxh = (half: 0 | 1): Code => [...widen(v.d, half), ...widen(v.wv, half), op.f64x2Mul(), ...widen(v.xv, half), op.get(v.inv64), op.f64x2Mul(), op.f64x2Mul()];
    /** r · (dy·w − (x·r)·mean) in float64 for lanes 0–1 or 2–3. */
    const dxHalf = (half: 0 | 1): Code => [
      op.get(v.inv64),
      ...widen(v.d, half), ...widen(v.wv, half), op.f64x2Mul(),
      ...widen(v.xv, half), op.get(v.inv64), op.f64x2Mul(), op.get(v.mean), op.f64x2Mul(),
      op.f64x2Sub(), op.f64x2Mul(),
    ];
    return [
      ...bytesOf(v.cols), op.set(v.rowBytes),
      ...initIota(v.iota),
      ...forRows(v.rows, [
        op.get(v.r), op.f32Load(), op.f32x4Splat(), op.set(v.vinv),
        op.get(v.r), op.f32Load(), op.f64PromoteF32(), op.f64x2Splat(), op.set(v.inv64),
        op.get(v.r), op.i32Const(4), op.i32Add(), op.set(v.r),
        op.f64x2Const(0), op.set(v.acc),
        ...forRowVectorsSplit(v.o, v.rem, v.cols, (ragged) => [
          ...load(v.x, v.o), op.set(v.xv),
          // dy with the lanes past the row's end zeroed: they add nothing to the sum below
          ...load(v.dy, v.o), ...zeroPastRowEnd(ragged, v.iota, v.rem), op.set(v.d),
          ...load(v.w, v.o), op.set(v.wv),
          op.get(v.d), op.get(v.xv), op.get(v.vinv), op.f32x4Mul(), op.f32x4Mul(), op.set(v.t),
          // dw[j..j+3] += dy·x̂, widened (element j's f64 sits at dw + 2·(4j))
          op.get(v.dw), op.get(v.o), op.i32Const(1), op.i32Shl(), op.i32Add(), op.set(v.a),
          op.get(v.a), op.get(v.a), op.v128Load(), ...widen(v.t, 0), op.f64x2Add(), op.v128Store(),
          op.get(v.a), op.get(v.a), op.v128Load(16), ...widen(v.t, 1), op.f64x2Add(), op.v128Store(16),
          // Σ g·x̂ over the row's own lanes, in float64
          op.get(v.acc), ...gxh(0), op.f64x2Add(), ...gxh(1), op.f64x2Add(), op.set(v.acc),
        ]),
        ...horizontalSumF64(v.acc), op.get(v.cols), op.f64ConvertI32S(), op.f64Div(), op.f64x2Splat(), op.set(v.mean),
        ...forRowVectors(v.o, v.rem, v.cols, [
          ...load(v.x, v.o), op.set(v.xv),
          ...load(v.dy, v.o), op.set(v.d),
          ...load(v.w, v.o), op.set(v.wv),
          ...store(v.dx, v.o, narrowPairs(dxHalf(0), dxHalf(1))),
        ]),
        ...nextRow(v.rowBytes, v.x, v.dy, v.dx),
      ]),
    ];
  },
);
