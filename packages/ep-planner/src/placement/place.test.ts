import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ValidationError } from '@moge/core';
import { loadMatrixFromRows, type LoadMatrix } from '../loads/load-matrix';
import { zipfLoads } from '../loads/zipf';
import { placeExperts, meanMaxOverMean, type Placement } from './place';
import { replicasOf } from './layer-placement';
import type { PlacementPolicy } from './options';

/** The structural invariants every placement must satisfy, whatever the policy. */
function expectConsistent(placement: Placement, loads: LoadMatrix): void {
  const { numRanks, slotsPerRank, numExperts, numPhysical } = placement;
  expect(numPhysical).toBe(numRanks * slotsPerRank);
  placement.layers.forEach((layer, l) => {
    expect(layer.physicalToLogical.length).toBe(numPhysical);
    expect(layer.logicalToPhysical.length).toBe(numPhysical);
    let replicas = 0;
    const broken: number[] = [];
    for (let e = 0; e < numExperts; e++) {
      const slots = replicasOf(layer, e);
      if (slots.length !== layer.replicaCounts[e] || slots.length < 1 || slots.some((p) => layer.physicalToLogical[p] !== e)) broken.push(e);
      replicas += slots.length;
    }
    expect(broken).toEqual([]);
    expect(replicas).toBe(numPhysical);
    const total = loads.layers[l]!.reduce((s, v) => s + v, 0);
    expect(layer.rankLoads.reduce((s, v) => s + v, 0)).toBeCloseTo(total, 6);
    expect(layer.maxOverMean).toBeGreaterThanOrEqual(1 - 1e-12);
  });
}

const eplbCase = fc
  .record({
    numNodes: fc.integer({ min: 1, max: 3 }),
    ranksPerNode: fc.integer({ min: 1, max: 4 }),
    groupsPerNode: fc.integer({ min: 1, max: 3 }),
    groupSize: fc.integer({ min: 1, max: 4 }),
    extraPerRank: fc.integer({ min: 0, max: 2 }),
    numLayers: fc.integer({ min: 1, max: 3 }),
    seed: fc.nat(),
  })
  .chain((c) => {
    const numRanks = c.numNodes * c.ranksPerNode;
    const numGroups = c.numNodes * c.groupsPerNode;
    const numExperts = numGroups * c.groupSize;
    // Smallest redundancy that gives every rank the same number of slots, plus some extra per rank.
    const redundantSlots = ((numRanks - (numExperts % numRanks)) % numRanks) + c.extraPerRank * numRanks;
    const row = fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: numExperts, maxLength: numExperts });
    return fc.record({
      shape: fc.constant({ numRanks, numNodes: c.numNodes, numGroups, redundantSlots }),
      rows: fc.array(row, { minLength: c.numLayers, maxLength: c.numLayers }),
    });
  });

