import { createReferenceBackend, wasmEncoder } from '@moge/ascend-hal';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { randomLogits, randomScale } from '../../test-support/host-oracle';
import { mogeForwardHost, type MogeShape } from '../fused-moge';
import { wasmSoftmax } from './softmax-wasm';

const { sleb, uleb } = wasmEncoder;

const backend = createReferenceBackend();

/** Even E in M groups, with logits spread from ordinary to extreme (exp flushes to 0 below −104). */
const shapes = fc
  .record({
    m: fc.integer({ min: 1, max: 8 }),
    g: fc.integer({ min: 1, max: 10 }),
    tokens: fc.integer({ min: 1, max: 1500 }), // > one 128 KiB chunk at E ≥ 24: exercises the chunk loop
    seed: fc.nat(),
    std: fc.constantFrom(0.01, 1, 4, 60),
  })
  .filter((s) => (s.m * s.g) % 2 === 0)
  .chain((s) => fc.integer({ min: 1, max: s.g }).map((kg) => ({ ...s, kg })));

/** Index of the first element that differs (NaN equals NaN), or −1: vitest's deep equality is slow on long typed arrays. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

/** The float64 path (WebAssembly or JS): the one that must reproduce the reference bit for bit. */
function run(shape: MogeShape, logits: Float32Array, scale: Float32Array, wasm: boolean) {
  return mogeForwardHost(logits, scale, shape, { wasm, precision: 'f64' });
}

describe('WebAssembly SIMD softmax kernels (float64)', () => {
  it('are available in this engine', () => {
    expect(wasmSoftmax()).not.toBeNull();
  });

  it('give the JS kernel’s bits: probabilities, ids, values and weights, for every group size', () => {
    fc.assert(
      fc.property(shapes, ({ m, g, kg, tokens, seed, std }) => {
        const shape = { tokens, numExperts: m * g, numGroups: m, topK: m * kg };
        const logits = randomLogits(seed, tokens * m * g, std);
        const scale = randomScale(seed, m * g);
        const a = run(shape, logits, scale, true);
        const b = run(shape, logits, scale, false);
        for (const key of ['probs', 'ids', 'values', 'scale', 'weights'] as const) expect(firstDifference(a[key], b[key])).toBe(-1);
      }),
      { numRuns: 40 },
    );
  });

  it('agree with the reference backend’s softmax on the Pangu Pro shape, bit for bit', () => {
    const tokens = 4096;
    const logits = randomLogits(11, tokens * 64, 3);
    const probs = new Float32Array(tokens * 64);
    wasmSoftmax()!.softmaxRows(logits, probs, tokens, 64);
    expect(firstDifference(probs, backend.read(backend.softmax(backend.fromArray(logits, [tokens, 64]))))).toBe(-1);
  });

  it('handle ties (lower id wins), a −∞ logit (probability 0) and NaN rows (NaN) like the JS kernel', () => {
    const shape = { tokens: 3, numExperts: 8, numGroups: 2, topK: 2 };
    const logits = Float32Array.from([0, 0, 0, 0, 0, 0, 0, 0, 1, -Infinity, 1, 0, -Infinity, 2, 2, 0, 0, NaN, 0, 0, 0, 0, 0, 0]);
    const scale = new Float32Array(8).fill(1);
    const a = run(shape, logits, scale, true);
    const b = run(shape, logits, scale, false);
    expect(Array.from(a.ids)).toEqual([0, 4, 0, 5, 0, 4]);
    expect(a.probs[9]).toBe(0);
    expect(Number.isNaN(a.probs[16])).toBe(true);
    expect(Array.from(a.ids)).toEqual(Array.from(b.ids));
    expect(Array.from(a.probs.subarray(0, 16))).toEqual(Array.from(b.probs.subarray(0, 16)));
  });

  it('fall back to the JS kernel for an odd expert count', () => {
    const shape = { tokens: 2, numExperts: 9, numGroups: 3, topK: 3 };
    const logits = randomLogits(5, 18);
    const scale = randomScale(5, 9);
    const a = run(shape, logits, scale, true);
    const b = run(shape, logits, scale, false);
    for (const key of ['probs', 'ids', 'weights'] as const) expect(firstDifference(a[key], b[key])).toBe(-1);
  });
});

describe('LEB128', () => {
  it('encodes the edge cases of the spec', () => {
    expect(uleb(0)).toEqual([0]);
    expect(uleb(127)).toEqual([0x7f]);
    expect(uleb(128)).toEqual([0x80, 0x01]);
    expect(uleb(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(sleb(0)).toEqual([0]);
    expect(sleb(63)).toEqual([0x3f]);
    expect(sleb(64)).toEqual([0xc0, 0x00]);
    expect(sleb(-1)).toEqual([0x7f]);
    expect(sleb(-64)).toEqual([0x40]);
    expect(sleb(-65)).toEqual([0xbf, 0x7f]);
    expect(sleb(-123456)).toEqual([0xc0, 0xbb, 0x78]);
  });
});
