import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ValidationError } from '@moge/core';
import { parseClusterSpec } from '../catalog/cluster';
import { listNodePresets } from '../catalog/nodes';
import { algToBusBandwidth, busBandwidthFactor, busToAlgBandwidth } from './bandwidth';
import { estimateCollective } from './estimate';
import { tierBandwidth, tierCallOverhead } from './flat';
import type { CollectiveOp } from './schemas';

const h200x8 = parseClusterSpec('hgx-h200:8');
const a2x32 = parseClusterSpec('atlas-800t-a2:32');
const GB = 1e9;

function issuePaths(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ValidationError) return e.issues.map((i) => i.path);
    throw e;
  }
  throw new Error('expected a ValidationError');
}

describe('bus and algorithm bandwidth (NCCL vs HCCL conventions)', () => {
  it('factors are those nccl-tests uses', () => {
    expect(busBandwidthFactor('all-reduce', 8)).toBe(14 / 8);
    expect(busBandwidthFactor('all-gather', 8)).toBe(7 / 8);
    expect(busBandwidthFactor('reduce-scatter', 8)).toBe(7 / 8);
    expect(busBandwidthFactor('all-to-all', 8)).toBe(7 / 8);
    expect(busBandwidthFactor('broadcast', 8)).toBe(1);
  });

  it('property: converting there and back is exact, and every estimate reports busbw = algbw × factor', () => {
    const ops: CollectiveOp[] = ['all-reduce', 'all-gather', 'reduce-scatter', 'all-to-all', 'broadcast'];
    fc.assert(
      fc.property(fc.constantFrom(...ops), fc.integer({ min: 2, max: 8 }), fc.double({ min: 1, max: 1e10, noNaN: true }), (op, ranks, bytes) => {
        const e = estimateCollective(h200x8, { op, bytes, ranks });
        const back = busToAlgBandwidth(op, ranks, algToBusBandwidth(op, ranks, e.algBandwidth));
        return Math.abs(back / e.algBandwidth - 1) < 1e-12 && e.busBandwidth === e.algBandwidth * busBandwidthFactor(op, ranks) && e.algBandwidth === bytes / e.timeS;
      }),
    );
  });

  it('a single rank has no bus bandwidth to convert', () => {
    expect(() => busToAlgBandwidth('all-reduce', 1, 1)).toThrow(RangeError);
  });

  it('refuses a NaN, infinite or negative bandwidth and an unknown op instead of converting them to NaN', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, -1]) {
      expect(() => algToBusBandwidth('all-reduce', 8, bad)).toThrow(/^algBandwidth: got .*, expected a finite number of bytes\/s ≥ 0$/);
      expect(() => busToAlgBandwidth('all-reduce', 8, bad)).toThrow(/^busBandwidth: got /);
    }
    expect(() => busBandwidthFactor('allreduce' as CollectiveOp, 8)).toThrow(/^op: got "allreduce", expected one of all-reduce, /);
    expect(algToBusBandwidth('all-gather', 8, 0)).toBe(0); // nothing moved is a valid rate
  });
});

