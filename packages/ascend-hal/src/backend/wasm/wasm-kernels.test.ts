import { Rng } from '@moge/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Backend, Tensor } from '../backend';
import { compareOutputs } from '../conformance/compare';
import { createCpuBackend } from '../cpu/cpu-backend';
import { CHUNK_ELEMENTS } from './kernel-module';
import { wasmKernels } from './wasm-kernels';

// Both backends stamp 'w' so tensors can be built once; the reference kernels are the oracle.
const wasm = createCpuBackend('w', wasmKernels());
const oracle = createCpuBackend('w');

function data(seed: number, n: number, lo = -3, hi = 3): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.float());
}

const host = (be: Backend, ts: readonly Tensor[]) => ts.map((t) => ({ shape: t.shape, data: be.read(t) }));

/**
 * Tighter than the conformance tolerance (1e-5): the kernels are designed to ~3e-7 (fp32 lanes,
 * float64 sums, exp within ~3 ulps), and a slip in a polynomial coefficient hides easily under 1e-5.
 */
const STRICT = { rtol: 2e-6, atol: 2e-6 };

/** Runs `call` on both backends and compares every output within STRICT. */
function agree(call: (be: Backend) => Tensor | readonly Tensor[]): string | null {
  const wrap = (be: Backend) => {
    const r = call(be);
    return host(be, Array.isArray(r) ? r : [r as Tensor]);
  };
  return compareOutputs(wrap(wasm), wrap(oracle), STRICT);
}

/** Shapes whose last axis is often not a multiple of 4 (ragged vector ends), sometimes long. */
const rowsCols = fc.tuple(fc.integer({ min: 0, max: 9 }), fc.oneof(fc.integer({ min: 1, max: 13 }), fc.integer({ min: 60, max: 300 })));
const seed = fc.integer({ min: 1, max: 1 << 30 });

