/**
 * The ONNX graphs behind the FLOP-heavy kernels. All sizes are symbolic (named dims): one session then
 * serves every shape of its kind — attention in decode grows its key length by one each step, and a
 * session per shape would pay graph construction (milliseconds) on every step. Measured on the CPU
 * provider at 64³, a symbolic-shape MatMul runs as fast as a fixed-shape one (both ≈ 13 µs a call).
 */
import { INT64, encodeModel, node, valueInfo, type GraphSpec } from './onnx-graph';

/** Name of the single output of every graph here. */
export const OUTPUT = 'y';

/**
 * 2-D C = op(A)·op(B) as one Gemm: Gemm carries transA/transB itself, where MatMul would need a
 * Transpose node (measured ≈ 15 % slower at 1024³ with transA).
 */
export function gemmGraph(transA: boolean, transB: boolean): Uint8Array {
  return encodeModel({
    name: `gemm_${+transA}${+transB}`,
    nodes: [node('Gemm', ['a', 'b'], [OUTPUT], { transA: +transA, transB: +transB })],
    inputs: [valueInfo('a', transA ? ['K', 'M'] : ['M', 'K']), valueInfo('b', transB ? ['N', 'K'] : ['K', 'N'])],
    outputs: [valueInfo(OUTPUT, ['M', 'N'])],
  });
}

/** 2-D C = op(A)·op(B) + bias as one Gemm: its C input [N] broadcasts over the rows. */
export function gemmBiasGraph(transA: boolean, transB: boolean): Uint8Array {
  return encodeModel({
    name: `gemm_bias_${+transA}${+transB}`,
    nodes: [node('Gemm', ['a', 'b', 'c'], [OUTPUT], { transA: +transA, transB: +transB })],
    inputs: [valueInfo('a', transA ? ['K', 'M'] : ['M', 'K']), valueInfo('b', transB ? ['N', 'K'] : ['K', 'N']), valueInfo('c', ['N'])],
    outputs: [valueInfo(OUTPUT, ['M', 'N'])],
  });
}

/**
 * Batched MatMul, a: [B, ., .] or 2-D, b: [B, ., .] or 2-D (MatMul broadcasts a 2-D operand). A
 * transpose is a Transpose node over the last two axes, which onnxruntime's optimiser folds into
 * its FusedMatMul kernel rather than materialising.
 */
export function batchedMatmulGraph(aRank: 2 | 3, bRank: 2 | 3, transA: boolean, transB: boolean): Uint8Array {
  const nodes: GraphSpec['nodes'] = [];
  const lastTwo = (rank: 2 | 3) => (rank === 3 ? [0, 2, 1] : [1, 0]);
  let a = 'a';
  let b = 'b';
  if (transA) {
    nodes.push(node('Transpose', ['a'], ['at'], { perm: lastTwo(aRank) }));
    a = 'at';
  }
  if (transB) {
    nodes.push(node('Transpose', ['b'], ['bt'], { perm: lastTwo(bRank) }));
    b = 'bt';
  }
  nodes.push(node('MatMul', [a, b], [OUTPUT]));
  const dims = (rank: 2 | 3, rows: string, cols: string) => (rank === 3 ? ['B', rows, cols] : [rows, cols]);
  return encodeModel({
    name: `bmm_${aRank}${bRank}${+transA}${+transB}`,
    nodes,
    inputs: [valueInfo('a', transA ? dims(aRank, 'K', 'M') : dims(aRank, 'M', 'K')), valueInfo('b', transB ? dims(bRank, 'N', 'K') : dims(bRank, 'K', 'N'))],
    outputs: [valueInfo(OUTPUT, ['B', 'M', 'N'])],
  });
}

const names = (prefix: string, count: number) => Array.from({ length: count }, (_, g) => `${prefix}${g}`);

/**
 * Grouped matmul over G segments in one run: Split cuts x's rows by the `sizes` input (int64 [G], so
 * segment sizes change per call without a new session; the backend passes non-empty segments only),
 * each segment meets its own weight w_g (fed as a view of w, no copy) in a Gemm, and Concat stitches
 * the rows back in order. Measured against one run per segment and against padding to a batched MatMul (T = 1024,
 * K = N = 256, G = 64): 2.7 ms vs 2.9–5.0 ms and 3.5 ms; at T = K = N = 64, G = 8: 36 µs vs 77 µs and 30 µs
 * (padding wins only for tiny balanced loads and degrades with imbalance). Feeding every segment as
 * its own view and binding each Gemm's output to a view of the result (no Split, no Concat) measured
 * slower still (bench/kernels.ts at the time: 0.67× at 4096 rows, 0.72× at 4), so the copies stay.
 */
export function groupedMatmulGraph(groups: number, transB: boolean): Uint8Array {
  const xs = names('x', groups);
  const ws = names('w', groups);
  const ys = names('y', groups);
  const nodes = [node('Split', ['x', 'sizes'], xs, { axis: 0 })];
  for (let g = 0; g < groups; g++) nodes.push(node('Gemm', [xs[g]!, ws[g]!], [ys[g]!], { transB: +transB }));
  nodes.push(node('Concat', ys, [OUTPUT], { axis: 0 }));
  return encodeModel({
    name: `grouped_matmul_${groups}_${+transB}`,
    nodes,
    inputs: [valueInfo('x', ['T', 'K']), valueInfo('sizes', [groups], INT64), ...ws.map((w) => valueInfo(w, transB ? ['N', 'K'] : ['K', 'N']))],
    outputs: [valueInfo(OUTPUT, ['T', 'N'])],
  });
}

/**
 * Weight gradient of the grouped matmul: dW_g = x_gᵀ·dy_g for every segment, in one run. Split cuts x
 * and dy alike; Gemm with transA reads x_g transposed in place; an empty segment reduces over zero
 * rows and yields zeros. Concat of the [K, N] blocks along rows is [G·K, N], the memory of [G, K, N].
 */
export function groupedWeightGradGraph(groups: number): Uint8Array {
  const xs = names('x', groups);
  const ds = names('d', groups);
  const ys = names('y', groups);
  const nodes = [node('Split', ['x', 'sizes'], xs, { axis: 0 }), node('Split', ['dy', 'sizes'], ds, { axis: 0 })];
  for (let g = 0; g < groups; g++) nodes.push(node('Gemm', [xs[g]!, ds[g]!], [ys[g]!], { transA: 1 }));
  nodes.push(node('Concat', ys, [OUTPUT], { axis: 0 }));
  return encodeModel({
    name: `grouped_matmul_wgrad_${groups}`,
    nodes,
    inputs: [valueInfo('x', ['T', 'K']), valueInfo('dy', ['T', 'N']), valueInfo('sizes', [groups], INT64)],
    outputs: [valueInfo(OUTPUT, ['GK', 'N'])],
  });
}
