import { fromValues, makeCase, rngFor, uniform, type ConformanceCase, type HostTensor } from './case-builder';

/**
 * Values that careless kernels get wrong: signed zeros, the smallest subnormal, the fp32 extremes
 * (whose squares and exponentials overflow), ±∞ and NaN. A backend must give what the reference
 * gives — NaN where it propagates NaN, 0 where a masked or vanishing term is 0 — whatever size
 * path (JS, WebAssembly, native) the tensor takes.
 */
const SPECIALS: readonly number[] = [0, -0, 1e-45, 3e38, -3e38, Infinity, -Infinity, Number.NaN];

/**
 * Row lengths: odd and short (a ragged SIMD vector), and longer than the 16 384 elements a CPU
 * backend's WebAssembly kernels take per chunk (at [2, 16 390], SwiGLU goes native there).
 */
const ROW_LENGTHS: readonly number[] = [5, 17, 16390];

const show = (v: number) => (Object.is(v, -0) ? '-0' : String(v));

/** `base` with `value` written at the flat positions `at`. */
function withValue(base: HostTensor, at: readonly number[], value: number): HostTensor {
  const data = Float32Array.from(base.data);
  for (const i of at) data[i] = value;
  return { shape: base.shape, data };
}

/** Row-wise kernels on [2, cols] with one special value in row 0 (first, middle or last key); row 1 stays ordinary. */
function rowCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  for (const cols of ROW_LENGTHS) {
    const shape = [2, cols];
    const base = uniform(rngFor(`special rows ${cols}`), shape, -3, 3);
    const other = uniform(rngFor(`special rows ${cols} second operand`), shape, -3, 3);
    const weight = uniform(rngFor(`special rows ${cols} weight`), [cols], 0.5, 1.5);
    const probs = fromValues(shape, new Float32Array(2 * cols).fill(1 / cols));
    for (const v of SPECIALS) {
      for (const pos of [0, cols >> 1, cols - 1]) {
        const x = withValue(base, [pos], v);
        const tag = `[2×${cols}] with ${show(v)} at ${pos}`;
        cases.push(
          makeCase('softmax', `softmax ${tag}`, [x], (be, [a]) => be.softmax(a!)),
          makeCase('logSoftmax', `logSoftmax ${tag}`, [x], (be, [a]) => be.logSoftmax(a!)),
          makeCase('softmaxBackward', `softmaxBackward dy ${tag}`, [probs, x], (be, [y, dy]) => be.softmaxBackward(y!, dy!)),
          makeCase('rmsNorm', `rmsNorm ${tag}`, [x, weight], (be, [a, w]) => {
            const r = be.rmsNorm(a!, w!, 1e-6);
            return [r.y, r.invRms];
          }),
          makeCase('swiglu', `swiglu gate ${tag}`, [x, other], (be, [g, u]) => be.swiglu(g!, u!)),
          makeCase('swigluBackward', `swigluBackward gate ${tag}`, [x, other, other], (be, [g, u, dy]) => be.swigluBackward(g!, u!, dy!)),
        );
      }
    }
  }
  return cases;
}

/**
 * Rows whose keys are all the same value: all-equal logits (uniform probabilities), a row of −∞ (NaN,
 * as 0/0), and rows at the fp32 extremes, whose squares overflow fp32 in RMSNorm.
 */
function uniformRowCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  for (const cols of [7, 64]) {
    for (const v of [0, 5, 3e38, -3e38, -Infinity, 1e-45]) {
      const x = fromValues([3, cols], new Float32Array(3 * cols).fill(v));
      const w = fromValues([cols], new Float32Array(cols).fill(1));
      const tag = `[3×${cols}] all ${show(v)}`;
      cases.push(
        makeCase('softmax', `softmax ${tag}`, [x], (be, [a]) => be.softmax(a!)),
        makeCase('logSoftmax', `logSoftmax ${tag}`, [x], (be, [a]) => be.logSoftmax(a!)),
        makeCase('rmsNorm', `rmsNorm ${tag}`, [x, w], (be, [a, b]) => {
          const r = be.rmsNorm(a!, b!, 1e-6);
          return [r.y, r.invRms];
        }),
      );
    }
  }
  return cases;
}

/**
 * Causal softmax over [1, 3, Sk] with a special value in a key that row 0 does not see (it must not
 * reach that row) or in one every row sees (NaN or ∞ there makes the rows NaN, but the masked
 * entries stay exactly 0).
 */
function causalCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  for (const sk of [5, 17]) {
    const base = uniform(rngFor(`special causal ${sk}`), [1, 3, sk], -3, 3);
    for (const v of [Infinity, -Infinity, Number.NaN, 3e38]) {
      const masked = withValue(base, [sk - 1], v);
      const visible = withValue(base, [0, sk, 2 * sk], v);
      cases.push(
        makeCase('softmax', `softmax causal [1×3×${sk}] with ${show(v)} in a masked key`, [masked], (be, [a]) => be.softmax(a!, { causal: true })),
        makeCase('softmax', `softmax causal [1×3×${sk}] with ${show(v)} in key 0`, [visible], (be, [a]) => be.softmax(a!, { causal: true })),
      );
    }
  }
  return cases;
}

/**
 * Products where a zero meets NaN or ∞: 0 · NaN and 0 · ∞ are NaN (IEEE, sgemm, PyTorch), so a kernel
 * that skips zero terms would hide a diverged weight. Sizes reach past the backends' small-product
 * thresholds; an empty expert's weights hold the special value too, and must not leak into any row.
 */
function matmulCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  for (const [m, k, n] of [[3, 5, 7], [16, 64, 48]] as const) {
    for (const v of [Number.NaN, Infinity, -Infinity]) {
      const rng = rngFor(`special matmul ${m}×${k}×${n} ${v}`);
      // Column 0 of A is zero; row 0 of B (what column 0 of A multiplies) holds v in its first entry.
      const a = uniform(rng, [m, k]);
      for (let i = 0; i < m; i++) (a.data as Float32Array)[i * k] = 0;
      const b = withValue(uniform(rng, [k, n]), [0], v);
      const bT = withValue(uniform(rng, [n, k]), [0], v);
      const tag = `${m}×${k}×${n}, 0 · ${show(v)}`;
      cases.push(
        makeCase('matmul', `matmul ${tag}`, [a, b], (be, [x, y]) => be.matmul(x!, y!)),
        makeCase('matmul', `matmul Bᵀ ${tag}`, [a, bT], (be, [x, y]) => be.matmul(x!, y!, { transB: true })),
        makeCase('constant', `matmul constant Bᵀ ${tag}`, [a, bT], (be, [x, y]) => be.matmul(x!, be.constant(y!), { transB: true })),
      );
      const w = fromValues([3, k, n], [...b.data, ...b.data, ...b.data]);
      const offsets = Int32Array.from([0, 0, m, m]);
      cases.push(
        makeCase('groupedMatmul', `groupedMatmul ${tag}, experts 0 and 2 empty`, [a, w], (be, [x, y]) => be.groupedMatmul(x!, y!, offsets)),
        makeCase('groupedMatmulWeightGrad', `groupedMatmulWeightGrad ${tag} in x, experts 0 and 2 empty`, [withValue(a, [1], v), uniform(rng, [m, n])], (be, [x, dy]) =>
          be.groupedMatmulWeightGrad(x!, dy!, offsets),
        ),
      );
    }
  }
  return cases;
}

/**
 * A softmax big enough for a native full-row kernel (the onnxruntime backend sends ≥ 65 536 elements
 * to MLAS): NaN in one row, +∞ in another, a row of −∞.
 */
function largeSoftmaxCases(): ConformanceCase[] {
  const cols = 33000;
  const x = uniform(rngFor('special large softmax'), [3, cols], -3, 3);
  const data = x.data as Float32Array;
  data[cols >> 1] = Number.NaN;
  data[2 * cols - 1] = Infinity;
  data.fill(-Infinity, 2 * cols, 3 * cols);
  return [
    makeCase('softmax', `softmax [3×${cols}] with NaN, +∞ and a row of −∞`, [x], (be, [a]) => be.softmax(a!)),
    makeCase('logSoftmax', `logSoftmax [3×${cols}] with NaN, +∞ and a row of −∞`, [x], (be, [a]) => be.logSoftmax(a!)),
  ];
}

/** Reductions over axes holding NaN and ±∞ (NaN wins a max; ∞ − ∞ is NaN in a sum). */
function reductionCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  // Row 0 holds a NaN, row 1 +∞ twice, row 2 −∞ twice, row 3 +∞ and −∞ (its sum is NaN).
  const x = withValue(withValue(withValue(uniform(rngFor('special reductions'), [4, 9]), [4], Number.NaN), [10, 12, 28], Infinity), [19, 20, 29], -Infinity);
  for (const axis of [0, 1]) {
    cases.push(
      makeCase('sum', `sum of NaN and ±∞ axis ${axis}`, [x], (be, [a]) => be.sum(a!, axis)),
      makeCase('max', `max of NaN and ±∞ axis ${axis}`, [x], (be, [a]) => be.max(a!, axis)),
    );
  }
  cases.push(makeCase('sumAll', 'sumAll of NaN and ±∞', [x], (be, [a]) => be.sumAll(a!)));
  return cases;
}

export function specialValueCases(): ConformanceCase[] {
  return [...rowCases(), ...uniformRowCases(), ...causalCases(), ...largeSoftmaxCases(), ...matmulCases(), ...reductionCases()];
}
