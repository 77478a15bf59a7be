import { fromValues, i32, makeCase, rngFor, uniform, type ConformanceCase } from './case-builder';

export function softmaxCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  // Wide logits (±30) check the max subtraction; [1, 1] is the degenerate single-key row.
  const shapes = [[1, 1], [4, 7], [2, 3, 5], [3, 128], [0, 5]];
  for (const shape of shapes) {
    const name = `softmax [${shape.join('×')}]`;
    const rng = rngFor(name);
    const x = uniform(rng, shape, -30, 30);
    cases.push(makeCase('softmax', name, [x], (be, [a]) => be.softmax(a!)));
    cases.push(makeCase('logSoftmax', `logSoftmax [${shape.join('×')}]`, [x], (be, [a]) => be.logSoftmax(a!)));
    const y = uniform(rng, shape, 0, 1);
    cases.push(makeCase('softmaxBackward', `softmaxBackward [${shape.join('×')}]`, [y, uniform(rng, shape)], (be, [a, b]) => be.softmaxBackward(a!, b!)));
  }
  // Causal: square prefill blocks, decode (Sq = 1 and Sq < Sk with an offset), and Sq > Sk where
  // the first rows see no key at all and must come out as zeros.
  const causal = [[4, 4], [2, 3, 6, 6], [1, 9], [2, 3, 7], [5, 3], [4, 1, 1]];
  for (const shape of causal) {
    const name = `softmax causal [${shape.join('×')}]`;
    cases.push(makeCase('softmax', name, [uniform(rngFor(name), shape, -5, 5)], (be, [a]) => be.softmax(a!, { causal: true })));
  }
  return cases;
}

export function rmsNormCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const shapes = [[1, 8], [5, 16], [2, 3, 7], [4, 1], [3, 256]];
  for (const shape of shapes) {
    const d = shape[shape.length - 1]!;
    for (const eps of [1e-6, 0.5]) {
      const name = `rmsNorm [${shape.join('×')}] ε=${eps}`;
      const rng = rngFor(name);
      const x = uniform(rng, shape, -3, 3);
      const w = uniform(rng, [d], 0.5, 1.5);
      cases.push(makeCase('rmsNorm', name, [x, w], (be, [a, b]) => {
        const r = be.rmsNorm(a!, b!, eps);
        return [r.y, r.invRms];
      }));
      // The backward takes invRms from the forward of the same backend, as a model does.
      cases.push(
        makeCase('rmsNormBackward', `rmsNormBackward [${shape.join('×')}] ε=${eps}`, [x, w, uniform(rng, shape)], (be, [a, b, dy]) => {
          const r = be.rmsNormBackward(a!, b!, be.rmsNorm(a!, b!, eps).invRms, dy!);
          return [r.dx, r.dWeight];
        }),
      );
    }
  }
  const rng = rngFor('rmsNorm errors');
  cases.push(
    makeCase('rmsNorm', 'rmsNorm rejects a weight of the wrong length', [uniform(rng, [2, 4]), uniform(rng, [3])], (be, [a, b]) => be.rmsNorm(a!, b!, 1e-6).y, { expectError: true }),
  );
  return cases;
}

/**
 * Positions reach 32 767: a backend must compute rotation angles to float64 accuracy (as the
 * float64 golden reference does) — an angle pos·θ^(−2i/D) formed in float32 is off by ~pos·6e-8 rad.
 */
export function ropeCases(): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const specs: [number[], number, number[]][] = [
    [[1, 1, 2], 10000, [1]],
    [[5, 3, 8], 10000, [0, 1, 2, 3, 4]],
    [[4, 2, 64], 1e6, [7, 300, 4095, 32767]],
    [[3, 4, 16], 500, [2, 2, 9]],
  ];
  for (const [shape, theta, positions] of specs) {
    for (const inverse of [false, true]) {
      const name = `rope${inverse ? ' inverse' : ''} [${shape.join('×')}] θ=${theta} positions [${positions.join(', ')}]`;
      const pos = Int32Array.from(positions);
      cases.push(makeCase('rope', name, [uniform(rngFor(name), shape)], (be, [x]) => be.rope(x!, pos, theta, { inverse })));
    }
  }
  cases.push(
    makeCase('rope', 'rope rejects an odd head dimension', [fromValues([1, 1, 3], [1, 2, 3])], (be, [x]) => be.rope(x!, new Int32Array([0]), 10000), { expectError: true }),
    makeCase('rope', 'rope rejects a position count that differs from T', [uniform(rngFor('rope err'), [2, 1, 4])], (be, [x]) => be.rope(x!, new Int32Array([0]), 10000), { expectError: true }),
  );
  // i32 input is rejected (rope rotates floats).
  cases.push(makeCase('rope', 'rope rejects an i32 tensor', [i32([1, 1, 2], [1, 2])], (be, [x]) => be.rope(x!, new Int32Array([0]), 10000), { expectError: true }));
  return cases;
}
