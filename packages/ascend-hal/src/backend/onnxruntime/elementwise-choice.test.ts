import { describe, expect, it } from 'vitest';
import { CpuTensor } from '../cpu/cpu-tensor';
import { SOFTMAX_ORT_MIN, SWIGLU_ORT_MIN, chooseElementwiseKernels } from './elementwise-choice';

const t = (shape: number[]) => new CpuTensor('x', 'f32', shape, new Float32Array(shape.reduce((p, d) => p * d, 1)));

/** Fake kernels that record which side ran (and with what options). */
function recorder() {
  const calls: string[] = [];
  const tag = (side: string) => ({
    swiglu: (g: CpuTensor) => (calls.push(`${side} swiglu`), g),
    softmax: (a: CpuTensor, o?: { causal?: boolean }) => (calls.push(`${side} softmax${o?.causal ? ' causal' : ''}`), a),
  });
  return { calls, ort: tag('ort'), wasm: { ...tag('wasm'), affine: (a: CpuTensor) => (calls.push('wasm affine'), a) } };
}

describe('chooseElementwiseKernels', () => {
  it('sends SwiGLU to onnxruntime from SWIGLU_ORT_MIN elements, to WebAssembly below', () => {
    const { calls, ort, wasm } = recorder();
    const k = chooseElementwiseKernels(ort, wasm);
    k.swiglu!(t([1, SWIGLU_ORT_MIN - 1]), t([1, SWIGLU_ORT_MIN - 1]));
    k.swiglu!(t([1, SWIGLU_ORT_MIN]), t([1, SWIGLU_ORT_MIN]));
    k.affine!(t([2]), 1);
    expect(calls).toEqual(['wasm swiglu', 'ort swiglu', 'wasm affine']);
  });

  it('sends large full-row softmax to onnxruntime, causal multi-row softmax and small ones to WebAssembly', () => {
    const { calls, ort, wasm } = recorder();
    const k = chooseElementwiseKernels(ort, wasm);
    const big = SOFTMAX_ORT_MIN;
    k.softmax!(t([big / 64, 64]));
    k.softmax!(t([big / 64, 1, 64]), { causal: true }); // one query row: every key visible → plain softmax
    k.softmax!(t([big / 4096, 64, 64]), { causal: true });
    k.softmax!(t([2, 64]));
    expect(calls).toEqual(['ort softmax', 'ort softmax', 'wasm softmax causal', 'wasm softmax']);
  });

  it('keeps onnxruntime and the JS kernels when WebAssembly is unavailable', () => {
    const { calls, ort } = recorder();
    const k = chooseElementwiseKernels(ort, {});
    k.swiglu!(t([2]), t([2]));
    k.softmax!(t([2, 2]), { causal: true });
    expect(calls).toEqual(['ort swiglu', 'ort softmax causal']);
    expect(k.affine).toBeUndefined();
  });
});
