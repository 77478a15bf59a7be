import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseClusterSpec } from '@moge/ascend-hal';
import { getPreset } from '@moge/model';
import { clusterSize, isNearest } from '../common/nearest.testing';
import { explainEmptyLayoutSpace } from './empty-layout-space';
import { searchInference } from './search';
import { enumerateInferenceLayouts } from './search-space';

const pro = getPreset('pangu-pro-moe');
const presets = [pro, getPreset('moge-tiny'), getPreset('moge-small'), getPreset('dense-32b')];

describe('explainEmptyLayoutSpace', () => {
  it('is given exactly when no architecture has a layout, and suggests the nearest device counts that have one (property)', () => {
    fc.assert(
      fc.property(fc.subarray(presets, { minLength: 1 }), fc.integer({ min: 1, max: 6 }), fc.constantFrom(4, 8, 16), (archs, k, node) => {
        // Part of one node or whole nodes, as makeCluster builds them.
        const numDevices = k <= 3 ? k * Math.floor(node / 4) + 1 : node * (k - 3);
        const has = (n: number) => archs.some((a) => enumerateInferenceLayouts(a, { numDevices: n, devicesPerNode: Math.min(n, node) }).length > 0);
        const why = explainEmptyLayoutSpace(archs, { numDevices, devicesPerNode: Math.min(numDevices, node) }, node);
        expect(why === undefined).toBe(has(numDevices));
        if (!why) return;
        expect(why.eliminatedBy.reduce((s, r) => s + r.combinations, 0)).toBe(why.combinations);
        expect(isNearest(numDevices, why.devices, Math.max(2 * numDevices, 2 * node), clusterSize(node), has)).toBe(true);
      }),
      { numRuns: 200, seed: 5 },
    );
  });

  it('tells the inference search with no layout on three devices why, not "raise the cap"', () => {
    const cluster = parseClusterSpec('atlas-800i-a2:3');
    const r = searchInference({ archs: [pro], cluster, tpotCapS: 0.05, workload: { inputLength: 2048, quantization: 'w8a8' } });
    expect(r.counts.layoutsSimulated).toBe(0);
    // Attention TP 3 does not divide 40 heads; at TP 1, 64 experts do not split over EP 3 (ETP 1) and 3 devices not over ETP 2.
    expect(r.emptyLayoutSpace?.eliminatedBy.map((e) => e.rule)).toEqual(['tp-splits-heads', 'ep-fills-devices', 'ep-divides-experts']);
    expect(r.emptyLayoutSpace?.devices.below).toBeDefined();
    expect(r.emptyLayoutSpace?.devices.above).toBeDefined();
    const served = searchInference({ archs: [pro], cluster: parseClusterSpec('atlas-800i-a2:8'), tpotCapS: 0.05, workload: { inputLength: 2048, quantization: 'w8a8' } });
    expect(served.emptyLayoutSpace).toBeUndefined();
  });
});
