/** Nearest sizes either side of a given one that pass a test: the suggestions of an empty search. */
export interface NearestSizes {
  below?: number;
  above?: number;
}

/** The nearest integers either side of `from` (within 1 … max) that `ok` accepts. */
export function nearestSizes(from: number, max: number, ok: (n: number) => boolean): NearestSizes {
  const out: NearestSizes = {};
  for (let n = from - 1; n >= 1; n--) {
    if (ok(n)) {
      out.below = n;
      break;
    }
  }
  for (let n = from + 1; n <= max; n++) {
    if (ok(n)) {
      out.above = n;
      break;
    }
  }
  return out;
}

/**
 * The nearest device counts either side of `devices` that make a cluster (@moge/ascend-hal's
 * makeCluster: part of one node, or whole nodes of `nodeDevices`) on which `ok` holds, given the
 * devices per node such a cluster has. Searched up to twice the devices, or two nodes.
 */
export function nearestClusterSizes(devices: number, nodeDevices: number, ok: (devices: number, devicesPerNode: number) => boolean): NearestSizes {
  const max = Math.max(2 * devices, 2 * nodeDevices);
  return nearestSizes(devices, max, (n) => (n <= nodeDevices || n % nodeDevices === 0) && ok(n, Math.min(n, nodeDevices)));
}
