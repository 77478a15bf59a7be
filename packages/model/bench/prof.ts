import { createOnnxBackend } from '@moge/ascend-hal/node';
import { getPreset, initModelWeights, modelForward, modelBackward, nextTokenLabels } from '../src/index';
const arch = getPreset('moge-small');
const b = createOnnxBackend({ intraOpThreads: 1 });
const w = initModelWeights(arch, b, { seed: 1 });
const B = 4, S = 256;
const ids = new Int32Array(B * S).map((_, i) => (i * 7919) % arch.vocabSize);
const batch = { ids, batch: B, seqLen: S, labels: nextTokenLabels(ids, B, S) };
for (let i = 0; i < 3; i++) {
  const t0 = performance.now();
  const f = modelForward(w, batch);
  const t1 = performance.now();
  modelBackward(w, f);
  const t2 = performance.now();
  console.log(`fwd ${(t1 - t0).toFixed(0)} ms bwd ${(t2 - t1).toFixed(0)} ms  tok/s ${(B * S / ((t2 - t0) / 1000)).toFixed(0)}`);
}
