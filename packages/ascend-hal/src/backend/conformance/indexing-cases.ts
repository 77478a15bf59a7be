import { fromValues, i32, makeCase, rngFor, uniform, type ConformanceCase } from './case-builder';

export function bufferCases(): ConformanceCase[] {
  const rng = rngFor('buffers');
  return [
    makeCase('fromArray', 'fromArray/read round-trips f32', [uniform(rng, [3, 4])], (_be, [a]) => a!),
    makeCase('fromArray', 'fromArray/read round-trips i32', [i32([5], [-2, 0, 7, 2 ** 31 - 1, -(2 ** 31)])], (_be, [a]) => a!),
    makeCase('fromArray', 'fromArray takes a plain number list', [], (be) => be.fromArray([1.5, -2, 3], [3])),
    makeCase('fromArray', 'fromArray rejects data that does not fill the shape', [], (be) => be.fromArray([1, 2, 3], [2, 2]), { expectError: true }),
    makeCase('reshape', 'reshape keeps the data', [uniform(rng, [2, 6])], (be, [a]) => be.reshape(a!, [3, 2, 2])),
    makeCase('reshape', 'reshape rejects another element count', [uniform(rng, [2, 6])], (be, [a]) => be.reshape(a!, [5, 2]), { expectError: true }),
    makeCase('zeros', 'zeros f32 and i32', [], (be) => [be.zeros([2, 3]), be.zeros([4], 'i32'), be.zeros([0, 3])]),
    makeCase('full', 'full', [], (be) => [be.full([2, 2], -1.25), be.full([], 7)]),
  ];
}

export function gatherScatterCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const specs: [number, number, number[]][] = [
    [5, 3, [0, 4, 2]], [10, 8, [3, 3, 3, 9, 0]], [1, 4, [0, 0]], [6, 1, []], [7, 16, [6, 5, 4, 3, 2, 1, 0, 0, 1]],
    // runs of one repeated index, of lengths that are and are not powers of two (a broadcast row)
    [3, 5, [...Array<number>(37).fill(1), 2, ...Array<number>(8).fill(0), 1, 1, 1]],
  ];
  for (const [v, d, idx] of specs) {
    const index = Int32Array.from(idx);
    const name = `gatherRows [${v}×${d}] index [${idx.join(', ')}]`;
    const rng = rngFor(name);
    cases.push(makeCase('gatherRows', name, [uniform(rng, [v, d])], (be, [t]) => be.gatherRows(t!, index)));
    // Repeated indices accumulate: scatter-add is the backward of gather (embedding gradients).
    cases.push(
      makeCase('scatterAddRows', `scatterAddRows [${v}×${d}] index [${idx.join(', ')}]`, [uniform(rng, [v, d]), uniform(rng, [idx.length, d])], (be, [dst, src]) =>
        be.scatterAddRows(dst!, index, src!), { readBack: [0] }),
    );
  }
  cases.push(
    makeCase('gatherRows', 'gatherRows of an i32 table', [i32([3, 2], [1, 2, 3, 4, 5, 6])], (be, [t]) => be.gatherRows(t!, new Int32Array([2, 0]))),
    makeCase('gatherRows', 'gatherRows rejects an index out of range', [uniform(rngFor('g err'), [3, 2])], (be, [t]) => be.gatherRows(t!, new Int32Array([3])), { expectError: true }),
    makeCase('gatherRows', 'gatherRows rejects a negative index', [uniform(rngFor('g err'), [3, 2])], (be, [t]) => be.gatherRows(t!, new Int32Array([-1])), { expectError: true }),
  );
  return cases;
}

