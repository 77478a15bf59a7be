import { parseWith, ValidationError } from '@moge/core';
import type { Cluster } from '../catalog/schemas';
import { allToAllvPhases, matrixSendBytes } from './all-to-allv';
import { algToBusBandwidth } from './bandwidth';
import { flatShape, timeAcrossNodes, timeOnTier, type FlatAlgorithm } from './flat';
import { hierarchicalPhases } from './hierarchical';
import {
  CollectiveRequestSchema,
  type CollectiveAlgorithm,
  type CollectiveEstimate,
  type CollectiveOp,
  type CollectiveRequest,
  type TierCost,
} from './schemas';

/** Where the ranks of a group sit: `nodes` nodes of `perNode` ranks each. */
export interface GroupLayout {
  ranks: number;
  perNode: number;
  nodes: number;
}

/** Checks a group against the cluster; ranks fill nodes in order, `perNode` at a time. */
export function groupLayout(cluster: Cluster, ranks: number, ranksPerNode?: number): GroupLayout {
  if (ranks > cluster.numDevices) {
    throw new ValidationError('collective request', [{ path: 'ranks', received: ranks, expected: `at most the cluster's ${cluster.numDevices} devices` }]);
  }
  const issues = [];
  const perNode = ranksPerNode ?? Math.min(ranks, cluster.devicesPerNode);
  if (perNode > cluster.node.devicesPerNode) {
    issues.push({ path: 'ranksPerNode', received: perNode, expected: `at most ${cluster.node.devicesPerNode} (devices per ${cluster.node.name} node)` });
  } else if (perNode > ranks) {
    issues.push({ path: 'ranksPerNode', received: perNode, expected: `at most ranks (${ranks})` });
  } else if (ranks % perNode !== 0) {
    issues.push({ path: 'ranksPerNode', received: perNode, expected: `a divisor of ranks (${ranks}): every node holds the same number of ranks` });
  } else if (ranks / perNode > cluster.numNodes) {
    issues.push({ path: 'ranksPerNode', received: perNode, expected: `at least ${Math.ceil(ranks / cluster.numNodes)}: the cluster has ${cluster.numNodes} node(s)` });
  }
  if (issues.length > 0) throw new ValidationError('collective request', issues);
  return { ranks, perNode, nodes: ranks / perNode };
}

/** Algorithms that implement `op` for this layout, in the order ties are broken. */
export function applicableAlgorithms(op: CollectiveOp, layout: GroupLayout): CollectiveAlgorithm[] {
  const flat: FlatAlgorithm[] = op === 'all-to-all' || op === 'all-to-allv' || op === 'send-recv' ? ['direct'] : ['ring', 'recursive-halving-doubling', 'direct'];
  const twoLevel = layout.nodes > 1 && layout.perNode > 1 && op !== 'all-to-allv' && op !== 'send-recv';
  return twoLevel ? [...flat, 'hierarchical'] : flat;
}

function flatPhases(cluster: Cluster, op: CollectiveOp, algorithm: FlatAlgorithm, layout: GroupLayout, bytes: number): TierCost[] {
  const shape = flatShape(op, algorithm, layout.ranks, bytes);
  if (!shape) throw new Error(`${algorithm} does not implement ${op}`); // filtered by applicableAlgorithms
  const { intraNode, interNode } = cluster.node;
  const step = `${op} (${algorithm}, ${layout.ranks} ranks)`;
  if (layout.nodes === 1) {
    return [{ phase: 0, tier: 'intra-node', step, ranks: layout.ranks, bytesPerRank: shape.bytesPerRank, steps: shape.steps, timeS: timeOnTier(shape, intraNode, layout.ranks) }];
  }
  if (layout.perNode === 1) {
    return [{ phase: 0, tier: 'inter-node', step, ranks: layout.ranks, bytesPerRank: shape.bytesPerRank, steps: shape.steps, timeS: timeOnTier(shape, interNode, layout.ranks) }];
  }
  const across = timeAcrossNodes(shape, intraNode, interNode, layout.ranks, layout.perNode);
  const phases: TierCost[] = [{ phase: 0, tier: 'inter-node', step, ranks: layout.ranks, bytesPerRank: across.interBytes, steps: shape.steps, timeS: across.timeS }];
  // The local share of a direct algorithm travels at the same time; listed for the byte count.
  if (across.intraBytes > 0) phases.push({ phase: 0, tier: 'intra-node', step, ranks: layout.ranks, bytesPerRank: across.intraBytes, steps: shape.steps, timeS: across.timeS });
  return phases;
}

