/**
 * The bf16 weight copies of the onnxruntime backend (`bf16Weights`, ascend-hal's
 * wasm/bf16-weight-store.ts) on and off, in one process: moge-small saved as a bf16 checkpoint, loaded
 * and frozen on two backends that differ only in that option, a batch-1 greedy decode (32 steps after
 * a 64-token prefill, as packages/model/bench/run.ts) timed per token, alternating round by round (the
 * order flips every round). Prints the medians and the median per-round ratio (off / on) with its
 * quartiles.
 *
 *   npx tsx --expose-gc --conditions=@moge/source tools/bench/bf16-weights-ab.ts [--rounds 12]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createReferenceBackend } from '@moge/ascend-hal';
import { createOnnxBackend } from '@moge/ascend-hal/node';
import { freezeWeights, getPreset, initModelWeights } from '@moge/model';
import { loadModelDir, saveModelDir } from '@moge/model/node';
import { median } from '../../packages/ascend-hal/bench/timing';
import { decodeTokenMs } from './greedy-decode';
import { alternateRounds, ratioSummary } from './alternate';

const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '12' } } });
const rounds = Number(args.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: got "${args.rounds}", expected a whole number ≥ 1`);

const arch = getPreset('moge-small');
const dir = mkdtempSync(join(tmpdir(), 'moge-bf16-ab-'));
try {
  saveModelDir(dir, initModelWeights(arch, createReferenceBackend(), { seed: 1 }), { dtype: 'BF16' });
  const sides = [false, true].map((bf16Weights) => freezeWeights(loadModelDir(dir, createOnnxBackend({ intraOpThreads: 1, bf16Weights }))));
  const prompt = Int32Array.from({ length: 64 }, (_, i) => (i * 31) % arch.vocabSize);
  const times = alternateRounds(rounds, (s) => {
    decodeTokenMs(sides[s]!, prompt); // untimed: the same warm state for both sides
    return decodeTokenMs(sides[s]!, prompt);
  });
  process.stdout.write(
    `decode batch 1 on a bf16 checkpoint, per token, median of ${rounds} rounds: f32 only ${median(times[0]).toFixed(3)} ms, bf16 copies ${median(times[1]).toFixed(3)} ms; ` +
      `f32 only / bf16 copies (per round) ${ratioSummary(times[0], times[1])}\n`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
