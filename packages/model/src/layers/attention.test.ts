import { describe, expect, it } from 'vitest';
import { createReferenceBackend, type Backend, type Tensor } from '@moge/ascend-hal';
import { createOnnxBackend } from '@moge/ascend-hal/node';
import { Rng } from '@moge/core';
import { getPreset } from '../presets/presets';
import { KV_CAPACITY_STEP, attentionForward, type AttentionWeights, type KvPair } from './attention';

const arch = getPreset('moge-tiny');
const { hiddenSize: h, numHeads: nh, numKvHeads: kv, headDim: hd } = arch;

function weights(b: Backend, rng: Rng): AttentionWeights {
  const t = (shape: number[]) => b.fromArray(Float32Array.from({ length: shape.reduce((p, d) => p * d, 1) }, () => (rng.float() - 0.5) * 0.4), shape);
  return { q: t([nh * hd, h]), k: t([kv * hd, h]), v: t([kv * hd, h]), o: t([h, nh * hd]), qBias: t([nh * hd]), kBias: t([kv * hd]), vBias: t([kv * hd]), oBias: t([h]) };
}

/** Attention outputs of `steps` single-token decode steps after a prefill of `prefill` tokens, batch 2. */
function decode(b: Backend, prefill: number, steps: number): { ys: Float32Array[]; past: KvPair } {
  const rng = new Rng(3);
  const w = weights(b, rng);
  const batch = 2;
  const total = prefill + steps;
  const xs = Float32Array.from({ length: batch * total * h }, () => rng.float() - 0.5);
  // Rows of sequence s at positions [from, to): the [B·S, h] layout attention takes.
  const rows = (from: number, to: number): Tensor => {
    const out = new Float32Array(batch * (to - from) * h);
    for (let s = 0; s < batch; s++) out.set(xs.subarray((s * total + from) * h, (s * total + to) * h), s * (to - from) * h);
    return b.fromArray(out, [batch * (to - from), h]);
  };
  const positions = (from: number, to: number) => Int32Array.from({ length: batch * (to - from) }, (_, i) => from + (i % (to - from)));
  let past = attentionForward(b, arch, w, rows(0, prefill), positions(0, prefill), { batch, seqLen: prefill, pastLen: 0 }).present;
  const ys: Float32Array[] = [];
  for (let i = prefill; i < total; i++) {
    const f = attentionForward(b, arch, w, rows(i, i + 1), positions(i, i + 1), { batch, seqLen: 1, pastLen: i }, past);
    ys.push(Float32Array.from(b.read(f.y) as Float32Array));
    past = f.present;
  }
  return { ys, past };
}

/** The reference backend without its optional kernels: the concatenating cache path. */
function withoutOptionalKernels(b: Backend): Backend {
  const { writeColumns: _w, matmulBias: _m, ...rest } = b;
  return rest;
}

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((x, i) => x.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i]![j]!)))));
  return m;
}

describe('attention decode over a KV cache with spare capacity', () => {
  const steps = KV_CAPACITY_STEP + 5; // crosses a capacity growth after the first one
  const concatenating = decode(withoutOptionalKernels(createReferenceBackend()), 3, steps);

  it('writes in place and grows in steps, giving the outputs of the concatenating cache', () => {
    const inPlace = decode(createReferenceBackend(), 3, steps);
    expect(maxDiff(inPlace.ys, concatenating.ys)).toBeLessThan(1e-6);
    expect(inPlace.past.length).toBe(3 + steps);
    expect(inPlace.past.k.shape).toEqual([2 * kv, 2 * KV_CAPACITY_STEP * hd]);
    expect(concatenating.past.k.shape).toEqual([2 * kv, (3 + steps) * hd]);
  });

  it('agrees on the onnxruntime backend too', () => {
    const onnx = decode(createOnnxBackend({ intraOpThreads: 1 }), 3, steps);
    expect(maxDiff(onnx.ys, concatenating.ys)).toBeLessThan(1e-4);
  });
});
