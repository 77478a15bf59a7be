/**
 * matmul through the HAL `onnxruntime` backend against a bare onnxruntime session of the same shape
 * (the native binding the HAL drives, fed the same way), with the public async API, the `reference`
 * backend and PyTorch for scale, at 1024³ and 64³.
 * Run: npx tsx --conditions=@moge/source bench/matmul.ts   (npm run bench in this package)
 *
 * Goals (issue 2): the HAL adds ≤ 15 % over the bare session at 1024³ and ≤ 30 µs per call at 64³.
 * Both are paired measures (a HAL round and a bare round run back to back, order alternating), so
 * load from other processes on a shared host lands on both sides alike. Only the two compared
 * sessions run in those rounds: every onnxruntime session owns an intra-op pool whose threads spin
 * after each run, and a third session's spinning threads would steal the cores from whichever
 * variant follows it. The comparison runs at onnxruntime's default thread count and at 1 thread.
 */
import { Rng } from '@moge/core';
import { createReferenceBackend } from '@moge/ascend-hal';
import { createOnnxBackend, gemmLibrary } from '@moge/ascend-hal/node';
import { pinnedNote } from '../../../tools/bench/openblas-pin';
import { bareBindingMatmul, matmulModel, publicApiMatmul } from './bare-session';
import { torchMatmul } from './torch-matmul';
import { measureInterleaved, pairedDifference, pairedRatio, type Timing } from './timing';

interface Plan {
  size: number;
  callsPerRound: number;
  rounds: number;
  /** The reference backend is ~100× slower; it gets its own, shorter measurement (calls per round, rounds). */
  referenceCalls: number;
  referenceRounds: number;
}

const PLANS: Plan[] = [
  { size: 1024, callsPerRound: 1, rounds: 41, referenceCalls: 1, referenceRounds: 1 },
  { size: 64, callsPerRound: 200, rounds: 41, referenceCalls: 20, referenceRounds: 5 },
];

/** undefined = onnxruntime's default intra-op pool (one thread per physical core). */
const THREADS: readonly (number | undefined)[] = [undefined, 1];
const threadLabel = (t: number | undefined) => (t === undefined ? 'default threads' : `${t} thread`);

function randomMatrix(rng: Rng, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.float() * 2 - 1;
  return a;
}

interface SizeResult {
  /** Per thread setting: [HAL, bare] from the same interleaved rounds. */
  pairs: Map<number | undefined, [Timing, Timing]>;
  /** [bare native, public async API], interleaved with each other only. */
  publicApi: [Timing, Timing];
  reference: Timing;
}

async function benchSize(plan: Plan): Promise<SizeResult> {
  const n = plan.size;
  const rng = new Rng(1);
  const a = randomMatrix(rng, n * n);
  const b = randomMatrix(rng, n * n);
  const model = matmulModel(n, n, n);
  const pairs = new Map<number | undefined, [Timing, Timing]>();
  for (const threads of THREADS) {
    const hal = createOnnxBackend(threads === undefined ? {} : { intraOpThreads: threads });
    const [ta, tb] = [hal.fromArray(a, [n, n]), hal.fromArray(b, [n, n])];
    const [halT, bareT] = await measureInterleaved(
      [
        { name: `HAL onnxruntime backend, ${threadLabel(threads)}`, call: () => hal.matmul(ta, tb) },
        {
          name: `bare onnxruntime session, ${threadLabel(threads)}`,
          call: bareBindingMatmul(model, a, b, [n, n, n], threads),
        },
      ],
      plan.callsPerRound,
      plan.rounds,
    );
    pairs.set(threads, [halT!, bareT!]);
  }
  const [nativeT, publicT] = await measureInterleaved(
    [
      { name: 'bare session, native binding (sync)', call: bareBindingMatmul(model, a, b, [n, n, n]) },
      { name: 'bare session, public API (awaited)', call: await publicApiMatmul(model, a, b, n, n, n) },
    ],
    plan.callsPerRound,
    plan.rounds,
  );
  const ref = createReferenceBackend();
  const [ra, rb] = [ref.fromArray(a, [n, n]), ref.fromArray(b, [n, n])];
  // At 1024³ one reference call takes seconds: a single cold call is all this shared host can spare.
  const warmUp = plan.referenceRounds > 1;
  const [reference] = await measureInterleaved(
    [{ name: 'HAL reference backend', call: () => ref.matmul(ra, rb) }],
    plan.referenceCalls,
    plan.referenceRounds,
    {
      warmUp,
    },
  );
  return { pairs, publicApi: [nativeT!, publicT!], reference: reference! };
}

