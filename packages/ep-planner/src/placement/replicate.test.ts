import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { replicateExperts, replicateHottestRoundRobin } from './replicate';
import { orderByWeightDescending } from './balanced-packing';

/** Smallest possible max(load / replicas) over every way to hand out `extra` replicas (exhaustive). */
function bestMaxPerReplica(weights: number[], extra: number): number {
  let best = Infinity;
  const counts = weights.map(() => 1);
  const visit = (i: number, left: number): void => {
    if (i === weights.length - 1) {
      counts[i] = 1 + left;
      best = Math.min(best, Math.max(...weights.map((w, e) => w / counts[e]!)));
      return;
    }
    for (let k = 0; k <= left; k++) {
      counts[i] = 1 + k;
      visit(i + 1, left - k);
    }
  };
  visit(0, extra);
  return best;
}

const replicationCase = fc.tuple(fc.array(fc.integer({ min: 0, max: 500 }), { minLength: 1, maxLength: 5 }), fc.integer({ min: 0, max: 6 }));

describe('replicateExperts', () => {
  it('gives every expert ≥ 1 replica, P replicas in all, the first n slots the identity', () => {
    fc.assert(
      fc.property(replicationCase, ([weights, extra]) => {
        const { physicalToLogical, replicaCounts } = replicateExperts(weights, weights.length + extra);
        expect(physicalToLogical.length).toBe(weights.length + extra);
        expect(Array.from(physicalToLogical.subarray(0, weights.length))).toEqual(weights.map((_, e) => e));
        const counted = new Array<number>(weights.length).fill(0);
        physicalToLogical.forEach((e) => counted[e]!++);
        expect(Array.from(replicaCounts)).toEqual(counted);
        expect(Math.min(...counted)).toBeGreaterThanOrEqual(1);
      }),
    );
  });

  it('minimises the largest load per replica (checked against exhaustive search)', () => {
    fc.assert(
      fc.property(replicationCase, ([weights, extra]) => {
        const { replicaCounts } = replicateExperts(weights, weights.length + extra);
        const got = Math.max(...weights.map((w, e) => w / replicaCounts[e]!));
        expect(got).toBeCloseTo(bestMaxPerReplica(weights, extra), 9);
      }),
    );
  });

  it('keeps every expert within maxReplicas copies until all of them reach it, P replicas in all (property)', () => {
    fc.assert(
      fc.property(replicationCase, fc.integer({ min: 1, max: 4 }), ([weights, extra], cap) => {
        const { replicaCounts, physicalToLogical } = replicateExperts(weights, weights.length + extra, cap);
        expect(physicalToLogical.length).toBe(weights.length + extra);
        const most = Math.max(...replicaCounts);
        if (weights.length + extra <= weights.length * cap) expect(most).toBeLessThanOrEqual(cap);
        else expect(Math.min(...replicaCounts)).toBeGreaterThanOrEqual(cap);
      }),
    );
  });

  it('spends a slot on another expert rather than a copy beyond one per rank', () => {
    // 4 ranks of 3 slots: the hot expert gets 4 copies (one per rank, 250 each), not EPLB's 5.
    const { replicaCounts } = replicateExperts([1000, 10, 10, 10, 10, 10, 10, 10], 12, 4);
    expect(replicaCounts[0]).toBe(4);
    expect(replicateExperts([1000, 10, 10, 10, 10, 10, 10, 10], 12).replicaCounts[0]).toBe(5);
  });

  it('rejects fewer physical slots than experts', () => {
    expect(() => replicateExperts([1, 2, 3], 2)).toThrow(/numPhysical must be an integer ≥ the 3 logical experts/);
  });
});

describe('replicateHottestRoundRobin', () => {
  it('hands extra replicas down the load order, wrapping around', () => {
    const weights = [5, 50, 20];
    const { replicaCounts } = replicateHottestRoundRobin(weights, orderByWeightDescending(weights), 3 + 4);
    expect(Array.from(replicaCounts)).toEqual([2, 3, 2]);
  });
});
