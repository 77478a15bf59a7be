/**
 * A few lines over onnx-proto (the protobufjs classes generated from onnx.proto of ONNX 1.10) to write
 * the small graphs the onnxruntime backend runs. onnx-proto is used rather than a hand-written encoder
 * because it is the schema itself: field numbers and types cannot drift.
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';

const { onnx } = onnxProto;

/** Opset 13: the first with Split's sizes as an input (so segment sizes may change per call). */
const OPSET = 13;
/** IR version 7 is the one that goes with opset 13. */
const IR_VERSION = 7;

export const FLOAT = onnx.TensorProto.DataType.FLOAT;
export const INT64 = onnx.TensorProto.DataType.INT64;
export const BOOL = onnx.TensorProto.DataType.BOOL;

/** A dimension: a fixed size, or a name for a size chosen at run time. */
export type Dim = number | string;

export function valueInfo(name: string, dims: readonly Dim[], elemType: number = FLOAT): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

/** A node; integer attributes become INT, integer lists INTS (all the graphs here need). */
export function node(
  opType: string,
  inputs: readonly string[],
  outputs: readonly string[],
  attributes: Record<string, number | readonly number[]> = {},
): OnnxTypes.INodeProto {
  const attribute = Object.entries(attributes).map(([name, v]) =>
    typeof v === 'number'
      ? { name, type: onnx.AttributeProto.AttributeType.INT, i: v }
      : { name, type: onnx.AttributeProto.AttributeType.INTS, ints: [...v] },
  );
  return { opType, input: [...inputs], output: [...outputs], attribute };
}

export interface GraphSpec {
  name: string;
  nodes: OnnxTypes.INodeProto[];
  inputs: OnnxTypes.IValueInfoProto[];
  outputs: OnnxTypes.IValueInfoProto[];
  /** Constant tensors held by the graph itself (onnxruntime pre-packs a matmul's constant operand at load). */
  initializers?: OnnxTypes.ITensorProto[];
}

/**
 * A float32 initializer named `name` over `data` (a view: its bytes are written into the model as
 * raw_data, little-endian like every platform onnxruntime runs on).
 */
export function floatInitializer(name: string, data: Float32Array, dims: readonly number[]): OnnxTypes.ITensorProto {
  return { name, dims: [...dims], dataType: FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** Serialises a graph into ModelProto bytes that onnxruntime can load. */
export function encodeModel(spec: GraphSpec): Uint8Array {
  const model = onnx.ModelProto.fromObject({
    irVersion: IR_VERSION,
    producerName: '@moge/ascend-hal',
    opsetImport: [{ domain: '', version: OPSET }],
    graph: { name: spec.name, node: spec.nodes, input: spec.inputs, output: spec.outputs, initializer: spec.initializers ?? [] },
  });
  return onnx.ModelProto.encode(model).finish();
}
