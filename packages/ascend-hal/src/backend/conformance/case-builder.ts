import { Rng } from '@moge/core';
import type { Backend, Tensor } from '../backend';

/** A host-side tensor: what a case feeds in and what it reads back. */
export interface HostTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array;
}

/** One kernel call on fixed inputs; `run` gives host copies of every output. */
export interface ConformanceCase {
  /** The Backend member under test, e.g. 'matmul'. */
  readonly kernel: string;
  /** Unique, human-readable: kernel, shapes and options. */
  readonly name: string;
  /** True for invalid input that a conforming backend must reject by throwing. */
  readonly expectError: boolean;
  run(backend: Backend): HostTensor[];
}

/** What a case body returns: tensors (read back after the call) or a host number (sumAll). */
export type CaseResult = Tensor | readonly Tensor[] | number;

const f32 = (shape: readonly number[], data: Float32Array): HostTensor => ({ shape, data });
export const i32 = (shape: readonly number[], values: ArrayLike<number>): HostTensor => ({ shape, data: Int32Array.from(values) });
/** A grouped matmul's offsets (prefix sums, length groups + 1) for groups of these row counts. */
export function offsetsOf(sizes: readonly number[]): Int32Array {
  const offsets = new Int32Array(sizes.length + 1);
  sizes.forEach((s, g) => (offsets[g + 1] = offsets[g]! + s));
  return offsets;
}
export const fromValues = (shape: readonly number[], values: ArrayLike<number>): HostTensor => f32(shape, Float32Array.from(values));

/** Uniform values in [lo, hi), deterministic per (seed label). */
export function uniform(rng: Rng, shape: readonly number[], lo = -1, hi = 1): HostTensor {
  const n = shape.reduce((p, d) => p * d, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = lo + (hi - lo) * rng.float();
  return f32(shape, data);
}

/** A fresh, seeded stream for the case named `name` (same inputs on every backend and every run). */
export function rngFor(name: string): Rng {
  return new Rng(0x5eed).fork(name);
}

/**
 * Builds a case: `inputs` are uploaded to the backend (copies: CPU backends adopt host arrays, and the
 * in-place kernels would otherwise change the inputs between the oracle's run and the candidate's),
 * `body` calls the kernel, and every tensor it returns — or every input named in `readBack`, for
 * the in-place kernels — is read back as a host copy.
 */
export function makeCase(
  kernel: string,
  name: string,
  inputs: readonly HostTensor[],
  body: (backend: Backend, tensors: Tensor[]) => CaseResult | void,
  options: { readBack?: readonly number[]; expectError?: boolean } = {},
): ConformanceCase {
  return {
    kernel,
    name,
    expectError: options.expectError ?? false,
    run(backend) {
      const tensors = inputs.map((h) =>
        backend.fromArray(h.data.slice(), h.shape, h.data instanceof Int32Array ? 'i32' : 'f32'),
      );
      const result = body(backend, tensors);
      const outputs: Tensor[] = options.readBack ? options.readBack.map((i) => tensors[i]!) : [];
      if (typeof result === 'number') return [f32([], Float32Array.of(result))];
      if (!options.readBack && result) outputs.push(...(Array.isArray(result) ? (result as readonly Tensor[]) : [result as Tensor]));
      return outputs.map((t) => {
        const data = backend.read(t);
        return { shape: [...t.shape], data: data instanceof Int32Array ? Int32Array.from(data) : Float32Array.from(data) };
      });
    },
  };
}
