/**
 * moge-small throughput on the onnxruntime backend against the same model in PyTorch eager
 * (tools/bench/model_torch.py, Debian's python3-torch at /usr/bin/python3), same machine, same
 * thread count, same checkpoint (written here as config.json + model.safetensors and loaded by both):
 *
 *   - training step (forward + backward, loss = CE + α·Σ aux) tokens/s on a [batch, seq] batch;
 *   - KV-cache decode tokens/s at batch 1 and 32 (greedy, after a prefill; the prefill is not timed).
 *
 * Decode is timed on frozen weights (`freezeWeights`: backend constants, which the onnxruntime backend
 * bakes into pre-packed sessions), as a server would, and on ordinary weights, one row each in the
 * same run (`--decode-weights frozen|ordinary` times one kind only); training stays on ordinary
 * weights, which the optimizer updates. The one-off cost of freezing — the time of the first decode
 * (sessions built and pre-packed) over a steady one, and the resident memory it adds — is printed too.
 *
 *   npm run bench -w packages/model            # or: cd packages/model && npm run bench
 *   ... -- --threads 2 --rounds 7 --repeats 3 --json --decode-weights frozen
 *
 * The same model saved as a bf16 checkpoint (weights rounded to bf16 once, on saving) is decoded on
 * frozen weights too (`--no-bf16-checkpoint` skips it). Both sides then compute in f32 on the same
 * bf16 values — PyTorch upcasts them on loading, as `torch_dtype=torch.float32` does — while the
 * onnxruntime backend keeps a bf16 copy of each frozen matrix for its one-row products and streams
 * half the bytes per token (ascend-hal's bf16-weight-store.ts). PyTorch computing in bf16 itself is
 * `tools/bench/model_torch.py decode --dtype bfloat16`; it measured slower here (see the README).
 *
 * The two sides alternate, round by round (ours, then PyTorch), so both see the same load. In a round
 * each side runs an untimed warm-up of the same work and then `--repeats` timed runs (default 3), and
 * the round keeps their median (PyTorch's in its worker process, ours in this one: otherwise ours would
 * start cold after the other process had the caches): on a shared host the load drifts by several ×
 * within a minute, and a single run of a 32-token decode swings by ±30 % with it. PyTorch runs in one
 * worker process for the whole bench (`model_torch.py serve`, started first; torch-worker.ts says
 * why), which keeps each checkpoint loaded from round to round. Each round gives a
 * ratio, PyTorch's time over ours (> 1 = we are faster), for wall-clock time and for process CPU time
 * (user + system, all threads); the report is the median over rounds.
 * Goals (issue 3): training ≥ 1×, decode ≥ 2× PyTorch eager.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createReferenceBackend } from '@moge/ascend-hal';
import { createOnnxBackend } from '@moge/ascend-hal/node';
import { Rng } from '@moge/core';
import { createKvCache, freezeWeights, getPreset, initModelWeights, modelBackward, modelForward, nextTokenLabels, releaseGrads, releaseLogits, type ModelWeights } from '../src/index';
import { loadModelDir, saveModelDir } from '../src/node';
import { openBlasLine, openBlasSetting } from '../../../tools/bench/openblas-pin';
import { TorchWorker, type TorchMeasurement } from './torch-worker';

const { values: args } = parseArgs({
  options: {
    preset: { type: 'string', default: 'moge-small' },
    threads: { type: 'string', default: '1' },
    'train-batch': { type: 'string', default: '4' },
    seq: { type: 'string', default: '256' },
    prefill: { type: 'string', default: '64' },
    steps: { type: 'string', default: '32' },
    'decode-batches': { type: 'string', default: '1,32' },
    rounds: { type: 'string', default: '5' },
    repeats: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
    'decode-weights': { type: 'string', default: 'both' },
    'bf16-checkpoint': { type: 'boolean', default: true },
    help: { type: 'boolean', short: 'h', default: false },
  },
  // `--no-bf16-checkpoint` (Node ≥ 20.16): without this, parseArgs rejects the documented flag.
  allowNegative: true,
});

if (args.help) {
  process.stdout.write(`moge-small on onnxruntime against PyTorch eager: training step and KV-cache decode tokens/s.
usage: npm run bench -w packages/model -- [options]
  --preset <name>           model preset (default moge-small)
  --threads <n>             threads for both sides (default 1)
  --train-batch <n>         training sequences per step (default 4)
  --seq <n>                 training sequence length (default 256)
  --prefill <n>             prompt tokens before decoding (default 64)
  --steps <n>               decode steps timed (default 32)
  --decode-batches <list>   decode batch sizes, comma-separated (default 1,32)
  --rounds <n>              alternating rounds, ours then PyTorch (default 5)
  --repeats <n>             timed runs per side in a round (default 3)
  --decode-weights <kind>   frozen, ordinary or both (default both)
  --no-bf16-checkpoint      skip decoding the bf16 checkpoint
  --json                    one JSON object on stdout
`);
  process.exit(0);
}

function positiveInt(flag: string, value: string, min = 1): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${flag}: got "${value}", expected a whole number ≥ ${min}`);
  return n;
}
const threads = positiveInt('threads', args.threads);
const trainBatch = positiveInt('train-batch', args['train-batch']);
const seq = positiveInt('seq', args.seq, 2);
const prefill = positiveInt('prefill', args.prefill);
const steps = positiveInt('steps', args.steps);
const rounds = positiveInt('rounds', args.rounds);
const repeats = positiveInt('repeats', args.repeats);
const decodeBatches = args['decode-batches'].split(',').map((s) => positiveInt('decode-batches', s));
type WeightKind = 'frozen' | 'ordinary';
const DECODE_WEIGHTS: Record<string, readonly WeightKind[]> = { frozen: ['frozen'], ordinary: ['ordinary'], both: ['frozen', 'ordinary'] };
if (!Object.hasOwn(DECODE_WEIGHTS, args['decode-weights'])) {
  throw new Error(`--decode-weights: got "${args['decode-weights']}", expected frozen, ordinary or both`);
}
const decodeWeights = DECODE_WEIGHTS[args['decode-weights']]!;
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../../..');
// Debian's python3-torch lives beside /usr/bin/python3 (not pyenv's python3); overridable for other hosts.
const TORCH_PYTHON = process.env.MOGE_TORCH_PYTHON ?? '/usr/bin/python3';

interface Timing {
  wallS: number;
  cpuS: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** The lowest and the highest of `xs`. */
