import { z } from 'zod';
import { parseWith, ValidationError } from '@moge/core';
import type { Cluster } from '../catalog/schemas';
import { groupLayout, estimateCollective, phasesTime } from './estimate';
import { bestOnTier } from './flat';
import type { TierCost } from './schemas';

export const HierarchicalAllToAllRequestSchema = z.object({
  /** Tokens each EP rank dispatches. */
  tokensPerRank: z.number().int().nonnegative(),
  /** Bytes of one token's hidden state as sent (e.g. hidden × 2 for bf16). */
  bytesPerToken: z.number().positive().max(Number.MAX_SAFE_INTEGER), // as a collective's bytes: keeps the volumes finite
  /** Experts each token is routed to. */
  topK: z.number().int().positive(),
  /** Routed experts of the layer, spread evenly over the ranks. */
  numExperts: z.number().int().positive(),
  /** EP group size. */
  ranks: z.number().int().positive(),
  ranksPerNode: z.number().int().positive().optional(),
});
export type HierarchicalAllToAllRequest = z.infer<typeof HierarchicalAllToAllRequestSchema>;

export interface DispatchVolume {
  timeS: number;
  interNodeBytesPerRank: number;
  intraNodeBytesPerRank: number;
  /** Expected times one token crosses the inter-node tier. */
  interNodeCopiesPerToken: number;
}

export interface HierarchicalAllToAllEstimate extends DispatchVolume {
  perTier: TierCost[];
  /** The flat dispatch for comparison: one copy of the token per chosen expert, sent directly. */
  flat: DispatchVolume & { algorithm: string };
}

/** P(a rank holding `perRank` of `experts` experts gets ≥ 1 of a token's `k`, drawn without replacement). */
export function rankHitProbability(experts: number, perRank: number, k: number): number {
  let miss = 1;
  for (let i = 0; i < k; i++) miss *= Math.max(0, experts - perRank - i) / (experts - i);
  return 1 - miss;
}

/**
 * The MoE dispatch of Pangu Ultra MoE (arXiv 2505.04519): tokens are first all-gathered between
 * nodes, so each token crosses the slow tier once per other node however many of its experts live
 * there, then moved inside each node by an all-to-all to the devices that hold its experts (one
 * copy per device, however many of its experts that device holds). Volumes are expectations under
 * uniform routing; the combine step mirrors them.
 */
export function estimateHierarchicalAllToAll(cluster: Cluster, request: HierarchicalAllToAllRequest): HierarchicalAllToAllEstimate {
  const req = parseWith(HierarchicalAllToAllRequestSchema, request, 'hierarchical all-to-all request');
  const issues = [];
  if (req.numExperts % req.ranks !== 0) issues.push({ path: 'numExperts', received: req.numExperts, expected: `a multiple of ranks (${req.ranks})` });
  if (req.topK > req.numExperts) issues.push({ path: 'topK', received: req.topK, expected: `at most numExperts (${req.numExperts})` });
  if (issues.length > 0) throw new ValidationError('hierarchical all-to-all request', issues);
  const { perNode, nodes } = groupLayout(cluster, req.ranks, req.ranksPerNode);
  const tokenBytes = req.tokensPerRank * req.bytesPerToken;

  const perTier: TierCost[] = [];
  if (nodes > 1 && tokenBytes > 0) {
    // Peers with the same local index gather each other's tokens: output = nodes × own tokens.
    const gather = bestOnTier('all-gather', nodes, nodes * tokenBytes, cluster.node.interNode);
    perTier.push({ phase: 0, tier: 'inter-node', step: `all-gather tokens (${gather.algorithm}, ${nodes} nodes)`, ranks: nodes, bytesPerRank: gather.shape.bytesPerRank, steps: gather.shape.steps, timeS: gather.timeS });
  }
  const hit = rankHitProbability(req.numExperts, req.numExperts / req.ranks, req.topK);
  if (perNode > 1 && tokenBytes > 0) {
    // Each device now holds `nodes` ranks' tokens and forwards each to the local devices it hits.
    const sendBuffer = perNode * nodes * tokenBytes * hit;
    const exchange = bestOnTier('all-to-all', perNode, sendBuffer, cluster.node.intraNode);
    perTier.push({ phase: perTier.length, tier: 'intra-node', step: `all-to-all to expert owners (${exchange.algorithm}, ${perNode} ranks)`, ranks: perNode, bytesPerRank: exchange.shape.bytesPerRank, steps: exchange.shape.steps, timeS: exchange.timeS });
  }
  const bytesOn = (tier: string) => perTier.filter((p) => p.tier === tier).reduce((s, p) => s + p.bytesPerRank, 0);

  // Flat baseline: every (token, expert) pair is a copy; uniform routing spreads them over all ranks.
  const flatBuffer = tokenBytes * req.topK;
  const flat = estimateCollective(cluster, { op: 'all-to-all', bytes: flatBuffer, ranks: req.ranks, ranksPerNode: perNode, algorithm: 'direct' });
  const remoteShare = (req.ranks - perNode) / req.ranks;
  return {
    timeS: phasesTime(perTier),
    interNodeBytesPerRank: bytesOn('inter-node'),
    intraNodeBytesPerRank: bytesOn('intra-node'),
    interNodeCopiesPerToken: nodes - 1,
    perTier,
    flat: {
      timeS: flat.timeS,
      algorithm: flat.algorithm,
      interNodeBytesPerRank: flatBuffer * remoteShare,
      intraNodeBytesPerRank: (flatBuffer * (perNode - 1)) / req.ranks,
      interNodeCopiesPerToken: req.topK * remoteShare,
    },
  };
}
