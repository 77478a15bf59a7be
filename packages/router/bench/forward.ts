/**
 * Router forward throughput: the MoGE router (E = 64, M = 8, K = 8, 64K tokens) on every available
 * backend, in both kernel paths (the fused host kernel and the composed backend kernels), against the
 * same computation in PyTorch on this machine (tools/bench/router_torch.py, /usr/bin/python3) at the
 * same thread count. Two sections:
 *
 * - `router`: from router logits [T, E]: softmax over all experts, K/M best per group, weights. The
 *   fused host kernel runs its float64 softmax on the reference backend and its fp32 SIMD softmax on
 *   onnxruntime; `mogeForwardHost` rows call it directly on host arrays, also with reused outputs.
 * - `gate+router`: the gate matmul x[T, H]·w_gate[H, E] first, then the same (what a MoE layer runs).
 *   The reference backend's matmul is plain JS (< 1 GFLOP/s), so it is left out of this section
 *   unless `--reference-gate` is given.
 *
 *   npm run bench -w packages/router            # or: cd packages/router && npm run bench
 *   ... -- --tokens 65536 --hidden 1024 --threads 1 --repeats 15 --json
 *
 * Prints, over the repeats, the median and best wall-clock time and the median process CPU time
 * (user + system, all threads: JS's GC helpers, onnxruntime's and PyTorch's threads count);
 * tokens/s from the median wall time; and ratios of CPU time per forward, PyTorch's over ours, for
 * both PyTorch idioms (`topk` per group, the general one, and `max` per group, its fastest for one
 * expert per group): > 1 means we are faster. On a shared, loaded machine wall time swings with the
 * load while CPU time mostly does not, so ratios are taken on CPU time; both times are printed.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createReferenceBackend, type Backend, type Tensor } from '@moge/ascend-hal';
import { createOnnxBackend } from '@moge/ascend-hal/node';
import { Rng } from '@moge/core';
import { createRouter, mogeForwardHost, type MogeHostOptions } from '@moge/router';
import { pinnedNote } from '../../../tools/bench/openblas-pin';

const { values: args } = parseArgs({
  options: {
    tokens: { type: 'string', default: '65536' },
    hidden: { type: 'string', default: '1024' },
    threads: { type: 'string', default: '1' },
    repeats: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '3' },
    'reference-gate': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
function intArg(flag: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${flag}: got ${JSON.stringify(value)}, expected an integer ≥ ${min}`);
  return n;
}
const tokens = intArg('tokens', args.tokens, 1);
const hidden = intArg('hidden', args.hidden, 0);
const threads = intArg('threads', args.threads, 1);
const repeats = intArg('repeats', args.repeats, 1);
const warmup = intArg('warmup', args.warmup, 0);
const E = 64;
const M = 8;
const K = 8;
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../../..');

type Section = 'router' | 'gate+router';

interface Row {
  section: Section;
  impl: string;
  backend: string;
  kernel: string;
  medianS: number;
  minS: number;
  cpuMedianS: number;
  tokensPerS: number;
  vsTorchTopk?: number;
  vsTorchMax?: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Times `run` after warm-ups: wall and process CPU seconds per call. */
function time(run: () => void, reps = repeats, warm = warmup): { times: number[]; cpuTimes: number[] } {
  const times: number[] = [];
  const cpuTimes: number[] = [];
  for (let r = 0; r < warm + reps; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    run();
    const dt = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    if (r >= warm) {
      times.push(dt);
      cpuTimes.push((c.user + c.system) / 1e6);
    }
  }
  return { times, cpuTimes };
}

function row(section: Section, impl: string, backend: string, kernel: string, t: { times: number[]; cpuTimes: number[] }): Row {
  const medianS = median(t.times);
  return { section, impl, backend, kernel, medianS, minS: Math.min(...t.times), cpuMedianS: median(t.cpuTimes), tokensPerS: tokens / medianS };
}

function normals(seed: number, n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  new Rng(seed).fillNormal(a);
  if (scale !== 1) for (let i = 0; i < n; i++) a[i]! *= scale;
  return a;
}

const scaleHost = (() => {
  const rng = new Rng(1);
  return Float32Array.from({ length: E }, () => 0.5 + rng.float());
})();

/** The fused kernel's softmax precision on each backend (registry.ts: f64 on the reference backend). */
const fusedLabel = (backend: Backend) => `fused-host ${backend.name === 'reference' ? 'f64' : 'f32'}`;

function benchJs(backend: Backend, kernel: 'fused-host' | 'backend', section: Section): Row {
  const router = createRouter('moge', { numExperts: E, numGroups: M, topK: K, kernel });
  const scale = backend.fromArray(scaleHost, [E]);
  const label = kernel === 'fused-host' ? fusedLabel(backend) : kernel;
  if (section === 'router') {
    const z = backend.fromArray(normals(0, tokens * E), [tokens, E]);
    return row(section, 'moge-ts', backend.name, label, time(() => router.forward(backend, z, scale)));
  }
  const x: Tensor = backend.fromArray(normals(2, tokens * hidden), [tokens, hidden]);
  const w: Tensor = backend.fromArray(normals(3, hidden * E, 1 / Math.sqrt(hidden)), [hidden, E]);
  // The reference matmul is too slow for many repeats: one timed run, no warm-up.
  const reps = backend.name === 'reference' ? 1 : repeats;
  const warm = backend.name === 'reference' ? 0 : warmup;
  return row(section, 'moge-ts', backend.name, `gemm + ${label}`, time(() => router.forward(backend, backend.matmul(x, w), scale), reps, warm));
}

