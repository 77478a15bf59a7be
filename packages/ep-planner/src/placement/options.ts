import { z } from 'zod';
import { ValidationError, type FieldIssue } from '@moge/core';

/**
 * - `moge`: the natural MoGE mapping, expert groups laid contiguously on devices (group g on device g,
 *   or several groups per device, or one group over several devices); no replicas, loads ignored,
 *   because MoGE routing already balances devices.
 * - `eplb-hierarchical`: DeepSeek-EPLB style: pack expert groups to nodes, replicate the hottest
 *   experts inside each node, pack replicas to the node's devices. Keeps a group's traffic in one node.
 * - `eplb-global`: replicate over the whole cluster, then pack replicas to all devices.
 * - `greedy`: baseline: one extra replica per hot expert, round-robin down the load order, then
 *   longest-processing-time packing.
 */
export const PlacementPolicySchema = z.enum(['moge', 'eplb-hierarchical', 'eplb-global', 'greedy']);
export type PlacementPolicy = z.infer<typeof PlacementPolicySchema>;

const positiveInt = z.number().int().positive();

export const PlacementOptionsSchema = z.object({
  policy: PlacementPolicySchema,
  /** Expert-parallel ranks (devices) the experts of a layer are spread over. */
  numRanks: positiveInt,
  /** Nodes those ranks live on, equally many per node (consecutive ranks share a node). */
  numNodes: positiveInt.default(1),
  /**
   * Expert groups (contiguous, equal size). Default: one per rank for `moge`, one per node for
   * `eplb-hierarchical`; the other policies ignore groups.
   */
  numGroups: positiveInt.optional(),
  /** Physical slots per layer beyond one per logical expert, filled with replicas of hot experts. */
  redundantSlots: z.number().int().nonnegative().default(0),
});
export type PlacementOptions = z.output<typeof PlacementOptionsSchema>;
export type PlacementOptionsInput = z.input<typeof PlacementOptionsSchema>;

/** Options checked against the number of experts, with every derived size a policy needs. */
export interface PlacementShape {
  policy: PlacementPolicy;
  numExperts: number;
  numRanks: number;
  numNodes: number;
  ranksPerNode: number;
  numGroups: number;
  redundantSlots: number;
  numPhysical: number;
  slotsPerRank: number;
}

/**
 * Validates the cross-field rules of a placement for `numExperts` experts and derives its sizes.
 * Throws a ValidationError naming every field at fault, the value and what would work.
 */
export function resolvePlacementShape(options: PlacementOptions, numExperts: number): PlacementShape {
  const { policy, numRanks, numNodes, redundantSlots } = options;
  const issues: FieldIssue[] = [];
  const numGroups = options.numGroups ?? (policy === 'moge' ? numRanks : policy === 'eplb-hierarchical' ? numNodes : 1);
  if (numRanks % numNodes !== 0) {
    issues.push({ path: 'numNodes', received: numNodes, expected: `a divisor of numRanks (${numRanks}), so every node has as many ranks` });
  }
  const numPhysical = numExperts + redundantSlots;
  // Not for "moge": it takes no redundant slots, so advice to add some could only fail again (it
  // used to say "e.g. 1 or 4"); the moge rules below name numRanks instead.
  if (policy !== 'moge' && numPhysical % numRanks !== 0) {
    const fix = (numRanks - (numExperts % numRanks)) % numRanks;
    issues.push({
      path: 'redundantSlots',
      received: redundantSlots,
      expected: `a value making numExperts (${numExperts}) + redundantSlots a multiple of numRanks (${numRanks}) so every rank has as many slots, e.g. ${fix} or ${fix + numRanks}`,
    });
  }
  if (policy === 'moge') {
    if (redundantSlots !== 0) issues.push({ path: 'redundantSlots', received: redundantSlots, expected: '0 for policy "moge" (the MoGE mapping has no replicas)' });
    if (numExperts % numRanks !== 0) {
      issues.push({ path: 'numRanks', received: numRanks, expected: `a divisor of the ${numExperts} experts, so every rank has as many (policy "moge" has no redundant slots)` });
    }
    // The default numGroups (one per rank) fails only where numRanks does, which is reported above:
    // an issue naming numGroups would point at an option the caller never gave.
    if (options.numGroups !== undefined) {
      if (numExperts % numGroups !== 0) issues.push({ path: 'numGroups', received: numGroups, expected: `a divisor of the ${numExperts} experts` });
      else if (numGroups % numRanks !== 0 && numRanks % numGroups !== 0) {
        issues.push({ path: 'numGroups', received: numGroups, expected: `a multiple or a divisor of numRanks (${numRanks}), so groups align with devices` });
      }
    }
  }
  if (policy === 'eplb-hierarchical') {
    if (numExperts % numGroups !== 0) issues.push({ path: 'numGroups', received: numGroups, expected: `a divisor of the ${numExperts} experts` });
    if (numGroups % numNodes !== 0) {
      issues.push({ path: 'numGroups', received: numGroups, expected: `a multiple of numNodes (${numNodes}) so every node gets as many groups (or use policy "eplb-global")` });
    }
  }
  if (issues.length > 0) throw new ValidationError('placement options', issues);
  return {
    policy,
    numExperts,
    numRanks,
    numNodes,
    ranksPerNode: numRanks / numNodes,
    numGroups,
    redundantSlots,
    numPhysical,
    slotsPerRank: numPhysical / numRanks,
  };
}
