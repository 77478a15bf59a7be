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
    expect(r.predicted).toBeGreaterThan(0);
    expect(r.error).toBeCloseTo((r.predicted - r.published) * 100, 9);
    expect(r.withinGoal).toBe(Math.abs(r.error) <= 10);
  });

  it('ranks Pangu Ultra\'s layout (TP8 PP16 VPP2 EP4) in a full plan search on 6K Atlas 800T A2 (ULT-S1, goal top 5)', () => {
    const r = rows.find((x) => x.id === 'ULT-S1')!;
    expect(r.errorKind).toBe('rank');
    expect(r.published).toBe(5);
    expect(r.predicted).toBeGreaterThanOrEqual(1);
    expect(r.withinGoal).toBe(r.predicted <= 5);
    expect(r.assumed.some((a) => a.startsWith("search's best"))).toBe(true);
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
