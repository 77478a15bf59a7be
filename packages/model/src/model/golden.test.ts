import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createReferenceBackend, type Backend } from '@moge/ascend-hal';
import { createOnnxBackend } from '@moge/ascend-hal/node';
import { readSafetensorsFile } from '../safetensors/file';
import { loadModelDir } from '../checkpoint/model-dir';
import { toHfTensors } from '../weights/hf-layout';
import { tensorsToHost } from '../weights/model-weights';
import { freezeWeights } from '../weights/freeze';
import { goldenDir, readGoldenExpected, relativeErrorNorm, worstToleranceRatio } from '../test-support/golden';
import { tokenBatchFromRows } from './batch';
import { modelForward } from './transformer';
import { modelBackward } from './backward';

/**
 * tiny-moge-a: logits, losses, routing and every gradient from an independent float64 PyTorch
 * reference. Tolerances are the golden README's: 1e-4 relative (logits, gradient norms), 1e-5 on
 * losses, routing exact.
 */
const backends: [string, () => Backend][] = [
  ['reference', createReferenceBackend],
  ['onnxruntime', () => createOnnxBackend({ intraOpThreads: 1 })],
];

describe.each(backends)('golden tiny-moge-a on the %s backend', (_name, make) => {
  const dir = goldenDir('tiny-moge-a');
  const expected = readGoldenExpected('tiny-moge-a');
  const w = loadModelDir(dir, make());
  const batch = tokenBatchFromRows(expected.input_ids, w.arch.vocabSize);
  const fwd = modelForward(w, batch, { auxAlpha: expected.loss.aux_alpha });

  it('matches the logits within 1e-4 relative (1e-5 absolute near zero)', () => {
    expect([...fwd.logits.shape]).toEqual([expected.logits_shape[0]! * expected.logits_shape[1]!, expected.logits_shape[2]]);
    expect(worstToleranceRatio(w.backend.read(fwd.logits), expected.logits, 1e-4, 1e-5)).toBeLessThanOrEqual(1);
  });

  it('matches cross-entropy, aux per layer and total within 1e-5', () => {
    const loss = fwd.loss!;
    expect(Math.abs(loss.crossEntropy - expected.loss.cross_entropy)).toBeLessThan(1e-5);
    loss.auxUnscaledPerLayer.forEach((a, l) => expect(Math.abs(a - expected.loss.aux_unscaled_per_layer[l]!)).toBeLessThan(1e-5));
    expect(Math.abs(loss.total - expected.loss.total)).toBeLessThan(1e-5);
  });

  it('routes every token to exactly the golden experts, with the golden weights and counts', () => {
    const k = w.arch.topK;
    fwd.routing.forEach((r, l) => {
      const g = expected.routing[l]!;
      expect(Array.from(r.expertIds)).toEqual(g.expert_ids.flat());
      expect(Array.from(r.counts)).toEqual(g.counts);
      expect(worstToleranceRatio(r.weights, g.weights.flat(), 1e-4, 1e-5)).toBeLessThanOrEqual(1);
      expect(r.expertIds.length).toBe(g.expert_ids.length * k);
    });
  });

  it('gives the same logits and routing on frozen weights (constants)', () => {
    const frozen = freezeWeights(w);
    const ff = modelForward(frozen, batch, { auxAlpha: expected.loss.aux_alpha, withGrad: false });
    expect(worstToleranceRatio(w.backend.read(ff.logits), expected.logits, 1e-4, 1e-5)).toBeLessThanOrEqual(1);
    ff.routing.forEach((r, l) => expect(Array.from(r.expertIds)).toEqual(expected.routing[l]!.expert_ids.flat()));
  });

  it('matches d total / d parameter for every tensor within 1e-4 relative in norm', () => {
    const grads = toHfTensors(w.arch, tensorsToHost(w.backend, modelBackward(w, fwd)));
    const golden = readSafetensorsFile(join(dir, 'grads.safetensors')).tensors;
    expect([...grads.keys()].sort()).toEqual([...golden.keys()].sort());
    const bad: string[] = [];
    for (const [name, ref] of golden) {
      const got = grads.get(name)!;
      expect(got.shape).toEqual(ref.shape);
      const err = relativeErrorNorm(got.data, ref.data);
      if (!(err < 1e-4)) bad.push(`${name}: ${err.toExponential(2)}`);
    }
    expect(bad).toEqual([]);
  });
});
