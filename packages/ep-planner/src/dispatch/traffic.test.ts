import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Rng } from '@moge/core';
import { parseClusterSpec } from '@moge/ascend-hal';
import { loadMatrixFromRows } from '../loads/load-matrix';
import { placeExperts, type Placement } from '../placement/place';
import { buildLayerPlacement } from '../placement/layer-placement';
import { assignReplicas, type ReplicaChoice } from './replica-choice';
import { expertAssignmentsPerRank, flatTraffic, hierarchicalTraffic, type FlatTraffic, type HierarchicalTraffic } from './traffic';
import { planDispatch } from './plan';
import type { RoutedTokens } from './routed-tokens';

interface Case {
  placement: Placement;
  tokens: RoutedTokens;
  choice: ReplicaChoice;
}

/** A random EPLB placement (with replicas) and random top-k routing of tokens spread over the ranks. */
const dispatchCase: fc.Arbitrary<Case> = fc
  .record({
    numNodes: fc.integer({ min: 1, max: 3 }),
    ranksPerNode: fc.integer({ min: 1, max: 4 }),
    expertsPerRank: fc.integer({ min: 1, max: 3 }),
    spare: fc.integer({ min: 0, max: 2 }),
    numTokens: fc.integer({ min: 0, max: 40 }),
    seed: fc.nat(),
    choice: fc.constantFrom<ReplicaChoice>('round-robin', 'nearest'),
  })
  .map((c) => {
    const numRanks = c.numNodes * c.ranksPerNode;
    const numExperts = numRanks * c.expertsPerRank;
    const rng = new Rng(c.seed);
    const loads = loadMatrixFromRows([Array.from({ length: numExperts }, () => rng.int(100))]);
    const placement = placeExperts(loads, { policy: 'eplb-global', numRanks, numNodes: c.numNodes, redundantSlots: c.spare * numRanks });
    const topK = 1 + rng.int(Math.min(4, numExperts));
    const sourceRanks = new Int32Array(c.numTokens);
    const expertIds = new Int32Array(c.numTokens * topK);
    for (let t = 0; t < c.numTokens; t++) {
      sourceRanks[t] = rng.int(numRanks);
      const ids = Array.from({ length: numExperts }, (_, e) => e);
      rng.shuffle(ids);
      expertIds.set(ids.slice(0, topK), t * topK); // a router picks K distinct experts
    }
    return { placement, tokens: { topK, sourceRanks, expertIds }, choice: c.choice };
  });

const sum = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0);

