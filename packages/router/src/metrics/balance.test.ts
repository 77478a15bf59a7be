import { RoutingStatsSchema, ValidationError, maxOverMean as coreMaxOverMean } from '@moge/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { balanceMetrics, coefficientOfVariation, countExperts, deviceLoads, imbalanceScore, maxOverMean } from './balance';
import * as routerApi from '../index';
import { RoutingStatsAccumulator, type StatsAccumulatorOptions } from './stats-accumulator';

describe('balance metrics', () => {
  it('count experts, sum them per device of contiguous experts, and score the spread', () => {
    // 4 tokens, K = 2, E = 8 on 4 devices of 2 experts.
    const ids = [0, 1, 0, 2, 1, 7, 3, 6];
    const counts = countExperts(ids, 8);
    expect(Array.from(counts)).toEqual([2, 2, 1, 1, 0, 0, 1, 1]);
    const loads = deviceLoads(counts, 4);
    expect(Array.from(loads)).toEqual([4, 2, 0, 2]);
    expect(imbalanceScore(loads, 4)).toBe(1); // (4 − 0) / 4 tokens
    expect(maxOverMean(loads)).toBe(2);
    expect(coefficientOfVariation(loads)).toBeCloseTo(Math.sqrt(2) / 2, 12);
    const m = balanceMetrics(counts, 4, 4);
    expect(m.imbalanceScore).toBe(1);
    expect(Array.from(m.deviceLoad)).toEqual([4, 2, 0, 2]);
  });

  it('IS is 0 and max/mean is 1 exactly when loads are equal; IS ≤ K always', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 4 }),
        fc.nat(),
        (devices, perDevice, tokens, k, seed) => {
          const e = devices * perDevice;
          const kk = Math.min(k, e);
          let x = seed;
          const ids = Array.from({ length: tokens * kk }, () => (x = (x * 1103515245 + 12345) >>> 0) % e);
          const m = balanceMetrics(countExperts(ids, e), devices, tokens);
          const equal = m.deviceLoad.every((l) => l === m.deviceLoad[0]);
          expect(m.imbalanceScore === 0).toBe(equal);
          expect(m.maxOverMean === 1).toBe(equal);
          expect(m.cv === 0).toBe(equal);
          expect(m.imbalanceScore).toBeLessThanOrEqual(kk);
          expect(m.deviceLoad.reduce((a, b) => a + b, 0)).toBe(tokens * kk);
        },
      ),
    );
  });

  it('refuse load vectors that have no defined score: empty, negative, NaN or infinite loads, a non-integer token count', () => {
    // These returned −∞ (empty IS), NaN (empty max/mean and CV, NaN loads) or 0 (tokens = ∞) silently.
    expect(() => imbalanceScore([], 4)).toThrow(/imbalance score loads: got none, expected one load per device/);
    expect(() => maxOverMean([])).toThrow(/max\/mean loads: got none/);
    expect(() => coefficientOfVariation([])).toThrow(/coefficient of variation loads: got none/);
    expect(() => imbalanceScore([1, NaN, 3], 4)).toThrow(/imbalance score loads\[1\]: got NaN, expected a finite load ≥ 0/);
    expect(() => imbalanceScore([-1, 3], 4)).toThrow(/loads\[0\]: got -1/);
    expect(() => maxOverMean([1, Infinity])).toThrow(/max\/mean loads\[1\]: got Infinity/);
    expect(() => imbalanceScore([1, 3], Infinity)).toThrow(/tokens: got Infinity, expected an integer > 0/);
    expect(() => imbalanceScore([1, 3], 1.5)).toThrow(/tokens: got 1.5/);
    expect(imbalanceScore([0], 1)).toBe(0);
  });

  it('reject ids and device counts that do not fit', () => {
    expect(() => countExperts([0, 8], 8)).toThrow(/expert id at 1: got 8, expected an integer in \[0, 8\)/);
    expect(() => deviceLoads(new Float64Array(8), 3)).toThrow(/numDevices: got 3, expected a positive divisor of numExperts \(8\)/);
    expect(() => imbalanceScore([1, 2], 0)).toThrow(/tokens: got 0, expected an integer > 0/);
    expect(coefficientOfVariation([0, 0])).toBe(0);
  });

  it('read an idle layer (no assignments) as perfectly balanced: max/mean 1, IS 0, CV 0, by the one definition ep-planner uses too', () => {
    // max/mean of all-zero loads was 0 here and 1 in ep-planner's placements.
    expect(maxOverMean([0, 0])).toBe(1);
    const m = balanceMetrics(new Float64Array(8), 4, 1);
    expect([m.maxOverMean, m.imbalanceScore, m.cv]).toEqual([1, 0, 0]);
    expect(maxOverMean).toBe(coreMaxOverMean);
    expect(routerApi.maxOverMean).toBe(coreMaxOverMean);
  });
});

