/**
 * The onnxruntime backend with `retainFreedMemory` (glibc keeps freed memory for reuse; ascend-hal's
 * host/retain-freed-memory.ts) against without, on a moge-small training step (4 × 256 tokens, 1
 * thread) and a batch-32 decode step (frozen weights, 32 steps after a 64-token prefill). The policy is
 * process-wide and cannot be undone, so each side runs in a child process of its own, alternating
 * round by round (the order flips every round); a child runs `--warmup` units and then 6 timed ones and
 * reports the median time and page faults per unit (a training step; a decode step, as the mean over
 * 32 steps after a prefill that is not timed). Prints the medians of the sides and the median
 * per-round ratio (without / with) with its quartiles.
 *
 * glibc adapts its own thresholds as a process frees memory, so the gap is widest in a process's first
 * steps: `--warmup` (default 4 units) sets how many a child runs before timing.
 *
 *   npx tsx --expose-gc --conditions=@moge/source tools/bench/retain-memory-ab.ts [--rounds 6] [--workload train|decode32] [--warmup 4]
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createOnnxBackend } from '@moge/ascend-hal/node';
import { createKvCache, freezeWeights, getPreset, initModelWeights, modelBackward, modelForward, nextTokenLabels } from '@moge/model';
import { median } from '../../packages/ascend-hal/bench/timing';
import { alternateRounds, ratioSummary } from './alternate';

const { values: args } = parseArgs({
  options: { rounds: { type: 'string', default: '6' }, workload: { type: 'string', default: 'train' }, warmup: { type: 'string', default: '4' }, child: { type: 'string' } },
});
if (args.workload !== 'train' && args.workload !== 'decode32') throw new Error(`--workload: got "${args.workload}", expected train or decode32`);
const WARMUP = Number(args.warmup);
if (!Number.isInteger(WARMUP) || WARMUP < 0) throw new Error(`--warmup: got "${args.warmup}", expected a whole number ≥ 0`);
const TIMED = 6;

/** One side, in this process: median ms and page faults per unit (training step, or decode step). */
function child(retain: boolean): { ms: number; faults: number } {
  const arch = getPreset('moge-small');
  const be = createOnnxBackend({ intraOpThreads: 1, retainFreedMemory: retain });
  const w = initModelWeights(arch, be, { seed: 1 });
  /** Runs one unit and returns its ms and page faults (the decode prefill is left out of both). */
  const measure = (body: () => void): { ms: number; faults: number } => {
    const f0 = process.resourceUsage().minorPageFault;
    const t0 = performance.now();
    body();
    return { ms: performance.now() - t0, faults: process.resourceUsage().minorPageFault - f0 };
  };
  let unit: () => { ms: number; faults: number };
  if (args.workload === 'train') {
    const [batch, seqLen] = [4, 256];
    const ids = Int32Array.from({ length: batch * seqLen }, (_, i) => (i * 7919) % arch.vocabSize);
    const labels = nextTokenLabels(ids, batch, seqLen);
    unit = () => measure(() => modelBackward(w, modelForward(w, { ids, batch, seqLen, labels })));
  } else {
    const frozen = freezeWeights(w);
    const batch = 32;
    const prompt = Int32Array.from({ length: batch * 64 }, (_, i) => (i * 31) % arch.vocabSize);
    // 32 decode steps after a prefill, as bench/run.ts times them: one unit is the mean step.
    unit = () => {
      const cache = createKvCache(arch, batch);
      modelForward(frozen, { ids: prompt, batch, seqLen: 64 }, { cache });
      const r = measure(() => {
        for (let step = 0; step < 32; step++) be.read(modelForward(frozen, { ids: new Int32Array(batch).fill(step), batch, seqLen: 1 }, { cache }).logits);
      });
      return { ms: r.ms / 32, faults: r.faults / 32 };
    };
  }
  const ms: number[] = [];
  const faults: number[] = [];
  for (let i = 0; i < WARMUP + TIMED; i++) {
    const r = unit();
    if (i >= WARMUP) {
      ms.push(r.ms);
      faults.push(r.faults);
    }
  }
  return { ms: median(ms), faults: median(faults) };
}

if (args.child) {
  process.stdout.write(`${JSON.stringify(child(args.child === 'on'))}\n`);
} else {
  const rounds = Number(args.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: got "${args.rounds}", expected a whole number ≥ 1`);
  const script = fileURLToPath(import.meta.url);
  const run = (side: 'on' | 'off') => {
    const r = spawnSync(process.execPath, [...process.execArgv, script, '--child', side, '--workload', args.workload!, '--warmup', String(WARMUP)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`child ${side} failed:\n${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as { ms: number; faults: number };
  };
  const [off, on] = alternateRounds(rounds, (s) => run(s === 0 ? 'off' : 'on'));
  const show = (s: { ms: number; faults: number }[]) => `${median(s.map((x) => x.ms)).toFixed(1)} ms, ${median(s.map((x) => x.faults)).toFixed(0)} faults`;
  process.stdout.write(
    `${args.workload === 'train' ? 'training step' : 'decode batch 32, per step'}, median of ${rounds} rounds: without ${show(off)}, with ${show(on)}; ` +
      `without / with (per round) ${ratioSummary(off.map((x) => x.ms), on.map((x) => x.ms))}\n`,
  );
}
