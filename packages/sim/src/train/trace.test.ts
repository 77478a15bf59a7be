import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseClusterSpec } from '@moge/ascend-hal';
import { getPreset } from '@moge/model';
import { enumeratePlans, PlanSpaceSchema } from './search-space';
import { simulateTraining } from './simulate';
import type { ParallelPlan } from '@moge/core';
import type { ChromeTrace, ChromeTraceEvent } from './trace';

const arch = getPreset('moge-small');
const cluster = parseClusterSpec('atlas-800t-a2:16');
const plans = [...enumeratePlans(arch, PlanSpaceSchema.parse({ recompute: ['none', 'full'], microBatchSize: [1, 2] }), { globalBatchSize: 32, seqLength: 1024, devices: 16, devicesPerNode: 8 })];

describe('the Chrome trace of a simulated step', () => {
  it('is valid trace-event JSON whose tracks never run two events at once (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: plans.length - 1 }), fc.boolean(), (i, overlap) => {
        const r = simulateTraining({ arch, cluster, plan: plans[i]!, options: { trace: true, overlap } });
        const events = (JSON.parse(JSON.stringify(r.trace)) as { traceEvents: ChromeTraceEvent[] }).traceEvents;
        const tracks = new Map<string, ChromeTraceEvent[]>();
        for (const e of events) {
          expect(['X', 'i', 'M']).toContain(e.ph);
          expect(Number.isInteger(e.pid) && Number.isInteger(e.tid)).toBe(true);
          if (e.ph !== 'X') continue;
          expect(Number.isFinite(e.ts) && e.ts! >= 0).toBe(true);
          expect(Number.isFinite(e.dur) && e.dur! >= 0).toBe(true);
          const key = `${e.pid}/${e.tid}`;
          tracks.set(key, [...(tracks.get(key) ?? []), e]);
        }
        // A stage's compute stream runs one task at a time (a paired forward/backward is split in
        // two), and its gradient buckets and parameter gather queue on one communication stream.
        for (const track of tracks.values()) {
          track.sort((a, b) => a.ts! - b.ts!);
          for (let k = 1; k < track.length; k++) expect(track[k]!.ts!).toBeGreaterThanOrEqual(track[k - 1]!.ts! + track[k - 1]!.dur! - 1e-6);
        }
        // Every forward and backward of the schedule is there once.
        const tasks = events.filter((e) => e.cat === 'forward' || e.cat === 'backward');
        expect(tasks).toHaveLength(2 * r.numMicroBatches * plans[i]!.pp * plans[i]!.vpp);
      }),
      { numRuns: 20, seed: 11 },
    );
  });

  /**
   * The trace is one period of the steady state: a marker at stepTimeS, and whatever ends after it
   * belongs to the next step's start on a later stage (the optimizer and parameter gather that its
   * pipeline fill hides), ending before that stage's first forward of the next step. Returns how many
   * events ended after stepTimeS.
   */
  function expectStepPeriod(trace: ChromeTrace, stepTimeS: number, pp: number): number {
    const events = trace.traceEvents;
    const us = stepTimeS * 1e6;
    const markers = events.filter((e) => e.cat === 'step');
    expect(markers.map((e) => e.ph).sort()).toEqual(['X', 'i']);
    expect(markers.find((e) => e.ph === 'i')).toMatchObject({ ts: us, s: 'g' });
    expect(markers.find((e) => e.ph === 'X')).toMatchObject({ ts: 0, dur: us });
    expect(trace.metadata).toMatchObject({ stepTimeS, stepPeriod: expect.stringMatching(/steady-state step period/) });
    const firstForwardUs = (stage: number) => Math.min(...events.filter((e) => e.pid === stage && e.cat === 'forward').map((e) => e.ts!));
    let later = 0;
    for (const e of events) {
      if (e.ph !== 'X' || e.cat === 'step') continue;
      const end = e.ts! + e.dur!;
      const flagged = (e.args as { overlapsNextStep?: boolean } | undefined)?.overlapsNextStep === true;
      expect(flagged).toBe(end > us * (1 + 1e-12));
      if (!flagged) continue;
      later++;
      expect(e.pid).toBeGreaterThan(0);
      expect(e.pid).toBeLessThan(pp);
      expect(['optimizer step', 'param all-gather']).toContain(e.name);
      expect(end).toBeLessThanOrEqual(us + firstForwardUs(e.pid) + 1e-3);
      expect((e.args as { nextStepFirstForwardS: number }).nextStepFirstForwardS * 1e6).toBeCloseTo(us + firstForwardUs(e.pid), 3);
    }
    return later;
  }

  it('marks stepTimeS as the step period, and only what overlaps the next step ends later (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: plans.length - 1 }), fc.boolean(), (i, overlap) => {
        const r = simulateTraining({ arch, cluster, plan: plans[i]!, options: { trace: true, overlap } });
        expectStepPeriod(r.trace!, r.stepTimeS, plans[i]!.pp);
      }),
      { numRuns: 20, seed: 12 },
    );
  });

  it('explains the parameter gathers that end after stepTimeS on pangu-ultra-moe at 6144 devices', () => {
    // The plan `sim train --plan auto --global-batch 1536` picks there.
    const plan: ParallelPlan = { ...plans[0]!, tp: 8, cp: 1, dp: 192, pp: 4, vpp: 4, ep: 32, etp: 1, sequenceParallel: true, microBatchSize: 1, globalBatchSize: 1536, seqLength: 4096, recompute: ['mla-up-proj', 'activation', 'permute'], swap: [], distributedOptimizer: true, noopLayers: 3 };
    const r = simulateTraining({ arch: getPreset('pangu-ultra-moe'), cluster: parseClusterSpec('atlas-800t-a2:6144'), plan, options: { trace: true } });
    expect(expectStepPeriod(r.trace!, r.stepTimeS, 4)).toBeGreaterThan(0);
  });
});
