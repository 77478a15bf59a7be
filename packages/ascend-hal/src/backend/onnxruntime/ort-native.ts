/**
 * The synchronous door into onnxruntime-node.
 *
 * `InferenceSession.run` of the public API is async and defers every call through setImmediate, which
 * costs more than a small matmul and would force a Promise per operator on the (synchronous) Backend.
 * The package's native binding runs synchronously, so we drive it directly: `binding.js` exports the
 * N-API module and `initOrt`, and we build sessions, feeds and fetches the way its own `backend.js`
 * does. That file layout is not public API, which is why @moge/ascend-hal pins onnxruntime-node to
 * exactly 1.30.0 (package.json); re-check `dist/backend.js` before moving the pin.
 */
import type { InferenceSession } from 'onnxruntime-node';
import { Tensor as OrtTensor } from 'onnxruntime-node';
import { binding, initOrt, type Binding } from 'onnxruntime-node/dist/binding.js';

export { OrtTensor };

/** Session settings we expose; everything else stays at onnxruntime's defaults. */
export interface NativeSessionOptions {
  /** Threads of the intra-op pool; undefined lets onnxruntime choose (one per physical core). */
  intraOpThreads?: number;
}

const NO_RUN_OPTIONS: InferenceSession.RunOptions = {};

/** One loaded ONNX graph, run synchronously; `outputNames` are fetched in order. */
export class NativeSession {
  private readonly session: Binding.InferenceSession;
  private readonly fetches: Record<string, null>;
  private readonly outputNames: readonly string[];

  constructor(model: Uint8Array, outputNames: readonly string[], options: NativeSessionOptions = {}) {
    initOrt();
    const sessionOptions: InferenceSession.SessionOptions = {};
    if (options.intraOpThreads !== undefined) sessionOptions.intraOpNumThreads = options.intraOpThreads;
    this.session = new binding.InferenceSession();
    this.session.loadModel(model.buffer as ArrayBuffer, model.byteOffset, model.byteLength, sessionOptions);
    this.outputNames = outputNames;
    this.fetches = Object.fromEntries(outputNames.map((n) => [n, null]));
  }

  /** Runs the graph; the first output's storage is a fresh array onnxruntime filled, which the caller may keep. */
  run(feeds: Record<string, OrtTensor>): Float32Array {
    const out = this.session.run(feeds, this.fetches, NO_RUN_OPTIONS)[this.outputNames[0]!] as OrtTensor;
    return out.data as Float32Array;
  }

  /** Runs the graph once and returns every output, in the order the session was built with. */
  runAll(feeds: Record<string, OrtTensor>): Float32Array[] {
    const outs = this.session.run(feeds, this.fetches, NO_RUN_OPTIONS);
    return this.outputNames.map((n) => (outs[n] as OrtTensor).data as Float32Array);
  }

  dispose(): void {
    this.session.dispose();
  }
}

/** A float32 feed over (a view of) existing storage: onnxruntime reads it in place, no copy. */
export function f32Feed(data: Float32Array, dims: readonly number[]): OrtTensor {
  return new OrtTensor('float32', data, dims);
}

export function i64Feed(values: readonly number[]): OrtTensor {
  return new OrtTensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), [values.length]);
}
