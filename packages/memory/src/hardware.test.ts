import { describe, expect, it } from 'vitest';
import { parseClusterSpec } from '@moge/ascend-hal';
import { deviceMemoryBytes, hostLinkOf, peakCostRatesOf } from './index';

describe('cluster conveniences', () => {
  it('read the host link, chip memory and peak rates from the catalog', () => {
    const one = parseClusterSpec('atlas-800t-a2:8');
    const node = one.node;
    expect(hostLinkOf(node)).toEqual({ bandwidth: node.hostLink.bandwidth.value, latencyS: node.hostLink.latencyS.value });
    expect(deviceMemoryBytes(one)).toBe(node.chip.hbmBytes.value);
    expect(peakCostRatesOf(one)).toEqual({
      flopsPerS: node.chip.peakFlops.bf16.value,
      hbmBytesPerS: node.chip.hbmBandwidth.value,
      commBytesPerS: node.intraNode.bandwidth.value,
    });
    // Across nodes the all-to-all is paced by the scale-out tier.
    expect(peakCostRatesOf(parseClusterSpec('atlas-800t-a2:16')).commBytesPerS).toBe(node.interNode.bandwidth.value);
  });
});