describe('estimateCollective', () => {
  it('ring all-reduce of a large message approaches 2(n−1)/n · bytes / bandwidth', () => {
    const bytes = 64 * GB;
    const e = estimateCollective(h200x8, { op: 'all-reduce', bytes, ranks: 8, algorithm: 'ring' });
    const tier = h200x8.node.intraNode;
    // The measured NCCL efficiency scales the datasheet link (hgx-h200 carries one; 1 where unmeasured).
    expect(tierBandwidth(tier)).toBeCloseTo(tier.bandwidth.value * (tier.efficiency?.value ?? 1), 0);
    const bandwidthTerm = ((2 * 7) / 8) * (bytes / tierBandwidth(tier));
    // What is left over is one call's fixed cost plus the latency of the 2(n−1) steps, under 0.1 % at this size.
    expect(e.timeS - bandwidthTerm).toBeCloseTo(tierCallOverhead(tier) + 14 * tier.latencyS.value, 12);
    expect(e.timeS / bandwidthTerm - 1).toBeLessThan(1e-3);
    expect(e.busBandwidth / tierBandwidth(tier)).toBeCloseTo(1, 3);
  });

  it('small messages are latency-bound: 2(n−1) steps for a ring all-reduce', () => {
    const e = estimateCollective(h200x8, { op: 'all-reduce', bytes: 8, ranks: 8, algorithm: 'ring' });
    expect(e.timeS).toBeCloseTo(tierCallOverhead(h200x8.node.intraNode) + 14 * h200x8.node.intraNode.latencyS.value, 9);
  });

  it('on a full mesh a ring uses one of the 7 links, so direct (mesh) wins', () => {
    const node = parseClusterSpec('atlas-800t-a2:8');
    const ring = estimateCollective(node, { op: 'all-gather', bytes: GB, ranks: 8, algorithm: 'ring' });
    const auto = estimateCollective(node, { op: 'all-gather', bytes: GB, ranks: 8 });
    expect(auto.algorithm).toBe('direct');
    expect(ring.timeS / auto.timeS).toBeGreaterThan(6);
  });

  it('the automatic choice is the fastest candidate', () => {
    for (const op of ['all-reduce', 'all-gather', 'reduce-scatter', 'broadcast', 'all-to-all'] as const) {
      const auto = estimateCollective(a2x32, { op, bytes: 128e6, ranks: 32 });
      for (const c of auto.candidates) {
        expect(estimateCollective(a2x32, { op, bytes: 128e6, ranks: 32, algorithm: c.algorithm }).timeS).toBeGreaterThanOrEqual(auto.timeS);
      }
    }
  });

  it('a group that spans nodes is paced by the inter-node tier', () => {
    const a2x64 = parseClusterSpec('atlas-800t-a2:64');
    const inside = estimateCollective(a2x64, { op: 'all-reduce', bytes: GB, ranks: 8 });
    const across = estimateCollective(a2x64, { op: 'all-reduce', bytes: GB, ranks: 8, ranksPerNode: 1, algorithm: 'ring' });
    expect(across.nodes).toBe(8);
    expect(across.perTier.map((t) => t.tier)).toEqual(['inter-node']);
    expect(across.busBandwidth / a2x64.node.interNode.bandwidth.value).toBeCloseTo(1, 2);
    // Spanning nodes with several ranks per node, a one-partner algorithm is paced by the slower tier.
    const spread = estimateCollective(a2x64, { op: 'all-reduce', bytes: GB, ranks: 16, algorithm: 'ring' });
    expect(spread.busBandwidth).toBeLessThanOrEqual(a2x64.node.interNode.bandwidth.value);
    expect(across.timeS).toBeGreaterThan(inside.timeS * 5);
  });

  it('hierarchical all-reduce sends only 1/perNode of the buffer between nodes', () => {
    const e = estimateCollective(a2x32, { op: 'all-reduce', bytes: GB, ranks: 32, algorithm: 'hierarchical' });
    const inter = e.perTier.filter((t) => t.tier === 'inter-node');
    expect(inter).toHaveLength(1);
    expect(inter[0]!.bytesPerRank).toBeCloseTo(((2 * 3) / 4) * (GB / 8), 0);
    expect(e.perTier.map((t) => t.step.split(' ')[0])).toEqual(['reduce-scatter', 'all-reduce', 'all-gather']);
  });

  it('charges a hierarchical collective its per-call overhead once, not once per phase', () => {
    const h200x16 = parseClusterSpec('hgx-h200:16');
    const { intraNode, interNode } = h200x16.node;
    const once = Math.max(tierCallOverhead(intraNode), tierCallOverhead(interNode));
    expect(tierCallOverhead(intraNode)).toBeGreaterThan(0);
    const e = estimateCollective(h200x16, { op: 'all-reduce', bytes: 8, ranks: 16, algorithm: 'hierarchical' });
    // 8 bytes: latency terms only. Each phase alone would be its tier's overhead + steps × α.
    const latencies = e.perTier.reduce((s, t) => s + t.steps * (t.tier === 'intra-node' ? intraNode : interNode).latencyS.value, 0);
    expect(e.timeS).toBeCloseTo(once + latencies, 7);
    expect(e.perTier.reduce((s, t) => s + t.timeS, 0)).toBeCloseTo(e.timeS, 12);
  });

  it('send-recv uses the tier between its two ranks', () => {
    const local = estimateCollective(a2x32, { op: 'send-recv', bytes: GB, ranks: 2 });
    const remote = estimateCollective(a2x32, { op: 'send-recv', bytes: GB, ranks: 2, ranksPerNode: 1 });
    expect(local.perTier[0]!.tier).toBe('intra-node');
    expect(remote.perTier[0]!.tier).toBe('inter-node');
    expect(remote.timeS).toBeCloseTo(a2x32.node.interNode.latencyS.value + GB / a2x32.node.interNode.bandwidth.value, 12);
  });

  it('all-to-allv with a uniform matrix costs what all-to-all does; a hot pair costs more', () => {
    const n = 8;
    const uniform = Array.from({ length: n }, () => new Array<number>(n).fill(1e6));
    const v = estimateCollective(h200x8, { op: 'all-to-allv', ranks: n, matrix: uniform });
    const a = estimateCollective(h200x8, { op: 'all-to-all', bytes: 8e6, ranks: n });
    expect(v.bytes).toBe(8e6);
    expect(v.timeS).toBeCloseTo(a.timeS, 12);
    const hot = uniform.map((row) => row.slice());
    hot[0]![1] = 8e6;
    expect(estimateCollective(h200x8, { op: 'all-to-allv', ranks: n, matrix: hot }).timeS).toBeGreaterThan(v.timeS);
    // Without a matrix, bytes = the largest send buffer, treated as uniform.
    expect(estimateCollective(h200x8, { op: 'all-to-allv', ranks: n, bytes: 8e6 }).timeS).toBeCloseTo(a.timeS, 12);
  });

  it('on a full mesh an all-to-allv is paced by its largest pair (each pair has one link)', () => {
    const mesh = parseClusterSpec('atlas-800i-a2:8');
    const m = Array.from({ length: 8 }, () => new Array<number>(8).fill(0));
    m[2]![5] = 56e6;
    const e = estimateCollective(mesh, { op: 'all-to-allv', ranks: 8, matrix: m });
    expect(e.timeS).toBeCloseTo(mesh.node.intraNode.latencyS.value + 56e6 / 56e9, 12);
  });

  it('nothing to move costs nothing', () => {
    expect(estimateCollective(h200x8, { op: 'all-reduce', bytes: 0, ranks: 8 }).timeS).toBe(0);
    expect(estimateCollective(h200x8, { op: 'all-reduce', bytes: GB, ranks: 1 }).timeS).toBe(0);
  });

  it('property: time never falls as bytes grow (any preset, op, group)', () => {
    const clusters = listNodePresets().map((p) => parseClusterSpec(`${p.spec.name}:${2 * p.spec.devicesPerNode}`));
    const ops: CollectiveOp[] = ['all-reduce', 'all-gather', 'reduce-scatter', 'all-to-all', 'broadcast'];
    fc.assert(
      fc.property(
        fc.constantFrom(...clusters),
        fc.constantFrom(...ops),
        fc.boolean(),
        fc.double({ min: 0, max: 1e10, noNaN: true }),
        fc.double({ min: 0, max: 1e10, noNaN: true }),
        (cluster, op, wholeCluster, a, b) => {
          const ranks = wholeCluster ? cluster.numDevices : cluster.devicesPerNode;
          const [small, large] = a <= b ? [a, b] : [b, a];
          return estimateCollective(cluster, { op, bytes: small, ranks }).timeS <= estimateCollective(cluster, { op, bytes: large, ranks }).timeS;
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: a flat all-reduce costs its reduce-scatter plus its all-gather, less the one call overhead it saves', () => {
    // Ring, direct and (on 2^k ranks) recursive halving-doubling all-reduce are each a reduce-scatter
    // followed by an all-gather of the same algorithm: their steps and bytes add up, in one call.
    const clusters = listNodePresets().flatMap((p) => [parseClusterSpec(`${p.spec.name}:${p.spec.devicesPerNode}`), parseClusterSpec(`${p.spec.name}:${2 * p.spec.devicesPerNode}`)]);
    fc.assert(
      fc.property(
        fc.constantFrom(...clusters),
        fc.constantFrom('ring', 'direct', 'recursive-halving-doubling'),
        fc.double({ min: 1, max: 1e10, noNaN: true }),
        (cluster, algorithm, bytes) => {
          const ranks = cluster.numDevices;
          fc.pre(algorithm !== 'recursive-halving-doubling' || Number.isInteger(Math.log2(ranks)));
          const time = (op: CollectiveOp) => estimateCollective(cluster, { op, bytes, ranks, algorithm }).timeS;
          const { intraNode, interNode } = cluster.node;
          const overhead = cluster.numNodes > 1 ? Math.max(tierCallOverhead(intraNode), tierCallOverhead(interNode)) : tierCallOverhead(intraNode);
          const parts = time('reduce-scatter') + time('all-gather') - overhead;
          expect(time('all-reduce')).toBeCloseTo(parts, 12);
          expect(Math.abs(time('all-reduce') - parts) / parts).toBeLessThan(1e-12);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: a hierarchical all-to-all moves the flat one\'s inter-node bytes, never more (fewer, larger messages)', () => {
    const clusters = listNodePresets().filter((p) => p.spec.devicesPerNode > 1).map((p) => parseClusterSpec(`${p.spec.name}:${4 * p.spec.devicesPerNode}`));
    fc.assert(
      fc.property(fc.constantFrom(...clusters), fc.integer({ min: 2, max: 4 }), fc.double({ min: 1, max: 1e10, noNaN: true }), (cluster, nodes, bytes) => {
        const ranks = nodes * cluster.devicesPerNode;
        const interBytes = (algorithm: 'direct' | 'hierarchical') =>
          estimateCollective(cluster, { op: 'all-to-all', bytes, ranks, algorithm })
            .perTier.filter((t) => t.tier === 'inter-node')
            .reduce((sum, t) => sum + t.bytesPerRank, 0);
        expect(interBytes('hierarchical')).toBeLessThanOrEqual(interBytes('direct') * (1 + 1e-12));
      }),
      { numRuns: 200 },
    );
  });

  it('bad requests name the field', () => {
    expect(issuePaths(() => estimateCollective(h200x8, { op: 'all-reduce', bytes: 1, ranks: 16 }))).toEqual(['ranks']);
    expect(issuePaths(() => estimateCollective(a2x32, { op: 'all-reduce', bytes: 1, ranks: 12, ranksPerNode: 8 }))).toEqual(['ranksPerNode']);
    expect(issuePaths(() => estimateCollective(a2x32, { op: 'all-reduce', bytes: 1, ranks: 8, ranksPerNode: 16 }))).toEqual(['ranksPerNode']);
    expect(issuePaths(() => estimateCollective(h200x8, { op: 'all-to-all', bytes: 1, ranks: 8, algorithm: 'ring' }))).toEqual(['algorithm']);
    expect(issuePaths(() => estimateCollective(h200x8, { op: 'all-reduce', bytes: 1, ranks: 8, algorithm: 'hierarchical' }))).toEqual(['algorithm']);
    expect(issuePaths(() => estimateCollective(h200x8, { op: 'all-reduce', bytes: -1, ranks: 8 }))).toEqual(['bytes']);
    expect(issuePaths(() => estimateCollective(h200x8, { op: 'send-recv', bytes: 1, ranks: 3 }))).toEqual(['ranks']);
    expect(issuePaths(() => estimateCollective(h200x8, { op: 'all-to-allv', ranks: 2, matrix: [[1, 2]] }))).toEqual(['matrix']);
    expect(issuePaths(() => estimateCollective(h200x8, { op: 'all-reduce', ranks: 2 }))).toEqual(['bytes']);
  });

  it('a time that underflows to 0 reports 0 bandwidth, not Infinity (or a RangeError from the conversion)', () => {
    const free = parseClusterSpec({ preset: 'hgx-h200', devices: 8, node: { intraNode: { latencyS: 0, callOverheadS: 0 } } });
    const e = estimateCollective(free, { op: 'all-reduce', bytes: Number.MIN_VALUE, ranks: 8 });
    expect([e.timeS, e.algBandwidth, e.busBandwidth]).toEqual([0, 0, 0]);
  });

  it('refuses sizes so large that the time would come out Infinity (no silent Infinity / NaN)', () => {
    expect(issuePaths(() => estimateCollective(h200x8, { op: 'all-reduce', bytes: 1e308, ranks: 8 }))).toEqual(['bytes']);
    expect(issuePaths(() => estimateCollective(h200x8, { op: 'all-to-allv', ranks: 2, matrix: [[0, 1e308], [1e308, 0]] }))).toEqual(['matrix[0][1]', 'matrix[1][0]']);
    const largest = estimateCollective(h200x8, { op: 'all-reduce', bytes: Number.MAX_SAFE_INTEGER, ranks: 8 });
    expect(Number.isFinite(largest.timeS) && Number.isFinite(largest.busBandwidth) && largest.busBandwidth > 0).toBe(true);
  });
});
