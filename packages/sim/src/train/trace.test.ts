import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseClusterSpec } from '@moge/ascend-hal';
import { getPreset } from '@moge/model';
import { enumeratePlans, PlanSpaceSchema } from './search-space';
import { simulateTraining } from './simulate';
import type { ChromeTraceEvent } from './trace';

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
          expect(['X', 'M']).toContain(e.ph);
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
});
