import type { RankLayout } from './replica-choice';

/** Tokens each rank sends and receives over one link tier (counts of token copies, not bytes). */
export interface TierTraffic {
  sendTokens: Float64Array;
  recvTokens: Float64Array;
  /** Σ sendTokens (= Σ recvTokens). */
  totalTokens: number;
}

/** What one dispatch moves, per link tier, and where tokens end up. */
export interface DispatchTraffic {
  intraNode: TierTraffic;
  interNode: TierTraffic;
  /** Token copies that reach their destination rank from another rank, per destination rank. */
  delivered: Float64Array;
  /** Tokens that need a rank's experts and already live on that rank (no link used). */
  local: Float64Array;
}

/** The two stages of the hierarchical plan as send-count matrices, the inputs of their cost. */
export interface HierarchicalTraffic extends DispatchTraffic {
  /** Stage 1, between nodes along rails: railMatrix[i · numNodes + n] = tokens rank i sends to its peer on node n. */
  railMatrix: Int32Array;
  /** Stage 2, inside nodes: nodeMatrix[i · ranksPerNode + j] = tokens rank i forwards to local rank j of its node. */
  nodeMatrix: Int32Array;
}

export interface FlatTraffic extends DispatchTraffic {
  /** alltoallv send counts: sendMatrix[i · numRanks + j] = tokens rank i sends to rank j (diagonal: kept local). */
  sendMatrix: Int32Array;
}

function tier(numRanks: number): TierTraffic {
  return { sendTokens: new Float64Array(numRanks), recvTokens: new Float64Array(numRanks), totalTokens: 0 };
}

function move(t: TierTraffic, from: number, to: number): void {
  t.sendTokens[from]!++;
  t.recvTokens[to]!++;
  t.totalTokens++;
}

/**
 * Visits the distinct destination ranks of every token once: a token that picks two experts on one
 * rank is sent there once (the rank applies both experts to the same copy).
 */
function forEachDestination(
  sourceRanks: Int32Array,
  destRanks: Int32Array,
  topK: number,
  numRanks: number,
  visit: (t: number, src: number, dst: number) => void,
): void {
  const seenFor = new Int32Array(numRanks).fill(-1);
  for (let t = 0; t < sourceRanks.length; t++) {
    const src = sourceRanks[t]!;
    for (let k = 0; k < topK; k++) {
      const dst = destRanks[t * topK + k]!;
      if (seenFor[dst] === t) continue;
      seenFor[dst] = t;
      visit(t, src, dst);
    }
  }
}

/** Flat all-to-all: every token goes straight to every distinct destination rank. */
export function flatTraffic(sourceRanks: Int32Array, destRanks: Int32Array, topK: number, layout: RankLayout): FlatTraffic {
  const { numRanks, ranksPerNode } = layout;
  const out: FlatTraffic = {
    intraNode: tier(numRanks),
    interNode: tier(numRanks),
    delivered: new Float64Array(numRanks),
    local: new Float64Array(numRanks),
    sendMatrix: new Int32Array(numRanks * numRanks),
  };
  forEachDestination(sourceRanks, destRanks, topK, numRanks, (_t, src, dst) => {
    out.sendMatrix[src * numRanks + dst]!++;
    if (src === dst) {
      out.local[dst]!++;
      return;
    }
    move(((src / ranksPerNode) | 0) === ((dst / ranksPerNode) | 0) ? out.intraNode : out.interNode, src, dst);
    out.delivered[dst]!++;
  });
  return out;
}

/**
 * Hierarchical all-to-all (Pangu Ultra): a token crosses the inter-node link once per destination
 * node, to the rank with its own local index there (same rail), and that rank forwards it inside
 * the node to every destination rank. Inter-node bytes drop by the number of destination ranks a
 * token has per remote node; the price is a second, intra-node hop.
 */
export function hierarchicalTraffic(sourceRanks: Int32Array, destRanks: Int32Array, topK: number, layout: RankLayout): HierarchicalTraffic {
  const { numRanks, ranksPerNode } = layout;
  const numNodes = numRanks / ranksPerNode;
  const out: HierarchicalTraffic = {
    intraNode: tier(numRanks),
    interNode: tier(numRanks),
    delivered: new Float64Array(numRanks),
    local: new Float64Array(numRanks),
    railMatrix: new Int32Array(numRanks * numNodes),
    nodeMatrix: new Int32Array(numRanks * ranksPerNode),
  };
  const nodeSeenFor = new Int32Array(numNodes).fill(-1);
  forEachDestination(sourceRanks, destRanks, topK, numRanks, (t, src, dst) => {
    if (src === dst) {
      out.local[dst]!++;
      return;
    }
    const srcNode = (src / ranksPerNode) | 0;
    const dstNode = (dst / ranksPerNode) | 0;
    // The rank in the destination node that holds this token after stage 1 (the source itself at home).
    const holder = dstNode === srcNode ? src : dstNode * ranksPerNode + (src % ranksPerNode);
    if (dstNode !== srcNode && nodeSeenFor[dstNode] !== t) {
      nodeSeenFor[dstNode] = t;
      move(out.interNode, src, holder);
      out.railMatrix[src * numNodes + dstNode]!++;
    }
    if (holder !== dst) {
      move(out.intraNode, holder, dst);
      out.nodeMatrix[holder * ranksPerNode + (dst % ranksPerNode)]!++;
    }
    out.delivered[dst]!++;
  });
  return out;
}

/** (token, expert) assignments each rank computes: its expert load for this dispatch. */
export function expertAssignmentsPerRank(destRanks: Int32Array, numRanks: number): Float64Array {
  const out = new Float64Array(numRanks);
  for (let a = 0; a < destRanks.length; a++) out[destRanks[a]!]!++;
  return out;
}
