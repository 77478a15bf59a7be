/**
 * ONNX graphs for the memory-bound kernels that dominate a training step once the matmuls are native:
 * SwiGLU and its backward, and (causal) softmax. onnxruntime's CPU provider runs Sigmoid, Exp and
 * Softmax with vectorised MLAS kernels, several times faster than `Math.exp` element by element in
 * JS. The backend sends only large tensors here (see ELEMENTWISE_NATIVE_MIN); small ones stay in JS,
 * where a native call's fixed cost would dominate. Shapes are symbolic, as in graphs.ts.
 */
import { BOOL, INT64, encodeModel, floatInitializer, node, valueInfo } from './onnx-graph';
import { OUTPUT } from './graphs';

/** y = g · σ(g) · u over flat [N] tensors. */
export function swigluGraph(): Uint8Array {
  return encodeModel({
    name: 'swiglu',
    nodes: [node('Sigmoid', ['g'], ['s']), node('Mul', ['g', 's'], ['silu']), node('Mul', ['silu', 'u'], [OUTPUT])],
    inputs: [valueInfo('g', ['N']), valueInfo('u', ['N'])],
    outputs: [valueInfo(OUTPUT, ['N'])],
  });
}

/** The two outputs of `swigluBackwardGraph`, in order. */
export const SWIGLU_BACKWARD_OUTPUTS = ['dg', 'du'] as const;

/**
 * With s = σ(g): dU = dy · g · s and dG = dy · u · s · (1 + g · (1 − s)), both from one run so the
 * sigmoid is computed once. s·(1 + g·(1 − s)) is written s + s·(g − g·s) to need no constant tensors.
 */
export function swigluBackwardGraph(): Uint8Array {
  return encodeModel({
    name: 'swiglu_backward',
    nodes: [
      node('Sigmoid', ['g'], ['s']),
      node('Mul', ['g', 's'], ['gs']),
      node('Mul', ['dy', 'gs'], ['du']),
      node('Sub', ['g', 'gs'], ['g_minus_gs']),
      node('Mul', ['s', 'g_minus_gs'], ['s_g_1ms']),
      node('Add', ['s', 's_g_1ms'], ['t']),
      node('Mul', ['dy', 'u'], ['dyu']),
      node('Mul', ['dyu', 't'], ['dg']),
    ],
    inputs: [valueInfo('g', ['N']), valueInfo('u', ['N']), valueInfo('dy', ['N'])],
    outputs: [valueInfo('dg', ['N']), valueInfo('du', ['N'])],
  });
}

/** Softmax over the last axis of [R, C]. */
export function softmaxGraph(): Uint8Array {
  return encodeModel({
    name: 'softmax',
    nodes: [node('Softmax', ['x'], [OUTPUT], { axis: -1 })],
    inputs: [valueInfo('x', ['R', 'C'])],
    outputs: [valueInfo(OUTPUT, ['R', 'C'])],
  });
}

/**
 * Softmax backward over the last axis of [R, C]: dx = p · (dy − Σ_row dy·p), p the softmax output
 * (named p because `y` is every graph's output). ReduceSum (opset 13)
 * takes its axes as an input; the caller feeds [1] (the column axis).
 */
export function softmaxBackwardGraph(): Uint8Array {
  return encodeModel({
    name: 'softmax_backward',
    nodes: [
      node('Mul', ['dy', 'p'], ['dyy']),
      node('ReduceSum', ['dyy', 'axes'], ['dot'], { keepdims: 1 }),
      node('Sub', ['dy', 'dot'], ['centred']),
      node('Mul', ['p', 'centred'], [OUTPUT]),
    ],
    inputs: [valueInfo('p', ['R', 'C']), valueInfo('dy', ['R', 'C']), valueInfo('axes', [1], INT64)],
    outputs: [valueInfo(OUTPUT, ['R', 'C'])],
  });
}

/**
 * Causal softmax over [N, Sq, Sk] with a boolean `visible` [Sq, Sk] (true where row i sees key j):
 * hidden keys become −∞ before the softmax and exactly 0 after it. Selecting rather than adding a −∞
 * mask keeps a hidden +∞ or NaN from reaching the row (−∞ + ∞ is NaN), and keeps hidden entries 0 when
 * the visible part of a row is NaN — what the reference and WebAssembly kernels give. Callers only use
 * it when every row sees a key (Sk ≥ Sq).
 */
export function causalSoftmaxGraph(): Uint8Array {
  return encodeModel({
    name: 'causal_softmax',
    nodes: [
      node('Where', ['visible', 'x', 'neg_inf'], ['masked']),
      node('Softmax', ['masked'], ['p'], { axis: -1 }),
      node('Where', ['visible', 'p', 'zero'], [OUTPUT]),
    ],
    inputs: [valueInfo('x', ['N', 'Sq', 'Sk']), valueInfo('visible', ['Sq', 'Sk'], BOOL)],
    outputs: [valueInfo(OUTPUT, ['N', 'Sq', 'Sk'])],
    initializers: [floatInitializer('neg_inf', Float32Array.of(-Infinity), []), floatInitializer('zero', Float32Array.of(0), [])],
  });
}

/** The two outputs of `rmsNormBackwardGraph`, in order. */
export const RMS_NORM_BACKWARD_OUTPUTS = ['dx', 'dw'] as const;

/**
 * RMSNorm backward with x̂ = x·r (r = the stored invRms, fed as [R, 1]) and g = dy·w:
 * dW = Σ_rows dy·x̂ and dx = r·(g − x̂·mean(g·x̂)), the reference kernel's formula. ReduceSum takes
 * its axes as an input (fed [0]); ReduceMean, still an attribute at opset 13, averages the columns.
 */
export function rmsNormBackwardGraph(): Uint8Array {
  return encodeModel({
    name: 'rms_norm_backward',
    nodes: [
      node('Mul', ['x', 'r'], ['xhat']),
      node('Mul', ['dy', 'xhat'], ['dy_xhat']),
      node('ReduceSum', ['dy_xhat', 'rows_axis'], ['dw'], { keepdims: 0 }),
      node('Mul', ['dy', 'w'], ['g']),
      node('Mul', ['g', 'xhat'], ['g_xhat']),
      node('ReduceMean', ['g_xhat'], ['mean'], { axes: [1], keepdims: 1 }),
      node('Mul', ['xhat', 'mean'], ['xhat_mean']),
      node('Sub', ['g', 'xhat_mean'], ['centred']),
      node('Mul', ['centred', 'r'], ['dx']),
    ],
    inputs: [valueInfo('x', ['R', 'D']), valueInfo('w', ['D']), valueInfo('r', ['R', 1]), valueInfo('dy', ['R', 'D']), valueInfo('rows_axis', [1], INT64)],
    outputs: [valueInfo('dx', ['R', 'D']), valueInfo('dw', ['D'])],
  });
}