describe('dispatch traffic', () => {
  it('sends every (token, expert) to a rank that holds that expert', () => {
    fc.assert(
      fc.property(dispatchCase, ({ placement, tokens, choice }) => {
        const layer = placement.layers[0]!;
        const dest = assignReplicas(tokens, layer, placement, choice);
        const misplaced = Array.from(dest).filter((rank, a) => {
          const slots = layer.physicalToLogical.subarray(rank * placement.slotsPerRank, (rank + 1) * placement.slotsPerRank);
          return !slots.includes(tokens.expertIds[a]!);
        });
        expect(misplaced).toEqual([]);
        expect(sum(expertAssignmentsPerRank(dest, placement.numRanks))).toBe(tokens.expertIds.length);
      }),
    );
  });

  it('conserves tokens: both plans deliver the same copies to the same ranks, and every tier sends what it receives', () => {
    fc.assert(
      fc.property(dispatchCase, ({ placement, tokens, choice }) => {
        const dest = assignReplicas(tokens, placement.layers[0]!, placement, choice);
        const flat = flatTraffic(tokens.sourceRanks, dest, tokens.topK, placement);
        const hier = hierarchicalTraffic(tokens.sourceRanks, dest, tokens.topK, placement);
        // Distinct destination ranks per token, counted independently of the planners.
        let copies = 0;
        for (let t = 0; t < tokens.sourceRanks.length; t++) copies += new Set(dest.subarray(t * tokens.topK, (t + 1) * tokens.topK)).size;
        expect(sum(flat.sendMatrix)).toBe(copies);
        expect(sum(flat.delivered) + sum(flat.local)).toBe(copies);
        expect(Array.from(hier.delivered)).toEqual(Array.from(flat.delivered));
        expect(Array.from(hier.local)).toEqual(Array.from(flat.local));
        for (const plan of [flat, hier]) {
          for (const tier of [plan.intraNode, plan.interNode]) {
            expect(sum(tier.sendTokens)).toBe(tier.totalTokens);
            expect(sum(tier.recvTokens)).toBe(tier.totalTokens);
          }
        }
        expect(flat.intraNode.totalTokens + flat.interNode.totalTokens).toBe(sum(flat.delivered));
        // The stage matrices carry exactly the tier traffic.
        expect(sum(hier.railMatrix)).toBe(hier.interNode.totalTokens);
        expect(sum(hier.nodeMatrix)).toBe(hier.intraNode.totalTokens);
        // Each token crosses to a remote node at most once per node, never more often than in the flat plan.
        expect(hier.interNode.totalTokens).toBeLessThanOrEqual(flat.interNode.totalTokens);
      }),
    );
  });

  it('is deterministic: the same tokens and placement give the same plan', () => {
    fc.assert(
      fc.property(dispatchCase, ({ placement, tokens, choice }) => {
        const a = assignReplicas(tokens, placement.layers[0]!, placement, choice);
        const b = assignReplicas(tokens, placement.layers[0]!, placement, choice);
        expect(b).toEqual(a);
        expect(hierarchicalTraffic(tokens.sourceRanks, b, tokens.topK, placement)).toEqual(hierarchicalTraffic(tokens.sourceRanks, a, tokens.topK, placement));
      }),
    );
  });

  it('round-robin splits an expert evenly over its replicas', () => {
    const loads = loadMatrixFromRows([[90, 1, 1, 1]]);
    const placement = placeExperts(loads, { policy: 'eplb-global', numRanks: 4, numNodes: 2, redundantSlots: 4 }); // expert 0 gets 5 replicas
    const layer = placement.layers[0]!;
    const tokens: RoutedTokens = { topK: 1, sourceRanks: new Int32Array(100).fill(0), expertIds: new Int32Array(100) };
    const rr = expertAssignmentsPerRank(assignReplicas(tokens, layer, placement, 'round-robin'), 4);
    const perReplica = 100 / layer.replicaCounts[0]!;
    rr.forEach((count, rank) => {
      const replicasHere = Array.from(layer.physicalToLogical.subarray(rank * 2, rank * 2 + 2)).filter((e) => e === 0).length;
      expect(Math.abs(count - replicasHere * perReplica)).toBeLessThanOrEqual(replicasHere);
    });
  });

  it("nearest picks a replica on the token's own rank, else on its node, whenever one exists", () => {
    fc.assert(
      fc.property(dispatchCase, ({ placement, tokens }) => {
        const layer = placement.layers[0]!;
        const { slotsPerRank, ranksPerNode } = placement;
        const dest = assignReplicas(tokens, layer, placement, 'nearest');
        const node = (r: number) => Math.floor(r / ranksPerNode);
        const farther = Array.from(dest).filter((rank, a) => {
          const src = tokens.sourceRanks[Math.floor(a / tokens.topK)]!;
          const e = tokens.expertIds[a]!;
          const holders = Array.from(layer.logicalToPhysical.subarray(layer.logicalOffsets[e]!, layer.logicalOffsets[e + 1]!), (p) => Math.floor(p / slotsPerRank));
          if (holders.includes(src)) return rank !== src;
          return holders.some((h) => node(h) === node(src)) && node(rank) !== node(src);
        });
        expect(farther).toEqual([]);
      }),
    );
  });

  it('nearest takes turns: picks on a node, and picks off-node, go round the candidate replicas', () => {
    // Per expert, the tokens not on a holder pick among the replicas on their node (one category per
    // source node) or, with none there, among all replicas; within a category the picks go round the
    // replicas, so each of c candidates gets ⌊N/c⌋ or ⌈N/c⌉ of the category's N picks (a rank holding
    // m of them, m times that).
    fc.assert(
      fc.property(dispatchCase, ({ placement, tokens }) => {
        const layer = placement.layers[0]!;
        const { slotsPerRank, ranksPerNode } = placement;
        const node = (r: number) => Math.floor(r / ranksPerNode);
        const dest = assignReplicas(tokens, layer, placement, 'nearest');
        const categories = new Map<string, { candidates: number[]; picks: number[] }>();
        dest.forEach((rank, a) => {
          const src = tokens.sourceRanks[Math.floor(a / tokens.topK)]!;
          const e = tokens.expertIds[a]!;
          const ranks = Array.from(layer.logicalToPhysical.subarray(layer.logicalOffsets[e]!, layer.logicalOffsets[e + 1]!), (p) => Math.floor(p / slotsPerRank));
          if (ranks.length === 1 || ranks.includes(src)) return;
          const onNode = ranks.filter((r) => node(r) === node(src));
          const key = onNode.length > 0 ? `${e} on node ${node(src)}` : `${e} off-node`;
          if (!categories.has(key)) categories.set(key, { candidates: onNode.length > 0 ? onNode : ranks, picks: [] });
          categories.get(key)!.picks.push(rank);
        });
        const uneven: string[] = [];
        for (const [key, { candidates, picks }] of categories) {
          const c = candidates.length;
          for (const r of new Set(candidates)) {
            const m = candidates.filter((x) => x === r).length;
            const got = picks.filter((x) => x === r).length;
            if (got < m * Math.floor(picks.length / c) || got > m * Math.ceil(picks.length / c)) uneven.push(`${key}: rank ${r} got ${got} of ${picks.length}`);
          }
        }
        expect(uneven).toEqual([]);
      }),
      { numRuns: 200, seed: 4242 },
    );
  });

  it('nearest does not send every interleaved token of a rank to the same replica on its node', () => {
    // 2 nodes × 3 ranks of 2 slots; expert 0 on ranks 0 and 1 (node 0) and on rank 3 (node 1).
    // Tokens alternate between rank 2 (node 0, no replica) and rank 4 (node 1, no replica): with one
    // turn counter per expert, rank 2's tokens always saw an even turn and all went to rank 0.
    const layer = buildLayerPlacement(Int32Array.from([0, 1, 0, 2, 3, 4, 0, 5, 1, 2, 3, 4]), 6, 6, [1, 1, 1, 1, 1, 1]);
    const n = 100;
    const sourceRanks = Int32Array.from({ length: n }, (_, t) => (t % 2 === 0 ? 2 : 4));
    const dest = assignReplicas({ topK: 1, sourceRanks, expertIds: new Int32Array(n) }, layer, { numRanks: 6, ranksPerNode: 3, slotsPerRank: 2 }, 'nearest');
    const fromRank2 = [0, 0, 0, 0, 0, 0];
    dest.forEach((r, t) => sourceRanks[t] === 2 && fromRank2[r]!++);
    expect(fromRank2).toEqual([25, 25, 0, 0, 0, 0]);
    expect(Array.from(expertAssignmentsPerRank(dest, 6))).toEqual([25, 25, 0, 50, 0, 0]);
  });

  it('hierarchical sends one copy per remote node where flat sends one per remote rank', () => {
    // 2 nodes × 2 ranks, one expert per rank; a token on rank 0 picks experts 2 and 3 (both on node 1).
    const placement = placeExperts(loadMatrixFromRows([[1, 1, 1, 1]]), { policy: 'moge', numRanks: 4, numNodes: 2, numGroups: 4 });
    const tokens: RoutedTokens = { topK: 2, sourceRanks: Int32Array.of(0), expertIds: Int32Array.of(2, 3) };
    const dest = assignReplicas(tokens, placement.layers[0]!, placement, 'round-robin');
    const flat = flatTraffic(tokens.sourceRanks, dest, 2, placement);
    const hier = hierarchicalTraffic(tokens.sourceRanks, dest, 2, placement);
    expect([flat.interNode.totalTokens, flat.intraNode.totalTokens]).toEqual([2, 0]);
    // Rank 0 → rank 2 (same rail) over the network, then rank 2 → rank 3 inside node 1.
    expect([hier.interNode.totalTokens, hier.intraNode.totalTokens]).toEqual([1, 1]);
    expect(Array.from(hier.interNode.recvTokens)).toEqual([0, 0, 1, 0]);
    expect(Array.from(hier.intraNode.sendTokens)).toEqual([0, 0, 1, 0]);
  });
});