/**
 * mogeForwardHost called directly on host arrays (no backend tensors), in both precisions, and with
 * output arrays reused across calls (`out`): what a caller routing batch after batch would run.
 */
function benchHost(): Row[] {
  const z = normals(0, tokens * E);
  const out = {
    probs: new Float32Array(tokens * E),
    ids: new Int32Array(tokens * K),
    values: new Float32Array(tokens * K),
    scale: new Float32Array(tokens * K),
    weights: new Float32Array(tokens * K),
  };
  const shape = { tokens, numExperts: E, numGroups: M, topK: K };
  const variants: [string, MogeHostOptions][] = [
    ['mogeForwardHost f64', { precision: 'f64' }],
    ['mogeForwardHost f32', { precision: 'f32' }],
    ['mogeForwardHost f32, out reused', { precision: 'f32', out }],
  ];
  return variants.map(([kernel, options]) => row('router', 'moge-ts', 'host arrays', kernel, time(() => mogeForwardHost(z, scaleHost, shape, options))));
}

function benchTorch(section: Section): Row[] {
  const rows: Row[] = [];
  for (const variant of ['topk', 'max'] as const) {
    const r = spawnSync(
      '/usr/bin/python3',
      [
        join(repoRoot, 'tools/bench/router_torch.py'),
        ...['--tokens', String(tokens), '--experts', String(E), '--groups', String(M), '--top-k', String(K)],
        ...['--threads', String(threads), '--repeats', String(repeats), '--warmup', String(warmup), '--variant', variant],
        ...['--hidden', section === 'router' ? '0' : String(hidden)],
      ],
      { encoding: 'utf8', maxBuffer: 1 << 20 },
    );
    if (r.status !== 0) throw new Error(`router_torch.py failed: ${r.stderr}`);
    const j = JSON.parse(r.stdout) as { median_s: number; min_s: number; cpu_median_s: number; torch: string; threads: number; blas: string; blas_core: string };
    if (rows.length === 0 && section === 'gate+router') process.stderr.write(`PyTorch BLAS: ${j.blas} (OpenBLAS kernels: ${j.blas_core}${pinnedNote()})\n`);
    const kernel = `${section === 'router' ? '' : 'matmul + '}softmax+${variant}+gather`;
    rows.push({
      section,
      impl: `pytorch ${j.torch}`,
      backend: `cpu, ${j.threads} thread${j.threads === 1 ? '' : 's'}`,
      kernel,
      medianS: j.median_s,
      minS: j.min_s,
      cpuMedianS: j.cpu_median_s,
      tokensPerS: tokens / j.median_s,
    });
  }
  return rows;
}

const torchAvailable = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
if (!torchAvailable) process.stderr.write('PyTorch not importable by /usr/bin/python3, skipped: no baseline, no ratios\n');

const sections: Section[] = hidden > 0 ? ['router', 'gate+router'] : ['router'];
const reference = createReferenceBackend();
const onnx = createOnnxBackend({ intraOpThreads: threads });
const rows: Row[] = [];
for (const section of sections) {
  const torchRows = torchAvailable ? benchTorch(section) : [];
  const backends = section === 'router' || args['reference-gate'] ? [reference, onnx] : [onnx];
  const jsRows = backends.flatMap((b) => [benchJs(b, 'fused-host', section), benchJs(b, 'backend', section)]);
  if (section === 'router') jsRows.push(...benchHost());
  const [topk, max] = torchRows;
  for (const r of [...jsRows, ...torchRows]) {
    if (topk) r.vsTorchTopk = topk.cpuMedianS / r.cpuMedianS;
    if (max) r.vsTorchMax = max.cpuMedianS / r.cpuMedianS;
  }
  rows.push(...jsRows, ...torchRows);
}

if (args.json) {
  process.stdout.write(`${JSON.stringify({ tokens, experts: E, groups: M, topK: K, hidden, threads, repeats, warmup, torchAvailable, rows }, null, 2)}\n`);
} else {
  const ratio = (x: number | undefined) => (x === undefined ? '-' : `${x.toFixed(2)}×`);
  const header = ['section', 'impl', 'backend', 'kernel', 'median ms', 'best ms', 'cpu ms', 'Mtokens/s', 'vs torch topk', 'vs torch max'];
  const cells = rows.map((r) => [
    r.section,
    r.impl,
    r.backend,
    r.kernel,
    (r.medianS * 1e3).toFixed(1),
    (r.minS * 1e3).toFixed(1),
    (r.cpuMedianS * 1e3).toFixed(1),
    (r.tokensPerS / 1e6).toFixed(2),
    ratio(r.vsTorchTopk),
    ratio(r.vsTorchMax),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...cells.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((v, c) => (c < 4 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('  ');
  console.log(
    `MoGE router forward, T=${tokens}, E=${E}, M=${M}, K=${K}${hidden > 0 ? `, gate H=${hidden}` : ''}, ${threads} thread(s), ` +
      `${repeats} repeats after ${warmup} warm-ups; ratios = PyTorch CPU time / ours (> 1: faster than PyTorch)`,
  );
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of cells) console.log(line(r));
  if (hidden > 0 && !args['reference-gate']) console.log('(reference backend left out of gate+router: its JS matmul is < 1 GFLOP/s; --reference-gate adds it)');
}
