/**
 * How the parallel groups of a plan sit on nodes, in Megatron-LM's rank order: tensor parallel
 * innermost, then context parallel, then data parallel, then pipeline; on the expert side the same
 * devices regroup as expert-TP innermost, then expert parallel. A group of `size` ranks with
 * stride `stride` has min(size, devicesPerNode / stride) of its ranks on one node (at least 1).
 */
export interface GroupLayout {
  size: number;
  /** Ranks of the group that share one node (the rest are reached over the scale-out network). */
  ranksPerNode: number;
}

export interface PlanGroups {
  tp: GroupLayout;
  cp: GroupLayout;
  dp: GroupLayout;
  /**
   * Ranks holding the same dense weights: data parallel × context parallel (CP ranks see different
   * tokens of the same sequences), the group Megatron-LM reduces dense gradients and shards the
   * distributed optimizer over.
   */
  dpCp: GroupLayout;
  ep: GroupLayout;
  etp: GroupLayout;
  /** Expert data parallel: replicas of one expert shard, which reduce expert gradients together. */
  edp: GroupLayout;
  /** Consecutive pipeline stages sit `tp·cp·dp` ranks apart. */
  ppStride: number;
}

export interface GroupSizes {
  tp: number;
  cp: number;
  dp: number;
  ep: number;
  etp: number;
}

function layout(size: number, stride: number, devicesPerNode: number): GroupLayout {
  return { size, ranksPerNode: Math.max(1, Math.min(size, Math.floor(devicesPerNode / stride))) };
}

export function planGroups(p: GroupSizes, devicesPerNode: number): PlanGroups {
  const stageDevices = p.tp * p.cp * p.dp;
  return {
    tp: layout(p.tp, 1, devicesPerNode),
    cp: layout(p.cp, p.tp, devicesPerNode),
    dp: layout(p.dp, p.tp * p.cp, devicesPerNode),
    dpCp: layout(p.dp * p.cp, p.tp, devicesPerNode),
    etp: layout(p.etp, 1, devicesPerNode),
    ep: layout(p.ep, p.etp, devicesPerNode),
    edp: layout(stageDevices / (p.ep * p.etp), p.ep * p.etp, devicesPerNode),
    ppStride: stageDevices,
  };
}

/** True when two ranks `stride` apart are on different nodes (pipeline neighbours, usually). */
export function crossesNodes(stride: number, devicesPerNode: number): boolean {
  return stride >= devicesPerNode;
}
