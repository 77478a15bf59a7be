import { describe, expect, it } from 'vitest';
import { getSimProfile } from '../common/training-profile';
import { validateTraining } from './validate';

describe('validateTraining (targets.md training cases)', () => {
  const rows = validateTraining();
  const row = (id: string, metric: string) => rows.find((r) => r.id === id && r.metric === metric)!;

  it('predicts ULT-T1 and ULT-T0 tokens/s and MFU within 10 %', () => {
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
    // Goal not met yet (±10 points). Honest current standing: a gain of 14.4 % against the published
    // 35 % (−20.6 points), with both layouts' expert loads taken without Pangu Ultra's dynamic
    // re-placement (Pangu Pro does not list it), the new layout's fused operators modelled (MC2), the
    // old layout's blocking pipeline sends, and @moge/memory's planner picking each layout's memory
    // policy (none for both: the old layout needs 32.5 GiB). Tighten when it improves.
    expect(r.predicted).toBeGreaterThan(0.1);
    expect(Math.abs(r.error)).toBeLessThanOrEqual(25);
  });

  it('ranks Pangu Ultra\'s layout (TP8 PP16 VPP2 EP4) in a full plan search on 6K Atlas 800T A2 (ULT-S1, goal top 5)', () => {
    const r = rows.find((x) => x.id === 'ULT-S1')!;
    expect(r.errorKind).toBe('rank');
    expect(r.published).toBe(5);
    expect(r.predicted).toBeGreaterThanOrEqual(1);
    expect(r.withinGoal).toBe(r.predicted <= 5);
    // Goal not met yet (top 5): the honest current bound is among the 60 best simulated plans (#51).
    expect(r.predicted).toBeLessThanOrEqual(60);
    // With ring attention's exchange costed per step over one HCCS link, the search no longer prefers
    // context parallelism for a 4K sequence of MLA (128 heads of decompressed K,V per token).
    const best = r.assumed.find((a) => a.startsWith("search's best"))!;
    expect(best).toMatch(/ CP1 /);
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
