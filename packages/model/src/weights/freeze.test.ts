import { describe, expect, it } from 'vitest';
import { createReferenceBackend } from '@moge/ascend-hal';
import { createOnnxBackend } from '@moge/ascend-hal/node';
import { MoeArchSchema } from '@moge/core';
import { getPreset } from '../presets/presets';
import { createKvCache } from '../model/kv-cache';
import { modelBackward } from '../model/backward';
import { modelForward } from '../model/transformer';
import { nextTokenLabels } from '../model/batch';
import { maxRelativeError } from '../test-support/golden';
import { assertTrainable, freezeWeights, hasFrozenWeights } from './freeze';
import { createModelWeights, initModelWeights, weightsToHost } from './model-weights';
import { layerWeights } from '../model/layer-weights';

const arch = getPreset('moge-tiny');
const tokens = (n: number, seed: number) => Int32Array.from({ length: n }, (_, i) => (seed * 31 + i * 13 + ((i * i) % 7)) % arch.vocabSize);

describe('freezeWeights', () => {
  const backend = createReferenceBackend();
  const w = initModelWeights(arch, backend, { seed: 3, std: 0.2 });
  const frozen = freezeWeights(w);

  it('keeps every name, shape and value, and makes every tensor a constant', () => {
    expect([...frozen.params.keys()]).toEqual([...w.params.keys()]);
    for (const [name, t] of frozen.params) {
      expect(backend.isConstant(t), name).toBe(true);
      expect(t.shape).toEqual(w.params.get(name)!.shape);
    }
    expect(weightsToHost(frozen)).toEqual(weightsToHost(w));
    expect(hasFrozenWeights(frozen)).toBe(true);
    expect(hasFrozenWeights(w)).toBe(false);
  });

  it("gives a pass the frozen tensors, not the ones gathered earlier for the weights it was made from", () => {
    const [before, after] = [layerWeights(w, 1), layerWeights(frozen, 1)];
    expect(layerWeights(w, 1)).toBe(before); // gathered once per parameter set
    expect(after.attention.q).toBe(frozen.params.get('model.layers.1.self_attn.q_proj.weight'));
    expect(after.moe.expertDown).not.toBe(before.moe.expertDown);
    expect(backend.isConstant(after.moe.expertDown)).toBe(true);
  });

  it('refuses backward and in-place updates with an error that says why', () => {
    const batch = { ids: tokens(12, 1), batch: 2, seqLen: 6, labels: nextTokenLabels(tokens(12, 1), 2, 6) };
    const fwd = modelForward(frozen, batch);
    expect(() => modelBackward(frozen, fwd)).toThrow(/modelBackward: the weights are frozen/);
    expect(() => assertTrainable(frozen, 'optimizer step')).toThrow(/optimizer step: .*ordinary weights/);
    // What an optimizer on the Backend would do: an in-place update of a parameter.
    const p = frozen.params.get('lm_head.weight')!;
    expect(() => backend.axpyInPlace(p, backend.zeros(p.shape), -0.1)).toThrow(/axpyInPlace: .*constant/);
    expect(() => modelBackward(w, modelForward(w, batch))).not.toThrow();
  });

  // Every matmul native (smallMatmulMacs 0), so moge-tiny's weights go through constant sessions.
  it.each([
    ['reference', () => createReferenceBackend()],
    ['onnxruntime', () => createOnnxBackend({ intraOpThreads: 1, smallMatmulMacs: 0 })],
  ] as const)('decodes with a KV cache on %s like a full forward on ordinary weights', (_name, make) => {
    const be = make();
    const ordinary = createModelWeights(arch, be, weightsToHost(w));
    const fw = freezeWeights(ordinary);
    const [batch, len, split] = [3, 8, 5];
    const ids = tokens(batch * len, 9);
    const full = be.read(modelForward(ordinary, { ids, batch, seqLen: len }).logits);
    const cache = createKvCache(arch, batch);
    const rows = (s0: number, s1: number) => Int32Array.from({ length: batch * (s1 - s0) }, (_, i) => ids[Math.floor(i / (s1 - s0)) * len + s0 + (i % (s1 - s0))]!);
    const v = arch.vocabSize;
    const pre = be.read(modelForward(fw, { ids: rows(0, split), batch, seqLen: split }, { cache }).logits);
    for (let b = 0; b < batch; b++) {
      expect(maxRelativeError(pre.subarray(b * split * v, (b + 1) * split * v), full.subarray(b * len * v, (b * len + split) * v), 1)).toBeLessThan(1e-5);
    }
    for (let s = split; s < len; s++) {
      const step = be.read(modelForward(fw, { ids: rows(s, s + 1), batch, seqLen: 1 }, { cache }).logits);
      for (let b = 0; b < batch; b++) {
        expect(maxRelativeError(step.subarray(b * v, (b + 1) * v), full.subarray((b * len + s) * v, (b * len + s + 1) * v), 1)).toBeLessThan(1e-5);
      }
    }
  });
});

describe('frozen weights from a bf16 checkpoint', () => {
  // Wide enough that the onnxruntime backend keeps bf16 copies of the matrices (≥ 16384 elements).
  const wide = MoeArchSchema.parse({ ...getPreset('moge-tiny'), hiddenSize: 128, headDim: 32, expertFfnSize: 128, sharedExpertFfnSize: 128 });
  const host = weightsToHost(initModelWeights(wide, createReferenceBackend(), { seed: 5, std: 0.2 }));
  // What loading a bf16 checkpoint gives: f32 tensors holding bf16 values.
  for (const t of host.values()) new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length).forEach((u, i, a) => (a[i] = u & 0xffff0000));

  it.each([true, false])('decode batch 1 on onnxruntime (bf16Weights %s) like a full forward on the reference backend', (bf16Weights) => {
    const ref = createModelWeights(wide, createReferenceBackend(), host);
    const be = createOnnxBackend({ intraOpThreads: 1, bf16Weights });
    const fw = freezeWeights(createModelWeights(wide, be, host));
    const len = 6;
    const ids = tokens(len, 4).map((t) => t % wide.vocabSize);
    const full = ref.backend.read(modelForward(ref, { ids, batch: 1, seqLen: len }).logits);
    const cache = createKvCache(wide, 1);
    const v = wide.vocabSize;
    for (let s = 0; s < len; s++) {
      const step = be.read(modelForward(fw, { ids: ids.subarray(s, s + 1), batch: 1, seqLen: 1 }, { cache }).logits);
      // f32 kernels against the reference's float64-accumulated forward: ≈ 1e-5 of f32 rounding (the
      // WebAssembly SwiGLU's order of products alone moved the worst logit from below 1e-5 to 1.05e-5).
      expect(maxRelativeError(step, full.subarray(s * v, (s + 1) * v), 1)).toBeLessThan(2e-5);
    }
  });
});