describe('RoutingStatsAccumulator', () => {
  it('sums counts over batches and averages the per-batch balance metrics', () => {
    const acc = new RoutingStatsAccumulator({ router: 'topk', numExperts: 4, topK: 1, numDevices: 2, numLayers: 2 });
    // Layer 0: batch 1 all on device 0 (IS = 1), batch 2 all on device 1 (IS = 1): cumulative loads are equal.
    acc.add(0, [0, 1], 2);
    acc.add(0, [2, 3], 2);
    acc.add(1, [0, 2], 2);
    acc.add(1, [1, 3], 2);
    const stats = acc.toStats();
    expect(() => RoutingStatsSchema.parse(stats)).not.toThrow();
    expect(stats.tokens).toBe(4);
    expect(stats.layers[0]!.expertCounts).toEqual([1, 1, 1, 1]);
    expect(stats.layers[0]!.imbalanceScore).toBe(1);
    expect(stats.layers[0]!.maxOverMean).toBe(2);
    expect(stats.layers[1]!.imbalanceScore).toBe(0);
    expect(stats.layers[1]!.cv).toBe(0);
  });

  it('reports layers without batches without metrics, and refuses uneven layers and bad input', () => {
    const acc = new RoutingStatsAccumulator({ router: 'moge', numExperts: 4, topK: 2, numDevices: 2, numLayers: 2 });
    expect(acc.toStats().layers[0]).toEqual({ expertCounts: [0, 0, 0, 0] });
    acc.add(0, [0, 2], 1);
    expect(() => acc.toStats()).toThrow(/layer 1 saw 0 tokens, layer 0 saw 1/);
    expect(() => acc.add(2, [0, 2], 1)).toThrow(/layer: got 2, expected an integer in \[0, 2\)/);
    expect(() => acc.add(0, [0], 1)).toThrow(/expert ids: got 1, expected tokens·topK = 2/);
    expect(() => new RoutingStatsAccumulator({ router: 'moge', numExperts: 4, topK: 2, numDevices: 3, numLayers: 1 })).toThrow(
      /numDevices: got 3/,
    );
  });

  it('checks its options when built and token counts when added, naming the field (not in toStats after every batch)', () => {
    const make = (o: Partial<StatsAccumulatorOptions>) => () =>
      new RoutingStatsAccumulator({ router: 'moge', numExperts: 4, topK: 2, numDevices: 2, numLayers: 1, ...o });
    // topK 0 and an unknown router were accepted here and failed in toStats as a bare ZodError;
    // numLayers 1.5 failed as "Invalid array length".
    expect(make({ topK: 0 })).toThrow(ValidationError);
    expect(make({ topK: 0 })).toThrow(/topK: got 0/);
    expect(make({ topK: 5 })).toThrow(/topK: got 5, expected at most numExperts \(4\)/);
    expect(make({ router: 'switch' as StatsAccumulatorOptions['router'] })).toThrow(/router: got "switch"/);
    expect(make({ numLayers: 1.5 })).toThrow(/numLayers: got 1.5/);
    expect(make({ numDevices: 0 })).toThrow(/numDevices: got 0/);
    const acc = make({})();
    expect(() => acc.add(0, [0, 1, 2], 1.5)).toThrow(/tokens: got 1.5, expected a non-negative integer/);
    acc.add(0, [0, 2], 1);
    expect(acc.toStats().tokens).toBe(1);
  });
});
