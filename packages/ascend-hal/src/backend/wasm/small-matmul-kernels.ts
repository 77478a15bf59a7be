/**
 * WebAssembly kernels for many tiny matrix products side by side — the MoE combine of a training
 * step and its backward: 1 024 tokens × [1×4]·[4×256] (each token's expert outputs weighted), the
 * outer products [4×1]·[1×256] and the dot products [1×256]·[256×4]. One sgemm or MatMul per token
 * would cost more in calls than in arithmetic, and onnxruntime's batched MatMul and a JS loop spent
 * 0.9–2 ms on each of them (see small-batched-matmul.ts for the routing).
 *
 * Row-major f32 operands; `batch` products, operand s of A at a + s·aStep and of B at b + s·bStep
 * (steps in bytes; 0 broadcasts one operand to every product); C is written densely. Sums accumulate
 * in f32 in order of k, as a matrix–vector kernel does.
 */
import { op } from './encoder';
import { I32, V128, defineKernel, type Code } from './kernel-dsl';

/** `do { body } while (--counter > 0)`, skipped entirely when counter ≤ 0 on entry. */
function countDown(counter: number, body: Code): Code {
  return [
    op.block(),
    op.get(counter), op.i32Const(0), op.i32GtS(), op.i32Eqz(), op.brIf(0),
    op.loop(),
    ...body,
    op.get(counter), op.i32Const(1), op.i32Sub(), op.tee(counter), op.i32Const(0), op.i32GtS(), op.brIf(0),
    op.end(),
    op.end(),
  ];
}

/**
 * C[s] = A[s]·B[s] with A [m, k] and B [k, n], n a multiple of 4: each 4-wide vector of a C row
 * sums a[i, p] · B[p, j..j+3] over p in a register, then is stored once.
 */
export const smallMatmulNnKernel = defineKernel(
  'small_matmul_nn',
  { a: I32, b: I32, c: I32, batch: I32, m: I32, k: I32, n: I32, aStep: I32, bStep: I32 },
  { rowBytes: I32, kBytes: I32, aRow: I32, i: I32, j: I32, p: I32, bAt: I32, jLeft: I32, pLeft: I32, acc: V128 },
  (v) => [
    op.get(v.n), op.i32Const(2), op.i32Shl(), op.set(v.rowBytes),
    op.get(v.k), op.i32Const(2), op.i32Shl(), op.set(v.kBytes),
    ...countDown(v.batch, [
      op.get(v.a), op.set(v.aRow),
      op.get(v.m), op.set(v.i),
      ...countDown(v.i, [
        op.i32Const(0), op.set(v.j),
        op.get(v.n), op.i32Const(2), op.i32ShrU(), op.set(v.jLeft),
        ...countDown(v.jLeft, [
          op.v128Const(new Array(16).fill(0)), op.set(v.acc),
          op.get(v.b), op.get(v.j), op.i32Add(), op.set(v.bAt),
          op.i32Const(0), op.set(v.p),
          op.get(v.k), op.set(v.pLeft),
          ...countDown(v.pLeft, [
            op.get(v.acc),
            op.get(v.aRow), op.get(v.p), op.i32Add(), op.f32Load(), op.f32x4Splat(),
            op.get(v.bAt), op.v128Load(), op.f32x4Mul(), op.f32x4Add(), op.set(v.acc),
            op.get(v.p), op.i32Const(4), op.i32Add(), op.set(v.p),
            op.get(v.bAt), op.get(v.rowBytes), op.i32Add(), op.set(v.bAt),
          ]),
          op.get(v.c), op.get(v.j), op.i32Add(), op.get(v.acc), op.v128Store(),
          op.get(v.j), op.i32Const(16), op.i32Add(), op.set(v.j),
        ]),
        op.get(v.c), op.get(v.rowBytes), op.i32Add(), op.set(v.c),
        op.get(v.aRow), op.get(v.kBytes), op.i32Add(), op.set(v.aRow),
      ]),
      op.get(v.a), op.get(v.aStep), op.i32Add(), op.set(v.a),
      op.get(v.b), op.get(v.bStep), op.i32Add(), op.set(v.b),
    ]),
  ],
);

/**
 * C[s] = A[s]·B[s]ᵀ with A [m, k] and B [n, k], k a multiple of 4: each C element is a dot product
 * of two rows, four lanes at a time, the lanes added at the end.
 */
export const smallMatmulNtKernel = defineKernel(
  'small_matmul_nt',
  { a: I32, b: I32, c: I32, batch: I32, m: I32, k: I32, n: I32, aStep: I32, bStep: I32 },
  { kBytes: I32, aRow: I32, bRow: I32, i: I32, j: I32, p: I32, pLeft: I32, acc: V128 },
  (v) => [
    op.get(v.k), op.i32Const(2), op.i32Shl(), op.set(v.kBytes),
    ...countDown(v.batch, [
      op.get(v.a), op.set(v.aRow),
      op.get(v.m), op.set(v.i),
      ...countDown(v.i, [
        op.get(v.b), op.set(v.bRow),
        op.get(v.n), op.set(v.j),
        ...countDown(v.j, [
          op.v128Const(new Array(16).fill(0)), op.set(v.acc),
          op.i32Const(0), op.set(v.p),
          op.get(v.k), op.i32Const(2), op.i32ShrU(), op.set(v.pLeft),
          ...countDown(v.pLeft, [
            op.get(v.acc),
            op.get(v.aRow), op.get(v.p), op.i32Add(), op.v128Load(),
            op.get(v.bRow), op.get(v.p), op.i32Add(), op.v128Load(),
            op.f32x4Mul(), op.f32x4Add(), op.set(v.acc),
            op.get(v.p), op.i32Const(16), op.i32Add(), op.set(v.p),
          ]),
          op.get(v.c),
          op.get(v.acc), op.f32x4ExtractLane(0), op.get(v.acc), op.f32x4ExtractLane(1), op.f32Add(),
          op.get(v.acc), op.f32x4ExtractLane(2), op.get(v.acc), op.f32x4ExtractLane(3), op.f32Add(),
          op.f32Add(),
          op.f32Store(),
          op.get(v.c), op.i32Const(4), op.i32Add(), op.set(v.c),
          op.get(v.bRow), op.get(v.kBytes), op.i32Add(), op.set(v.bRow),
        ]),
        op.get(v.aRow), op.get(v.kBytes), op.i32Add(), op.set(v.aRow),
      ]),
      op.get(v.a), op.get(v.aStep), op.i32Add(), op.set(v.a),
      op.get(v.b), op.get(v.bStep), op.i32Add(), op.set(v.b),
    ]),
  ],
);
