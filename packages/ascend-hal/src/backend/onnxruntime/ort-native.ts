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
import { MogeError } from '@moge/core';
import type * as OrtApi from 'onnxruntime-node';
import type * as OrtBinding from 'onnxruntime-node/dist/binding.js';
import { describePlaces, peerSearchPlaces, requireFromFirst } from '../../peer/require-peer';
import { allocateOutputF32 } from '../cpu/cpu-tensor';

export type OrtTensor = OrtApi.Tensor;

/** The onnxruntime-node release whose binding layout this file drives (package.json pins the same). */
export const ONNXRUNTIME_NODE_VERSION = '1.30.0';

interface OrtModules {
  Tensor: typeof OrtApi.Tensor;
  binding: typeof OrtBinding.binding;
  initOrt: typeof OrtBinding.initOrt;
}
let modules: OrtModules | undefined;

/**
 * onnxruntime-node, loaded on first use: it is an optional peer dependency (≈ 290 MB installed), so
 * the packages that only plan (sim, memory, ep-planner) and the reference backend work without it.
 * It is looked for beside this package, then from the program and the working directory (see
 * `peerSearchPlaces`); a copy found there must be the pinned release, since we drive its binding.
 */
export function loadOnnxRuntime(): OrtModules {
  if (modules) return modules;
  const places = peerSearchPlaces(import.meta.url);
  const found = requireFromFirst(places, (load) => {
    const main = load.resolve('onnxruntime-node'); // before package.json, so "not found" names the package
    const { version } = load('onnxruntime-node/package.json') as { version: string };
    if (version !== ONNXRUNTIME_NODE_VERSION) throw new Error(`found onnxruntime-node ${version} at ${main}`);
    const api = load('onnxruntime-node') as typeof OrtApi;
    const native = load('onnxruntime-node/dist/binding.js') as typeof OrtBinding;
    return { Tensor: api.Tensor, binding: native.binding, initOrt: native.initOrt };
  });
  if (!found.ok) {
    throw new MogeError(
      'E_MISSING_DEPENDENCY',
      `the onnxruntime backend needs onnxruntime-node ${ONNXRUNTIME_NODE_VERSION}, which did not load (${found.reason}). ` +
        `Looked from ${describePlaces(found.tried)}. ` +
        `Install it in the project (or beside the global package) that uses the backend: ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node@${ONNXRUNTIME_NODE_VERSION} ` +
        '(the variable skips its optional CUDA download), or use the reference backend.',
    );
  }
  modules = found.value;
  return modules;
}

/** Session settings we expose; everything else stays at onnxruntime's defaults. */
export interface NativeSessionOptions {
  /** Threads of the intra-op pool; undefined lets onnxruntime choose (one per physical core). */
  intraOpThreads?: number;
}

const NO_RUN_OPTIONS: OrtApi.InferenceSession.RunOptions = {};

/** One loaded ONNX graph, run synchronously; `outputNames` are fetched in order. */
export class NativeSession {
  private readonly session: OrtBinding.Binding.InferenceSession;
  private readonly fetches: Record<string, null>;
  private readonly outputNames: readonly string[];

  constructor(model: Uint8Array, outputNames: readonly string[], options: NativeSessionOptions = {}) {
    const { binding, initOrt } = loadOnnxRuntime();
    initOrt();
    const sessionOptions: OrtApi.InferenceSession.SessionOptions = {};
    if (options.intraOpThreads !== undefined) sessionOptions.intraOpNumThreads = options.intraOpThreads;
    this.session = new binding.InferenceSession();
    this.session.loadModel(model.buffer as ArrayBuffer, model.byteOffset, model.byteLength, sessionOptions);
    this.outputNames = outputNames;
    this.fetches = Object.fromEntries(outputNames.map((n) => [n, null]));
  }

  /**
   * Runs the graph and returns its first output. With `outDims` (that output's shape, known to the
   * caller) onnxruntime writes it into storage from the backend's output allocator, which pools large
   * buffers (buffer-recycling.ts); without, into a fresh array of its own. Why it matters: every
   * fresh array is external memory that V8 must find dead again, and in a moge-small training step
   * onnxruntime's ≈ 50 MB of outputs kept V8 marking the heap (13 against 7 full collections over 20
   * steps; the step 1.02× as fast with them pooled).
   */
  run(feeds: Record<string, OrtTensor>, outDims?: readonly number[]): Float32Array {
    const name = this.outputNames[0]!;
    if (outDims) {
      const out = allocateOutputF32(outDims.reduce((p, d) => p * d, 1));
      this.session.run(feeds, { [name]: f32Feed(out, outDims) }, NO_RUN_OPTIONS);
      return out;
    }
    const out = this.session.run(feeds, this.fetches, NO_RUN_OPTIONS)[name] as OrtTensor;
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
  return new (loadOnnxRuntime().Tensor)('float32', data, dims);
}

/** A boolean feed over bytes (0 false, 1 true), as onnxruntime-node takes them. */
export function boolFeed(data: Uint8Array, dims: readonly number[]): OrtTensor {
  return new (loadOnnxRuntime().Tensor)('bool', data, dims);
}

export function i64Feed(values: readonly number[]): OrtTensor {
  return new (loadOnnxRuntime().Tensor)('int64', BigInt64Array.from(values, (v) => BigInt(v)), [values.length]);
}