function spread(xs: number[]): [number, number] {
  return [Math.min(...xs), Math.max(...xs)];
}

/** Wall and CPU seconds of `fn`, or the Timing it returns when it times only part of itself. */
function timeOnce(fn: () => Timing | void): Timing {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const inner = fn();
  const c = process.cpuUsage(c0);
  return inner ?? { wallS: (performance.now() - t0) / 1000, cpuS: (c.user + c.system) / 1e6 };
}

/**
 * V8 collects garbage partly on helper threads (≈ 10–25 % of the main thread's CPU here), which
 * PyTorch has no counterpart of; the npm script turns them off (`--single-threaded-gc`), so both
 * sides compute on one core. Measured: no wall time lost that the host's noise lets one see (training
 * step 551–579 against 533–564 ms; batch-1 decode token 2.40–3.97 against 2.88–3.61 ms, faster in four
 * of seven alternating pairs).
 */
function gcLine(): string {
  return process.execArgv.includes('--single-threaded-gc')
    ? 'V8 garbage collection: single-threaded (--single-threaded-gc)'
    : 'V8 garbage collection: with helper threads (run with --single-threaded-gc to keep ours on one core)';
}

function randomIds(rng: Rng, n: number, vocab: number): Int32Array {
  return Int32Array.from({ length: n }, () => Math.floor(rng.float() * vocab));
}

function trainStep(w: ModelWeights, ids: Int32Array): Timing | void {
  const labels = nextTokenLabels(ids, trainBatch, seq);
  const fwd = modelForward(w, { ids, batch: trainBatch, seqLen: seq, labels });
  // As the trainer does once it has added them in (PyTorch's step sets .grad to None likewise).
  releaseGrads(w, modelBackward(w, fwd));
  releaseLogits(w, fwd);
}

/** Greedy decode of `steps` tokens after a prefill; only the decode steps are timed. */
function decode(w: ModelWeights, prompt: Int32Array, batch: number): Timing {
  const b = w.backend;
  const v = w.arch.vocabSize;
  const cache = createKvCache(w.arch, batch);
  const argmaxLast = (logits: Float32Array, rowsPerSeq: number): Int32Array =>
    Int32Array.from({ length: batch }, (_, s) => {
      const row = (s * rowsPerSeq + rowsPerSeq - 1) * v;
      let best = 0;
      for (let i = 1; i < v; i++) if (logits[row + i]! > logits[row + best]!) best = i;
      return best;
    });
  let next = argmaxLast(b.read(modelForward(w, { ids: prompt, batch, seqLen: prefill }, { cache }).logits) as Float32Array, prefill);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) {
    next = argmaxLast(b.read(modelForward(w, { ids: next, batch, seqLen: 1 }, { cache }).logits) as Float32Array, 1);
  }
  const c = process.cpuUsage(c0);
  return { wallS: (performance.now() - t0) / 1000, cpuS: (c.user + c.system) / 1e6 };
}

