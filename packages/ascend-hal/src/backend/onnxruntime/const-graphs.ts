/**
 * ONNX graphs whose matmul weight is a constant initializer rather than an input. onnxruntime's CPU
 * provider pre-packs a constant Gemm/MatMul operand once, when the session loads, where a weight fed
 * as an input is packed again on every call; at the few rows of a decode step that packing is a
 * large part of the work. Rows stay symbolic (`M`, `T`), so one session serves every batch size.
 */
import { INT64, encodeModel, floatInitializer, node, valueInfo } from './onnx-graph';
import { OUTPUT } from './graphs';

/** A constant operand: the storage and the dims it has in the graph. */
export interface ConstOperand {
  data: Float32Array;
  dims: readonly number[];
}

/**
 * y = op(a)·op(B) (+ bias) with B — and the bias, when it is a constant too — held by the graph.
 * `bias: 'input'` feeds the bias per call as `c` (an ordinary tensor next to a constant weight).
 */
export function constGemmGraph(transA: boolean, transB: boolean, b: ConstOperand, bias?: ConstOperand | 'input'): Uint8Array {
  const [k, n] = transB ? [b.dims[1]!, b.dims[0]!] : [b.dims[0]!, b.dims[1]!];
  const inputs = [valueInfo('a', transA ? [k, 'M'] : ['M', k])];
  const initializers = [floatInitializer('b', b.data, b.dims)];
  const gemmInputs = ['a', 'b'];
  if (bias === 'input') {
    inputs.push(valueInfo('c', [n]));
    gemmInputs.push('c');
  } else if (bias) {
    initializers.push(floatInitializer('c', bias.data, bias.dims));
    gemmInputs.push('c');
  }
  return encodeModel({
    name: `const_gemm_${+transA}${+transB}${bias ? '_bias' : ''}`,
    nodes: [node('Gemm', gemmInputs, [OUTPUT], { transA: +transA, transB: +transB })],
    inputs,
    outputs: [valueInfo(OUTPUT, ['M', n])],
    initializers,
  });
}

/**
 * The grouped matmul over every expert of a constant stacked weight w [G, K, N] (or [G, N, K] with
 * transB): Split cuts x's rows by `sizes` (int64 [G], zeros for experts that got no rows), each
 * segment meets its expert's initializer in a Gemm, Concat restores the order. One session per
 * stacked weight, whatever the routing.
 */
export function constGroupedMatmulGraph(w: Float32Array, groups: number, k: number, n: number, transB: boolean): Uint8Array {
  const per = k * n;
  const dims = transB ? [n, k] : [k, n];
  const nodes = [node('Split', ['x', 'sizes'], Array.from({ length: groups }, (_, g) => `x${g}`), { axis: 0 })];
  const initializers = [];
  for (let g = 0; g < groups; g++) {
    initializers.push(floatInitializer(`w${g}`, w.subarray(g * per, (g + 1) * per), dims));
    nodes.push(node('Gemm', [`x${g}`, `w${g}`], [`y${g}`], { transB: +transB }));
  }
  nodes.push(node('Concat', Array.from({ length: groups }, (_, g) => `y${g}`), [OUTPUT], { axis: 0 }));
  return encodeModel({
    name: `const_grouped_matmul_${groups}_${+transB}`,
    nodes,
    inputs: [valueInfo('x', ['T', k]), valueInfo('sizes', [groups], INT64)],
    outputs: [valueInfo(OUTPUT, ['T', n])],
    initializers,
  });
}