describe('WebAssembly kernels agree with the reference kernels', () => {
  it('is available in this engine', () => {
    expect(Object.keys(wasmKernels()).sort()).toEqual(['affine', 'axpyInPlace', 'rmsNorm', 'rmsNormBackward', 'rope', 'scatterAddRows', 'softmax', 'softmaxBackward', 'swiglu', 'swigluBackward']);
  });

  it('swiglu and its backward, including saturated sigmoids', () => {
    fc.assert(
      fc.property(rowsCols, seed, fc.constantFrom(3, 12, 100), ([r, c], s, range) => {
        const shape = [r, c];
        const [g, u, dy] = [data(s, r * c, -range, range), data(s + 1, r * c), data(s + 2, r * c)];
        expect(agree((be) => be.swiglu(be.fromArray(g, shape), be.fromArray(u, shape)))).toBeNull();
        expect(agree((be) => be.swigluBackward(be.fromArray(g, shape), be.fromArray(u, shape), be.fromArray(dy, shape)))).toBeNull();
      }),
      { numRuns: 60 },
    );
  });

  it('softmax, plain and causal (Sk ≥ Sq, Sk < Sq with rows that see nothing), and its backward', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 70 }), seed, (b, sq, sk, s) => {
        const shape = [b, sq, sk];
        const x = data(s, b * sq * sk, -30, 30);
        expect(agree((be) => be.softmax(be.fromArray(x, shape)))).toBeNull();
        expect(agree((be) => be.softmax(be.fromArray(x, shape), { causal: true }))).toBeNull();
        const dy = data(s + 1, x.length);
        expect(agree((be) => be.softmaxBackward(be.softmax(be.fromArray(x, shape)), be.fromArray(dy, shape)))).toBeNull();
      }),
      { numRuns: 60 },
    );
  });

  it('softmax gives exactly 0 to −∞ (a mask) and to logits far below the row max', () => {
    // 9 keys: two full vectors and a ragged lane, the masked ones in each.
    const x = Float32Array.from([-Infinity, 0, 0, -200, 0, -1e30, 0, -90, -Infinity]);
    const p = wasm.read(wasm.softmax(wasm.fromArray(x, [1, 9]))) as Float32Array;
    for (const i of [0, 3, 5, 7, 8]) expect(p[i]).toBe(0);
    for (const i of [1, 2, 4, 6]) expect(p[i]).toBeCloseTo(0.25, 6);
  });

  it('softmax: a NaN or +∞ among the visible keys makes the row NaN wherever it sits, masked keys stay 0 (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 40 }), fc.nat(), fc.constantFrom(Number.NaN, Infinity, -Infinity), fc.boolean(), seed,
        (sq, sk, at, bad, causal, s) => {
          const shape = [1, sq, sk];
          const x = data(s, sq * sk, -5, 5);
          x[at % x.length] = bad;
          expect(agree((be) => be.softmax(be.fromArray(x, shape), { causal }))).toBeNull();
        },
      ),
      { numRuns: 200 },
    );
  });

  it('swiglu and its backward at gates of any magnitude: silu(g) → 0 below −88, NaN and ±∞ as the reference (property)', () => {
    const gate = fc.oneof(
      fc.float({ noDefaultInfinity: false, noNaN: false }),
      fc.constantFrom(-3e38, -1e30, -100, -88.5, -87.5, 87.5, 88.5, 100, 1e30, 3e38, -0, 1e-45),
    );
    fc.assert(
      fc.property(fc.array(gate, { minLength: 1, maxLength: 13 }), seed, (gates, s) => {
        const shape = [gates.length];
        const [g, u, dy] = [Float32Array.from(gates), data(s, gates.length), data(s + 1, gates.length)];
        expect(agree((be) => be.swiglu(be.fromArray(g, shape), be.fromArray(u, shape)))).toBeNull();
        expect(agree((be) => be.swigluBackward(be.fromArray(g, shape), be.fromArray(u, shape), be.fromArray(dy, shape)))).toBeNull();
      }),
      { numRuns: 200 },
    );
  });

  it('row kernels over many chunks: causal phase, long rows, float64 sums', () => {
    // [3, 200, 300]: 180 000 elements, 54 rows per chunk, so chunks start mid-block (phase ≠ 0).
    const shape = [3, 200, 300];
    const x = data(7, 3 * 200 * 300, -20, 20);
    expect(3 * 200 * 300).toBeGreaterThan(4 * CHUNK_ELEMENTS);
    expect(agree((be) => be.softmax(be.fromArray(x, shape), { causal: true }))).toBeNull();
    // a row longer than a chunk is its own chunk
    const long = data(8, 2 * (CHUNK_ELEMENTS + 3), -5, 5);
    expect(agree((be) => be.softmax(be.fromArray(long, [2, CHUNK_ELEMENTS + 3])))).toBeNull();
    const w = data(9, CHUNK_ELEMENTS + 3);
    expect(agree((be) => be.rmsNorm(be.fromArray(long, [2, CHUNK_ELEMENTS + 3]), be.fromArray(w, [CHUNK_ELEMENTS + 3]), 1e-6).y)).toBeNull();
  });

  it('rmsNorm and its backward (dW summed over chunks)', () => {
    fc.assert(
      fc.property(fc.tuple(fc.oneof(fc.integer({ min: 0, max: 9 }), fc.constant(700)), fc.integer({ min: 1, max: 70 })), seed, ([r, c], s) => {
        const shape = [r, c];
        const [x, w, dy] = [data(s, r * c), data(s + 1, c), data(s + 2, r * c)];
        expect(agree((be) => { const o = be.rmsNorm(be.fromArray(x, shape), be.fromArray(w, [c]), 1e-5); return [o.y, o.invRms]; })).toBeNull();
        expect(
          agree((be) => {
            const xt = be.fromArray(x, shape);
            const wt = be.fromArray(w, [c]);
            const g = be.rmsNormBackward(xt, wt, be.rmsNorm(xt, wt, 1e-5).invRms, be.fromArray(dy, shape));
            return [g.dx, g.dWeight];
          }),
        ).toBeNull();
      }),
      { numRuns: 40 },
    );
  });

  it('rope, forward and inverse, at repeated, scattered and far positions', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 4 }), fc.constantFrom(8, 16, 64), fc.boolean(), seed,
        (t, h, d, inverse, s) => {
          const rng = new Rng(s);
          const positions = Int32Array.from({ length: t }, (_, i) => (rng.float() < 0.5 ? i % 13 : Math.floor(rng.float() * 5000)));
          const x = data(s, t * h * d);
          expect(agree((be) => be.rope(be.fromArray(x, [t, h, d]), positions, 10000, { inverse }))).toBeNull();
        },
      ),
      { numRuns: 40 },
    );
  });

  it('axpy in place and affine', () => {
    fc.assert(
      fc.property(rowsCols, seed, fc.double({ min: -4, max: 4, noNaN: true }), ([r, c], s, alpha) => {
        const [y, x] = [data(s, r * c), data(s + 1, r * c)];
        expect(agree((be) => { const yt = be.fromArray(y.slice(), [r, c]); be.axpyInPlace(yt, be.fromArray(x, [r, c]), alpha); return yt; })).toBeNull();
        expect(agree((be) => be.affine(be.fromArray(x, [r, c]), alpha, 0.5))).toBeNull();
      }),
      { numRuns: 40 },
    );
  });

  it('scatter-adds rows in order, repeated indices accumulating, across chunks', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.constantFrom(4, 8, 12, 256), fc.integer({ min: 0, max: 300 }), seed, (v, d, extra, s) => {
        const n = v + extra; // src at least as large as dst, so the WebAssembly path runs
        const rng = new Rng(s);
        const index = Int32Array.from({ length: n }, () => Math.floor(rng.float() * v));
        const [dst, src] = [data(s, v * d), data(s + 1, n * d)];
        expect(agree((be) => { const t = be.fromArray(dst.slice(), [v, d]); be.scatterAddRows(t, index, be.fromArray(src, [n, d])); return t; })).toBeNull();
      }),
      { numRuns: 40 },
    );
    expect(() => wasm.scatterAddRows(wasm.zeros([2, 4]), Int32Array.from([0, 2]), wasm.zeros([2, 4]))).toThrow(/outside/);
  });

  it('leaves inputs it cannot take to the reference kernels, errors included', () => {
    const a = wasm.fromArray(data(1, 6), [2, 3]);
    const b = wasm.fromArray(data(2, 6), [3, 2]);
    expect(() => wasm.swiglu(a, b)).toThrow(/same shape/);
    expect(() => wasm.rope(wasm.fromArray(data(1, 6), [1, 2, 3]), new Int32Array(1), 10000)).toThrow(/even/);
    // an odd head half (d = 4) and a negative position run on the reference code, still correct
    expect(agree((be) => be.rope(be.fromArray(data(3, 8), [2, 1, 4]), Int32Array.from([0, -3]), 10000))).toBeNull();
  });
});