/**
 * What a dispatch must deliver, computed from the routing alone by the documented semantics, not by
 * the planners: token t (on rank s) goes once to every rank of D(t), the set of its distinct
 * destination ranks (a rank applies all its experts to one copy). A destination equal to s is local
 * (no link, the diagonal of the flat send matrix); every other one is a delivered copy. The flat
 * plan sends s → r directly, over the intra-node tier when both share a node. The hierarchical plan
 * sends one copy per remote node n of D(t) \ {s} to s's rail peer there (n · ranksPerNode + s mod
 * ranksPerNode), which forwards it inside the node to every destination other than itself; copies
 * for s's own node go from s over the intra-node tier.
 */
interface Oracle {
  /** reached[r] = tokens whose destination set contains r (= delivered[r] + local[r]). */
  reached: number[];
  local: number[];
  delivered: number[];
  /** Flat: send[i · R + j] = tokens on rank i whose destination set contains j. */
  send: number[];
  flatIntra: { send: number[]; recv: number[] };
  flatInter: { send: number[]; recv: number[] };
  rail: number[];
  node: number[];
  hierIntra: { send: number[]; recv: number[] };
  hierInter: { send: number[]; recv: number[] };
}

function dispatchOracle(sourceRanks: Int32Array, destRanks: Int32Array, topK: number, numRanks: number, ranksPerNode: number): Oracle {
  const numNodes = numRanks / ranksPerNode;
  const zeros = (n: number) => new Array<number>(n).fill(0);
  const tier = () => ({ send: zeros(numRanks), recv: zeros(numRanks) });
  const o: Oracle = {
    reached: zeros(numRanks),
    local: zeros(numRanks),
    delivered: zeros(numRanks),
    send: zeros(numRanks * numRanks),
    flatIntra: tier(),
    flatInter: tier(),
    rail: zeros(numRanks * numNodes),
    node: zeros(numRanks * ranksPerNode),
    hierIntra: tier(),
    hierInter: tier(),
  };
  const nodeOf = (r: number) => Math.floor(r / ranksPerNode);
  const hop = (t: { send: number[]; recv: number[] }, from: number, to: number) => {
    t.send[from]!++;
    t.recv[to]!++;
  };
  for (let t = 0; t < sourceRanks.length; t++) {
    const s = sourceRanks[t]!;
    const dests = new Set(destRanks.subarray(t * topK, (t + 1) * topK));
    const remoteByNode = new Map<number, number[]>();
    for (const r of dests) {
      o.reached[r]!++;
      o.send[s * numRanks + r]!++;
      if (r === s) {
        o.local[r]!++;
        continue;
      }
      o.delivered[r]!++;
      hop(nodeOf(r) === nodeOf(s) ? o.flatIntra : o.flatInter, s, r);
      remoteByNode.set(nodeOf(r), [...(remoteByNode.get(nodeOf(r)) ?? []), r]);
    }
    for (const [n, ranks] of remoteByNode) {
      const holder = n === nodeOf(s) ? s : n * ranksPerNode + (s % ranksPerNode);
      if (holder !== s) {
        hop(o.hierInter, s, holder);
        o.rail[s * numNodes + n]!++;
      }
      for (const r of ranks) {
        if (r === holder) continue;
        hop(o.hierIntra, holder, r);
        o.node[holder * ranksPerNode + (r % ranksPerNode)]!++;
      }
    }
  }
  return o;
}

