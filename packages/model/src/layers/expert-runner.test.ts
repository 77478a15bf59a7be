import { describe, expect, it } from 'vitest';
import { createReferenceBackend, type Tensor } from '@moge/ascend-hal';
import { getPreset } from '../presets/presets';
import { initModelWeights } from '../weights/model-weights';
import { stackedExpertName } from '../weights/param-specs';
import { modelBackward } from '../model/backward';
import { modelForward } from '../model/transformer';
import { tokenBatchFromRows, nextTokenLabels } from '../model/batch';
import { localExperts, type ExpertCall, type ExpertRunner } from './expert-runner';

const arch = getPreset('moge-tiny');
const b = createReferenceBackend();
const w = initModelWeights(arch, b, { seed: 3, std: 0.2 });
const rows = [
  [5, 9, 13, 200, 7, 1],
  [42, 17, 3, 3, 99, 250],
];
const tokens = tokenBatchFromRows(rows, arch.vocabSize);
const batch = { ...tokens, labels: nextTokenLabels(tokens.ids, tokens.batch, tokens.seqLen) };

/** A runner that delegates to the default and keeps the expert gradients itself, as an EP runner does. */
function keepingRunner() {
  const calls: string[] = [];
  const kept = new Map<string, Float32Array>();
  const runner: ExpertRunner = {
    forward(be, call: ExpertCall, xs: Tensor) {
      calls.push(`f${call.layer}`);
      expect(call.offsets[call.offsets.length - 1]).toBe(xs.shape[0]);
      expect(Array.from(call.counts).reduce((a, c) => a + c, 0)).toBe(xs.shape[0]);
      return localExperts.forward(be, call, xs);
    },
    backward(be, call, saved, dys) {
      calls.push(`b${call.layer}`);
      const g = localExperts.backward(be, call, saved, dys);
      kept.set(stackedExpertName(call.layer, 'gate_proj'), Float32Array.from(be.read(g.dExpertGate!) as Float32Array));
      return { dxs: g.dxs };
    },
  };
  return { runner, calls, kept };
}

describe('the MoE layer expert-runner hook', () => {
  it('a runner sees every layer in order, and a runner that keeps expert gradients changes nothing else', () => {
    const plain = modelForward(w, batch);
    const plainGrads = modelBackward(w, plain);
    const { runner, calls, kept } = keepingRunner();
    const hooked = modelForward(w, batch, { experts: runner });
    const hookedGrads = modelBackward(w, hooked);
    expect(calls).toEqual(['f0', 'f1', 'b1', 'b0']);
    expect(hooked.loss!.total).toBe(plain.loss!.total);
    for (const [name, g] of plainGrads) {
      if (name.includes('.mlp.experts.')) {
        expect(hookedGrads.has(name)).toBe(false);
        if (name.endsWith('gate_proj.weight')) expect(kept.get(name)).toEqual(b.read(g));
      } else {
        expect(b.read(hookedGrads.get(name)!)).toEqual(b.read(g));
      }
    }
    // Parameter order is kept for what is returned.
    expect([...hookedGrads.keys()]).toEqual([...plainGrads.keys()].filter((n) => !n.includes('.mlp.experts.')));
  });
});
