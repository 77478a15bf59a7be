import { estimateCollective, type Cluster } from '@moge/ascend-hal';
import type { RankLayout } from './replica-choice';
import type { FlatTraffic, HierarchicalTraffic } from './traffic';

/** One stage of a dispatch on the cluster, timed by the ascend-hal collective model. */
export interface StageCost {
  name: string;
  timeS: number;
  /** Bytes that cross the intra-node and inter-node links in this stage (all ranks together). */
  intraNodeBytes: number;
  interNodeBytes: number;
}

export interface PlanCost {
  /** Stages run one after another; the plan's time is their sum. */
  stages: StageCost[];
  timeS: number;
  intraNodeBytes: number;
  interNodeBytes: number;
}

function planCost(stages: StageCost[]): PlanCost {
  return {
    stages,
    timeS: stages.reduce((s, x) => s + x.timeS, 0),
    intraNodeBytes: stages.reduce((s, x) => s + x.intraNodeBytes, 0),
    interNodeBytes: stages.reduce((s, x) => s + x.interNodeBytes, 0),
  };
}

/** Rows of a bytes matrix from a flat count matrix (rows × cols), the shape estimateCollective takes. */
function bytesRows(counts: Int32Array, rowStart: number, rows: number, cols: number, pick: (row: number, col: number) => number, tokenBytes: number): number[][] {
  return Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => counts[pick(rowStart + i, j)]! * tokenBytes));
}

/**
 * The flat dispatch is one all-to-allv over every rank with the per-pair byte matrix. The matrix
 * is ranks × ranks numbers, so this suits EP groups up to a few thousand ranks.
 */
export function flatDispatchCost(cluster: Cluster, traffic: FlatTraffic, layout: RankLayout, tokenBytes: number): PlanCost {
  const { numRanks, ranksPerNode } = layout;
  const matrix = bytesRows(traffic.sendMatrix, 0, numRanks, numRanks, (i, j) => i * numRanks + j, tokenBytes);
  const estimate = estimateCollective(cluster, { op: 'all-to-allv', ranks: numRanks, ranksPerNode, matrix });
  return planCost([
    {
      name: `all-to-allv (${numRanks} ranks)`,
      timeS: estimate.timeS,
      intraNodeBytes: traffic.intraNode.totalTokens * tokenBytes,
      interNodeBytes: traffic.interNode.totalTokens * tokenBytes,
    },
  ]);
}

/**
 * The hierarchical dispatch: stage 1 is one all-to-allv per rail (the ranks with the same local
 * index, one per node, over the inter-node tier), stage 2 one all-to-allv per node (over the
 * intra-node tier). Rails use separate NICs and nodes separate links, so a stage lasts as long as
 * its slowest group; stage 2 waits for stage 1's tokens.
 */
export function hierarchicalDispatchCost(cluster: Cluster, traffic: HierarchicalTraffic, layout: RankLayout, tokenBytes: number): PlanCost {
  const { numRanks, ranksPerNode } = layout;
  const numNodes = numRanks / ranksPerNode;
  let railS = 0;
  if (numNodes > 1) {
    for (let local = 0; local < ranksPerNode; local++) {
      // Rail member n is rank n · ranksPerNode + local; railMatrix rows are ranks, columns nodes.
      const matrix = Array.from({ length: numNodes }, (_, n) =>
        Array.from({ length: numNodes }, (_, m) => traffic.railMatrix[(n * ranksPerNode + local) * numNodes + m]! * tokenBytes),
      );
      railS = Math.max(railS, estimateCollective(cluster, { op: 'all-to-allv', ranks: numNodes, ranksPerNode: 1, matrix }).timeS);
    }
  }
  let nodeS = 0;
  if (ranksPerNode > 1) {
    for (let node = 0; node < numNodes; node++) {
      const matrix = bytesRows(traffic.nodeMatrix, node * ranksPerNode, ranksPerNode, ranksPerNode, (i, j) => i * ranksPerNode + j, tokenBytes);
      nodeS = Math.max(nodeS, estimateCollective(cluster, { op: 'all-to-allv', ranks: ranksPerNode, ranksPerNode, matrix }).timeS);
    }
  }
  return planCost([
    { name: `inter-node rails (${ranksPerNode} × all-to-allv over ${numNodes} nodes)`, timeS: railS, intraNodeBytes: 0, interNodeBytes: traffic.interNode.totalTokens * tokenBytes },
    { name: `intra-node (${numNodes} × all-to-allv over ${ranksPerNode} ranks)`, timeS: nodeS, intraNodeBytes: traffic.intraNode.totalTokens * tokenBytes, interNodeBytes: 0 },
  ]);
}
