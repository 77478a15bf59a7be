import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ValidationError } from '@moge/core';
import { loadMatrixFromRows, type LoadMatrix } from '../loads/load-matrix';
import { zipfLoads } from '../loads/zipf';
import { placeExperts, meanMaxOverMean, type Placement } from './place';
import { balancedPacking } from './balanced-packing';
import { replicateExperts } from './replicate';
import { expectLayerConsistent, loadRow } from '../test-support/placement-invariants';
import type { PlacementPolicy } from './options';

/** The structural invariants every placement must satisfy, whatever the policy. */
function expectConsistent(placement: Placement, loads: LoadMatrix): void {
  const { numRanks, slotsPerRank, numExperts, numPhysical } = placement;
  expect(numPhysical).toBe(numRanks * slotsPerRank);
  expect(numPhysical).toBe(numExperts + placement.redundantSlots);
  expect(placement.layers.length).toBe(loads.numLayers);
  placement.layers.forEach((layer, l) => expectLayerConsistent(layer, numRanks, numExperts, loads.layers[l]!));
}

const eplbCase = fc
  .record({
    numNodes: fc.integer({ min: 1, max: 3 }),
    ranksPerNode: fc.integer({ min: 1, max: 4 }),
    groupsPerNode: fc.integer({ min: 1, max: 3 }),
    groupSize: fc.integer({ min: 1, max: 4 }),
    extraPerRank: fc.integer({ min: 0, max: 2 }),
    numLayers: fc.integer({ min: 1, max: 3 }),
  })
  .chain((c) => {
    const numRanks = c.numNodes * c.ranksPerNode;
    const numGroups = c.numNodes * c.groupsPerNode;
    const numExperts = numGroups * c.groupSize;
    // Smallest redundancy that gives every rank the same number of slots, plus some extra per rank.
    const redundantSlots = ((numRanks - (numExperts % numRanks)) % numRanks) + c.extraPerRank * numRanks;
    const row = loadRow(numExperts);
    return fc.record({
      shape: fc.constant({ numRanks, numNodes: c.numNodes, numGroups, redundantSlots }),
      rows: fc.array(row, { minLength: c.numLayers, maxLength: c.numLayers }),
    });
  });

/**
 * A valid MoGE shape where groups and ranks differ as the policy allows: a multiple of the ranks
 * (several groups per device) or a divisor of them (one group over several devices, its size a
 * multiple of the devices it spans). `numGroups` is sometimes left out, which means one per rank.
 */
