import type { MatmulOptions } from '../backend';
import { i32, makeCase, offsetsOf, rngFor, uniform, type ConformanceCase } from './case-builder';

const TRANSPOSES: readonly MatmulOptions[] = [{}, { transB: true }, { transA: true }, { transA: true, transB: true }];

const label = (o: MatmulOptions) => (o.transA ? 'Aᵀ' : 'A') + '·' + (o.transB ? 'Bᵀ' : 'B');

/** Stored shapes of op(A) = [M, K] and op(B) = [K, N] under the transposes, with batch axes in front. */
function stored(m: number, k: number, n: number, o: MatmulOptions, aBatch: number[], bBatch: number[]) {
  return {
    a: [...aBatch, ...(o.transA ? [k, m] : [m, k])],
    b: [...bBatch, ...(o.transB ? [n, k] : [k, n])],
  };
}

/** [M, K, N]: 1-row, 1-column, K = 1, odd and prime sizes, a power of two, and zero-sized axes. */
const SIZES_2D: readonly [number, number, number][] = [
  [1, 1, 1], [1, 7, 5], [5, 7, 1], [3, 1, 4], [17, 33, 9], [31, 64, 47], [64, 64, 64], [128, 96, 80],
  [0, 4, 3], [4, 0, 3],
];

/** Batch layouts: [batch axes of A, batch axes of B]; an empty list is a 2-D operand broadcast over the batch. */
const BATCHES: readonly [number[], number[]][] = [[[3], [3]], [[4], []], [[], [2]], [[2, 3], [2, 3]], [[1], [1]]];
const SIZES_3D: readonly [number, number, number][] = [[1, 8, 5], [7, 5, 6], [16, 32, 24]];

/** Many small products: batch layouts with ≥ 16 products, and per-product sizes with N or K a multiple of 4 and not. */
const MANY_BATCHES: readonly [number[], number[]][] = [[[40], [40]], [[], [24]], [[24], []], [[2, 10], [2, 10]]];
const MANY_SIZES: readonly [number, number, number][] = [[1, 4, 12], [4, 1, 8], [1, 8, 4], [3, 8, 5], [2, 3, 8]];

export function matmulCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const add = (m: number, k: number, n: number, o: MatmulOptions, aBatch: number[], bBatch: number[]) => {
    const s = stored(m, k, n, o, aBatch, bBatch);
    const name = `matmul ${label(o)} a[${s.a.join('×')}] b[${s.b.join('×')}]`;
    const rng = rngFor(name);
    cases.push(makeCase('matmul', name, [uniform(rng, s.a), uniform(rng, s.b)], (be, [a, b]) => be.matmul(a!, b!, o)));
  };
  for (const o of TRANSPOSES) {
    for (const [m, k, n] of SIZES_2D) add(m, k, n, o, [], []);
    for (const [aBatch, bBatch] of BATCHES) for (const [m, k, n] of SIZES_3D) add(m, k, n, o, aBatch, bBatch);
  }
  // Many tiny products side by side, as the MoE combine and its backward make (and beyond one chunk
  // of the CPU backends' WebAssembly kernels for them): weights · expert rows, outer products, dot products.
  for (const o of TRANSPOSES) {
    for (const [aBatch, bBatch] of MANY_BATCHES) for (const [m, k, n] of MANY_SIZES) add(m, k, n, o, aBatch, bBatch);
  }
  for (const [m, k, n, o] of [[1, 4, 256, {}], [4, 1, 256, { transA: true }], [1, 256, 4, { transB: true }]] as const) add(m, k, n, o, [100], [100]);
  // matmulBias is optional; a backend without it is held to the same result through matmul + binary add.
  for (const o of TRANSPOSES) {
    for (const [m, k, n] of [[1, 8, 5], [17, 33, 9], [64, 64, 48]] as const) {
      const s = stored(m, k, n, o, [], []);
      const name = `matmulBias ${label(o)} a[${s.a.join('×')}] b[${s.b.join('×')}]`;
      const rng = rngFor(name);
      cases.push(
        makeCase('matmulBias', name, [uniform(rng, s.a), uniform(rng, s.b), uniform(rng, [n])], (be, [a, b, bias]) =>
          be.matmulBias ? be.matmulBias(a!, b!, bias!, o) : be.binary('add', be.matmul(a!, b!, o), bias!),
        ),
      );
    }
  }
  const rng = rngFor('matmul errors');
  cases.push(
    makeCase('matmul', 'matmul rejects mismatched inner dimensions', [uniform(rng, [2, 3]), uniform(rng, [4, 2])], (be, [a, b]) => be.matmul(a!, b!), { expectError: true }),
    makeCase('matmul', 'matmul rejects different batch axes', [uniform(rng, [2, 2, 3]), uniform(rng, [3, 3, 2])], (be, [a, b]) => be.matmul(a!, b!), { expectError: true }),
    makeCase('matmul', 'matmul rejects a 1-D operand', [uniform(rng, [3]), uniform(rng, [3, 2])], (be, [a, b]) => be.matmul(a!, b!), { expectError: true }),
    // An empty product has an answer without arithmetic, but an i32 operand is still the wrong input.
    makeCase('matmul', 'matmul rejects an i32 operand with an empty axis', [i32([0, 3], []), uniform(rng, [3, 2])], (be, [a, b]) => be.matmul(a!, b!), { expectError: true }),
    makeCase('matmul', 'matmul rejects an i32 operand with K = 0', [uniform(rng, [2, 0]), i32([0, 2], [])], (be, [a, b]) => be.matmul(a!, b!), { expectError: true }),
  );
  return cases;
}

