// Test helper (not exported by the package): checks a NearestSizes answer by brute force.
import type { NearestSizes } from './nearest';

/**
 * True when `found` holds sizes that `ok` accepts and no size `valid` accepts lies nearer to `given`
 * on either side (below down to 1, above up to `max` when nothing was found there).
 */
export function isNearest(given: number, found: NearestSizes, max: number, valid: (n: number) => boolean, ok: (n: number) => boolean): boolean {
  if (found.below !== undefined && !(found.below < given && valid(found.below) && ok(found.below))) return false;
  if (found.above !== undefined && !(found.above > given && valid(found.above) && ok(found.above))) return false;
  for (let n = (found.below ?? 0) + 1; n < given; n++) if (valid(n) && ok(n)) return false;
  for (let n = given + 1; n < (found.above ?? max + 1); n++) if (valid(n) && ok(n)) return false;
  return true;
}

/** Cluster sizes makeCluster accepts for nodes of `nodeDevices`: part of one node, or whole nodes. */
export const clusterSize = (nodeDevices: number) => (n: number) => n <= nodeDevices || n % nodeDevices === 0;