const mogeCase = fc
  .record({
    numNodes: fc.integer({ min: 1, max: 3 }),
    ranksPerNode: fc.integer({ min: 1, max: 4 }),
    numLayers: fc.integer({ min: 1, max: 3 }),
    pick: fc.nat(),
    sizeUnit: fc.integer({ min: 1, max: 3 }),
    omitGroups: fc.boolean(),
  })
  .chain((c) => {
    const numRanks = c.numNodes * c.ranksPerNode;
    const divisors = Array.from({ length: numRanks }, (_, i) => i + 1).filter((g) => numRanks % g === 0);
    const candidates = [...divisors, 2 * numRanks, 3 * numRanks, 4 * numRanks];
    const numGroups = c.omitGroups ? numRanks : candidates[c.pick % candidates.length]!;
    // A group spanning several ranks needs a multiple of that many experts so ranks get equal slots.
    const groupSize = numGroups < numRanks ? (numRanks / numGroups) * c.sizeUnit : c.sizeUnit;
    const numExperts = numGroups * groupSize;
    const options = c.omitGroups ? { numRanks, numNodes: c.numNodes } : { numRanks, numNodes: c.numNodes, numGroups };
    return fc.record({
      options: fc.constant(options),
      numGroups: fc.constant(numGroups),
      rows: fc.array(loadRow(numExperts), { minLength: c.numLayers, maxLength: c.numLayers }),
      otherRows: fc.array(loadRow(numExperts), { minLength: c.numLayers, maxLength: c.numLayers }),
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
        { numRuns: 100 },
      );
    });
  }

  it('moge (groups a multiple or a divisor of ranks): the maps agree, no replicas, each group on its own contiguous ranks, loads ignored', () => {
    fc.assert(
      fc.property(mogeCase, ({ options, numGroups, rows, otherRows }) => {
        const loads = loadMatrixFromRows(rows);
        const placement = placeExperts(loads, { policy: 'moge', ...options });
        expectConsistent(placement, loads);
        const { numRanks, numExperts, slotsPerRank } = placement;
        expect(placement.numGroups).toBe(numGroups);
        expect(placement.redundantSlots).toBe(0);
        const groupSize = numExperts / numGroups;
        for (const layer of placement.layers) {
          expect(Array.from(layer.replicaCounts).every((n) => n === 1)).toBe(true);
          // Ranks of every group and groups of every rank, from the slots.
          const ranksOfGroup = Array.from({ length: numGroups }, () => new Set<number>());
          const groupsOfRank = Array.from({ length: numRanks }, () => new Set<number>());
          layer.physicalToLogical.forEach((e, p) => {
            const g = Math.floor(e / groupSize);
            const r = Math.floor(p / slotsPerRank);
            ranksOfGroup[g]!.add(r);
            groupsOfRank[r]!.add(g);
          });
          if (numGroups >= numRanks) {
            // Several whole groups per device: rank r holds exactly groups r·m .. r·m + m − 1.
            const m = numGroups / numRanks;
            groupsOfRank.forEach((gs, r) => expect([...gs].sort((a, b) => a - b)).toEqual(Array.from({ length: m }, (_, i) => r * m + i)));
          } else {
            // One group over m devices: group g holds exactly ranks g·m .. g·m + m − 1, and nothing else is there.
            const m = numRanks / numGroups;
            ranksOfGroup.forEach((rs, g) => expect([...rs].sort((a, b) => a - b)).toEqual(Array.from({ length: m }, (_, i) => g * m + i)));
            groupsOfRank.forEach((gs) => expect(gs.size).toBe(1));
          }
        }
        // The MoGE mapping ignores loads: other loads give the same slots.
        const other = placeExperts(loadMatrixFromRows(otherRows), { policy: 'moge', ...options });
        placement.layers.forEach((layer, l) => expect(other.layers[l]!.physicalToLogical).toEqual(layer.physicalToLogical));
      }),
      { numRuns: 100 },
    );
  });

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
      { numRuns: 100 },
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

  it("eplb-global's busiest rank is never heavier than DeepSeek EPLB's (uncapped replicas, plain packing) nor the capped replicas packed plainly", () => {
    // Keeping an expert's replicas on distinct ranks, and capping its copies at one per rank, used to
    // be hard rules; either could force a heavier rank than EPLB's own algorithm.
    const plainPeak = (row: Float64Array, numPhysical: number, numRanks: number, cap?: number) => {
      const r = replicateExperts(row, numPhysical, cap);
      return Math.max(...balancedPacking(Array.from(r.physicalToLogical, (e) => row[e]! / r.replicaCounts[e]!), numRanks).packWeights);
    };
    fc.assert(
      fc.property(eplbCase, ({ shape, rows }) => {
        const loads = loadMatrixFromRows(rows);
        const placement = placeExperts(loads, { policy: 'eplb-global', ...shape });
        loads.layers.forEach((row, l) => {
          const { numPhysical, numRanks } = placement;
          const bound = Math.min(plainPeak(row, numPhysical, numRanks), plainPeak(row, numPhysical, numRanks, numRanks));
          expect(Math.max(...placement.layers[l]!.rankLoads)).toBeLessThanOrEqual(bound * (1 + 1e-12) + 1e-300);
        });
      }),
      { numRuns: 200, seed: 9001 },
    );
  });

  it('eplb-hierarchical gives a hot expert a copy beyond one per rank when that balances the node better', () => {
    // Node 0 holds experts 0–2 and 9–11 on 2 ranks of 4 slots. Capped at 2 copies, expert 9 (7479)
    // peaked at 5279.5 (max/mean 1.76); EPLB's third copy lets the rank with two copies take only the
    // two lightest experts besides: 2·7479/3 + 71 + 60 = 5117 (1.706).
    const loads = loadMatrixFromRows([[85, 60, 71, 230, 328, 105, 132, 886, 171, 7479, 1946, 507]]);
    const layer = placeExperts(loads, { policy: 'eplb-hierarchical', numRanks: 4, numNodes: 2, numGroups: 4, redundantSlots: 4 }).layers[0]!;
    expect(layer.replicaCounts[9]).toBe(3);
    expect(Math.max(...layer.rankLoads)).toBeCloseTo((2 * 7479) / 3 + 71 + 60, 9);
  });

  it('and keeps the cap where it balances better (one hot expert on 4 ranks of 3 slots: 4 copies, not 5)', () => {
    const layer = placeExperts(loadMatrixFromRows([[1000, 10, 10, 10, 10, 10, 10, 10]]), { policy: 'eplb-global', numRanks: 4, redundantSlots: 4 }).layers[0]!;
    expect(layer.replicaCounts[0]).toBe(4);
    expect(layer.maxOverMean).toBeCloseTo(1.009, 3);
  });

  it('lets two replicas of an expert share a rank when keeping them apart would make a heavier rank', () => {
    // 9 experts (9000 tokens), 9 ranks of 2 slots: expert 7 gets 7 copies of 750.3, expert 2 three of
    // 519.3. Keeping expert 2's copies apart put its third copy next to a copy of expert 7 (1269.6,
    // max/mean 1.27); EPLB's packing pairs two copies of expert 2 on one rank (1038.7) and peaks at a
    // copy of expert 7 with one of expert 1 (750.3 + 383 = 1133.3).
    const loads = loadMatrixFromRows([[462, 766, 1558, 112, 137, 173, 227, 5252, 313]]);
    const layer = placeExperts(loads, { policy: 'eplb-global', numRanks: 9, numNodes: 3, redundantSlots: 9 }).layers[0]!;
    expect(Array.from(layer.replicaCounts)).toEqual([1, 2, 3, 1, 1, 1, 1, 7, 1]);
    expect(Math.max(...layer.rankLoads)).toBeCloseTo(5252 / 7 + 766 / 2, 9);
    expect(layer.maxOverMean).toBeCloseTo((5252 / 7 + 766 / 2) / 1000, 12);
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

  it('loads built in code: a NaN, negative or wrong-length row is refused with the row and expert named', () => {
    const layers = (...rows: number[][]) => ({ numLayers: rows.length, numExperts: 4, layers: rows.map((r) => Float64Array.from(r)) });
    const options = { policy: 'eplb-global', numRanks: 2 } as const;
    for (const policy of ['moge', 'eplb-global', 'eplb-hierarchical', 'greedy'] as const) {
      expect(issue(() => placeExperts(layers([1, 2, 3, 4], [1, Number.NaN, 3, 4]), { ...options, policy }))).toEqual([
        { path: 'loads.layers[1][1]', received: Number.NaN, expected: 'a finite load in [0, 1000000000000000]' },
      ]);
    }
    expect(issue(() => placeExperts(layers([1, -3, 3, 4]), options))[0]).toMatchObject({ path: 'loads.layers[0][1]', received: -3 });
    // A short row failed as "logical expert 3 has no replica"; a long one was placed without its extra experts.
    expect(issue(() => placeExperts(layers([1, 2, 3, 4], [1, 2, 3]), options))[0]).toMatchObject({ path: 'loads.layers[1]', received: 3 });
    expect(issue(() => placeExperts(layers([1, 2, 3, 4, 5]), options))[0]).toMatchObject({ path: 'loads.layers[0]', received: 5 });
    expect(issue(() => placeExperts({ numLayers: 2, numExperts: 4, layers: [new Float64Array(4)] }, options))[0]).toMatchObject({ path: 'loads.layers' });
  });

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

  it('moge with ranks that do not divide the experts names numRanks, not redundant slots it would reject nor groups left out', () => {
    // 8 experts on 3 ranks used to answer "redundantSlots: e.g. 1 or 4" (then "0 for policy moge") and "numGroups: got 3".
    const issues = issue(() => placeExperts(loads, { policy: 'moge', numRanks: 3 }));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: 'numRanks', received: 3 });
    expect(issues[0]!.expected).toMatch(/divisor of the 8 experts/);
  });

  it('moge accepts exactly the shapes it can lay out, and otherwise names every field at fault, with its value, never advising a replica', () => {
    const mogeOptions = fc.record(
      {
        numRanks: fc.integer({ min: 1, max: 8 }),
        numNodes: fc.integer({ min: 1, max: 4 }),
        numGroups: fc.integer({ min: 1, max: 16 }),
        redundantSlots: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 8 }) }),
      },
      { requiredKeys: ['numRanks'] },
    );
    fc.assert(
      fc.property(mogeOptions, fc.integer({ min: 1, max: 24 }), (given, numExperts) => {
        const loads = loadMatrixFromRows([Array.from({ length: numExperts }, (_, e) => e)]);
        const { numRanks } = given;
        const numNodes = given.numNodes ?? 1;
        const numGroups = given.numGroups ?? numRanks;
        const redundantSlots = given.redundantSlots ?? 0;
        // The rules, stated independently of resolvePlacementShape.
        const faults = new Set<string>();
        if (numRanks % numNodes !== 0) faults.add('numNodes');
        if (redundantSlots !== 0) faults.add('redundantSlots');
        if (numExperts % numRanks !== 0) faults.add('numRanks');
        if (numExperts % numGroups !== 0 || (numGroups % numRanks !== 0 && numRanks % numGroups !== 0)) faults.add('numGroups');
        const run = () => placeExperts(loads, { policy: 'moge', ...given });
        if (faults.size === 0) {
          expectConsistent(run(), loads);
          return;
        }
        const issues = issue(run);
        const paths = new Set(issues.map((i) => i.path));
        for (const i of issues) {
          // Only options the caller gave (numRanks always is): a defaulted numGroups is not theirs to fix.
          expect(Object.keys(given)).toContain(i.path);
          expect(i.received).toBe(given[i.path as keyof typeof given]);
          expect(String(i.expected).length).toBeGreaterThan(0);
          // The MoGE mapping has no replicas: advice to add redundant slots could only fail again.
          if (i.path === 'redundantSlots') expect(i.expected).toMatch(/^0 for policy "moge"/);
        }
        for (const f of faults) {
          if (f === 'numGroups' && given.numGroups === undefined) continue; // the default (one per rank) fails only with numRanks
          expect(paths).toContain(f);
        }
      }),
      { numRuns: 300 },
    );
  });
});
