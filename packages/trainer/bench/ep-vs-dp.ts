/**
 * Expert parallel vs data parallel training throughput of moge-small with the same worker count,
 * model, data and steps, measured in this run (interleaved rounds dp, ep, dp, ep, … so a change in
 * the host's load hits both alike).
 *
 *   cd packages/trainer && npx tsx --conditions=@moge/source bench/ep-vs-dp.ts            # 2 workers
 *   npx tsx --conditions=@moge/source bench/ep-vs-dp.ts --workers 4 --rounds 3 --json
 *
 * Figures: median over the timed steps of all rounds of wall-clock tokens/s, and process CPU seconds
 * per step (steadier on a loaded host); ratio = ep / dp for tokens/s (> 1 = EP faster).
 */
import { tmpdir } from 'node:os';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { StepRecord, TrainConfigInput } from '../src/index';
import { trainModel } from '../src/node';

const { values: args } = parseArgs({
  options: {
    workers: { type: 'string', default: '2' },
    steps: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '2' },
    seq: { type: 'string', default: '128' },
    'global-batch': { type: 'string', default: '8' },
    'micro-batch': { type: 'string', default: '4' },
    backend: { type: 'string', default: 'onnxruntime' },
    json: { type: 'boolean', default: false },
  },
});
const int = (flag: string, min = 1) => {
  const n = Number(args[flag as keyof typeof args]);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${flag}: got "${String(args[flag as keyof typeof args])}", expected a whole number ≥ ${min}`);
  return n;
};
const workers = int('workers', 2);
const steps = int('steps');
const warmup = int('warmup', 0);
const rounds = int('rounds');
const globalBatch = int('global-batch');
const microBatch = int('micro-batch');
if (args.backend !== 'onnxruntime' && args.backend !== 'reference') throw new Error(`--backend: got "${args.backend}", expected onnxruntime or reference`);
const tmp = mkdtempSync(join(tmpdir(), 'moge-ep-bench-'));

const config = (parallel: 'dp' | 'ep'): TrainConfigInput => ({
  preset: 'moge-small',
  maxDocuments: 20,
  steps: warmup + steps,
  seed: 0,
  seqLen: int('seq', 2),
  globalBatch,
  microBatch: globalBatch % (microBatch * workers) === 0 ? microBatch : Math.max(1, globalBatch / workers),
  workers,
  parallel,
  backend: args.backend as 'onnxruntime' | 'reference',
  evalEvery: 0,
  checkpointEvery: 0,
});

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
};
const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

const samples = { dp: { tps: [] as number[], cpu: [] as number[], loss: [] as number[] }, ep: { tps: [] as number[], cpu: [] as number[], loss: [] as number[] } };
for (let round = 0; round < rounds; round++) {
  for (const mode of ['dp', 'ep'] as const) {
    if (!args.json) process.stderr.write(`round ${round + 1}/${rounds}: ${mode}, ${workers} workers, ${warmup} + ${steps} steps …\n`);
    const records: StepRecord[] = [];
    const cpuAt: number[] = [];
    const r = await trainModel(config(mode), {
      outDir: join(tmp, `${mode}-${round}`),
      live: false,
      onStep: (s) => {
        records.push(s);
        cpuAt.push(cpuNow());
      },
    });
    if (r.parallel !== mode) throw new Error(`asked for ${mode}, the run used ${r.parallel}`);
    const first = Math.max(1, warmup);
    samples[mode].tps.push(...records.slice(warmup).map((s) => s.tokensPerSecond));
    samples[mode].cpu.push(...cpuAt.slice(first).map((c, i) => c - cpuAt[first + i - 1]!));
    samples[mode].loss.push(records[records.length - 1]!.loss);
  }
}

const row = (m: 'dp' | 'ep') => ({ mode: m, tokensPerSecond: median(samples[m].tps), cpuSPerStep: median(samples[m].cpu), finalLoss: samples[m].loss[0]! });
const dp = row('dp');
const ep = row('ep');
const ratio = { tokensPerSecond: ep.tokensPerSecond / dp.tokensPerSecond, cpu: dp.cpuSPerStep / ep.cpuSPerStep };
if (args.json) {
  process.stdout.write(`${JSON.stringify({ workers, steps, warmup, rounds, globalBatch, backend: args.backend, rows: [dp, ep], epOverDp: ratio }, null, 2)}\n`);
} else {
  process.stdout.write(`\nmoge-small, ${workers} workers, ${args.backend}, ${globalBatch} × ${args.seq} tokens/step, median of ${rounds} × ${steps} steps\n`);
  for (const r of [dp, ep]) process.stdout.write(`  ${r.mode}  ${r.tokensPerSecond.toFixed(0).padStart(7)} tok/s  ${r.cpuSPerStep.toFixed(2).padStart(6)} CPU s/step  final loss ${r.finalLoss.toFixed(6)}\n`);
  process.stdout.write(`  ep / dp: ${ratio.tokensPerSecond.toFixed(2)}× tokens/s (wall), ${ratio.cpu.toFixed(2)}× (CPU time)\n`);
}
