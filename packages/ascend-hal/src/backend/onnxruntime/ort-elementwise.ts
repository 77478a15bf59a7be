import { CpuTensor, sameShape } from '../cpu/cpu-tensor';
import type { CpuKernelOverrides } from '../cpu/cpu-backend';
import { swiglu as jsSwiglu, swigluBackward as jsSwigluBackward } from '../reference/elementwise';
import { rmsNormBackward as jsRmsNormBackward } from '../reference/norm';
import { softmax as jsSoftmax, softmaxBackward as jsSoftmaxBackward } from '../reference/softmax';
import { OUTPUT } from './graphs';
import { RMS_NORM_BACKWARD_OUTPUTS, SWIGLU_BACKWARD_OUTPUTS, causalSoftmaxGraph, rmsNormBackwardGraph, softmaxBackwardGraph, softmaxGraph, swigluBackwardGraph, swigluGraph } from './elementwise-graphs';
import { boolFeed, f32Feed, i64Feed } from './ort-native';
import type { SessionCache } from './session-cache';

/**
 * Tensors of at least this many elements run their SwiGLU / softmax on onnxruntime. JS costs
 * ≈ 8–10 ns an element for these (one `Math.exp` each, measured in the moge-small profile), a native
 * run ≈ 7 µs fixed plus ≈ 1 ns an element, so the crossover is near a thousand elements.
 */
export const ELEMENTWISE_NATIVE_MIN = 2048;

/** 1 where row i sees key j (j ≤ i + Sk − Sq, the causal diagonal shifted to the last keys), 0 above it; [Sq, Sk]. */
function causalVisible(sq: number, sk: number): Uint8Array {
  const visible = new Uint8Array(sq * sk);
  for (let i = 0; i < sq; i++) visible.fill(1, i * sk, i * sk + Math.max(0, Math.min(sk, i + sk - sq + 1)));
  return visible;
}

/**
 * SwiGLU, softmax and their backwards, and RMSNorm's backward, on onnxruntime sessions for large tensors; small ones, and inputs
 * the reference kernels must reject (mismatched shapes, a causal softmax where a row sees no key),
 * go to the reference code, which also produces its errors.
 */
export function onnxElementwiseKernels(cache: SessionCache, minElements: number = ELEMENTWISE_NATIVE_MIN): CpuKernelOverrides {
  // The last causal visibility mask, kept because training and decode ask for the same [Sq, Sk] over and over.
  let mask: { sq: number; sk: number; data: Uint8Array } | undefined;
  const lastAxis = i64Feed([1]);
  const firstAxis = i64Feed([0]);
  return {
    swiglu(gate: CpuTensor, up: CpuTensor): CpuTensor {
      if (gate.size < minElements || !sameShape(gate.shape, up.shape) || up.dtype !== 'f32') return jsSwiglu(gate, up);
      const dims = [gate.size];
      const session = cache.get('swiglu', swigluGraph);
      const out = session.run({ g: f32Feed(gate.f32('swiglu'), dims), u: f32Feed(up.f32('swiglu'), dims) }, dims);
      return new CpuTensor(gate.backend, 'f32', gate.shape, out);
    },

    swigluBackward(gate: CpuTensor, up: CpuTensor, dy: CpuTensor): [CpuTensor, CpuTensor] {
      if (gate.size < minElements || !sameShape(gate.shape, up.shape) || !sameShape(gate.shape, dy.shape) || up.dtype !== 'f32' || dy.dtype !== 'f32') {
        return jsSwigluBackward(gate, up, dy);
      }
      const dims = [gate.size];
      const session = cache.get('swiglu_backward', swigluBackwardGraph, SWIGLU_BACKWARD_OUTPUTS);
      const [dg, du] = session.runAll({
        g: f32Feed(gate.f32('swigluBackward'), dims),
        u: f32Feed(up.f32('swigluBackward'), dims),
        dy: f32Feed(dy.f32('swigluBackward'), dims),
      });
      return [new CpuTensor(gate.backend, 'f32', gate.shape, dg!), new CpuTensor(gate.backend, 'f32', gate.shape, du!)];
    },

    softmax(a: CpuTensor, options?: { causal?: boolean }): CpuTensor {
      const rank = a.shape.length;
      const cols = a.shape[rank - 1] ?? 0;
      if (a.size < minElements || a.dtype !== 'f32' || cols === 0) return jsSoftmax(a, options);
      const data = a.f32('softmax');
      if (!options?.causal) {
        const session = cache.get('softmax', softmaxGraph);
        const dims = [a.size / cols, cols];
        return new CpuTensor(a.backend, 'f32', a.shape, session.run({ x: f32Feed(data, dims) }, dims));
      }
      const sq = rank >= 2 ? a.shape[rank - 2]! : 0;
      if (sq === 0 || cols < sq) return jsSoftmax(a, options);
      if (!mask || mask.sq !== sq || mask.sk !== cols) mask = { sq, sk: cols, data: causalVisible(sq, cols) };
      const session = cache.get('causal_softmax', causalSoftmaxGraph, [OUTPUT]);
      const dims = [a.size / (sq * cols), sq, cols];
      const out = session.run({ x: f32Feed(data, dims), visible: boolFeed(mask.data, [sq, cols]) }, dims);
      return new CpuTensor(a.backend, 'f32', a.shape, out);
    },

    softmaxBackward(y: CpuTensor, dy: CpuTensor): CpuTensor {
      const cols = y.shape[y.shape.length - 1] ?? 0;
      if (y.size < minElements || cols === 0 || !sameShape(y.shape, dy.shape) || y.dtype !== 'f32' || dy.dtype !== 'f32') return jsSoftmaxBackward(y, dy);
      const dims = [y.size / cols, cols];
      const session = cache.get('softmax_backward', softmaxBackwardGraph);
      const out = session.run({ p: f32Feed(y.f32('softmaxBackward'), dims), dy: f32Feed(dy.f32('softmaxBackward'), dims), axes: lastAxis }, dims);
      return new CpuTensor(y.backend, 'f32', y.shape, out);
    },

    rmsNormBackward(x: CpuTensor, weight: CpuTensor, invRms: CpuTensor, dy: CpuTensor) {
      const cols = x.shape[x.shape.length - 1] ?? 0;
      const rows = cols === 0 ? 0 : x.size / cols;
      const fits =
        x.size >= minElements && cols > 0 && sameShape(x.shape, dy.shape) && weight.shape.length === 1 && weight.size === cols && invRms.size === rows &&
        x.dtype === 'f32' && dy.dtype === 'f32' && weight.dtype === 'f32' && invRms.dtype === 'f32';
      if (!fits) return jsRmsNormBackward(x, weight, invRms, dy);
      const session = cache.get('rms_norm_backward', rmsNormBackwardGraph, RMS_NORM_BACKWARD_OUTPUTS);
      const [dx, dw] = session.runAll({
        x: f32Feed(x.f32('rmsNormBackward'), [rows, cols]),
        w: f32Feed(weight.f32('rmsNormBackward'), [cols]),
        r: f32Feed(invRms.f32('rmsNormBackward'), [rows, 1]),
        dy: f32Feed(dy.f32('rmsNormBackward'), [rows, cols]),
        rows_axis: firstAxis,
      });
      return { dx: new CpuTensor(x.backend, 'f32', x.shape, dx!), dWeight: new CpuTensor(x.backend, 'f32', [cols], dw!) };
    },
  };
}