export function columnCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const slices: [number[], number, number][] = [[[4, 10], 0, 3], [[4, 10], 7, 3], [[1, 5], 2, 1], [[3, 6], 0, 6], [[3, 6], 4, 0], [[2, 3, 8], 2, 4]];
  for (const [shape, start, width] of slices) {
    const name = `sliceColumns [${shape.join('×')}] [${start}, ${start + width})`;
    cases.push(makeCase('sliceColumns', name, [uniform(rngFor(name), shape)], (be, [a]) => be.sliceColumns(a!, start, width)));
  }
  cases.push(
    makeCase('sliceColumns', 'sliceColumns rejects columns past the end', [uniform(rngFor('s err'), [2, 4])], (be, [a]) => be.sliceColumns(a!, 3, 2), { expectError: true }),
  );
  const concats: number[][][] = [[[3, 2], [3, 5]], [[1, 1], [1, 1], [1, 1]], [[4, 3], [4, 0], [4, 6]], [[2, 2, 3], [2, 2, 1]], [[5, 7]]];
  for (const shapes of concats) {
    const name = `concatColumns ${shapes.map((s) => `[${s.join('×')}]`).join(' ')}`;
    const rng = rngFor(name);
    cases.push(makeCase('concatColumns', name, shapes.map((s) => uniform(rng, s)), (be, parts) => be.concatColumns(parts)));
  }
  cases.push(
    makeCase('concatColumns', 'concatColumns rejects different row counts', [fromValues([2, 1], [1, 2]), fromValues([3, 1], [1, 2, 3])], (be, parts) => be.concatColumns(parts), { expectError: true }),
  );
  // writeColumns is optional; a backend without it is held to the same result through slice + concat.
  const writes: [number[], number[], number][] = [[[3, 10], [3, 4], 0], [[3, 10], [3, 4], 6], [[2, 3, 8], [2, 3, 2], 5], [[4, 5], [4, 0], 5]];
  for (const [dShape, sShape, start] of writes) {
    const name = `writeColumns [${dShape.join('×')}] ← [${sShape.join('×')}] at ${start}`;
    const rng = rngFor(name);
    cases.push(
      makeCase('writeColumns', name, [uniform(rng, dShape), uniform(rng, sShape)], (be, [dst, src]) => {
        if (be.writeColumns) {
          be.writeColumns(dst!, src!, start);
          return dst!;
        }
        const cols = dShape[dShape.length - 1]!;
        const w = sShape[sShape.length - 1]!;
        return be.concatColumns([be.sliceColumns(dst!, 0, start), src!, be.sliceColumns(dst!, start + w, cols - start - w)]);
      }),
    );
  }
  cases.push(
    makeCase('writeColumns', 'writeColumns rejects columns past the end', [uniform(rngFor('w err'), [2, 4]), uniform(rngFor('w err'), [2, 2])], (be, [dst, src]) => {
      // A backend without the optional writeColumns takes the slice/concat fallback, whose slice past the end must throw too.
      if (!be.writeColumns) return be.concatColumns([be.sliceColumns(dst!, 0, 3), src!, be.sliceColumns(dst!, 5, -1)]);
      be.writeColumns(dst!, src!, 3);
      return dst!;
    }, { expectError: true }),
  );
  const perms: [number[], number[]][] = [
    [[3, 5], [1, 0]], [[3, 5], [0, 1]], [[2, 3, 4], [1, 0, 2]], [[2, 3, 4], [2, 0, 1]], [[2, 3, 4], [0, 2, 1]],
    [[2, 3, 4, 5], [0, 2, 1, 3]], [[1, 7, 1], [2, 1, 0]], [[6], [0]],
  ];
  for (const [shape, perm] of perms) {
    const name = `transpose [${shape.join('×')}] perm [${perm.join(', ')}]`;
    cases.push(makeCase('transpose', name, [uniform(rngFor(name), shape)], (be, [a]) => be.transpose(a!, perm)));
  }
  cases.push(
    makeCase('transpose', 'transpose rejects a repeated axis', [uniform(rngFor('t err'), [2, 2])], (be, [a]) => be.transpose(a!, [0, 0]), { expectError: true }),
  );
  return cases;
}

export function groupTopKCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  // [T, E, groups, kPerGroup]: MoGE (several groups), plain top-k (one group), k = group size, 1 token.
  const specs: [number, number, number, number][] = [[1, 8, 2, 1], [7, 16, 4, 2], [5, 12, 1, 3], [3, 6, 3, 2], [9, 64, 8, 1], [2, 4, 2, 0]];
  for (const [t, e, groups, k] of specs) {
    const name = `groupTopK [${t}×${e}] groups=${groups} k=${k}`;
    cases.push(makeCase('groupTopK', name, [uniform(rngFor(name), [t, e])], (be, [s]) => {
      const r = be.groupTopK(s!, groups, k);
      return [r.ids, r.values];
    }));
  }
  // Non-finite scores in torch.topk's order: NaN above every number (NaNs among themselves by the
  // lower index), then +∞, the numbers, −∞; ±0 tie. A NaN is selected wherever it sits in a group.
  const nan = Number.NaN;
  const inf = Infinity;
  const special = fromValues([7, 8], [
    0.1, nan, 0.9, 0.3, nan, 0.5, nan, 0.2,
    nan, nan, nan, nan, 1, nan, -inf, 2,
    inf, 0.5, nan, inf, -inf, -inf, -inf, -inf,
    -inf, -inf, -inf, -inf, 0, -0, 0, 0,
    nan, nan, nan, nan, nan, nan, nan, nan,
    0.3, 0.2, 0.1, nan, 0.4, 0.4, nan, 0.4,
    -inf, 0.7, inf, -1, 0.7, nan, -inf, inf,
  ]);
  for (const [groups, k] of [[2, 2], [1, 3], [4, 1], [2, 4], [8, 1], [1, 8], [2, 1]] as const) {
    cases.push(
      makeCase('groupTopK', `groupTopK NaN and ±∞ [7×8] groups=${groups} k=${k}`, [special], (be, [s]) => {
        const r = be.groupTopK(s!, groups, k);
        return [r.ids, r.values];
      }),
    );
  }
  // Ties go to the lower expert index, in every group.
  cases.push(
    makeCase('groupTopK', 'groupTopK resolves ties to the lower index', [fromValues([2, 6], [0.5, 0.5, 0.5, 0.1, 0.9, 0.9, 0, 0, 0, 0, 0, 0])], (be, [s]) => {
      const r = be.groupTopK(s!, 2, 2);
      return [r.ids, r.values];
    }),
    makeCase('groupTopK', 'groupTopK rejects experts not divisible into groups', [uniform(rngFor('k err'), [1, 6])], (be, [s]) => be.groupTopK(s!, 4, 1).ids, { expectError: true }),
  );
  return cases;
}
