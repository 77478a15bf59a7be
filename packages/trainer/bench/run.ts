/**
 * Training throughput of moge-small: @moge/trainer with 1 and 2 worker threads against the same model,
 * data and optimizer step in PyTorch eager (tools/bench/trainer_torch.py, Debian's python3-torch at
 * /usr/bin/python3), on the same machine, measured in this run. PyTorch runs at every thread count up
 * to the machine's (ours use at most that many in total) and the fastest is the baseline. OpenBLAS
 * runs its own choice of kernels on both sides (the npm script unsets an OPENBLAS_CORETYPE pin; see
 * tools/bench/openblas-pin.ts).
 *
 *   cd packages/trainer && npm run bench                    # defaults below
 *   npm run bench -- --steps 6 --workers 1,2,4 --json
 *
 * A step is the whole optimizer step: micro-batch forward + backward with accumulation, gradient
 * all-reduce across workers, clipping and AdamW. Figures are medians over the timed steps (after
 * `--warmup` untimed ones) of wall-clock tokens/s; ratio = ours / PyTorch (> 1 = we are faster).
 * `--no-recycle` trains with TrainConfig.recycleBuffers false (activations left to the garbage collector).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DataCursor, type StepRecord, type TrainConfigInput } from '../src/index';
import { prepareRun, trainModel } from '../src/node';
import { openBlasLine, openBlasSetting } from '../../../tools/bench/openblas-pin';

const { values: args } = parseArgs({
  options: {
    steps: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    seq: { type: 'string', default: '128' },
    'global-batch': { type: 'string', default: '8' },
    'micro-batch': { type: 'string', default: '4' },
    'max-documents': { type: 'string', default: '20' },
    workers: { type: 'string', default: '1,2' },
    json: { type: 'boolean', default: false },
    /** Leave activations to the garbage collector (TrainConfig.recycleBuffers false), for an A/B. */
    'no-recycle': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (args.help) {
  process.stdout.write(`Training throughput of @moge/trainer with each worker count against PyTorch eager (same model, data and step).
usage: npm run bench -w packages/trainer -- [options]
  --steps <n>               timed steps (default 3)
  --warmup <n>              untimed steps first (default 1)
  --seq <n>                 sequence length (default 128)
  --global-batch <n>        sequences per step (default 8)
  --micro-batch <n>         sequences per micro-batch (default 4)
  --max-documents <n>       corpus documents used (default 20)
  --workers <list>          worker counts to compare, comma-separated (default 1,2)
  --no-recycle              leave activations to the garbage collector (an A/B)
  --json                    one JSON object on stdout
`);
  process.exit(0);
}