const torchScript = join(repoRoot, 'tools', 'bench', 'model_torch.py');
// Started before anything else is allocated: see torch-worker.ts for why one process, and why first.
const torchWorker = await TorchWorker.start(TORCH_PYTHON, torchScript, threads);
const torchMissing = typeof torchWorker === 'string' ? torchWorker : undefined;
/** The OpenBLAS kernel family PyTorch's process runs (tools/bench/blas_core.py). */
const torchBlasCore = typeof torchWorker === 'string' ? 'unknown' : torchWorker.blasCore;

async function torch(mode: 'train' | 'decode', dir: string, extra: string[]): Promise<TorchMeasurement | undefined> {
  if (typeof torchWorker === 'string') return undefined;
  return torchWorker.measure([mode, '--model', dir, '--threads', String(threads), '--repeats', String(repeats), '--warmup', '1', ...extra]);
}

interface Row {
  workload: string;
  tokens: number;
  ours: Timing[];
  torch: TorchMeasurement[];
}

/** Median wall and CPU time over `repeats` timed runs of `fn` (what model_torch.py reports for PyTorch). */
function timeMedian(fn: () => Timing | void): Timing {
  const runs = Array.from({ length: repeats }, () => timeOnce(fn));
  return { wallS: median(runs.map((t) => t.wallS)), cpuS: median(runs.map((t) => t.cpuS)) };
}

/**
 * `rounds` × (an untimed warm-up and `repeats` timed runs of ours, then the same in the PyTorch
 * worker), after one untimed measurement in the worker: PyTorch's first measurement of a workload in
 * a process runs far slower than the next, its warm-up run notwithstanding (decode at batch 32: 49–52
 * against 21 ms a step, until its allocator has settled), and would inflate our first round's ratio.
 */
async function compare(workload: string, tokens: number, ours: () => Timing | void, theirs: () => Promise<TorchMeasurement | undefined>): Promise<Row> {
  const row: Row = { workload, tokens, ours: [], torch: [] };
  await theirs();
  for (let r = 0; r < rounds; r++) {
    ours();
    row.ours.push(timeMedian(ours));
    const t = await theirs();
    if (t) row.torch.push(t);
  }
  return row;
}

const oneOff: { freezeMs: number; firstDecodeExtraMs: number; rssAddedMiB: number; weightMiB: number } = { freezeMs: 0, firstDecodeExtraMs: 0, rssAddedMiB: 0, weightMiB: 0 };

/**
 * Freezes `w` and runs one batch-1 decode twice, recording what freezing costs once: the copy, the
 * extra time of the first decode (sessions built and pre-packed) and the resident memory added
 * (the constants' copy plus onnxruntime's initializer and packed buffers), against the weights' size.
 */
function freezeOnce(w: ModelWeights, prompt: Int32Array): ModelWeights {
  decode(w, prompt, 1); // the ordinary sessions and the JIT, so that what follows is freezing's own cost
  globalThis.gc?.();
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  const frozen = freezeWeights(w);
  oneOff.freezeMs = performance.now() - t0;
  // Whole calls, prefill included: the prefill is where the sessions get built.
  const wall = () => {
    const t = performance.now();
    decode(frozen, prompt, 1);
    return performance.now() - t;
  };
  const first = wall();
  oneOff.firstDecodeExtraMs = first - wall();
  globalThis.gc?.();
  oneOff.rssAddedMiB = (process.memoryUsage().rss - rss0) / 2 ** 20;
  let elements = 0;
  for (const t of w.params.values()) elements += t.size;
  oneOff.weightMiB = (elements * 4) / 2 ** 20;
  return frozen;
}

