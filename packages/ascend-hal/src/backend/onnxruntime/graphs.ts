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
 * Transpose node (measured ≈ 15 % slower at 1024³ with transA). Re-measured at the model's shapes
 * (interleaved, 1 thread): Gemm and MatMul-with-Transpose (folded into FusedMatMul) tie within 3 %
 * from 1x256·(512x256)ᵀ to 1024x256·(4096x256)ᵀ, with or without bias (Gemm C vs MatMul + Add).
 * Passing a preallocated output in `fetches` saves nothing: onnxruntime-node writes into it and then
 * still copies every output into a fresh JS array (CPU time 1024x256·(256x256)ᵀ 1196 vs 1204 µs).
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
 * Re-measured by CPU time with imbalanced segments (16 experts, K = N = 256): views 1.05× the time at
 * 4096 rows, 1.10× at 1024, 1.16× at 128; padding to one batched MatMul 1.15–1.39× at 64–512 rows;
 * swapping the operands so the weight is Gemm's unpacked A (yᵀ = W·xᵀ, then Transpose, optimiser off
 * so it is not folded back) 1.06–1.63× at 4–128 rows, 0.95–0.99× (noise) at 256–512. What does win
 * at few rows per expert is a weight that is a constant initializer, which onnxruntime pre-packs once
 * at load: 0.61× the time at 4 rows, 0.66× at 64, 0.72× at 128, 0.86× at 512. A weight made with
 * Backend.constant gets exactly that (const-graphs.ts); this graph serves ordinary weights.
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
