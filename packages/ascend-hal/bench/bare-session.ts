/**
 * The baselines: the same MatMul as a plain ONNX graph with fixed shapes, run straight on
 * onnxruntime — once through the public (async) InferenceSession API, once through the native
 * binding the HAL uses — so the HAL's own cost is what remains between them and the HAL figures.
 */
import onnxProto from 'onnx-proto';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { binding, initOrt } from 'onnxruntime-node/dist/binding.js';

const { onnx } = onnxProto;

export function matmulModel(m: number, k: number, n: number): Uint8Array {
  const info = (name: string, dims: number[]) => ({
    name,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
  });
  const model = onnx.ModelProto.fromObject({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 13 }],
    graph: { name: 'mm', node: [{ opType: 'MatMul', input: ['a', 'b'], output: ['c'] }], input: [info('a', [m, k]), info('b', [k, n])], output: [info('c', [m, n])] },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** A synchronous run through the native binding, feeds built per call as the HAL does. */
export function bareBindingMatmul(
  model: Uint8Array,
  a: Float32Array,
  b: Float32Array,
  [m, k, n]: readonly [number, number, number],
  intraOpThreads?: number,
): () => Float32Array {
  initOrt();
  const session = new binding.InferenceSession();
  const options = intraOpThreads === undefined ? {} : { intraOpNumThreads: intraOpThreads };
  session.loadModel(model.buffer as ArrayBuffer, model.byteOffset, model.byteLength, options);
  const fetches = { c: null };
  return () => session.run({ a: new Tensor('float32', a, [m, k]), b: new Tensor('float32', b, [k, n]) }, fetches, {}).c!.data as Float32Array;
}

/** An awaited run through the public API. */
export async function publicApiMatmul(model: Uint8Array, a: Float32Array, b: Float32Array, m: number, k: number, n: number): Promise<() => Promise<unknown>> {
  const session = await InferenceSession.create(model);
  return () => session.run({ a: new Tensor('float32', a, [m, k]), b: new Tensor('float32', b, [k, n]) });
}
