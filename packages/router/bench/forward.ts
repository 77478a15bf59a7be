/**
 * Router forward throughput: the MoGE router (E = 64, M = 8, K = 8) on every available backend, in
 * both kernel paths (the fused host kernel and the composed backend kernels), against the same
 * forward in PyTorch on this machine (tools/bench/router_torch.py) with the same thread count (1:
 * the JS kernels run on one thread).
 *
 *   npm run bench -w packages/router            # or: cd packages/router && npm run bench
 *   ... -- --tokens 65536 --repeats 15 --json
 *
 * Prints, over the repeats, the median and best wall-clock time and the median process CPU time
 * (user + system, all threads: JS's GC helpers and any PyTorch threads count); tokens/s from the
 * median wall time; and the ratio of CPU time per forward, PyTorch's over ours (> 1 = we are
 * faster). On a shared, loaded machine wall time swings with the load while CPU time mostly does
 * not, so the ratio is taken on CPU time; both are printed.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createReferenceBackend, type Backend } from '@moge/ascend-hal';
import * as halNode from '@moge/ascend-hal/node';
import { Rng } from '@moge/core';
import { createRouter } from '@moge/router';

const { values: args } = parseArgs({
  options: {
    tokens: { type: 'string', default: '65536' },
    repeats: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
  },
});
const tokens = Number(args.tokens);
const repeats = Number(args.repeats);
const warmup = Number(args.warmup);
for (const [flag, v] of [['--tokens', tokens], ['--repeats', repeats], ['--warmup', warmup]] as const) {
  if (!Number.isInteger(v) || v < (flag === '--warmup' ? 0 : 1)) throw new Error(`${flag}: got ${v}, expected a positive integer`);
}
const E = 64;
const M = 8;
const K = 8;
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../../..');

interface Row {
  impl: string;
  backend: string;
  kernel: string;
  medianS: number;
  minS: number;
  cpuMedianS: number;
  tokensPerS: number;
  vsTorch?: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function backends(): Backend[] {
  const list: Backend[] = [createReferenceBackend()];
  const onnx = (halNode as Record<string, unknown>).createOnnxBackend;
  if (typeof onnx === 'function') list.push((onnx as () => Backend)());
  return list;
}

function benchJs(backend: Backend, kernel: 'fused-host' | 'backend'): Row {
  const logits = new Float32Array(tokens * E);
  new Rng(0).fillNormal(logits);
  const scaleHost = new Float32Array(E);
  const rng = new Rng(1);
  for (let i = 0; i < E; i++) scaleHost[i] = 0.5 + rng.float();
  const z = backend.fromArray(logits, [tokens, E]);
  const scale = backend.fromArray(scaleHost, [E]);
  const router = createRouter('moge', { numExperts: E, numGroups: M, topK: K, kernel });
  const times: number[] = [];
  const cpuTimes: number[] = [];
  for (let r = 0; r < warmup + repeats; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    router.forward(backend, z, scale);
    const dt = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    if (r >= warmup) {
      times.push(dt);
      cpuTimes.push((c.user + c.system) / 1e6);
    }
  }
  const medianS = median(times);
  return {
    impl: 'moge-ts',
    backend: backend.name,
    kernel,
    medianS,
    minS: Math.min(...times),
    cpuMedianS: median(cpuTimes),
    tokensPerS: tokens / medianS,
  };
}

function benchTorch(): Row[] {
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    process.stderr.write('PyTorch not importable by /usr/bin/python3: no baseline\n');
    return [];
  }
  const rows: Row[] = [];
  for (const variant of ['topk', 'max']) {
    const r = spawnSync(
      '/usr/bin/python3',
      [join(repoRoot, 'tools/bench/router_torch.py'), '--tokens', String(tokens), '--experts', String(E), '--groups', String(M),
        '--top-k', String(K), '--threads', '1', '--repeats', String(repeats), '--warmup', String(warmup), '--variant', variant],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`router_torch.py failed: ${r.stderr}`);
    const j = JSON.parse(r.stdout) as { median_s: number; min_s: number; cpu_median_s: number; torch: string; threads: number };
    rows.push({
      impl: `pytorch ${j.torch}`,
      backend: `cpu, ${j.threads} thread`,
      kernel: variant === 'topk' ? 'softmax+topk+gather' : 'softmax+max+gather',
      medianS: j.median_s,
      minS: j.min_s,
      cpuMedianS: j.cpu_median_s,
      tokensPerS: tokens / j.median_s,
    });
  }
  return rows;
}

const torchRows = benchTorch();
const jsRows = backends().flatMap((b) => [benchJs(b, 'fused-host'), benchJs(b, 'backend')]);
const baseline = torchRows[0];
if (baseline) for (const r of [...jsRows, ...torchRows]) r.vsTorch = baseline.cpuMedianS / r.cpuMedianS;
const rows = [...jsRows, ...torchRows];

if (args.json) {
  process.stdout.write(`${JSON.stringify({ tokens, experts: E, groups: M, topK: K, repeats, rows }, null, 2)}\n`);
} else {
  const header = ['impl', 'backend', 'kernel', 'median ms', 'best ms', 'cpu ms', 'Mtokens/s', 'vs torch topk (cpu)'];
  const cells = rows.map((r) => [
    r.impl,
    r.backend,
    r.kernel,
    (r.medianS * 1e3).toFixed(1),
    (r.minS * 1e3).toFixed(1),
    (r.cpuMedianS * 1e3).toFixed(1),
    (r.tokensPerS / 1e6).toFixed(2),
    r.vsTorch === undefined ? '-' : `${r.vsTorch.toFixed(2)}×`,
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...cells.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((v, c) => (c < 3 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('  ');
  console.log(`MoGE router forward, T=${tokens}, E=${E}, M=${M}, K=${K}, ${repeats} repeats after ${warmup} warm-ups`);
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of cells) console.log(line(r));
}