const sumRange = (a: ArrayLike<number>, from: number, to: number, step = 1) => {
  let s = 0;
  for (let i = from; i < to; i += step) s += a[i]!;
  return s;
};

/** Both plans against the oracle: per-rank deliveries, every send-matrix row and column, every stage matrix and tier. */
function expectMatchesOracle(flat: FlatTraffic, hier: HierarchicalTraffic, o: Oracle, numRanks: number, sourceRanks: Int32Array, destRanks: Int32Array, topK: number): void {
  // Row sums from the routing: a rank sends each of its tokens once per distinct destination rank.
  const rowOracle = new Array<number>(numRanks).fill(0);
  for (let t = 0; t < sourceRanks.length; t++) rowOracle[sourceRanks[t]!]! += new Set(destRanks.subarray(t * topK, (t + 1) * topK)).size;
  for (const plan of [flat, hier]) {
    expect(Array.from(plan.delivered)).toEqual(o.delivered);
    expect(Array.from(plan.local)).toEqual(o.local);
    expect(Array.from(plan.delivered, (d, r) => d + plan.local[r]!)).toEqual(o.reached);
  }
  const rows = Array.from({ length: numRanks }, (_, i) => sumRange(flat.sendMatrix, i * numRanks, (i + 1) * numRanks));
  const cols = Array.from({ length: numRanks }, (_, j) => sumRange(flat.sendMatrix, j, numRanks * numRanks, numRanks));
  expect(rows).toEqual(rowOracle);
  expect(cols).toEqual(o.reached);
  expect(Array.from({ length: numRanks }, (_, r) => flat.sendMatrix[r * numRanks + r])).toEqual(o.local);
  expect(Array.from(flat.sendMatrix)).toEqual(o.send);
  expect([Array.from(flat.intraNode.sendTokens), Array.from(flat.intraNode.recvTokens)]).toEqual([o.flatIntra.send, o.flatIntra.recv]);
  expect([Array.from(flat.interNode.sendTokens), Array.from(flat.interNode.recvTokens)]).toEqual([o.flatInter.send, o.flatInter.recv]);
  expect(Array.from(hier.railMatrix)).toEqual(o.rail);
  expect(Array.from(hier.nodeMatrix)).toEqual(o.node);
  expect([Array.from(hier.intraNode.sendTokens), Array.from(hier.intraNode.recvTokens)]).toEqual([o.hierIntra.send, o.hierIntra.recv]);
  expect([Array.from(hier.interNode.sendTokens), Array.from(hier.interNode.recvTokens)]).toEqual([o.hierInter.send, o.hierInter.recv]);
  for (const plan of [flat, hier]) {
    for (const [t, ot] of [[plan.intraNode, plan === flat ? o.flatIntra : o.hierIntra], [plan.interNode, plan === flat ? o.flatInter : o.hierInter]] as const) {
      expect(t.totalTokens).toBe(ot.send.reduce((a, b) => a + b, 0));
    }
  }
}

