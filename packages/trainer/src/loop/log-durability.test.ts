import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { loadSotuCorpus } from '../data/corpus';
import type * as FsDurable from '../checkpoint/fs-durable';
import { trainModel } from './train';

// Records the order of the durable-file operations (the real ones still run), so the test can check
// that the step log reaches the disk before each checkpoint is published.
const events = vi.hoisted(() => [] as string[]);
vi.mock('../checkpoint/fs-durable', async (importOriginal) => {
  const real = await importOriginal<typeof FsDurable>();
  return {
    ...real,
    fsyncPath: (path: string) => {
      events.push(`fsync ${path}`);
      real.fsyncPath(path);
    },
    publishDir: (tmpDir: string, finalDir: string) => {
      events.push(`publish ${finalDir}`);
      real.publishDir(tmpDir, finalDir);
    },
  };
});

describe('the step log and checkpoints', () => {
  it("fsyncs the step log before publishing each checkpoint", async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'moge-log-durability-'));
    const dataFile = join(tmp, 'text.txt');
    writeFileSync(dataFile, loadSotuCorpus()[0]!.text.slice(0, 8000));
    const result = await trainModel(
      { preset: 'moge-tiny', vocabSize: 300, data: [dataFile], steps: 3, seed: 3, seqLen: 16, globalBatch: 4, microBatch: 2, backend: 'reference', checkpointEvery: 1, evalEvery: 0 },
      { outDir: join(tmp, 'run'), live: false },
    );
    const publishes = events.flatMap((e, i) => (e.startsWith('publish ') ? [i] : []));
    expect(publishes).toHaveLength(3);
    let previous = -1;
    for (const at of publishes) {
      expect(events.slice(previous + 1, at)).toContain(`fsync ${result.logFile}`);
      previous = at;
    }
  });
});
