import { ValidationError } from '@moge/core';
import { placeExperts } from '@moge/ep-planner';

/**
 * Which worker owns which experts in expert-parallel training: @moge/ep-planner's `moge` placement of
 * the model's expert groups on the workers (group g on worker ⌊g / (M/P)⌋). Every worker owns one
 * contiguous, equally long block of expert ids, so a rank's expert-sorted rows split into one
 * contiguous segment per destination and no extra sort is needed to dispatch them.
 */
export interface ExpertOwnership {
  numExperts: number;
  numRanks: number;
  /** Experts per rank. */
  perRank: number;
  /** Owning rank of each expert, [E]. */
  ownerOf: Int32Array;
}

export function expertOwnership(numExperts: number, numGroups: number, numRanks: number): ExpertOwnership {
  if (numGroups % numRanks !== 0) {
    throw new ValidationError('expert parallelism', [
      { path: 'workers', received: numRanks, expected: `a divisor of the model's ${numGroups} expert groups (each worker owns whole MoGE groups); use --parallel dp otherwise` },
    ]);
  }
  const placement = placeExperts(
    { numLayers: 1, numExperts, layers: [new Float64Array(numExperts)] },
    { policy: 'moge', numRanks, numGroups },
  );
  const slots = placement.layers[0]!.physicalToLogical;
  const perRank = slots.length / numRanks;
  const ownerOf = new Int32Array(numExperts).fill(-1);
  slots.forEach((expert, slot) => {
    if (ownerOf[expert] !== -1) throw new RangeError(`moge placement replicated expert ${expert}; expert parallelism expects one owner per expert`);
    ownerOf[expert] = Math.floor(slot / perRank);
  });
  // The dispatch relies on contiguous blocks; the moge policy guarantees them, so this is a tripwire.
  ownerOf.forEach((r, e) => {
    if (r !== Math.floor(e / perRank)) throw new RangeError(`moge placement put expert ${e} on rank ${r}, expected contiguous blocks of ${perRank}`);
  });
  return { numExperts, numRanks, perRank, ownerOf };
}

/** [lo, hi) expert ids owned by `rank`. */
export function ownedExperts(own: ExpertOwnership, rank: number): [number, number] {
  return [rank * own.perRank, (rank + 1) * own.perRank];
}