/** Ranks drawn uniformly, all on one rank, or skewed towards a hot rank (cubic on a random offset). */
function rankDraw(numRanks: number): fc.Arbitrary<fc.Arbitrary<number>> {
  return fc.oneof(
    fc.constant(fc.integer({ min: 0, max: numRanks - 1 })),
    fc.nat(numRanks - 1).map((hot) => fc.constant(hot)),
    fc.nat(numRanks - 1).map((hot) => fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }).map((u) => (hot + Math.floor(numRanks * u ** 3)) % numRanks)),
  );
}

/** Routing straight into the traffic planners: source and destination ranks, skewed or uniform, repeats inside a token. */
const routingCase = fc
  .record({
    numNodes: fc.integer({ min: 1, max: 3 }),
    ranksPerNode: fc.integer({ min: 1, max: 4 }),
    topK: fc.integer({ min: 1, max: 6 }),
    numTokens: fc.integer({ min: 0, max: 60 }),
  })
  .chain((c) => {
    const numRanks = c.numNodes * c.ranksPerNode;
    return fc.tuple(rankDraw(numRanks), rankDraw(numRanks)).chain(([src, dst]) =>
      fc.record({
        numRanks: fc.constant(numRanks),
        ranksPerNode: fc.constant(c.ranksPerNode),
        topK: fc.constant(c.topK),
        sourceRanks: fc.array(src, { minLength: c.numTokens, maxLength: c.numTokens }).map((a) => Int32Array.from(a)),
        destRanks: fc.array(dst, { minLength: c.numTokens * c.topK, maxLength: c.numTokens * c.topK }).map((a) => Int32Array.from(a)),
      }),
    );
  });

/**
 * Router output over experts, end to end: each token picks topK distinct experts, uniformly, from a
 * small pool (most experts get nothing), always including one hot expert, or (top-1) all on one
 * expert; the placement is built for the loads this routing makes, with or without replicas.
 */
const expertRoutingCase = fc
  .record({
    numNodes: fc.integer({ min: 1, max: 3 }),
    ranksPerNode: fc.integer({ min: 1, max: 4 }),
    perRank: fc.integer({ min: 1, max: 3 }),
    placement: fc.constantFrom('moge' as const, 'eplb-global' as const, 'eplb-hierarchical' as const),
    spare: fc.integer({ min: 0, max: 2 }),
    numTokens: fc.integer({ min: 0, max: 60 }),
    topK: fc.integer({ min: 1, max: 6 }),
    kind: fc.constantFrom('uniform', 'sparse', 'hot', 'one-expert'),
    hot: fc.nat(),
    choice: fc.constantFrom<ReplicaChoice>('round-robin', 'nearest'),
  })
  .chain((c) => {
    const numRanks = c.numNodes * c.ranksPerNode;
    const numExperts = numRanks * c.perRank;
    const topK = c.kind === 'one-expert' ? 1 : Math.min(c.topK, numExperts);
    const hot = c.hot % numExperts;
    const all = Array.from({ length: numExperts }, (_, e) => e);
    const pool = all.filter((e) => (e + hot) % 4 === 0 || e < topK); // about a quarter of the experts, at least topK
    const others = all.filter((e) => e !== hot);
    const pick = (from: number[], k: number) => fc.shuffledSubarray(from, { minLength: k, maxLength: k });
    const token: fc.Arbitrary<number[]> =
      c.kind === 'uniform'
        ? pick(all, topK)
        : c.kind === 'sparse'
          ? pick(pool, topK)
          : c.kind === 'hot'
            ? pick(others, topK - 1).map((rest) => [hot, ...rest])
            : fc.constant([hot]);
    return fc.record({
      c: fc.constant({ ...c, numRanks, numExperts, topK }),
      sourceRanks: rankDraw(numRanks).chain((src) => fc.array(src, { minLength: c.numTokens, maxLength: c.numTokens })),
      expertIds: fc.array(token, { minLength: c.numTokens, maxLength: c.numTokens }),
    });
  });

