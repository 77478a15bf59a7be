import type { Cluster, NodeSpec } from '@moge/ascend-hal';
import type { CostRates } from './planner/plan-options';
import type { HostLink } from './training/options';

/**
 * Conveniences that read plain numbers out of an @moge/ascend-hal cluster. The estimators themselves
 * take only numbers (budget bytes, link bandwidth), so callers with their own figures need none of this.
 */

/** The node's device↔host link, the one swapped activations cross. */
export function hostLinkOf(node: NodeSpec): HostLink {
  return { bandwidth: node.hostLink.bandwidth.value, latencyS: node.hostLink.latencyS.value };
}

/**
 * Peak rates of one device for ranking recompute and swap choices: bf16 matrix peak, HBM bandwidth,
 * and the intra-node link (where TP and most EP traffic runs; the inter-node link when the cluster
 * spans nodes, since the slowest tier then paces the all-to-all). Peak, not achieved: the ranking
 * needs their ratios; the simulator passes calibrated figures when it has them.
 */
export function peakCostRatesOf(cluster: Cluster): CostRates {
  const { chip } = cluster.node;
  const link = cluster.numNodes > 1 ? cluster.node.interNode : cluster.node.intraNode;
  return { flopsPerS: chip.peakFlops.bf16.value, hbmBytesPerS: chip.hbmBandwidth.value, commBytesPerS: link.bandwidth.value };
}

/** Device memory of the cluster's chip, in bytes. */
export function deviceMemoryBytes(cluster: Cluster): number {
  return cluster.node.chip.hbmBytes.value;
}
