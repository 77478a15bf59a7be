import type { MatmulOptions } from '../backend';
import { i32, makeCase, rngFor, uniform, type ConformanceCase } from './case-builder';

const label = (o: MatmulOptions) => (o.transA ? 'Aᵀ' : 'A') + '·' + (o.transB ? 'Bᵀ' : 'B');

/**
 * Constants (Backend.constant): every reading kernel gives the same values on a constant as on an
 * ordinary tensor — each case returns both results, and both are held to the oracle — and every
 * in-place kernel refuses a constant destination. Matmul shapes span the JS path of tiny products
 * and the native one, 1 row (decode) to many; grouped segments include empty experts.
 */
export function constantCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const transposes: MatmulOptions[] = [{}, { transB: true }, { transA: true }, { transA: true, transB: true }];
  for (const o of transposes) {
    for (const [m, k, n] of [[1, 4, 3], [1, 64, 48], [17, 33, 9], [64, 96, 80]] as const) {
      const a = o.transA ? [k, m] : [m, k];
      const b = o.transB ? [n, k] : [k, n];
      const name = `constant B: matmul ${label(o)} a[${a.join('×')}] b[${b.join('×')}]`;
      const rng = rngFor(name);
      cases.push(makeCase('constant', name, [uniform(rng, a), uniform(rng, b)], (be, [x, w]) => [be.matmul(x!, w!, o), be.matmul(x!, be.constant(w!), o)]));
      const biasName = `constant B and bias: matmulBias ${label(o)} a[${a.join('×')}] b[${b.join('×')}]`;
      const r2 = rngFor(biasName);
      cases.push(
        makeCase('constant', biasName, [uniform(r2, a), uniform(r2, b), uniform(r2, [n])], (be, [x, w, bias]) => {
          const mb = (ww: typeof w, bb: typeof bias) => (be.matmulBias ? be.matmulBias(x!, ww!, bb!, o) : be.binary('add', be.matmul(x!, ww!, o), bb!));
          const cw = be.constant(w!);
          return [mb(w, bias), mb(cw, be.constant(bias!)), mb(cw, bias)];
        }),
      );
    }
  }
  {
    const name = 'constant B: batched A [4×3×32] against a constant [32×40]';
    const rng = rngFor(name);
    cases.push(makeCase('constant', name, [uniform(rng, [4, 3, 32]), uniform(rng, [32, 40])], (be, [x, w]) => [be.matmul(x!, w!), be.matmul(x!, be.constant(w!))]));
    const name3 = 'constant B: batched constant [2×16×24]';
    const r3 = rngFor(name3);
    cases.push(makeCase('constant', name3, [uniform(r3, [2, 5, 16]), uniform(r3, [2, 16, 24])], (be, [x, w]) => [be.matmul(x!, w!), be.matmul(x!, be.constant(w!))]));
  }
  const segments: readonly { k: number; n: number; sizes: number[] }[] = [
    { k: 8, n: 6, sizes: [3, 2, 4] },
    { k: 64, n: 48, sizes: [0, 1, 0, 0] },
    { k: 64, n: 48, sizes: [13, 29, 1, 0, 40, 7, 22, 16] },
    { k: 32, n: 24, sizes: [0, 0, 0] },
  ];
  for (const { k, n, sizes } of segments) {
    const offsets = new Int32Array(sizes.length + 1);
    sizes.forEach((s, g) => (offsets[g + 1] = offsets[g]! + s));
    const t = offsets[sizes.length]!;
    for (const transB of [false, true]) {
      const name = `constant w: groupedMatmul${transB ? ' transB' : ''} K=${k} N=${n} segments [${sizes.join(', ')}]`;
      const rng = rngFor(name);
      const w = uniform(rng, transB ? [sizes.length, n, k] : [sizes.length, k, n]);
      cases.push(
        makeCase('constant', name, [uniform(rng, [t, k]), w], (be, [x, wt]) => {
          const cw = be.constant(wt!);
          // Twice on the constant: a backend that caches per constant must give the same answer again.
          return [be.groupedMatmul(x!, wt!, offsets, { transB }), be.groupedMatmul(x!, cw, offsets, { transB }), be.groupedMatmul(x!, cw, offsets, { transB })];
        }),
      );
    }
  }
  const rng = rngFor('constant readers');
  cases.push(
    makeCase('constant', 'constant: reading kernels and reshape accept constants', [uniform(rng, [6, 8]), uniform(rng, [8]), uniform(rng, [6, 8])], (be, [x, g, y]) => {
      const cx = be.constant(x!);
      return [
        be.constant(cx),
        be.reshape(cx, [8, 6]),
        be.unary('silu', cx),
        be.binary('add', y!, cx),
        be.rmsNorm(y!, be.constant(g!), 1e-6).y,
        be.gatherRows(cx, new Int32Array([5, 0, 5])),
        be.matmul(y!, be.reshape(cx, [8, 6])),
        be.sliceColumns(cx, 2, 3),
      ];
    }),
    makeCase('constant', 'constant of an i32 tensor keeps its values', [i32([4], [3, -1, 7, 0])], (be, [x]) => be.constant(x!)),
    makeCase('constant', 'constant is a copy: writing the original afterwards leaves it as it was', [uniform(rng, [3, 4]), uniform(rng, [3, 4])], (be, [x, d]) => {
      const cx = be.constant(x!);
      be.axpyInPlace(x!, d!, 2);
      return [cx, x!];
    }),
    makeCase('isConstant', 'isConstant: ordinary, constant, reshaped constant, kernel output', [uniform(rng, [2, 3])], (be, [x]) => {
      const cx = be.constant(x!);
      const flags = [be.isConstant(x!), be.isConstant(cx), be.isConstant(be.reshape(cx, [3, 2])), be.isConstant(be.unary('neg', cx))];
      return be.fromArray(flags.map((f) => (f ? 1 : 0)), [4]);
    }),
    makeCase('constant', 'axpyInPlace rejects a constant destination', [uniform(rng, [3, 4]), uniform(rng, [3, 4])], (be, [d, s]) => be.axpyInPlace(be.constant(d!), s!), { expectError: true }),
    makeCase('constant', 'scatterAddRows rejects a constant destination', [uniform(rng, [3, 4]), uniform(rng, [2, 4])], (be, [d, s]) => be.scatterAddRows(be.constant(d!), new Int32Array([0, 2]), s!), { expectError: true }),
    makeCase('constant', 'writeColumns rejects a constant destination', [uniform(rng, [3, 4]), uniform(rng, [3, 2])], (be, [d, s]) => {
      if (!be.writeColumns) throw new Error('no writeColumns: nothing can write in place');
      be.writeColumns(be.constant(d!), s!, 1);
    }, { expectError: true }),
  );
  return cases;
}
