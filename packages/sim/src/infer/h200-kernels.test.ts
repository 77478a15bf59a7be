import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findChip } from '@moge/ascend-hal';
import { InferOpCost } from './op-time';
import { getInferenceProfile } from './profile';

/** Kernel timings measured on one H200 (tools/calibrate/data, eager PyTorch: full launch cost). */
const data = JSON.parse(readFileSync(fileURLToPath(new URL('../../../../tools/calibrate/data/h200-ops.json', import.meta.url)), 'utf8')) as {
  matmul: { m: number; k: number; n: number; meanS: number }[];
  attention: { batch: number; seq: number; heads: number; kvHeads: number; headDim: number; forwardS: number }[];
};

describe('inference op costs against H200 measurements (not fitted to)', () => {
  // Eager kernels pay the whole launch; the serving profile's graph-mode fraction does not apply.
  const eager = { ...getInferenceProfile(), launchFraction: { value: 1, source: 'test: eager PyTorch timings', confidence: 'assumed' as const } };
  const cost = new InferOpCost(findChip('nvidia-h200')!, 'bf16', 'bf16', eager, false);

  it('times decode-shaped (weight-bound, m ≤ 64) GEMMs: median error under 20 %, none off by 2×', () => {
    const rows = data.matmul.filter((r) => r.m <= 64);
    expect(rows.length).toBeGreaterThan(20);
    const errors = rows.map((r) => Math.abs(Math.log(cost.time({ kind: 'matmul', name: 'x', module: 'attention', m: r.m, k: r.k, n: r.n }).timeS / r.meanS)));
    errors.sort((a, b) => a - b);
    expect(errors[Math.floor(errors.length / 2)]).toBeLessThan(Math.log(1.2));
    // The worst rows are cuBLAS's slow kernels for thin 5120×1024 products (~20 µs for 10 MB).
    expect(errors.at(-1)).toBeLessThan(Math.log(2));
  });

  it('times prefill attention within 30 %', () => {
    for (const r of data.attention) {
      const t = cost.time({ kind: 'attention', name: 'a', module: 'attention-core', batch: r.batch, heads: r.heads, kvHeads: r.kvHeads, seqQ: r.seq, seqKv: r.seq, headDimQk: r.headDim, headDimV: r.headDim, causal: true }).timeS;
      expect(Math.abs(Math.log(t / r.forwardS)), `attention b${r.batch} s${r.seq}: ${t} vs ${r.forwardS}`).toBeLessThan(Math.log(1.3));
    }
  });
});
