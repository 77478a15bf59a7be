import { wasmEncoder } from '@moge/ascend-hal';
import { softmaxModuleBytes } from './softmax-kernel';

/**
 * The WebAssembly kernels of softmax-kernel.ts behind a typed-array interface. Rows go through the
 * module's memory in chunks of ~128 KiB of logits (kept in L2 with their probabilities while both
 * kernels run), so the module's memory stays small whatever the token count.
 */
/**
 * Which softmax kernel: 'f64' (f64x2, the reference backend's bits; E even) or 'f32' (f32x4, within
 * 1e-6 relative of it and ~1.8× faster; E a multiple of 4).
 */
export type WasmPrecision = 'f32' | 'f64';

export interface WasmSoftmax {
  /** probs[T, E] = softmax of every row of logits[T, E]. Default precision 'f64'. */
  softmaxRows(logits: Float32Array, probs: Float32Array, tokens: number, e: number, precision?: WasmPrecision): void;
  /**
   * softmax as above, then for each row and each contiguous group of g experts the best expert's id
   * (within the row) into ids[T, E/g] and its probability into values[T, E/g]; with `gate`, also
   * gate.scale = routerScale[id] and gate.weights = value · routerScale[id], both [T, E/g].
   */
  softmaxGroupArgmax(
    logits: Float32Array,
    probs: Float32Array,
    ids: Int32Array,
    values: Float32Array,
    tokens: number,
    e: number,
    g: number,
    precision?: WasmPrecision,
    gate?: GateOutputs,
  ): void;
}

/** router_scale [E] in, and the gate of every choice out. */
export interface GateOutputs {
  routerScale: Float32Array;
  scale: Float32Array;
  weights: Float32Array;
}

interface Exports {
  memory: WebAssembly.Memory;
  softmax_rows(src: number, dst: number, scratch: number, rows: number, cols: number): void;
  softmax_rows_f32(src: number, dst: number, scratch: number, rows: number, cols: number): void;
  group_argmax(probs: number, ids: number, values: number, rows: number, cols: number, groupSize: number): void;
  group_argmax_x4(
    probs: number,
    ids: number,
    values: number,
    rows: number,
    cols: number,
    groupSize: number,
    routerScale: number,
    scaleOut: number,
    weightsOut: number,
  ): void;
}

const CHUNK_BYTES = 128 * 1024;
const align16 = (n: number) => Math.ceil(n / 16) * 16;

/** Engines without fixed-width SIMD (very old ones) reject the module: they get the JS kernel. */
function instantiate(): Exports | null {
  return wasmEncoder.instantiateModule<Exports>(softmaxModuleBytes());
}

function wrap(x: Exports): WasmSoftmax {
  const run = (
    logits: Float32Array,
    probs: Float32Array,
    tokens: number,
    e: number,
    argmax: { ids: Int32Array; values: Float32Array; g: number; gate: GateOutputs | undefined } | null,
    precision: WasmPrecision,
  ) => {
    const lanes = precision === 'f32' ? 4 : 2;
    if (e % lanes !== 0) throw new RangeError(`wasm softmax (${precision}): E = ${e}, expected a multiple of ${lanes}`);
    const softmax = precision === 'f32' ? x.softmax_rows_f32 : x.softmax_rows;
    const chunk = Math.max(1, Math.min(tokens, Math.floor(CHUNK_BYTES / (e * 4))));
    const groups = argmax ? e / argmax.g : 0;
    // Layout: scratch [E] f64 | router_scale [E] f32 | logits [chunk, E] f32 | probs [chunk, E] f32 |
    // ids [chunk, M] i32 | values [chunk, M] f32 | scale [chunk, M] f32 | weights [chunk, M] f32
    const scratch = 0;
    const rscale = align16(e * 8);
    const src = rscale + align16(e * 4);
    const dst = src + align16(chunk * e * 4);
    const idsAt = dst + align16(chunk * e * 4);
    const valuesAt = idsAt + align16(chunk * groups * 4);
    const scaleAt = valuesAt + align16(chunk * groups * 4);
    const weightsAt = scaleAt + align16(chunk * groups * 4);
    const need = weightsAt + align16(chunk * groups * 4);
    wasmEncoder.growMemoryTo(x.memory, need);
    const buffer = x.memory.buffer;
    const srcView = new Float32Array(buffer, src, chunk * e);
    const dstView = new Float32Array(buffer, dst, chunk * e);
    const idsView = new Int32Array(buffer, idsAt, chunk * groups);
    const valuesView = new Float32Array(buffer, valuesAt, chunk * groups);
    const scaleView = new Float32Array(buffer, scaleAt, chunk * groups);
    const weightsView = new Float32Array(buffer, weightsAt, chunk * groups);
    const gate = argmax?.gate;
    const x4 = argmax !== null && argmax.g % 4 === 0;
    if (gate) new Float32Array(buffer, rscale, e).set(gate.routerScale);
    for (let t0 = 0; t0 < tokens; t0 += chunk) {
      const rows = Math.min(chunk, tokens - t0);
      srcView.set(logits.subarray(t0 * e, (t0 + rows) * e));
      softmax(src, dst, scratch, rows, e);
      probs.set(rows === chunk ? dstView : dstView.subarray(0, rows * e), t0 * e);
      if (argmax) {
        // Same ids and values either way; the four-lane kernel is faster, and writes the gate too.
        if (x4) x.group_argmax_x4(dst, idsAt, valuesAt, rows, e, argmax.g, rscale, scaleAt, weightsAt);
        else x.group_argmax(dst, idsAt, valuesAt, rows, e, argmax.g);
        const n = rows * groups;
        const at = t0 * groups;
        argmax.ids.set(idsView.subarray(0, n), at);
        argmax.values.set(valuesView.subarray(0, n), at);
        if (gate && x4) {
          gate.scale.set(scaleView.subarray(0, n), at);
          gate.weights.set(weightsView.subarray(0, n), at);
        } else if (gate) {
          for (let i = at; i < at + n; i++) {
            const s = gate.routerScale[argmax.ids[i]!]!;
            gate.scale[i] = s;
            gate.weights[i] = argmax.values[i]! * s;
          }
        }
      }
    }
  };
  return {
    softmaxRows: (logits, probs, tokens, e, precision = 'f64') => run(logits, probs, tokens, e, null, precision),
    softmaxGroupArgmax: (logits, probs, ids, values, tokens, e, g, precision = 'f64', gate) =>
      run(logits, probs, tokens, e, { ids, values, g, gate }, precision),
  };
}

let cached: WasmSoftmax | null | undefined;

/** The kernels, compiled on first use; null where WebAssembly SIMD is unavailable. */
export function wasmSoftmax(): WasmSoftmax | null {
  if (cached === undefined) {
    const x = instantiate();
    cached = x ? wrap(x) : null;
  }
  return cached;
}
