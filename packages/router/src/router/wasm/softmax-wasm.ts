import { softmaxModuleBytes } from './softmax-kernel';

/**
 * The WebAssembly kernels of softmax-kernel.ts behind a typed-array interface. Rows go through the
 * module's memory in chunks of ~128 KiB of logits (kept in L2 with their probabilities while both
 * kernels run), so the module's memory stays small whatever the token count.
 */
export interface WasmSoftmax {
  /** probs[T, E] = softmax of every row of logits[T, E] (E even). */
  softmaxRows(logits: Float32Array, probs: Float32Array, tokens: number, e: number): void;
  /**
   * softmax as above, then for each row and each contiguous group of g experts the best expert's id
   * (within the row) into ids[T, E/g] and its probability into values[T, E/g].
   */
  softmaxGroupArgmax(logits: Float32Array, probs: Float32Array, ids: Int32Array, values: Float32Array, tokens: number, e: number, g: number): void;
}

interface Exports {
  memory: WebAssembly.Memory;
  softmax_rows(src: number, dst: number, scratch: number, rows: number, cols: number): void;
  group_argmax(probs: number, ids: number, values: number, rows: number, cols: number, groupSize: number): void;
}

const CHUNK_BYTES = 128 * 1024;
const PAGE = 65536;
const align16 = (n: number) => Math.ceil(n / 16) * 16;

function instantiate(): Exports | null {
  if (typeof WebAssembly !== 'object') return null;
  const bytes = softmaxModuleBytes();
  // Engines without fixed-width SIMD (very old ones) reject the module: they get the JS kernel.
  if (!WebAssembly.validate(bytes)) return null;
  // Synchronous compilation is fine: the module is ~1 KiB, below every engine's main-thread limit.
  return new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as unknown as Exports;
}

function wrap(x: Exports): WasmSoftmax {
  const run = (logits: Float32Array, probs: Float32Array, tokens: number, e: number, argmax: { ids: Int32Array; values: Float32Array; g: number } | null) => {
    if (e % 2 !== 0) throw new RangeError(`wasm softmax: E = ${e}, expected an even expert count`);
    const chunk = Math.max(1, Math.min(tokens, Math.floor(CHUNK_BYTES / (e * 4))));
    const groups = argmax ? e / argmax.g : 0;
    // Layout: scratch [E] f64 | logits [chunk, E] f32 | probs [chunk, E] f32 | ids [chunk, M] i32 | values [chunk, M] f32
    const scratch = 0;
    const src = align16(e * 8);
    const dst = src + align16(chunk * e * 4);
    const idsAt = dst + align16(chunk * e * 4);
    const valuesAt = idsAt + align16(chunk * groups * 4);
    const need = valuesAt + align16(chunk * groups * 4);
    const have = x.memory.buffer.byteLength;
    if (need > have) x.memory.grow(Math.ceil((need - have) / PAGE));
    const buffer = x.memory.buffer;
    const srcView = new Float32Array(buffer, src, chunk * e);
    const dstView = new Float32Array(buffer, dst, chunk * e);
    const idsView = new Int32Array(buffer, idsAt, chunk * groups);
    const valuesView = new Float32Array(buffer, valuesAt, chunk * groups);
    for (let t0 = 0; t0 < tokens; t0 += chunk) {
      const rows = Math.min(chunk, tokens - t0);
      srcView.set(logits.subarray(t0 * e, (t0 + rows) * e));
      x.softmax_rows(src, dst, scratch, rows, e);
      probs.set(rows === chunk ? dstView : dstView.subarray(0, rows * e), t0 * e);
      if (argmax) {
        x.group_argmax(dst, idsAt, valuesAt, rows, e, argmax.g);
        argmax.ids.set(idsView.subarray(0, rows * groups), t0 * groups);
        argmax.values.set(valuesView.subarray(0, rows * groups), t0 * groups);
      }
    }
  };
  return {
    softmaxRows: (logits, probs, tokens, e) => run(logits, probs, tokens, e, null),
    softmaxGroupArgmax: (logits, probs, ids, values, tokens, e, g) => run(logits, probs, tokens, e, { ids, values, g }),
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
