import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { simulatePipeline, type PipelineSimInput } from './pipeline-sim';
import { pipelineProgram } from './schedule-order';

function uniform(pp: number, vpp: number, m: number, f: number, b: number, extra: Partial<PipelineSimInput> = {}): PipelineSimInput {
  return {
    pp,
    vpp,
    numMicroBatches: m,
    forward: () => ({ computeS: f / vpp, commS: 0 }),
    backward: () => ({ computeS: b / vpp, commS: 0 }),
    p2pS: () => 0,
    overlap: { enabled: false, efficiency: 1 },
    ...extra,
  };
}

describe('pipelineProgram', () => {
  it('runs every forward and backward of every chunk exactly once, forward first', () => {
    for (const [pp, vpp, m] of [[4, 1, 8], [4, 2, 8], [5, 5, 10], [16, 2, 32], [3, 1, 2]] as const) {
      for (let r = 0; r < pp; r++) {
        const tasks = pipelineProgram(pp, vpp, m, r).flatMap((s) => s.tasks);
        expect(tasks).toHaveLength(2 * m * vpp);
        const seen = new Set(tasks.map((t) => `${t.kind}${t.chunk}/${t.microBatch}`));
        expect(seen.size).toBe(2 * m * vpp);
        tasks.forEach((t, i) => {
          if (t.kind === 'B') expect(tasks.slice(0, i).some((u) => u.kind === 'F' && u.chunk === t.chunk && u.microBatch === t.microBatch)).toBe(true);
        });
      }
    }
  });

  it('rejects an interleaved schedule whose micro-batches are not a multiple of pp, naming the field', () => {
    expect(() => pipelineProgram(4, 2, 6, 0)).toThrow(/numMicroBatches.*got 6.*multiple of pp \(4\)/s);
  });
});

