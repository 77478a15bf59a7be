import { maxOverMean as coreMaxOverMean } from '@moge/core';
import { describe, expect, it } from 'vitest';
import * as api from '../index';
import { loadMatrixFromRows } from '../loads/load-matrix';
import { placeExperts } from './place';

describe('max/mean convention shared with @moge/router', () => {
  it('is the one function of @moge/core: 1 for an idle layer, refusing loads with no defined ratio', () => {
    expect(api.maxOverMean).toBe(coreMaxOverMean);
    expect(api.maxOverMean([0, 0, 0])).toBe(1);
    expect(api.maxOverMean([3, 1])).toBe(1.5);
    // This copy summed NaN into NaN, and an empty vector gave -Infinity / NaN, silently.
    expect(() => api.maxOverMean([])).toThrow(/max\/mean loads: got none/);
    expect(() => api.maxOverMean([1, NaN])).toThrow(/max\/mean loads\[1\]: got NaN/);
  });

  it('a layer with no load is perfectly balanced under every policy', () => {
    const loads = loadMatrixFromRows([new Float64Array(8), Float64Array.from([8, 1, 1, 1, 1, 1, 1, 1])]);
    for (const policy of ['moge', 'greedy', 'eplb-global', 'eplb-hierarchical'] as const) {
      const p = placeExperts(loads, { policy, numRanks: 4, numNodes: 2, numGroups: 2, redundantSlots: policy === 'moge' ? 0 : 4 });
      expect(p.layers[0]!.maxOverMean).toBe(1);
      expect(p.layers[1]!.maxOverMean).toBeGreaterThan(1);
      expect(api.meanMaxOverMean(p)).toBe((1 + p.layers[1]!.maxOverMean) / 2);
    }
  });
});
