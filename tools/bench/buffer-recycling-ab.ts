/**
 * A moge-small training step (4 × 256 tokens, onnxruntime backend, 1 compute thread) with activation
 * buffers recycled after each layer's backward (the default) against left to the garbage collector
 * (`recycleBuffers: false`). Each side runs in its own process — the garbage collector's state is what
 * differs, so the two cannot share a heap — alternating, several rounds; each process times `--steps`
 * steps after two untimed ones. Prints per side the median wall ms per step, the process CPU time
 * over wall time (V8's concurrent marking runs on a second core) and the collections counted by
 * V8 in the timed steps.
 *
 *   npx tsx --conditions=@moge/source tools/bench/buffer-recycling-ab.ts [--rounds 5] [--steps 6]
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { median } from '../../packages/ascend-hal/bench/timing';

const { values: args } = parseArgs({
  options: { rounds: { type: 'string', default: '5' }, steps: { type: 'string', default: '6' }, side: { type: 'string' } },
});
const positive = (flag: string, v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag}: got "${v}", expected a whole number ≥ 1`);
  return n;
};
const rounds = positive('rounds', args.rounds);
const steps = positive('steps', args.steps);

interface SideResult {
  msPerStep: number;
  cpuOverWall: number;
  majorGcs: number;
  minorGcs: number;
}

async function runSide(recycleBuffers: boolean): Promise<SideResult> {
  const { createOnnxBackend } = await import('@moge/ascend-hal/node');
  const { getPreset, initModelWeights, modelBackward, modelForward, nextTokenLabels } = await import('@moge/model');
  const arch = getPreset('moge-small');
  const w = initModelWeights(arch, createOnnxBackend({ intraOpThreads: 1, recycleBuffers }), { seed: 1 });
  const [batch, seqLen] = [4, 256];
  const ids = Int32Array.from({ length: batch * seqLen }, (_, i) => (i * 7919) % arch.vocabSize);
  const labelled = { ids, batch, seqLen, labels: nextTokenLabels(ids, batch, seqLen) };
  const step = () => modelBackward(w, modelForward(w, labelled));
  step();
  step();
  let majorGcs = 0;
  let minorGcs = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as { detail?: { kind?: number } }).detail?.kind;
      if (kind === 4 /* NODE_PERFORMANCE_GC_MAJOR */) majorGcs++;
      else if (kind === 1 /* NODE_PERFORMANCE_GC_MINOR */) minorGcs++;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let s = 0; s < steps; s++) step();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  await new Promise((r) => setTimeout(r, 0)); // let the observer deliver
  observer.disconnect();
  return { msPerStep: wall / steps, cpuOverWall: (c.user + c.system) / 1000 / wall, majorGcs: majorGcs / steps, minorGcs: minorGcs / steps };
}

if (args.side) {
  process.stdout.write(`${JSON.stringify(await runSide(args.side === 'recycle'))}\n`);
} else {
  const self = fileURLToPath(import.meta.url);
  const results: Record<'recycle' | 'gc', SideResult[]> = { recycle: [], gc: [] };
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? (['gc', 'recycle'] as const) : (['recycle', 'gc'] as const);
    for (const side of order) {
      const p = spawnSync(process.execPath, [...process.execArgv, self, '--side', side, '--steps', String(steps)], { encoding: 'utf8' });
      if (p.status !== 0) throw new Error(`side ${side} failed:\n${p.stderr}`);
      results[side].push(JSON.parse(p.stdout.trim().split('\n').pop()!) as SideResult);
    }
  }
  for (const side of ['recycle', 'gc'] as const) {
    const rs = results[side];
    process.stdout.write(
      `${side === 'recycle' ? 'recycled      ' : 'left to the GC'}  ${median(rs.map((x) => x.msPerStep)).toFixed(0)} ms/step  ` +
        `CPU/wall ${median(rs.map((x) => x.cpuOverWall)).toFixed(2)}  ` +
        `GCs/step major ${median(rs.map((x) => x.majorGcs)).toFixed(1)} minor ${median(rs.map((x) => x.minorGcs)).toFixed(1)}  ` +
        `(rounds: ${rs.map((x) => x.msPerStep.toFixed(0)).join(', ')})\n`,
    );
  }
}