/** Segment sizes per group: balanced, empty first/middle/last, everything in one group, one row, no rows. */
const SEGMENTS: readonly { k: number; n: number; sizes: number[] }[] = [
  { k: 8, n: 6, sizes: [3, 2, 4] },
  { k: 16, n: 9, sizes: [0, 5, 3, 7] },
  { k: 7, n: 5, sizes: [4, 0, 0, 6] },
  { k: 12, n: 10, sizes: [5, 3, 0] },
  { k: 32, n: 24, sizes: [0, 0, 19, 0, 0] },
  { k: 5, n: 3, sizes: [1] },
  { k: 4, n: 4, sizes: [0, 0] },
  { k: 64, n: 48, sizes: [13, 29, 1, 0, 40, 7, 22, 16] },
  { k: 1, n: 7, sizes: [2, 3] },
  { k: 9, n: 1, sizes: [3, 0, 2] },
];

export function groupedMatmulCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  for (const { k, n, sizes } of SEGMENTS) {
    const offsets = offsetsOf(sizes);
    const t = offsets[sizes.length]!;
    const g = sizes.length;
    for (const transB of [false, true]) {
      const name = `groupedMatmul${transB ? ' transB' : ''} K=${k} N=${n} segments [${sizes.join(', ')}]`;
      const rng = rngFor(name);
      const inputs = [uniform(rng, [t, k]), uniform(rng, transB ? [g, n, k] : [g, k, n])];
      cases.push(makeCase('groupedMatmul', name, inputs, (be, [x, w]) => be.groupedMatmul(x!, w!, offsets, { transB })));
    }
    const name = `groupedMatmulWeightGrad K=${k} N=${n} segments [${sizes.join(', ')}]`;
    const rng = rngFor(name);
    cases.push(
      makeCase('groupedMatmulWeightGrad', name, [uniform(rng, [t, k]), uniform(rng, [t, n])], (be, [x, dy]) =>
        be.groupedMatmulWeightGrad(x!, dy!, offsets),
      ),
    );
  }
  const rng = rngFor('grouped errors');
  const x = uniform(rng, [5, 4]);
  const w = uniform(rng, [2, 4, 3]);
  cases.push(
    makeCase('groupedMatmul', 'groupedMatmul rejects decreasing offsets', [x, w], (be, [a, b]) => be.groupedMatmul(a!, b!, new Int32Array([0, 4, 3])), { expectError: true }),
    makeCase('groupedMatmul', 'groupedMatmul rejects offsets that do not end at T', [x, w], (be, [a, b]) => be.groupedMatmul(a!, b!, new Int32Array([0, 2, 4])), { expectError: true }),
    makeCase('groupedMatmul', 'groupedMatmul rejects a group count that differs from w', [x, w], (be, [a, b]) => be.groupedMatmul(a!, b!, new Int32Array([0, 1, 2, 5])), { expectError: true }),
    makeCase('groupedMatmul', 'groupedMatmul rejects i32 rows when no expert gets any', [i32([0, 4], []), w], (be, [a, b]) => be.groupedMatmul(a!, b!, new Int32Array([0, 0, 0])), { expectError: true }),
    makeCase('groupedMatmulWeightGrad', 'groupedMatmulWeightGrad rejects i32 rows when no expert gets any', [i32([0, 4], []), uniform(rng, [0, 3])], (be, [a, dy]) =>
      be.groupedMatmulWeightGrad(a!, dy!, new Int32Array([0, 0, 0])), { expectError: true }),
  );
  return cases;
}