describe('dispatch traffic — conservation against an oracle computed from the routing', () => {
  it('flat and hierarchical plans deliver to every rank exactly the tokens whose destination set contains it', () => {
    fc.assert(
      fc.property(routingCase, ({ numRanks, ranksPerNode, topK, sourceRanks, destRanks }) => {
        const layout = { numRanks, ranksPerNode, slotsPerRank: 1 };
        const flat = flatTraffic(sourceRanks, destRanks, topK, layout);
        const hier = hierarchicalTraffic(sourceRanks, destRanks, topK, layout);
        expectMatchesOracle(flat, hier, dispatchOracle(sourceRanks, destRanks, topK, numRanks, ranksPerNode), numRanks, sourceRanks, destRanks, topK);
      }),
      { numRuns: 300 },
    );
  });

  it('planDispatch: every assignment reaches a holder of its expert, and both plans and the send/recv counts match the oracle', () => {
    fc.assert(
      fc.property(expertRoutingCase, ({ c, sourceRanks, expertIds }) => {
        const tokens: RoutedTokens = { topK: c.topK, sourceRanks: Int32Array.from(sourceRanks), expertIds: Int32Array.from(expertIds.flat()) };
        const counts = new Array<number>(c.numExperts).fill(0);
        for (const e of tokens.expertIds) counts[e]!++;
        const options =
          c.placement === 'moge'
            ? { policy: c.placement, numRanks: c.numRanks, numNodes: c.numNodes }
            : { policy: c.placement, numRanks: c.numRanks, numNodes: c.numNodes, numGroups: c.numNodes, redundantSlots: c.spare * c.numRanks };
        const placement = placeExperts(loadMatrixFromRows([counts]), options);
        const layer = placement.layers[0]!;
        const cluster = parseClusterSpec(`atlas-800t-a2:${8 * c.numNodes}`);
        const plan = planDispatch(cluster, placement, 0, tokens, { tokenBytes: 1024, replicaChoice: c.choice });
        // Destination ranks from the placement itself: the only rank holding the expert, or one of its holders.
        const holders = (e: number) => new Set(Array.from(layer.physicalToLogical.keys()).filter((p) => layer.physicalToLogical[p] === e).map((p) => Math.floor(p / placement.slotsPerRank)));
        const stray = Array.from(plan.destRanks).filter((r, a) => {
          const h = holders(tokens.expertIds[a]!);
          return h.size === 1 ? r !== [...h][0] : !h.has(r);
        });
        expect(stray).toEqual([]);
        const { numRanks, ranksPerNode } = placement;
        const o = dispatchOracle(tokens.sourceRanks, plan.destRanks, tokens.topK, numRanks, ranksPerNode);
        expectMatchesOracle(plan.flat.traffic, plan.hierarchical.traffic, o, numRanks, tokens.sourceRanks, plan.destRanks, tokens.topK);
        expect(Array.from(plan.recvCounts)).toEqual(o.delivered);
        expect(Array.from(plan.sendCounts)).toEqual(Array.from({ length: numRanks }, (_, i) => sumRange(o.send, i * numRanks, (i + 1) * numRanks) - o.local[i]!));
        const assigned = new Array<number>(numRanks).fill(0);
        for (const r of plan.destRanks) assigned[r]!++;
        expect(Array.from(plan.expertLoads)).toEqual(assigned);
      }),
      { numRuns: 150 },
    );
  });
});
