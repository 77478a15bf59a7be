import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TrainConfigSchema } from '../config/train-config';
import { loadSotuCorpus } from '../data/corpus';
import { mainJobConfig } from '../jobs/main-job';
import type { StepRecord } from '../metrics/step-record';
import { trainModel } from './train';

const tmp = mkdtempSync(join(tmpdir(), 'moge-trainer-loop-'));
const dataFile = join(tmp, 'text.txt');
writeFileSync(dataFile, loadSotuCorpus().slice(0, 2).map((d) => d.text).join('\n').slice(0, 12_000));

async function run(workers: number, router: 'moge' | 'topk' = 'moge'): Promise<StepRecord[]> {
  const records: StepRecord[] = [];
  await trainModel(
    // Global batch 8 of 16-token sequences in micro-batches of 2: 4, 2 or 1 micro-batch(es) per worker.
    { preset: 'moge-tiny', vocabSize: 300, data: [dataFile], steps: 3, seed: 11, seqLen: 16, globalBatch: 8, microBatch: 2, workers, router, backend: 'reference', evalEvery: 3, checkpointEvery: 0 },
    { outDir: join(tmp, `${router}-w${workers}`), live: false, onStep: (r) => records.push(r) },
  );
  return records;
}

describe('data-parallel training over worker threads', () => {
  it('1, 2 and 4 workers give the same losses (to 1e-5) with the same seed and global batch', async () => {
    const [one, two, four] = [await run(1), await run(2), await run(4)];
    expect(one.map((r) => r.step)).toEqual([1, 2, 3]);
    for (const other of [two, four]) {
      expect(other).toHaveLength(3);
      other.forEach((r, i) => {
        expect(Math.abs(r.loss - one[i]!.loss)).toBeLessThan(1e-5);
        expect(Math.abs(r.gradNorm - one[i]!.gradNorm)).toBeLessThan(1e-4);
        // Routing decisions are discrete: the same tokens reach the same experts on any worker count.
        expect(r.expertLoads).toEqual(one[i]!.expertLoads);
      });
      expect(Math.abs(other[2]!.evalLoss! - one[2]!.evalLoss!)).toBeLessThan(1e-5);
    }
    expect(one[2]!.loss).toBeLessThan(one[0]!.loss);
  });

  it('top-k on the same model is measured on the same expert-group devices and shows imbalance', async () => {
    const topk = await run(2, 'topk');
    expect(topk.flatMap((r) => r.imbalanceScore).some((v) => v > 0)).toBe(true);
    expect(topk[0]!.expertLoads[0]).toHaveLength(8);
  });
});

describe('main job configuration', () => {
  it.each([1, 2, 4])('quick and full configs are valid runs of moge-small with %i worker(s)', (workers) => {
    for (const quick of [true, false]) {
      const c = TrainConfigSchema.parse(mainJobConfig(quick, 0, workers));
      expect(c.preset).toBe('moge-small');
      expect(c.globalBatch % (c.microBatch * workers)).toBe(0);
    }
  });
});
