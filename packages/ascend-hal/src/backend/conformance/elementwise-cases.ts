import type { BinaryOp, UnaryOp } from '../backend';
import { fromValues, i32, makeCase, rngFor, uniform, type ConformanceCase } from './case-builder';

/** Input range per unary op: inside its domain, wide enough to reach both tails of silu/sigmoid. */
const UNARY_DOMAIN: Readonly<Record<UnaryOp, [number, number]>> = {
  silu: [-12, 12], exp: [-20, 20], neg: [-5, 5], sqrt: [0, 50], rsqrt: [0.01, 50],
  square: [-30, 30], sigmoid: [-20, 20], log: [1e-3, 100], abs: [-5, 5], relu: [-5, 5],
};

const SHAPES: readonly number[][] = [[1], [7], [3, 5], [2, 3, 17], [0, 4]];

export function unaryCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  for (const op of Object.keys(UNARY_DOMAIN) as UnaryOp[]) {
    for (const shape of SHAPES) {
      const name = `unary ${op} [${shape.join('×')}]`;
      const [lo, hi] = UNARY_DOMAIN[op];
      cases.push(makeCase('unary', name, [uniform(rngFor(name), shape, lo, hi)], (be, [a]) => be.unary(op, a!)));
    }
  }
  return cases;
}

/** [shape of a, shape of b]: equal, trailing suffix, scalar, size-1 axes in the middle, 1-row. */
const BROADCASTS: readonly [number[], number[]][] = [
  [[4, 6], [4, 6]], [[4, 6], [6]], [[2, 3, 5], [3, 5]], [[2, 3, 5], [5]], [[4, 6], []], [[4, 6], [1]],
  [[4, 6], [4, 1]], [[2, 3, 5], [2, 1, 5]], [[2, 3, 5], [3, 1]], [[1, 9], [9]], [[5], [5]],
];
const BINARY_OPS: readonly BinaryOp[] = ['add', 'sub', 'mul', 'div', 'max'];

export function binaryCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  for (const op of BINARY_OPS) {
    for (const [as, bs] of BROADCASTS) {
      const name = `binary ${op} [${as.join('×')}] ∘ [${bs.join('×')}]`;
      const rng = rngFor(name);
      // div: keep |b| ≥ 0.5 so the quotient is well conditioned.
      const b = uniform(rng, bs, op === 'div' ? 0.5 : -1, op === 'div' ? 2 : 1);
      cases.push(makeCase('binary', name, [uniform(rng, as), b], (be, [x, y]) => be.binary(op, x!, y!)));
    }
  }
  const rng = rngFor('binary errors');
  cases.push(
    makeCase('binary', 'binary rejects a non-broadcastable b', [uniform(rng, [4, 6]), uniform(rng, [4])], (be, [x, y]) => be.binary('add', x!, y!), { expectError: true }),
  );
  return cases;
}

export function pointwiseCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  for (const [scale, shift] of [[2.5, undefined], [-0.5, 3], [0, 1]] as [number, number | undefined][]) {
    const name = `affine ·${scale} +${shift ?? 'default'}`;
    cases.push(makeCase('affine', name, [uniform(rngFor(name), [3, 7])], (be, [a]) => be.affine(a!, scale, shift)));
  }
  for (const shape of [[1, 1], [6, 11], [2, 3, 8]]) {
    const name = `swiglu [${shape.join('×')}]`;
    const rng = rngFor(name);
    const [g, u, dy] = [uniform(rng, shape, -8, 8), uniform(rng, shape), uniform(rng, shape)];
    cases.push(makeCase('swiglu', name, [g, u], (be, [a, b]) => be.swiglu(a!, b!)));
    cases.push(makeCase('swigluBackward', `swigluBackward [${shape.join('×')}]`, [g, u, dy], (be, [a, b, c]) => be.swigluBackward(a!, b!, c!)));
  }
  for (const alpha of [undefined, -0.25, 3]) {
    const name = `axpyInPlace α=${alpha ?? 'default'}`;
    const rng = rngFor(name);
    cases.push(
      makeCase('axpyInPlace', name, [uniform(rng, [5, 9]), uniform(rng, [5, 9])], (be, [d, s]) => be.axpyInPlace(d!, s!, alpha), { readBack: [0] }),
    );
  }
  const rng = rngFor('pointwise errors');
  cases.push(
    makeCase('swiglu', 'swiglu rejects different shapes', [uniform(rng, [2, 3]), uniform(rng, [3, 2])], (be, [a, b]) => be.swiglu(a!, b!), { expectError: true }),
  );
  return cases;
}

export function reductionCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const shapes: [number[], number[]][] = [[[7], [0, -1]], [[4, 9], [0, 1, -1, -2]], [[2, 3, 5], [0, 1, 2, -1]], [[1, 1], [0, 1]], [[300, 3], [0]], [[300, 40], [0, 1]], [[3, 200, 24], [0, 1, 2]]];
  for (const [shape, axes] of shapes) {
    for (const axis of axes) {
      for (const kernel of ['sum', 'max'] as const) {
        const name = `${kernel} [${shape.join('×')}] axis ${axis}`;
        cases.push(makeCase(kernel, name, [uniform(rngFor(name), shape)], (be, [a]) => be[kernel](a!, axis)));
      }
    }
    const name = `sumAll [${shape.join('×')}]`;
    cases.push(makeCase('sumAll', name, [uniform(rngFor(name), shape)], (be, [a]) => be.sumAll(a!)));
  }
  cases.push(
    makeCase('sum', 'sum of an i32 tensor stays i32', [i32([2, 3], [1, 2, 3, 4, 5, 6])], (be, [a]) => be.sum(a!, 1)),
    makeCase('max', 'max over rows of equal values', [fromValues([2, 3], [2, 2, 2, -1, -1, -1])], (be, [a]) => be.max(a!, 1)),
    makeCase('sum', 'sum rejects an axis out of range', [fromValues([2, 2], [1, 2, 3, 4])], (be, [a]) => be.sum(a!, 2), { expectError: true }),
  );
  return cases;
}
