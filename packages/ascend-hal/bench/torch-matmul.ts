/**
 * PyTorch's float32 matmul on the same host, for scale: Debian's python3-torch with OpenBLAS, run by
 * /usr/bin/python3 (not a pyenv python, which has no torch). Absent PyTorch is not an error: the
 * bench prints that it skipped this baseline.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PYTHON = '/usr/bin/python3';
/** tools/bench, where blas_core.py (the OpenBLAS kernel family a process runs) lives. */
const TOOLS_BENCH = join(dirname(fileURLToPath(import.meta.url)), '../../../tools/bench');

// Median of `rounds` rounds of `calls` calls, after a warm-up round; printed as JSON seconds per call.
const SCRIPT = `
import json, sys, time, statistics
import torch
sys.path.insert(0, sys.argv[4])
from blas_core import openblas_core
n, calls, rounds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
g = torch.Generator().manual_seed(1)
a = torch.rand(n, n, generator=g) * 2 - 1
b = torch.rand(n, n, generator=g) * 2 - 1
for _ in range(calls): torch.matmul(a, b)
per = []
for _ in range(rounds):
    t0 = time.perf_counter()
    for _ in range(calls): torch.matmul(a, b)
    per.append((time.perf_counter() - t0) / calls)
print(json.dumps({"medianS": statistics.median(per), "minS": min(per), "threads": torch.get_num_threads(), "version": torch.__version__, "blasCore": openblas_core()}))
`;

export interface TorchTiming {
  medianS: number;
  minS: number;
  threads: number;
  version: string;
  /** OpenBLAS's kernel family in PyTorch's process. */
  blasCore: string;
}

/** Seconds per n³ float32 matmul in PyTorch, or the reason it could not be measured. */
export function torchMatmul(n: number, calls: number, rounds: number): TorchTiming | { skipped: string } {
  const run = spawnSync(PYTHON, ['-c', SCRIPT, String(n), String(calls), String(rounds), TOOLS_BENCH], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (run.error || run.status !== 0) {
    const why = run.error?.message ?? run.stderr.trim().split('\n').at(-1) ?? `exit ${run.status}`;
    return { skipped: `PyTorch not importable, skipped (${PYTHON}: ${why})` };
  }
  return JSON.parse(run.stdout.trim().split('\n').at(-1)!) as TorchTiming;
}
