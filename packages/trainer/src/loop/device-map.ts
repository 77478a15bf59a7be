import type { MoeArch } from '@moge/core';
import { placeExperts } from '@moge/ep-planner';

/**
 * Which EP device each expert lives on, from @moge/ep-planner's MoGE placement (experts in
 * `numDevices` contiguous groups, one group per device — for a MoGE model, its expert groups).
 * Imbalance Scores are measured against this map for either router, so MoGE and top-k are judged on
 * the same devices.
 */
export function expertDeviceMap(arch: MoeArch, numDevices = arch.numExpertGroups): Int32Array {
  const placement = placeExperts(
    { numLayers: 1, numExperts: arch.numExperts, layers: [new Float64Array(arch.numExperts)] },
    { policy: 'moge', numRanks: numDevices, numGroups: numDevices },
  );
  const layer = placement.layers[0]!;
  const slotsPerRank = layer.physicalToLogical.length / numDevices;
  const device = new Int32Array(arch.numExperts).fill(-1);
  layer.physicalToLogical.forEach((expert, slot) => {
    if (device[expert] === -1) device[expert] = Math.floor(slot / slotsPerRank);
  });
  return device;
}
