import { z } from 'zod';

export const CollectiveOpSchema = z.enum([
  'all-reduce',
  'all-gather',
  'reduce-scatter',
  'all-to-all',
  'all-to-allv',
  'broadcast',
  'send-recv',
]);
export type CollectiveOp = z.infer<typeof CollectiveOpSchema>;

/**
 * `ring`: n−1 neighbour steps per pass. `recursive-halving-doubling`: log₂ n steps with a partner at
 * halving/doubling distance (Rabenseifner all-reduce; Bruck/recursive doubling all-gather).
 * `direct`: every rank talks to every peer at once (HCCL mesh, NCCL all-to-all) — what a full mesh
 * or a switch is for. `hierarchical`: intra-node, then inter-node, then intra-node as the op needs.
 */
export const CollectiveAlgorithmSchema = z.enum(['ring', 'recursive-halving-doubling', 'direct', 'hierarchical']);
export type CollectiveAlgorithm = z.infer<typeof CollectiveAlgorithmSchema>;

/**
 * What `bytes` means for each op. These are the nccl-tests conventions (the `size` column), so a
 * figure read off a NCCL or HCCL test log can be fed in as is.
 */
export const COLLECTIVE_BYTES_CONVENTION: Readonly<Record<CollectiveOp, string>> = {
  'all-reduce': 'buffer size per rank (input = output)',
  'all-gather': 'output size per rank (= ranks × the input chunk)',
  'reduce-scatter': 'input size per rank (= ranks × the output chunk)',
  'all-to-all': 'send buffer per rank, including the chunk a rank keeps for itself',
  'all-to-allv': 'the largest send buffer of any rank (with a matrix: computed from it)',
  broadcast: 'buffer size',
  'send-recv': 'message size',
};

// Capped at 2^53 − 1 (9 PB): far beyond any buffer, and low enough that the α-β sums (2 × bytes for an
// all-reduce, n² matrix entries added up) stay finite instead of coming out as an Infinity time.
const bytes = z.number().finite().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const CollectiveRequestSchema = z.object({
  op: CollectiveOpSchema,
  /** See COLLECTIVE_BYTES_CONVENTION. Optional only for all-to-allv with a matrix. */
  bytes: bytes.optional(),
  ranks: z.number().int().positive(),
  /** Ranks of the group in one node; default min(ranks, devices per node). Ranks fill nodes in order. */
  ranksPerNode: z.number().int().positive().optional(),
  algorithm: CollectiveAlgorithmSchema.optional(),
  /** all-to-allv: bytes rank i sends to rank j (ranks × ranks). */
  matrix: z.array(z.array(bytes)).optional(),
});
export type CollectiveRequest = z.infer<typeof CollectiveRequestSchema>;

export type TierName = 'intra-node' | 'inter-node';

/** One phase of a collective on one tier. Entries with the same `phase` run at the same time. */
export interface TierCost {
  phase: number;
  tier: TierName;
  /** What the phase does (e.g. `reduce-scatter (ring, 8 ranks)`). */
  step: string;
  ranks: number;
  /** Bytes each rank sends over this tier in this phase. */
  bytesPerRank: number;
  /** Message steps (latency terms) of the phase. */
  steps: number;
  timeS: number;
}

export interface CollectiveEstimate {
  op: CollectiveOp;
  bytes: number;
  ranks: number;
  ranksPerNode: number;
  nodes: number;
  algorithm: CollectiveAlgorithm;
  timeS: number;
  /** HCCL convention: bytes / time. */
  algBandwidth: number;
  /** NCCL convention: algBandwidth × busBandwidthFactor(op, ranks). */
  busBandwidth: number;
  perTier: TierCost[];
  /** Time of every algorithm that applies, fastest first (the auto-choice took the first). */
  candidates: { algorithm: CollectiveAlgorithm; timeS: number }[];
}