/** Total time of phases: phases run one after another, entries of one phase together. */
export function phasesTime(phases: readonly TierCost[]): number {
  const byPhase = new Map<number, number>();
  for (const p of phases) byPhase.set(p.phase, Math.max(byPhase.get(p.phase) ?? 0, p.timeS));
  let total = 0;
  for (const t of byPhase.values()) total += t;
  return total;
}

function phasesFor(cluster: Cluster, req: CollectiveRequest, algorithm: CollectiveAlgorithm, layout: GroupLayout, bytes: number): TierCost[] {
  if (req.op === 'all-to-allv' && req.matrix) return allToAllvPhases(cluster, req.matrix, layout);
  if (algorithm === 'hierarchical') return hierarchicalPhases(req.op, cluster.node, layout.nodes, layout.perNode, bytes);
  return flatPhases(cluster, req.op, algorithm, layout, bytes);
}

function validateShape(req: CollectiveRequest): number {
  if (req.op === 'send-recv' && req.ranks !== 2) {
    throw new ValidationError('collective request', [{ path: 'ranks', received: req.ranks, expected: '2 for send-recv (one sender, one receiver)' }]);
  }
  if (req.matrix !== undefined) {
    if (req.op !== 'all-to-allv') throw new ValidationError('collective request', [{ path: 'matrix', received: '(matrix)', expected: 'only with op all-to-allv' }]);
    const bad = req.matrix.findIndex((row) => row.length !== req.ranks);
    if (req.matrix.length !== req.ranks || bad >= 0) {
      throw new ValidationError('collective request', [
        { path: bad >= 0 ? `matrix[${bad}]` : 'matrix', received: bad >= 0 ? `${req.matrix[bad]?.length} entries` : `${req.matrix.length} rows`, expected: `${req.ranks} × ${req.ranks} bytes (ranks × ranks)` },
      ]);
    }
    return matrixSendBytes(req.matrix);
  }
  if (req.bytes === undefined) throw new ValidationError('collective request', [{ path: 'bytes', received: undefined, expected: 'a number of bytes ≥ 0' }]);
  return req.bytes;
}

/**
 * Time of one collective on a cluster by the α-β model: per message step a tier's latency, per byte
 * its per-device bandwidth; a group that spans nodes is paced by the inter-node tier. With no
 * `algorithm`, the fastest that applies is chosen. Reports both bandwidth conventions (HCCL
 * algorithm bandwidth, NCCL bus bandwidth); `bytes` follows COLLECTIVE_BYTES_CONVENTION.
 */
export function estimateCollective(cluster: Cluster, request: CollectiveRequest): CollectiveEstimate {
  const req = parseWith(CollectiveRequestSchema, request, 'collective request');
  const bytes = validateShape(req);
  const layout = groupLayout(cluster, req.ranks, req.ranksPerNode);
  const applicable = applicableAlgorithms(req.op, layout);
  if (req.algorithm !== undefined && !applicable.includes(req.algorithm)) {
    throw new ValidationError('collective request', [
      { path: 'algorithm', received: req.algorithm, expected: `one of ${applicable.join(', ')} for ${req.op} over ${layout.nodes} node(s) of ${layout.perNode} rank(s)` },
    ]);
  }
  const base = { op: req.op, bytes, ranks: req.ranks, ranksPerNode: layout.perNode, nodes: layout.nodes };
  if (req.ranks === 1 || bytes === 0) {
    // Nothing moves: NCCL and HCCL return at once.
    return { ...base, algorithm: req.algorithm ?? applicable[0]!, timeS: 0, algBandwidth: 0, busBandwidth: 0, perTier: [], candidates: [] };
  }
  const candidates = (req.algorithm ? [req.algorithm] : applicable)
    .map((algorithm) => {
      const perTier = phasesFor(cluster, req, algorithm, layout, bytes);
      return { algorithm, perTier, timeS: phasesTime(perTier) };
    })
    .sort((a, b) => a.timeS - b.timeS);
  const best = candidates[0]!;
  // A time that underflows to 0 (a sub-normal byte count on a tier with no latency nor call overhead)
  // reports no bandwidth, as an empty collective does, rather than an Infinity rate.
  const algBandwidth = best.timeS > 0 ? bytes / best.timeS : 0;
  return {
    ...base,
    algorithm: best.algorithm,
    timeS: best.timeS,
    algBandwidth,
    busBandwidth: algToBusBandwidth(req.op, req.ranks, algBandwidth),
    perTier: best.perTier,
    candidates: candidates.map(({ algorithm, timeS }) => ({ algorithm, timeS })),
  };
}
