import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ParallelPlanSchema, ValidationError, type ParallelPlanInput } from '@moge/core';
import { parseClusterSpec } from '@moge/ascend-hal';
import { getPreset } from '@moge/model';
import { seqLengthMultiple, tpSplitsFfn, tpSplitsKvHeads } from '@moge/memory';
import { enumeratePlans, PlanSpaceSchema } from './search-space';
import { simulateTraining } from './simulate';

const tiny = getPreset('moge-tiny'); // 4 query heads, 2 KV heads, 8 experts
const pro = getPreset('pangu-pro-moe');
const dense = getPreset('dense-32b');

function issuesOf(f: () => unknown): { path: string; expected: string }[] {
  try {
    f();
  } catch (e) {
    if (e instanceof ValidationError) return e.issues;
    throw e;
  }
  return [];
}

const train = (arch: typeof tiny, devices: number, plan: ParallelPlanInput) =>
  simulateTraining({ arch, cluster: parseClusterSpec(`atlas-800t-a2:${devices}`), plan: ParallelPlanSchema.parse(plan) });

describe('training plans the engines refuse', () => {
  it('refuses a tp that does not divide the KV heads (Megatron shards query groups, never replicates them)', () => {
    const issues = issuesOf(() => train(tiny, 8, { tp: 4, dp: 2, sequenceParallel: true, globalBatchSize: 4, seqLength: 512 }));
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe('plan.tp');
    expect(issues[0]!.expected).toMatch(/divisor of numKvHeads \(2\).*e\.g\. tp 2$/);
    // tp 2 divides both and runs.
    expect(train(tiny, 8, { tp: 2, dp: 4, sequenceParallel: true, globalBatchSize: 8, seqLength: 512 }).stepTimeS).toBeGreaterThan(0);
  });

  it('refuses a sequence that ring attention cannot cut into 2·cp chunks, suggesting a length', () => {
    const issues = issuesOf(() => train(pro, 64, { cp: 2, dp: 4, ep: 8, globalBatchSize: 16, seqLength: 1026, recompute: ['layer'] }));
    expect(issues.map((i) => i.path)).toEqual(['plan.seqLength']);
    expect(issues[0]!.expected).toMatch(/multiple of 4 .*2 × cp.*e\.g\. seqLength 1028/);
  });

  it('refuses a sequence that sequence parallelism cannot split over tp', () => {
    const issues = issuesOf(() => train(pro, 64, { tp: 8, cp: 2, ep: 8, pp: 4, sequenceParallel: true, globalBatchSize: 16, seqLength: 4100 }));
    expect(issues.map((i) => i.path)).toEqual(['plan.seqLength']);
    expect(issues[0]!.expected).toMatch(/multiple of 16 .*cp × tp \(16\).*e\.g\. seqLength 4112/);
  });

  it('refuses expert parallelism on a model without experts, naming ep and etp', () => {
    const issues = issuesOf(() => train(dense, 8, { dp: 8, ep: 4, etp: 2, globalBatchSize: 8, recompute: ['layer'] }));
    expect(issues.map((i) => i.path)).toEqual(['plan.ep', 'plan.etp']);
    expect(issues[0]!.expected).toMatch(/^1: dense-32b has no MoE layers/);
  });

  it('names globalBatchSize, with a value that works, when the interleaved schedule cannot group the micro-batches', () => {
    const issues = issuesOf(() => train(dense, 16, { tp: 4, pp: 4, vpp: 2, sequenceParallel: true, globalBatchSize: 6, noopLayers: 0 }));
    expect(issues.map((i) => i.path)).toEqual(['plan.globalBatchSize']);
    expect(issues[0]!.expected).toMatch(/multiple of microBatchSize × dp × pp \(1×1×4 = 4\).*gives 6; e\.g\. globalBatchSize 8, or vpp 1/);
  });

  it('refuses a tp or etp that does not split the FFN widths into whole columns', () => {
    const odd = { ...dense, denseFfnSize: 27650 }; // 2 × 5^2 × 7 × 79: tp 4 leaves half a column
    const issues = issuesOf(() => train(odd, 8, { tp: 4, dp: 2, globalBatchSize: 8, recompute: ['layer'] }));
    expect(issues.map((i) => i.path)).toEqual(['plan.tp']);
    expect(issues[0]!.expected).toMatch(/a divisor of denseFfnSize \(27650\).*e\.g\. tp 2$/);
    const moe = { ...pro, sharedExpertFfnSize: 5004, expertFfnSize: 1350 }; // 5004 = 4 × 1251
    const moeIssues = issuesOf(() => train(moe, 64, { tp: 8, ep: 4, etp: 4, dp: 2, pp: 4, sequenceParallel: true, globalBatchSize: 16, recompute: ['layer'] }));
    expect(moeIssues.map((i) => i.path)).toEqual(['plan.tp', 'plan.etp']);
    // The suggestion also splits the 40 heads (tp 6 would split the width alone).
    expect(moeIssues[0]!.expected).toMatch(/a divisor of sharedExpertFfnSize \(5004\).*e\.g\. tp 4$/);
    expect(moeIssues[1]!.expected).toMatch(/a divisor of expertFfnSize \(1350\).*use etp 3 or fewer/);
  });

  it("lists @moge/memory's rules and its own in one error", () => {
    const issues = issuesOf(() => train(tiny, 8, { tp: 4, pp: 2, noopLayers: 1, sequenceParallel: false, globalBatchSize: 4, seqLength: 510 }));
    expect(issues.map((i) => i.path).sort()).toEqual(['plan.noopLayers', 'plan.sequenceParallel', 'plan.tp'].sort());
  });
});

describe('the search proposes only plans the rules accept', () => {
  it('holds for any architecture shape, sequence length and cluster (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 2, 4, 8),
        fc.integer({ min: 64, max: 4200 }),
        fc.constantFrom(4, 8, 16),
        fc.constantFrom(0, 96, 100, 250),
        (kvHeads, seqLength, devices, sharedWidth) => {
          const arch = { ...tiny, numHeads: 8, numKvHeads: kvHeads, sharedExpertFfnSize: sharedWidth };
          const space = PlanSpaceSchema.parse({ recompute: ['none'], microBatchSize: [1] });
          for (const plan of enumeratePlans(arch, space, { globalBatchSize: 16, seqLength, devices, devicesPerNode: 8 })) {
            expect(tpSplitsKvHeads(arch, plan.tp)).toBe(true);
            expect(tpSplitsFfn(arch, plan.tp)).toBe(true);
            expect(plan.seqLength % seqLengthMultiple(plan)).toBe(0);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
