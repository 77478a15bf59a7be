import { describe, expect, it } from 'vitest';
import { parseClusterSpec } from '@moge/ascend-hal';
import { loadMatrixFromRows, type LoadMatrix } from '../loads/load-matrix';
import { zipfLoads } from '../loads/zipf';
import { simulateRebalancing, type RebalanceOptionsInput } from './simulate';

const expertBytes = { weightBytes: 3 * 7168 * 2048 * 2, optimizerBytes: 3 * 7168 * 2048 * 12 };
const options: RebalanceOptionsInput = {
  placement: { policy: 'eplb-global', numRanks: 16, numNodes: 2, redundantSlots: 16 },
  emaAlpha: 0.3,
  minImprovement: 0.05,
  expertBytes,
};

/** `steps` steps of the same skewed loads; from `driftAt` on, the hot experts are different ones. */
function trace(steps: number, driftAt = Infinity): LoadMatrix[] {
  const before = zipfLoads({ numLayers: 2, numExperts: 64, exponent: 1.2, assignmentsPerLayer: 65536, seed: 1 });
  const after = zipfLoads({ numLayers: 2, numExperts: 64, exponent: 1.2, assignmentsPerLayer: 65536, seed: 2 });
  return Array.from({ length: steps }, (_, s) => (s < driftAt ? before : after));
}

describe('simulateRebalancing', () => {
  it('on steady skewed loads rebalances once, then holds, and beats the static placement', () => {
    const report = simulateRebalancing(trace(6), options);
    expect(report.steps[0]!.rebalancedLayers).toEqual([0, 1]);
    expect(report.rebalances).toBe(1);
    expect(report.steps[0]!.migrationBytes).toBeGreaterThan(0);
    expect(report.steps[0]!.migrationTimeS).toBeNull(); // no cluster given
    for (const step of report.steps.slice(1)) expect(step.maxOverMean).toBeLessThan(step.staticMaxOverMean / 2);
    expect(report.meanMaxOverMean).toBeLessThan(report.meanStaticMaxOverMean);
    expect(report.totalMigrationBytes).toBe(report.steps[0]!.migrationBytes);
  });

  it('follows a drift: when the hot experts change, it rebalances again once the average has moved enough', () => {
    const report = simulateRebalancing(trace(12, 6), options);
    const later = report.steps.filter((s) => s.step >= 6 && s.rebalancedLayers.length > 0);
    expect(later.length).toBeGreaterThan(0);
    expect(report.steps[11]!.maxOverMean).toBeLessThan(report.steps[6]!.maxOverMean);
  });

  it('never moves when the trigger threshold cannot be met, and then equals the static placement', () => {
    const report = simulateRebalancing(trace(4), { ...options, minImprovement: 1 });
    expect(report.rebalances).toBe(0);
    expect(report.totalMigrationBytes).toBe(0);
    for (const step of report.steps) expect(step.maxOverMean).toBe(step.staticMaxOverMean);
  });

  it('prices migrations on a cluster and is deterministic', () => {
    const cluster = parseClusterSpec('atlas-800t-a2:16');
    const a = simulateRebalancing(trace(3), options, cluster);
    const b = simulateRebalancing(trace(3), options, cluster);
    expect(a.steps[0]!.migrationTimeS).toBeGreaterThan(0);
    expect(a.totalMigrationTimeS).toBe(a.steps[0]!.migrationTimeS);
    expect(b.steps).toEqual(a.steps);
    // Only every `interval`-th step may trigger.
    const sparse = simulateRebalancing(trace(4), { ...options, interval: 2 });
    expect(sparse.steps[0]!.rebalancedLayers).toEqual([]);
    expect(sparse.steps[1]!.rebalancedLayers).toEqual([0, 1]);
  });

  it('with maxMovesPerLayer refines in bounded moves: each layer moves at most that many copies per rebalance', () => {
    const maxMovesPerLayer = 4;
    const perCopy = expertBytes.weightBytes + expertBytes.optimizerBytes;
    const bounded = simulateRebalancing(trace(12, 6), { ...options, maxMovesPerLayer, minImprovement: 0.01 });
    for (const step of bounded.steps) expect(step.migrationBytes).toBeLessThanOrEqual(step.rebalancedLayers.length * maxMovesPerLayer * perCopy);
    expect(bounded.rebalances).toBeGreaterThan(0);
    expect(bounded.meanMaxOverMean).toBeLessThan(bounded.meanStaticMaxOverMean);
    // Re-placing from scratch balances better per step but moves more.
    const scratch = simulateRebalancing(trace(12, 6), { ...options, minImprovement: 0.01 });
    expect(bounded.totalMigrationBytes).toBeLessThan(scratch.totalMigrationBytes);
  });

  it('aligns from-scratch re-placements by default, which never moves more than plain re-placement', () => {
    const aligned = simulateRebalancing(trace(12, 6), options);
    const plain = simulateRebalancing(trace(12, 6), { ...options, alignRanks: false });
    expect(aligned.meanMaxOverMean).toBeCloseTo(plain.meanMaxOverMean, 12);
    expect(aligned.totalMigrationBytes).toBeLessThanOrEqual(plain.totalMigrationBytes);
  });

  it('rejects an empty trace and steps of another shape', () => {
    expect(() => simulateRebalancing([], options)).toThrow(/no steps/);
    const odd = loadMatrixFromRows([new Array(64).fill(1)]);
    expect(() => simulateRebalancing([trace(1)[0]!, odd], options)).toThrow(/step 1 has 1×64 loads, step 0 has 2×64/);
  });

  it('refuses a step with a NaN, negative or wrong-length row before simulating, naming the step and row', () => {
    const good = trace(1)[0]!;
    const withRow = (l: number, row: Float64Array) => ({ ...good, layers: good.layers.map((r, i) => (i === l ? row : r)) });
    const nan = Float64Array.from(good.layers[1]!);
    nan[5] = Number.NaN;
    expect(() => simulateRebalancing([good, withRow(1, nan)], options)).toThrow(/trace\[1\]\.layers\[1\]\[5\]: got NaN, expected a finite load/);
    const negative = Float64Array.from(good.layers[0]!);
    negative[3] = -2;
    expect(() => simulateRebalancing([good, good, withRow(0, negative)], options)).toThrow(/trace\[2\]\.layers\[0\]\[3\]: got -2/);
    expect(() => simulateRebalancing([good, withRow(0, good.layers[0]!.subarray(0, 63))], options)).toThrow(/trace\[1\]\.layers\[0\]: got 63, expected 64 entries/);
    const long = new Float64Array(65).fill(1);
    expect(() => simulateRebalancing([withRow(1, long), good], options)).toThrow(/trace\[0\]\.layers\[1\]: got 65, expected 64 entries/);
  });
});