describe('simulatePipeline', () => {
  it('reproduces the 1F1B makespan (m + pp − 1)(f + b) for uniform stages', () => {
    const r = simulatePipeline(uniform(4, 1, 8, 1, 2));
    expect(r.makespanS).toBeCloseTo((8 + 3) * 3, 9);
    expect(r.stages[0]!.bubbleS).toBeCloseTo(3 * 3, 9);
  });

  it('shrinks the bubble by vpp with the interleaved schedule: (pp − 1)(f + b)/vpp', () => {
    const pp = 4;
    const m = 8;
    for (const vpp of [2, 4]) {
      const r = simulatePipeline(uniform(pp, vpp, m, 1, 2));
      expect(r.makespanS).toBeCloseTo(m * 3 + ((pp - 1) * 3) / vpp, 9);
    }
  });

  it('has no bubble with a single stage', () => {
    const r = simulatePipeline(uniform(1, 1, 5, 1, 2));
    expect(r.makespanS).toBeCloseTo(15, 9);
    expect(r.stages[0]!.bubbleS).toBeCloseTo(0, 9);
  });

  it('lets the slowest stage set the pace: imbalance comes out of the schedule', () => {
    const slow = simulatePipeline({
      ...uniform(4, 1, 16, 1, 2),
      forward: (s) => ({ computeS: s === 2 ? 1.5 : 1, commS: 0 }),
      backward: (s) => ({ computeS: s === 2 ? 3 : 2, commS: 0 }),
    });
    expect(slow.makespanS).toBeGreaterThanOrEqual(16 * 4.5);
    expect(slow.stages[0]!.bubbleS).toBeGreaterThan(16 * 1.5 - 1e-9);
  });

  it('hides one micro-batch\'s communication under another\'s compute when overlap is on', () => {
    const base = { ...uniform(4, 2, 8, 1, 2), forward: () => ({ computeS: 0.5, commS: 0.3 }), backward: () => ({ computeS: 1, commS: 0.3 }) };
    const off = simulatePipeline(base);
    const on = simulatePipeline({ ...base, overlap: { enabled: true, efficiency: 1 } });
    expect(on.makespanS).toBeLessThan(off.makespanS);
    const exposedOn = on.events.reduce((s, e) => s + e.exposedCommS, 0);
    const exposedOff = off.events.reduce((s, e) => s + e.exposedCommS, 0);
    expect(exposedOn).toBeLessThan(exposedOff);
  });

  it('pairs a forward with a backward only when waiting for both pays: plain 1F1B with overlap is no slower than without', () => {
    // In 1F1B the backward's gradient always arrives after the paired forward could have started;
    // forcing the pair would serialise the whole pipeline behind it.
    for (const [pp, m] of [[4, 8], [8, 16], [16, 64]] as const) {
      const base = { ...uniform(pp, 1, m, 1, 2), forward: () => ({ computeS: 1, commS: 0.2 }), backward: () => ({ computeS: 2, commS: 0.4 }) };
      const off = simulatePipeline(base);
      const on = simulatePipeline({ ...base, overlap: { enabled: true, efficiency: 0.8 } });
      expect(on.makespanS).toBeLessThanOrEqual(off.makespanS + 1e-9);
    }
    // Nothing to hide (no communication, as at TP1 without EP): pairing would only hand each forward's
    // output on after its partner backward, so overlap on must give exactly the schedule of overlap off.
    for (const [pp, vpp, m] of [[8, 1, 16], [4, 2, 8]] as const) {
      const base = uniform(pp, vpp, m, 1, 2, { p2pS: () => 0.05 });
      expect(simulatePipeline({ ...base, overlap: { enabled: true, efficiency: 0.8 } }).makespanS).toBe(simulatePipeline(base).makespanS);
    }
  });

  it('without p2p overlap, sends an interleaved step\'s forward output only after its backward (Megatron\'s batched exchange)', () => {
    const base = { ...uniform(4, 2, 8, 1, 2), forward: () => ({ computeS: 0.5, commS: 0.1 }), backward: () => ({ computeS: 1, commS: 0.1 }) };
    const eager = simulatePipeline(base);
    const batched = simulatePipeline({ ...base, batchedP2p: true });
    // The forward's output waits for the backward of its step, so the pipeline runs no faster.
    expect(batched.makespanS).toBeGreaterThanOrEqual(eager.makespanS - 1e-9);
    const byKey = new Map(batched.events.map((e) => [`${e.kind}${e.stage}/${e.chunk}/${e.microBatch}`, e]));
    let coupled = 0;
    for (const e of batched.events) {
      if (e.kind !== 'F') continue;
      const v = e.chunk * 4 + e.stage;
      if (v === 0) continue;
      const producer = byKey.get(`F${(v - 1) % 4}/${Math.floor((v - 1) / 4)}/${e.microBatch}`)!;
      // A steady-state producer shares its step with a backward: the consumer starts after that step ends.
      const stepEnd = batched.events.find((b) => b.kind === 'B' && b.stage === producer.stage && Math.abs(b.startS - producer.endS) < 1e-12);
      if (stepEnd) {
        expect(e.startS).toBeGreaterThanOrEqual(stepEnd.endS - 1e-9);
        coupled++;
      }
    }
    expect(coupled).toBeGreaterThan(0);
    // Plain 1F1B sends each result at once, and overlap on leaves the exchange to the pairing: no change.
    const plain = { ...uniform(4, 1, 8, 1, 2) };
    expect(simulatePipeline({ ...plain, batchedP2p: true }).makespanS).toBeCloseTo(simulatePipeline(plain).makespanS, 12);
    const on = { ...base, overlap: { enabled: true, efficiency: 0.8 } };
    expect(simulatePipeline({ ...on, batchedP2p: true }).makespanS).toBeCloseTo(simulatePipeline(on).makespanS, 12);
  });

  it('respects data dependencies, stage exclusivity and does all the work (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.double({ min: 0.1, max: 3, noNaN: true }), { minLength: 36, maxLength: 36 }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.boolean(),
        fc.boolean(),
        (pp, vppIn, groups, costs, p2p, overlap, batchedP2p) => {
          const vpp = pp === 1 ? 1 : vppIn;
          const m = groups * pp;
          const r = simulatePipeline({
            pp,
            vpp,
            numMicroBatches: m,
            forward: (s, c) => ({ computeS: costs[(s * 3 + c) % 36]!, commS: costs[(s + c + 7) % 36]! / 4 }),
            backward: (s, c) => ({ computeS: 2 * costs[(s * 3 + c + 1) % 36]!, commS: costs[(s + c + 11) % 36]! / 4 }),
            p2pS: () => p2p,
            overlap: { enabled: overlap, efficiency: 0.8 },
            batchedP2p,
          });
          expect(r.events).toHaveLength(2 * pp * vpp * m);
          const byKey = new Map(r.events.map((e) => [`${e.kind}${e.stage}/${e.chunk}/${e.microBatch}`, e]));
          const task = (kind: 'F' | 'B', v: number, mb: number) => byKey.get(`${kind}${v % pp}/${Math.floor(v / pp)}/${mb}`)!;
          const last = pp * vpp - 1;
          for (const e of r.events) {
            const v = e.chunk * pp + e.stage;
            // A task needs its input: the previous virtual stage's forward output, the next one's
            // input gradient, and (for a backward) its own forward's activations.
            if (e.kind === 'F' && v > 0) expect(e.startS).toBeGreaterThanOrEqual(task('F', v - 1, e.microBatch).endS - 1e-9);
            if (e.kind === 'B') {
              expect(e.startS).toBeGreaterThanOrEqual(task('F', v, e.microBatch).endS - 1e-9);
              if (v < last) expect(e.startS).toBeGreaterThanOrEqual(task('B', v + 1, e.microBatch).endS - 1e-9);
            }
          }
          for (let s = 0; s < pp; s++) {
            const mine = r.events.filter((e) => e.stage === s).sort((a, b) => a.startS - b.startS);
            for (let i = 1; i < mine.length; i++) expect(mine[i]!.startS).toBeGreaterThanOrEqual(mine[i - 1]!.endS - 1e-9);
            // Every micro-batch's forward and backward compute of every chunk of this stage ran here.
            let work = 0;
            for (let c = 0; c < vpp; c++) work += m * (costs[(s * 3 + c) % 36]! + 2 * costs[(s * 3 + c + 1) % 36]!);
            expect(r.stages[s]!.busyS).toBeGreaterThanOrEqual(work * (1 - 1e-9));
            expect(r.stages[s]!.endS).toBeGreaterThanOrEqual(work * (1 - 1e-9));
          }
          expect(r.makespanS).toBeGreaterThanOrEqual(Math.max(...r.stages.map((s) => s.busyS)) - 1e-9);
        },
      ),
      { numRuns: 100 },
    );
  });
});