function positiveInt(flag: string, value: string, min = 1): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${flag}: got "${value}", expected a whole number ≥ ${min}`);
  return n;
}
const steps = positiveInt('steps', args.steps);
const warmup = positiveInt('warmup', args.warmup, 0);
const seq = positiveInt('seq', args.seq, 2);
const globalBatch = positiveInt('global-batch', args['global-batch']);
const microBatch = positiveInt('micro-batch', args['micro-batch']);
const maxDocuments = positiveInt('max-documents', args['max-documents']);
const workerCounts = args.workers.split(',').map((s) => positiveInt('workers', s));
const threads = availableParallelism();
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const TORCH_PYTHON = '/usr/bin/python3';
const tmp = mkdtempSync(join(tmpdir(), 'moge-trainer-bench-'));
const log = (m: string) => (args.json ? undefined : process.stderr.write(`${m}\n`));

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
};

const config = (workers: number): TrainConfigInput => ({
  preset: 'moge-small',
  maxDocuments,
  steps: warmup + steps,
  seed: 0,
  seqLen: seq,
  globalBatch,
  // Each worker needs whole micro-batches: shrink the micro-batch when the workers do not divide it.
  microBatch: globalBatch % (microBatch * workers) === 0 ? microBatch : Math.max(1, globalBatch / workers),
  workers,
  backend: 'onnxruntime',
  recycleBuffers: !args['no-recycle'],
  evalEvery: 0,
  checkpointEvery: 0,
});

interface Row {
  name: string;
  workers: number;
  threads: number;
  stepS: number;
  tokensPerSecond: number;
  /** Process CPU seconds (user + system, every thread) per step: steadier than wall time on a loaded host. */
  cpuS: number;
}
const rows: Row[] = [];
let checkpoint = '';
for (const workers of workerCounts) {
  log(`@moge/trainer, ${workers} worker(s): ${warmup} + ${steps} steps of ${globalBatch} × ${seq} tokens …`);
  const records: StepRecord[] = [];
  // CPU time between consecutive step reports (worker threads are in this process, so they count).
  const cpuAt: number[] = [];
  const cpuNow = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const r = await trainModel(config(workers), {
    outDir: join(tmp, `w${workers}-${rows.length}`),
    live: false,
    onStep: (s) => {
      records.push(s);
      cpuAt.push(cpuNow());
    },
  });
  checkpoint ||= r.checkpointDir!;
  const timed = records.slice(warmup);
  // Step k's CPU = report k − report k−1 (the last one also holds the final evaluation and checkpoint).
  const first = Math.max(1, warmup);
  const cpuPerStep = cpuAt.slice(first).map((c, i) => c - cpuAt[first + i - 1]!);
  rows.push({
    name: `moge trainer (onnxruntime, ${workers} worker${workers > 1 ? 's' : ''})`,
    workers,
    threads,
    stepS: median(timed.map((s) => s.elapsedS)),
    tokensPerSecond: median(timed.map((s) => s.tokensPerSecond)),
    cpuS: median(cpuPerStep),
  });
}

// The batches the trainer saw, in order, for PyTorch to train on.
const init = prepareRun(config(1), { outDir: join(tmp, 'windows-run') });
const cursor = new DataCursor(init.train, init.config.seed);
const windows = cursor.next((warmup + steps) * globalBatch);
const windowsFile = join(tmp, 'windows.i32');
writeFileSync(windowsFile, new Uint8Array(windows.buffer, windows.byteOffset, windows.byteLength));

const probe = spawnSync(TORCH_PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
/** PyTorch at every thread count up to the machine's: the baseline is the fastest of them. */
const torchRows: Row[] = [];
/** The OpenBLAS kernel family PyTorch's process ran (tools/bench/blas_core.py). */
let torchBlasCore = 'unknown';
if (probe.status !== 0) {
  process.stdout.write(`PyTorch not importable with ${TORCH_PYTHON} (${(probe.stderr || String(probe.error)).trim().split('\n').pop()}), skipped\n`);
} else {
  // More threads are not always faster: on a 2-core VM, PyTorch's OpenMP and OpenBLAS pools at 2
  // threads ran a step 2.9× slower than at 1. Comparing with its best count keeps the baseline honest.
  // `--threads` sets PyTorch's intra-op threads; trainer_torch.py loads torch before it could pin
  // OpenBLAS, whose pool keeps its default (every core), so even the 1-thread row runs GEMMs on all
  // cores — within the machine's cores that ours use too.
  for (let torchThreads = 1; torchThreads <= threads; torchThreads++) {
    log(`PyTorch eager, ${torchThreads} thread(s) …`);
    const py = spawnSync(
      TORCH_PYTHON,
      [join(repoRoot, 'tools/bench/trainer_torch.py'), '--model', checkpoint, '--windows', windowsFile, '--seq', String(seq), '--global-batch', String(globalBatch), '--micro-batch', String(microBatch), '--steps', String(steps), '--warmup', String(warmup), '--threads', String(torchThreads)],
      { encoding: 'utf8' },
    );
    if (py.status !== 0) throw new Error(`trainer_torch.py failed:\n${py.stderr}`);
    const t = JSON.parse(py.stdout.trim().split('\n').pop()!) as { wall_s: number; cpu_s: number; tokens_per_s: number; blas_core?: string };
    torchRows.push({ name: `PyTorch eager, ${torchThreads} intra-op thread(s)`, workers: 1, threads: torchThreads, stepS: t.wall_s, tokensPerSecond: t.tokens_per_s, cpuS: t.cpu_s });
    torchBlasCore = t.blas_core ?? torchBlasCore;
  }
}

const torchRow = torchRows.length > 0 ? torchRows.reduce((best, r) => (r.tokensPerSecond > best.tokensPerSecond ? r : best)) : undefined;
const all = [...rows, ...torchRows];
const openBlas = openBlasSetting(torchBlasCore);
if (args.json) {
  process.stdout.write(`${JSON.stringify({ steps, warmup, seq, globalBatch, microBatch, openBlas, rows: all, ratioVsTorch: torchRow ? rows.map((r) => ({ wall: r.tokensPerSecond / torchRow.tokensPerSecond, cpu: torchRow.cpuS / r.cpuS })) : null }, null, 2)}\n`);
} else {
  process.stdout.write(`\nmoge-small training step, ${globalBatch} × ${seq} tokens, median of ${steps} steps after ${warmup} warm-up, ${threads} CPU thread(s) in all\n`);
  process.stdout.write(`  ${'run'.padEnd(42)} ${'wall s/step'.padStart(11)} ${'tok/s'.padStart(7)} ${'vs torch'.padStart(9)} ${'CPU s/step'.padStart(11)} ${'vs torch'.padStart(9)}\n`);
  for (const r of all) {
    const ours = !torchRows.includes(r);
    const wallRatio = torchRow && ours ? `${(r.tokensPerSecond / torchRow.tokensPerSecond).toFixed(2)}×` : r === torchRow ? 'baseline' : '';
    const cpuRatio = torchRow && ours ? `${(torchRow.cpuS / r.cpuS).toFixed(2)}×` : '';
    process.stdout.write(`  ${r.name.padEnd(42)} ${r.stepS.toFixed(2).padStart(11)} ${r.tokensPerSecond.toFixed(0).padStart(7)} ${wallRatio.padStart(9)} ${r.cpuS.toFixed(2).padStart(11)} ${cpuRatio.padStart(9)}\n`);
  }
  process.stdout.write('  (ratio > 1 = ours is faster, against PyTorch at its fastest thread count; on a loaded host wall time swings with the load, CPU time much less)\n');
  process.stdout.write(`  ${openBlasLine(openBlas)}\n`);
}