const arch = getPreset(args.preset);
const dir = mkdtempSync(join(tmpdir(), 'moge-bench-model-'));
const rows: Row[] = [];
try {
  saveModelDir(dir, initModelWeights(arch, createReferenceBackend(), { seed: 1 }));
  const w = loadModelDir(dir, createOnnxBackend({ intraOpThreads: threads }));
  const rng = new Rng(7);

  // Frozen first, before training leaves freed pages behind that would hide the memory it adds.
  const frozen = decodeWeights.includes('frozen') ? freezeOnce(w, randomIds(rng, prefill, arch.vocabSize)) : undefined;
  const trainIds = randomIds(rng, trainBatch * seq, arch.vocabSize);
  rows.push(
    await compare(`train step ${trainBatch}×${seq}`, trainBatch * seq, () => trainStep(w, trainIds), () =>
      torch('train', dir, ['--batch', String(trainBatch), '--seq', String(seq)]),
    ),
  );
  const bf16Dir = join(dir, 'bf16');
  let bf16Frozen: ModelWeights | undefined;
  if (args['bf16-checkpoint']) {
    saveModelDir(bf16Dir, w, { dtype: 'BF16' });
    bf16Frozen = freezeWeights(loadModelDir(bf16Dir, w.backend));
  }
  for (const batch of decodeBatches) {
    const prompt = randomIds(rng, batch * prefill, arch.vocabSize);
    const torchDecode = (modelDir: string) => () => torch('decode', modelDir, ['--batch', String(batch), '--seq', String(prefill), '--steps', String(steps)]);
    for (const kind of decodeWeights) {
      const weights = kind === 'frozen' ? frozen! : w;
      rows.push(await compare(`decode batch ${batch}, ${kind} (prefill ${prefill}, ${steps} st.)`, batch * steps, () => decode(weights, prompt, batch), torchDecode(dir)));
    }
    if (bf16Frozen) {
      rows.push(await compare(`decode batch ${batch}, frozen, bf16 checkpoint`, batch * steps, () => decode(bf16Frozen, prompt, batch), torchDecode(bf16Dir)));
    }
  }
} finally {
  if (typeof torchWorker !== 'string') await torchWorker.stop();
  rmSync(dir, { recursive: true, force: true });
}

const openBlas = openBlasSetting(torchBlasCore);
const report = rows.map((r) => {
  const paired = r.torch.length === r.ours.length;
  return {
    workload: r.workload,
    oursTokensPerS: r.tokens / median(r.ours.map((t) => t.wallS)),
    torchTokensPerS: paired ? r.tokens / median(r.torch.map((t) => t.wallS)) : undefined,
    wallRatio: paired ? median(r.ours.map((o, i) => r.torch[i]!.wallS / o.wallS)) : undefined,
    cpuRatio: paired ? median(r.ours.map((o, i) => r.torch[i]!.cpuS / o.cpuS)) : undefined,
    // The spread of the per-round wall ratios: on a shared host it is often wider than any difference worth measuring.
    wallRatioRange: paired ? spread(r.ours.map((o, i) => r.torch[i]!.wallS / o.wallS)) : undefined,
    ours: r.ours,
    torch: r.torch,
  };
});
if (args.json) {
  console.log(
    JSON.stringify(
      { preset: args.preset, threads, rounds, repeats, openBlas, singleThreadedGc: process.execArgv.includes('--single-threaded-gc'), report, freezing: decodeWeights.includes('frozen') ? oneOff : undefined, torchSkipped: torchMissing },
      null,
      2,
    ),
  );
} else {
  const f = (n: number | undefined, d = 0) => (n === undefined ? '—' : n.toFixed(d));
  console.log(`${args.preset} on onnxruntime vs PyTorch eager (${TORCH_PYTHON}), ${threads} thread(s), median of ${rounds} alternating rounds of ${repeats} timed runs each`);
  console.log(['workload'.padEnd(48), 'ours tok/s', 'torch tok/s', 'wall ×', 'rounds ×  ', 'cpu ×'].join('  '));
  for (const r of report) {
    const range = r.wallRatioRange ? `${f(r.wallRatioRange[0], 2)}–${f(r.wallRatioRange[1], 2)}` : '—';
    console.log([r.workload.padEnd(48), f(r.oursTokensPerS).padStart(10), f(r.torchTokensPerS).padStart(11), f(r.wallRatio, 2).padStart(6), range.padStart(10), f(r.cpuRatio, 2).padStart(5)].join('  '));
  }
  console.log('× = PyTorch time / ours (> 1: we are faster), the median of the rounds; rounds × = the lowest and highest round. Goals: train ≥ 1, decode ≥ 2.');
  console.log(openBlasLine(openBlas));
  console.log(gcLine());
  if (decodeWeights.includes('frozen')) {
    const o = oneOff;
    console.log(
      `freezing: copy ${o.freezeMs.toFixed(0)} ms, first decode +${o.firstDecodeExtraMs.toFixed(0)} ms (sessions built, pre-packed), ` +
        `resident memory +${o.rssAddedMiB.toFixed(0)} MiB for ${o.weightMiB.toFixed(0)} MiB of weights`,
    );
  }
  if (torchMissing) console.log(torchMissing);
}