function row(size: number, t: Timing): string {
  const flops = 2 * size ** 3;
  const cells = [
    `${size}³`.padEnd(6),
    t.name.padEnd(42),
    (t.medianS * 1e6).toFixed(1).padStart(11),
    `${(t.minS * 1e6).toFixed(1)}–${(t.maxS * 1e6).toFixed(1)}`.padStart(20),
    (flops / t.medianS / 1e9).toFixed(2).padStart(9),
  ];
  return cells.join(' │ ');
}

async function main(): Promise<void> {
  console.log(
    `matmul benchmark — node ${process.version}, median of interleaved rounds (CPU shared with other work)\n`,
  );
  console.log(
    ['size  ', 'variant'.padEnd(42), 'µs/call med', 'round range µs'.padStart(20), '   GFLOP/s'].join(' │ '),
  );
  const results = new Map<number, SizeResult>();
  for (const plan of PLANS) {
    const r = await benchSize(plan);
    results.set(plan.size, r);
    for (const [hal, bare] of r.pairs.values())
      console.log(`${row(plan.size, hal)}\n${row(plan.size, bare)}`);
    console.log(
      `${row(plan.size, r.publicApi[0])}\n${row(plan.size, r.publicApi[1])}\n${row(plan.size, r.reference)}`,
    );
  }

  console.log('');
  const big = results.get(1024)!;
  const small = results.get(64)!;
  for (const threads of THREADS) {
    const [hal, bare] = big.pairs.get(threads)!;
    const overhead = pairedRatio(hal, bare) - 1;
    console.log(
      `1024³, ${threadLabel(threads)}: HAL / bare session = ${(1 + overhead).toFixed(3)} (median of paired rounds) → HAL overhead ${(overhead * 100).toFixed(1)} %  (goal ≤ 15 %: ${overhead <= 0.15 ? 'met' : 'MISSED'})`,
    );
  }
  for (const threads of THREADS) {
    const [hal, bare] = small.pairs.get(threads)!;
    const added = pairedDifference(hal, bare);
    console.log(
      `64³, ${threadLabel(threads)}: HAL adds ${(added * 1e6).toFixed(1)} µs per call over the bare session (median of paired rounds; goal ≤ 30 µs: ${added <= 30e-6 ? 'met' : 'MISSED'}); ` +
        `HAL / bare = ${pairedRatio(hal, bare).toFixed(3)}; HAL call ${(hal.medianS * 1e6).toFixed(1)} µs median, ${(hal.minS * 1e6).toFixed(1)} µs in the quietest round`,
    );
  }
  for (const [size, r] of results) {
    const hal = r.pairs.get(undefined)![0];
    console.log(
      `${size}³: reference backend takes ${(r.reference.medianS / hal.medianS).toFixed(0)}× the HAL onnxruntime backend's time`,
    );
  }
  console.log(
    `64³: the public async API takes ${pairedRatio(small.publicApi[1], small.publicApi[0]).toFixed(2)}× the native binding's time per awaited call`,
  );

  // PyTorch runs in its own process after the rounds above, so its ratio is not paired.
  console.log('');
  const gemm = gemmLibrary();
  console.log(`HAL matmuls on ${gemm.library === 'openblas' ? `OpenBLAS (${gemm.coreName} kernels)` : `MLAS (${gemm.reason})`}${pinnedNote()}`);
  for (const plan of PLANS) {
    const torch = torchMatmul(plan.size, plan.callsPerRound, plan.rounds);
    if ('skipped' in torch) {
      console.log(torch.skipped);
      break;
    }
    const hal = results.get(plan.size)!.pairs.get(undefined)![0];
    const gflops = (2 * plan.size ** 3) / torch.medianS / 1e9;
    console.log(
      `PyTorch ${torch.version} (${torch.threads} thread(s), OpenBLAS ${torch.blasCore} kernels) at ${plan.size}³: ${(torch.medianS * 1e6).toFixed(1)} µs/call, ${gflops.toFixed(2)} GFLOP/s; ` +
        `HAL onnxruntime backend (default threads) at ${(torch.medianS / hal.medianS).toFixed(2)}× PyTorch's speed`,
    );
  }
}

await main();
