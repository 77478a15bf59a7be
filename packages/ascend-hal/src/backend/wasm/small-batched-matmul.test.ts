import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareOutputs } from '../conformance/compare';
import { createCpuBackend } from '../cpu/cpu-backend';
import type { CpuTensor } from '../cpu/cpu-tensor';
import { resolveMatmul } from '../cpu/matmul-shapes';
import { matmul } from '../reference/matmul';
import { wasmKernelModule } from './kernel-module';
import { smallBatchedMatmul, smallMatmulForm } from './small-batched-matmul';

const module = wasmKernelModule()!;
/** The kernels behind the WebAssembly ones, counting what reaches them. */
let reached = 0;
const inner = { matmul: (a: CpuTensor, b: CpuTensor, o?: object) => (reached++, matmul(a, b, o)) };
const be = createCpuBackend('b', smallBatchedMatmul(module, inner));
const oracle = createCpuBackend('b');
const form = (a: number[], b: number[], o: { transA?: boolean; transB?: boolean } = {}) => smallMatmulForm(resolveMatmul(a, b, o));

describe('small batched matmuls on WebAssembly', () => {
  it('takes the MoE combine up to 64 products and its outer products at any count, and leaves everything else', () => {
    expect(form([32, 1, 4], [32, 4, 256])).toMatchObject({ batch: 32, m: 1, k: 4, n: 256, transB: false });
    expect(form([64, 1, 256], [64, 4, 256], { transB: true })).toMatchObject({ m: 1, k: 256, n: 4, transB: true });
    expect(form([1024, 1, 4], [1024, 1, 256], { transA: true })).toMatchObject({ batch: 1024, m: 4, k: 1, n: 256, transB: false });
    expect(form([1024, 1, 4], [1024, 4, 256])).toBeNull(); // onnxruntime's batched MatMul does better
    expect(form([65, 1, 256], [65, 4, 256], { transB: true })).toBeNull();
    expect(form([64, 1, 8], [8, 12])).toBeNull(); // rows of A against one B: one tall sgemm
    expect(form([64, 8, 8], [64, 8, 12], { transA: true })).toBeNull(); // a transpose that moves memory
    expect(form([8, 1, 4], [8, 4, 256])).toBeNull(); // too few products
    expect(form([64, 64, 64], [64, 64, 64])).toBeNull(); // products too big
    expect(form([64, 2, 64], [64, 96, 64], { transB: true })).toBeNull(); // a batch-32 decode step's attention: sgemm does better
    expect(form([64, 1, 4], [64, 4, 6])).toBeNull(); // N not a multiple of 4
    expect(form([64, 1, 6], [64, 4, 6], { transB: true })).toBeNull(); // K not a multiple of 4
  });

  it('equals the reference on any shapes it takes, broadcast operands and several chunks included', () => {
    fc.assert(
      fc.property(
        fc.record({
          batch: fc.integer({ min: 16, max: 300 }),
          m: fc.integer({ min: 1, max: 6 }),
          k: fc.integer({ min: 1, max: 48 }),
          n: fc.integer({ min: 1, max: 24 }),
          transA: fc.boolean(),
          transB: fc.boolean(),
          broadcast: fc.constantFrom('none', 'a', 'b'),
          seed: fc.integer(),
        }),
        ({ batch, m, k, n, transA, transB, broadcast, seed }) => {
          const aShape = [...(broadcast === 'a' ? [] : [batch]), ...(transA ? [k, m] : [m, k])];
          const bShape = [...(broadcast === 'b' ? [] : [batch]), ...(transB ? [n, k] : [k, n])];
          const fill = (shape: number[], salt: number) => Float32Array.from({ length: shape.reduce((p, d) => p * d, 1) }, (_, i) => Math.sin(seed + salt + i * 0.71));
          const o = { transA, transB };
          reached = 0;
          const got = be.matmul(be.fromArray(fill(aShape, 0), aShape), be.fromArray(fill(bShape, 1), bShape), o);
          const want = oracle.matmul(oracle.fromArray(fill(aShape, 0), aShape), oracle.fromArray(fill(bShape, 1), bShape), o);
          expect(compareOutputs([got as CpuTensor], [want as CpuTensor])).toBeNull();
          expect(reached).toBe(form(aShape, bShape, o) ? 0 : 1);
        },
      ),
      { numRuns: 200 },
    );
  });
});
