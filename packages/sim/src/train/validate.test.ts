import { describe, expect, it } from 'vitest';
import { getSimProfile } from '../common/training-profile';
import { validateTraining } from './validate';

describe('validateTraining (targets.md training cases)', () => {
  const rows = validateTraining();
  const row = (id: string, metric: string) => rows.find((r) => r.id === id && r.metric === metric)!;

  // In-sample: ascend-910b-training's two fitted numbers were fitted to these two cases (see the
  // last test), so this checks that the fit still holds after a change to the model, not accuracy.
  // The held-out figures are PRO-T1 and ULT-S1 below.
  it('still reproduces ULT-T1 and ULT-T0, the cases the profile was fitted to, within 10 %', () => {
    for (const id of ['ULT-T1', 'ULT-T0']) {
      for (const metric of ['tokens/s', 'MFU']) {
        const r = row(id, metric);
        expect(r.errorKind).toBe('relative');
        expect(Math.abs(r.error)).toBeLessThanOrEqual(0.1);
        expect(r.withinGoal).toBe(true);
      }
    }
  });

  it('reports the PRO-T1 relative MFU gain in points, with the layout change helping', () => {
    const r = row('PRO-T1', 'relative MFU gain');
    expect(r.errorKind).toBe('points');
    expect(r.goal).toBe(10);
    expect(r.published).toBe(0.35);
    expect(r.error).toBeCloseTo((r.predicted - r.published) * 100, 9);
    expect(r.withinGoal).toBe(Math.abs(r.error) <= 10);
    // Goal met: a gain of 35.8 % against the published 35 % (+0.8 points; 21.4 %, −13.6, while only
    // MC2 was modelled). The paper lists fused operators among the new layout's changes, so the old
    // layout runs RMSNorm, RoPE, SwiGLU and MoE permute/unpermute as the unfused PyTorch / Megatron op
    // chains (HBM passes and launches counted from the op decomposition in
    // common/elementwise-kernels.ts; nothing fitted, nothing tuned to 35 %): a layer's memory-bound
    // share of forward + backward compute goes from 10.9 % to 23.0 % (the new layout's: 6.6 %), the old
    // step from 1.68 s to 1.88 s. The figure leans on two assumed/fitted numbers
    // (tools/calibrate/pro-t1-elementwise-share.ts --sensitivity): the profile's 10 µs per kernel launch
    // (0 µs → 27.0 %, 5 µs → 31.3 %, 20 µs → 43.8 %) and the top-k skew through EP16 (0 → 42.9 %,
    // 0.356 → 29.8 %). On an H200 the unfused chains took 1.4–2.4× what these counts predict with
    // its own bandwidth and launch cost (tools/calibrate/data/h200-unfused-elementwise.json).
    expect(r.withinGoal).toBe(true);
    expect(r.predicted).toBeGreaterThan(0.25);
  });

  it('ranks Pangu Ultra\'s layout (TP8 PP16 VPP2 EP4) in a full plan search on 6K Atlas 800T A2 (ULT-S1, goal top 5)', () => {
    const r = rows.find((x) => x.id === 'ULT-S1')!;
    expect(r.errorKind).toBe('rank');
    expect(r.published).toBe(5);
    expect(r.predicted).toBeGreaterThanOrEqual(1);
    // Goal not met (top 5): #38 (#37 before the 2026-12-03 refit, #33 before data-parallel buckets). Pangu Ultra's plan lost to other plans with the same 32 model
    // chunks on half the stages (PP8 × VPP4: half the pipeline fill, and it fits in memory by
    // @moge/memory's estimate) and to TP4 × CP2. At PP16, whole layers cannot even out 61 layers +
    // the MTP module + the loss stage (the heads of the model and of the MTP module, vocab 153,600:
    // ≈ 2.8 layers' work) over 16 ranks: the busiest rank does 1.19× the mean per micro-batch, where
    // PP8 / PP4 with more layers per rank balance finer. Tighten when it improves.
    expect(r.predicted).toBeLessThanOrEqual(40);
    // Every plan near the top interleaves: with the MTP module and the loss off the last chunk, the
    // interleaved schedule's smaller fill is no longer eaten by one heavy chunk.
    const best = r.assumed.find((a) => a.startsWith("search's best"))!;
    expect(best).toMatch(/ VPP[2-5] /);
  });

  // The goal itself, known to be missed (#38 above): `it.fails` keeps the miss visible in the code and
  // turns into a failure, to be flipped to `it`, the day the rank reaches the top 5.
  it.fails('meets the ULT-S1 goal: Pangu Ultra\'s layout among the search\'s top 5 (known miss)', () => {
    const r = rows.find((x) => x.id === 'ULT-S1')!;
    expect(r.predicted).toBeLessThanOrEqual(5);
    expect(r.withinGoal).toBe(true);
  });

  it('lists the conditions every case assumes', () => {
    for (const r of rows) expect(r.assumed.length).toBeGreaterThan(0);
  });

  it('uses a profile that names the data it was fitted to, so nothing is a per-case factor', () => {
    const p = getSimProfile('ascend-910b-training');
    expect(p.fittedTo.map((f) => f.case).sort()).toEqual(['ULT-T0', 'ULT-T0', 'ULT-T1', 'ULT-T1']);
    expect(p.method).toMatch(/fit-sim-profile\.ts/);
  });
});
