import type { LinkTier } from '../catalog/schemas';
import type { CollectiveAlgorithm, CollectiveOp } from './schemas';

/** The flat (single-level) algorithms; `hierarchical` is composed of these. */
export type FlatAlgorithm = Exclude<CollectiveAlgorithm, 'hierarchical'>;

/**
 * The α-β accounting of one flat algorithm, independent of the wire: message steps on the critical
 * path, bytes each rank sends, and whether the steps talk to all peers at once (`direct`) or to
 * one partner per step.
 */
export interface FlatShape {
  steps: number;
  bytesPerRank: number;
  allPeers: boolean;
}

const log2Ceil = (n: number) => Math.ceil(Math.log2(n));

/** Undefined where the algorithm does not implement the op. */
export function flatShape(op: CollectiveOp, algorithm: FlatAlgorithm, n: number, bytes: number): FlatShape | undefined {
  const share = ((n - 1) / n) * bytes;
  switch (op) {
    case 'all-reduce':
      if (algorithm === 'ring') return { steps: 2 * (n - 1), bytesPerRank: 2 * share, allPeers: false };
      if (algorithm === 'direct') return { steps: 2, bytesPerRank: 2 * share, allPeers: true };
      {
        // Rabenseifner on the largest power of two p ≤ n; the n − p extra ranks first fold their
        // whole buffer into a partner and get the result back at the end (two full-buffer steps).
        const p = 2 ** Math.floor(Math.log2(n));
        const extra = n === p ? 0 : 1;
        return { steps: 2 * Math.log2(p) + 2 * extra, bytesPerRank: (2 * (p - 1) * bytes) / p + 2 * extra * bytes, allPeers: false };
      }
    case 'all-gather':
    case 'reduce-scatter':
      if (algorithm === 'ring') return { steps: n - 1, bytesPerRank: share, allPeers: false };
      if (algorithm === 'direct') return { steps: 1, bytesPerRank: share, allPeers: true };
      // Recursive doubling / halving (Bruck's variant for any n): ⌈log₂ n⌉ steps, same volume.
      return { steps: log2Ceil(n), bytesPerRank: share, allPeers: false };
    case 'broadcast':
      // Ring = a pipelined chain: the buffer streams through n − 1 hops once.
      if (algorithm === 'ring') return { steps: n - 1, bytesPerRank: bytes, allPeers: false };
      // Scatter then all-gather (van de Geijn), by halving/doubling or directly.
      if (algorithm === 'direct') return { steps: 2, bytesPerRank: 2 * share, allPeers: true };
      return { steps: 2 * log2Ceil(n), bytesPerRank: 2 * share, allPeers: false };
    case 'all-to-all':
    case 'all-to-allv':
      return algorithm === 'direct' ? { steps: 1, bytesPerRank: share, allPeers: true } : undefined;
    case 'send-recv':
      return algorithm === 'direct' ? { steps: 1, bytesPerRank: bytes, allPeers: false } : undefined;
  }
}

/**
 * Bandwidth one device gets towards `peers` peers at once on a tier. A full mesh gives each peer
 * its own link, so one partner gets bandwidth / links; a switch or PCIe tree gives any peer the
 * device's whole bandwidth.
 */
export function peerBandwidth(tier: LinkTier, peers: number): number {
  if (tier.topology !== 'full-mesh') return tierBandwidth(tier);
  const links = tier.links ?? 1;
  return (tierBandwidth(tier) * Math.min(Math.max(peers, 1), links)) / links;
}

/** Bytes/s a collective reaches on a tier: its bandwidth × its measured efficiency (1 where unmeasured). */
export function tierBandwidth(tier: LinkTier): number {
  return tier.bandwidth.value * (tier.efficiency?.value ?? 1);
}

/** Fixed cost of one collective call on a tier (0 where unmeasured). */
export function tierCallOverhead(tier: LinkTier): number {
  return tier.callOverheadS?.value ?? 0;
}

/** Time of a flat shape on one tier (all ranks inside it). */
export function timeOnTier(shape: FlatShape, tier: LinkTier, n: number): number {
  const bw = peerBandwidth(tier, shape.allPeers ? n - 1 : 1);
  return tierCallOverhead(tier) + shape.steps * tier.latencyS.value + shape.bytesPerRank / bw;
}

/**
 * Time of a flat shape over ranks that span nodes (`perNode` in each). One-partner algorithms are
 * paced by their slowest hop, the inter-node link. `direct` sends to local and remote peers at
 * once, each share over its own tier, so a phase lasts as long as the slower share.
 */
export function timeAcrossNodes(
  shape: FlatShape,
  intra: LinkTier,
  inter: LinkTier,
  n: number,
  perNode: number,
): { timeS: number; intraBytes: number; interBytes: number } {
  const latency = Math.max(intra.latencyS.value, inter.latencyS.value);
  const overhead = Math.max(tierCallOverhead(intra), tierCallOverhead(inter));
  if (!shape.allPeers) {
    const bw = Math.min(peerBandwidth(intra, 1), tierBandwidth(inter));
    return { timeS: overhead + shape.steps * latency + shape.bytesPerRank / bw, intraBytes: 0, interBytes: shape.bytesPerRank };
  }
  const intraBytes = (shape.bytesPerRank * (perNode - 1)) / (n - 1);
  const interBytes = shape.bytesPerRank - intraBytes;
  const perStep = Math.max(intraBytes / peerBandwidth(intra, perNode - 1), interBytes / tierBandwidth(inter));
  return { timeS: overhead + shape.steps * latency + perStep, intraBytes, interBytes };
}

export const FLAT_ALGORITHMS: readonly FlatAlgorithm[] = ['ring', 'recursive-halving-doubling', 'direct'];

/** The fastest flat algorithm for an op on one tier, with its shape and time. */
export function bestOnTier(
  op: CollectiveOp,
  n: number,
  bytes: number,
  tier: LinkTier,
): { algorithm: FlatAlgorithm; shape: FlatShape; timeS: number } {
  let best: { algorithm: FlatAlgorithm; shape: FlatShape; timeS: number } | undefined;
  for (const algorithm of FLAT_ALGORITHMS) {
    const shape = flatShape(op, algorithm, n, bytes);
    if (!shape) continue;
    const timeS = n <= 1 ? 0 : timeOnTier(shape, tier, n);
    if (!best || timeS < best.timeS) best = { algorithm, shape, timeS };
  }
  if (!best) throw new Error(`no flat algorithm implements ${op}`); // unreachable: direct covers every op
  return best;
}