describe('placeExperts — invariants for every policy', () => {
  for (const policy of ['eplb-hierarchical', 'eplb-global', 'greedy'] as PlacementPolicy[]) {
    it(`${policy}: every expert has a replica, ranks have equal slots, the maps agree, load is conserved, output is deterministic`, () => {
      fc.assert(
        fc.property(eplbCase, ({ shape, rows }) => {
          const loads = loadMatrixFromRows(rows);
          const placement = placeExperts(loads, { policy, ...shape });
          expectConsistent(placement, loads);
          const again = placeExperts(loads, { policy, ...shape });
          placement.layers.forEach((layer, l) => expect(again.layers[l]!.physicalToLogical).toEqual(layer.physicalToLogical));
        }),
        { numRuns: 60 },
      );
    });
  }

  it('eplb-hierarchical keeps every replica of a group inside the node the group was packed to', () => {
    fc.assert(
      fc.property(eplbCase, ({ shape, rows }) => {
        const loads = loadMatrixFromRows(rows);
        const placement = placeExperts(loads, { policy: 'eplb-hierarchical', ...shape });
        const groupSize = placement.numExperts / placement.numGroups;
        const slotsPerNode = placement.slotsPerRank * placement.ranksPerNode;
        for (const layer of placement.layers) {
          const nodesOfGroup = new Map<number, Set<number>>();
          layer.physicalToLogical.forEach((e, p) => {
            const g = Math.floor(e / groupSize);
            nodesOfGroup.set(g, (nodesOfGroup.get(g) ?? new Set()).add(Math.floor(p / slotsPerNode)));
          });
          expect([...nodesOfGroup.values()].every((nodes) => nodes.size === 1)).toBe(true);
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe('placeExperts — policies', () => {
  it('moge puts group g on device g, and several groups per device when there are more groups', () => {
    const loads = loadMatrixFromRows([Array.from({ length: 16 }, (_, e) => e)]);
    const oneEach = placeExperts(loads, { policy: 'moge', numRanks: 4, numGroups: 4 });
    expect(Array.from(oneEach.layers[0]!.physicalToLogical)).toEqual(Array.from({ length: 16 }, (_, e) => e));
    expect(oneEach.slotsPerRank).toBe(4);
    const twoEach = placeExperts(loads, { policy: 'moge', numRanks: 2, numGroups: 4 });
    expect(Array.from(twoEach.layers[0]!.rankLoads)).toEqual([0 + 1 + 2 + 3 + 4 + 5 + 6 + 7, 8 + 9 + 10 + 11 + 12 + 13 + 14 + 15]);
  });

  it('moge is perfectly balanced on MoGE-routed loads (every group gets the same tokens) however skewed inside groups', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 6 }), fc.nat(), (groups, groupSize, seed) => {
        const tokens = 1000;
        const row = new Float64Array(groups * groupSize);
        for (let g = 0; g < groups; g++) row[g * groupSize + ((seed + g) % groupSize)] = tokens; // all of a group's tokens on one expert
        const placement = placeExperts(loadMatrixFromRows([row]), { policy: 'moge', numRanks: groups, numGroups: groups });
        expect(placement.layers[0]!.maxOverMean).toBe(1);
      }),
    );
  });

  it('eplb policies beat the load-blind MoGE mapping on skewed top-k loads, and replicas help', () => {
    const loads = zipfLoads({ numLayers: 4, numExperts: 64, exponent: 1.2, assignmentsPerLayer: 64_000, seed: 7 });
    const common = { numRanks: 16, numNodes: 2, numGroups: 8 };
    const moge = meanMaxOverMean(placeExperts(loads, { policy: 'moge', numRanks: 16, numGroups: 16 }));
    const hierNoSpare = meanMaxOverMean(placeExperts(loads, { policy: 'eplb-hierarchical', ...common }));
    const hier = meanMaxOverMean(placeExperts(loads, { policy: 'eplb-hierarchical', ...common, redundantSlots: 16 }));
    const global = meanMaxOverMean(placeExperts(loads, { policy: 'eplb-global', ...common, redundantSlots: 16 }));
    expect(hierNoSpare).toBeLessThan(moge);
    expect(hier).toBeLessThan(hierNoSpare);
    // The global variant is free of the node constraint, so it is at least as balanced.
    expect(global).toBeLessThanOrEqual(hier + 1e-12);
  });

  it('with one slot per rank and enough spare slots the hottest expert is split across ranks', () => {
    const loads = loadMatrixFromRows([[100, 1, 1, 1]]);
    const placement = placeExperts(loads, { policy: 'eplb-global', numRanks: 8, redundantSlots: 4 });
    expect(placement.layers[0]!.replicaCounts[0]).toBe(5);
    expect(placement.slotsPerRank).toBe(1);
  });
});

describe('placeExperts — option errors name the field, the value and what would work', () => {
  const loads = loadMatrixFromRows([[1, 2, 3, 4, 5, 6, 7, 8]]);
  const issue = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      return (e as ValidationError).issues;
    }
    throw new Error('expected a ValidationError');
  };

  it('redundant slots that leave ranks uneven', () => {
    const [first] = issue(() => placeExperts(loads, { policy: 'eplb-global', numRanks: 3, redundantSlots: 0 }));
    expect(first).toMatchObject({ path: 'redundantSlots', received: 0 });
    expect(first!.expected).toMatch(/multiple of numRanks \(3\).*e\.g\. 1 or 4/);
  });

  it('replicas under the MoGE mapping, groups that do not align, nodes that do not divide ranks', () => {
    expect(issue(() => placeExperts(loads, { policy: 'moge', numRanks: 4, redundantSlots: 4 }))[0]).toMatchObject({ path: 'redundantSlots', received: 4 });
    expect(issue(() => placeExperts(loads, { policy: 'moge', numRanks: 4, numGroups: 3 }))[0]).toMatchObject({ path: 'numGroups', received: 3 });
    expect(issue(() => placeExperts(loads, { policy: 'eplb-hierarchical', numRanks: 4, numNodes: 4, numGroups: 2 }))[0]).toMatchObject({ path: 'numGroups' });
    expect(issue(() => placeExperts(loads, { policy: 'greedy', numRanks: 4, numNodes: 3 }))[0]).toMatchObject({ path: 'numNodes', received: 3 });
    expect(issue(() => placeExperts(loads, { policy: 'greedy' as PlacementPolicy, numRanks: 0 }))[0]).toMatchObject({ path: 'numRanks', received: 0 });
  });
});
