/**
 * matmul through the HAL `onnxruntime` backend against bare onnxruntime sessions of the same shape
 * (public async API and native binding) and the `reference` backend, at 1024³ and 64³.
 * Run: npx tsx --conditions=source bench/matmul.ts   (npm run bench in this package)
 * Goals: HAL overhead over the bare binding ≤ 15 % at 1024³; ≤ 30 µs per HAL call at 64³.
 */
import { Rng } from '@moge/core';
import { createReferenceBackend } from '@moge/ascend-hal';
import { createOnnxBackend } from '@moge/ascend-hal/node';
import { bareBindingMatmul, matmulModel, publicApiMatmul } from './bare-session';
import { measureInterleaved, pairedRatio, type Timing, type Variant } from './timing';

interface Plan {
  size: number;
  callsPerRound: number;
  rounds: number;
  /** The reference backend is ~100× slower; it gets its own, shorter measurement (calls per round, rounds). */
  referenceCalls: number;
  referenceRounds: number;
}

const PLANS: Plan[] = [
  { size: 1024, callsPerRound: 2, rounds: 31, referenceCalls: 1, referenceRounds: 1 },
  { size: 64, callsPerRound: 1000, rounds: 31, referenceCalls: 20, referenceRounds: 5 },
];

function randomMatrix(rng: Rng, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.float() * 2 - 1;
  return a;
}

async function benchSize(plan: Plan): Promise<Timing[]> {
  const n = plan.size;
  const rng = new Rng(1);
  const a = randomMatrix(rng, n * n);
  const b = randomMatrix(rng, n * n);
  const hal = createOnnxBackend();
  const ta = hal.fromArray(a, [n, n]);
  const tb = hal.fromArray(b, [n, n]);
  const model = matmulModel(n, n, n);
  const variants: Variant[] = [
    { name: 'HAL onnxruntime backend', call: () => hal.matmul(ta, tb) },
    { name: 'bare onnxruntime, native binding', call: bareBindingMatmul(model, a, b, n, n, n) },
    { name: 'bare onnxruntime, public async API', call: await publicApiMatmul(model, a, b, n, n, n) },
  ];
  const timings = await measureInterleaved(variants, plan.callsPerRound, plan.rounds);
  const ref = createReferenceBackend();
  const [ra, rb] = [ref.fromArray(a, [n, n]), ref.fromArray(b, [n, n])];
  const refVariant = { name: 'HAL reference backend', call: () => ref.matmul(ra, rb) };
  // At 1024³ one reference call takes seconds: a single cold call is all this shared host can spare.
  const warmUp = plan.referenceRounds > 1;
  timings.push(...(await measureInterleaved([refVariant], plan.referenceCalls, plan.referenceRounds, { warmUp })));
  return timings;
}

function row(size: number, t: Timing): string {
  const flops = 2 * size ** 3;
  const cells = [
    `${size}³`.padEnd(6),
    t.name.padEnd(36),
    (t.medianS * 1e6).toFixed(1).padStart(11),
    `${(t.minS * 1e6).toFixed(1)}–${(t.maxS * 1e6).toFixed(1)}`.padStart(20),
    (flops / t.medianS / 1e9).toFixed(2).padStart(9),
  ];
  return cells.join(' │ ');
}

async function main(): Promise<void> {
  console.log(`matmul benchmark — node ${process.version}, median of interleaved rounds (CPU shared with other work)\n`);
  console.log(['size  ', 'variant'.padEnd(36), 'µs/call med', 'round range µs'.padStart(20), '   GFLOP/s'].join(' │ '));
  const results = new Map<number, Timing[]>();
  for (const plan of PLANS) {
    const timings = await benchSize(plan);
    results.set(plan.size, timings);
    for (const t of timings) console.log(row(plan.size, t));
  }
  const pick = (size: number, prefix: string) => results.get(size)!.find((t) => t.name.startsWith(prefix))!;
  const overhead = pairedRatio(pick(1024, 'HAL onnx'), pick(1024, 'bare onnxruntime, native')) - 1;
  const small = pick(64, 'HAL onnx').medianS;
  const smallRatio = pairedRatio(pick(64, 'HAL onnx'), pick(64, 'bare onnxruntime, native'));
  const asyncRatio = pairedRatio(pick(64, 'bare onnxruntime, public'), pick(64, 'bare onnxruntime, native'));
  console.log('');
  console.log(`HAL overhead at 1024³ over the bare binding (median of paired rounds): ${(overhead * 100).toFixed(1)} %  (goal ≤ 15 %: ${overhead <= 0.15 ? 'met' : 'MISSED'})`);
  console.log(`HAL call at 64³: ${(small * 1e6).toFixed(1)} µs median  (goal ≤ 30 µs: ${small <= 30e-6 ? 'met' : 'MISSED'}); ${smallRatio.toFixed(3)}× the bare binding's time`);
  console.log(`public async API at 64³: ${asyncRatio.toFixed(2)}× the bare binding's time per awaited call`);
}

await main();
