import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecomputeModuleSchema, SwapModuleSchema, ValidationError, type ParallelPlan, type RecomputeModule, type SwapModule } from '@moge/core';
import {
  estimateTrainingMemory,
  planMemory,
  type CostRates,
  type MemoryPlanResult,
  type MemoryPolicy,
  type PlanMemoryOptionsInput,
  type TrainingMemoryEstimate,
} from '../index';
import { absentModules } from '../training/plan-rules';
import { archAndPlan } from '../training/test-arbitraries';
import { arch, gptArch, plan } from '../training/test-archs';

const tinyMla = arch({
  numLayers: 4, hiddenSize: 64, numHeads: 4, numKvHeads: 4, headDim: 16, vocabSize: 100, denseFfnSize: 128,
  numDenseLayers: 1, numExperts: 8, numExpertGroups: 2, topK: 2, expertFfnSize: 32, sharedExpertFfnSize: 64,
  attention: 'mla', mla: { qLoraRank: 24, kvLoraRank: 16, qkRopeHeadDim: 8, qkNopeHeadDim: 16, vHeadDim: 16 },
});
const p = plan({ pp: 2, seqLength: 512, microBatchSize: 2, globalBatchSize: 8 });
const rates: CostRates = { flopsPerS: 1e12, hbmBytesPerS: 1e11, commBytesPerS: 1e10 };
const hostLink = { bandwidth: 2e9, latencyS: 2e-5 };

/** Added step time as planMemory documents it, recomputed here from the public estimate. */
function stepTime(e: TrainingMemoryEstimate): number {
  return Math.max(
    ...e.stages.map((s) => {
      const r = s.recomputePerStep;
      return r.flops / rates.flopsPerS + r.memoryBytes / rates.hbmBytesPerS + r.commBytes / rates.commBytesPerS + (s.swap.timePerStepS ?? 0);
    }),
  );
}

function subsets<T>(xs: T[]): T[][] {
  return xs.reduce<T[][]>((acc, x) => [...acc, ...acc.map((s) => [...s, x])], [[]]);
}

/** Every policy, through the public estimator: the brute force planMemory must agree with. */
function allPolicies(plan: ParallelPlan): ParallelPlan[] {
  const fine: RecomputeModule[] = ['norm', 'activation', 'attention-core', 'mla-up-proj', 'permute'];
  const swap: SwapModule[] = ['attention', 'mlp', 'moe', 'layer-input'];
  const out: ParallelPlan[] = [];
  for (const f of subsets(fine)) {
    for (const s of subsets(swap)) {
      out.push({ ...plan, recompute: f, swap: s });
      out.push({ ...plan, recompute: ['layer', ...f], swap: s, recomputeNumLayers: 1 });
      out.push({ ...plan, recompute: ['layer', ...f], swap: s });
    }
  }
  return out;
}

describe('planMemory', () => {
  const all = allPolicies(p).map((q) => estimateTrainingMemory(tinyMla, q, { hostLink }));
  const most = Math.max(...all.map((e) => e.totalBytes));
  const least = Math.min(...all.map((e) => e.totalBytes));

  it('changes nothing when everything fits', () => {
    const r = planMemory(tinyMla, p, most, { rates, hostLink });
    expect(r.fits).toBe(true);
    expect(r.policy).toEqual({ recompute: [], swap: [] });
    expect(r.addedTime.totalS).toBe(0);
    expect(r.estimate.totalBytes).toBe(r.baseline.totalBytes);
  });

  it('finds the least added time among every policy that fits (checked by brute force)', () => {
    for (const fraction of [0.2, 0.5, 0.8, 0.95]) {
      const budget = least + fraction * (most - least);
      const r = planMemory(tinyMla, p, budget, { rates, hostLink });
      const fitting = all.filter((e) => e.totalBytes <= budget);
      expect(r.fits).toBe(true);
      expect(r.estimate.totalBytes).toBeLessThanOrEqual(budget);
      expect(r.addedTime.totalS).toBeCloseTo(Math.min(...fitting.map(stepTime)), 12);
      // The returned plan, estimated on its own, gives the same answer.
      expect(estimateTrainingMemory(tinyMla, r.plan, { hostLink }).totalBytes).toBe(r.estimate.totalBytes);
      expect(r.summary).toMatch(/^fits: /);
    }
  });

  it('reports the recompute work and swap bytes the simulator needs to cost the choice', () => {
    const r = planMemory(tinyMla, p, least, { rates, hostLink });
    expect(r.fits).toBe(true);
    expect(r.addedTime.recompute.flops).toBeGreaterThan(0);
    expect(r.addedTime.swapBytesPerStep).toBe(r.estimate.stages[r.addedTime.stage]!.swap.bytesPerStep);
  });

  it('says what dominates and by how much when nothing fits', () => {
    const r = planMemory(tinyMla, p, least - 1024, { rates, hostLink });
    expect(r.fits).toBe(false);
    expect(r.estimate.totalBytes).toBe(least);
    expect(r.shortfall!.overBytes).toBe(1024);
    const s = r.estimate.stages[r.shortfall!.stage]!;
    const parts = { weights: s.weightsBytes, gradients: s.gradientsBytes, optimizer: s.optimizerBytes, activations: s.activationsBytes, overhead: s.overheadBytes };
    expect(r.shortfall!.dominant.bytes).toBe(Math.max(...Object.values(parts)));
    expect(parts[r.shortfall!.dominant.component]).toBe(r.shortfall!.dominant.bytes);
    expect(r.summary).toMatch(/does not fit: stage \d needs at least .* \(over by 0\.00 GiB\); with every recompute and swap option/);
  });

  it('does not advise more pipeline stages for activations: the least-memory peak stays put as pp grows', () => {
    const gpt = gptArch(8, 8, 64);
    const run = (pp: number) => planMemory(gpt, plan({ pp, seqLength: 8192, globalBatchSize: 16 }), 1024, { rates });
    const [two, eight] = [run(2), run(8)];
    expect(two.shortfall!.dominant.component).toBe('activations');
    // Stage 0 holds pp micro-batches of 8 / pp layers: four times the stages leave its activations as they were.
    const stage0 = (r: MemoryPlanResult) => r.estimate.stages[0]!.activationsBytes;
    expect(stage0(eight)).toBeGreaterThanOrEqual(stage0(two));
    expect(eight.estimate.activationsBytes).toBeGreaterThan(0.9 * two.estimate.activationsBytes);
    const advice = two.summary.slice(two.summary.indexOf('The largest part'));
    expect(advice).toMatch(/raise tp \(with sequenceParallel\) or cp/);
    expect(advice).not.toMatch(/\/ pp|raise[^;]*\bpp\b/);
  });

  it('says no recompute can help when the static part alone exceeds the budget', () => {
    const r = planMemory(tinyMla, p, 1024, { rates, hostLink });
    expect(r.summary).toMatch(/weights, gradients, optimizer states and overhead alone need .* no recompute or swap can help/);
  });

  it('advises distributedOptimizer only to plans without it, and more data-parallel ranks where it already shards', () => {
    const dense = arch({ numLayers: 4, hiddenSize: 256, numHeads: 4, numKvHeads: 4, headDim: 64, vocabSize: 1000, denseFfnSize: 1024 });
    const advice = (dp: number, distributedOptimizer: boolean) => {
      const r = planMemory(dense, plan({ dp, globalBatchSize: dp, seqLength: 16, distributedOptimizer }), 1e6, { rates });
      expect(r.shortfall!.dominant.component).toBe('optimizer');
      return r.summary.slice(r.summary.indexOf('The largest part'));
    };
    // It is on by default: telling such a plan to enable it sent users looking for a switch already set.
    expect(advice(2, true)).toMatch(/distributedOptimizer already shards them over dp × cp \(2\); raise dp/);
    expect(advice(2, true)).not.toMatch(/set distributedOptimizer|enable/);
    expect(advice(2, false)).toMatch(/set distributedOptimizer: true, which shards the optimizer states over dp × cp \(2\)/);
    expect(advice(1, true)).toMatch(/raise dp: the optimizer states shard over data-parallel ranks, and this plan has one/);
    expect(advice(1, false)).toMatch(/raise dp and set distributedOptimizer: true/);
    // With experts, the expert-data-parallel group is named too.
    const moe = planMemory(tinyMla, plan({ dp: 4, ep: 2, seqLength: 16, globalBatchSize: 4 }), 1e5, { rates });
    expect(moe.shortfall!.dominant.component).toBe('optimizer');
    expect(moe.summary).toMatch(/already shards them over dp × cp \(4\) for dense parameters and the expert-data-parallel group \(2\) for experts/);
  });

  it('leaves swap out without a host link, and says so', () => {
    const r = planMemory(tinyMla, p, 1024, { rates });
    expect(r.policy.swap).toEqual([]);
    expect(r.summary).toMatch(/swap was not tried/);
  });

  it('refuses a budget that is not a positive number', () => {
    expect(() => planMemory(tinyMla, p, -1, { rates })).toThrow(ValidationError);
    expect(() => planMemory(tinyMla, p, 1e9, { rates: { ...rates, flopsPerS: 0 } })).toThrow(/rates\.flopsPerS: got 0/);
  });
});

/** Added step time of an estimate as planMemory defines it: the slowest stage's recompute time plus its unhidden swap time. */
function addedTimeOf(e: TrainingMemoryEstimate, r: CostRates, swapOverlap: number): number {
  return Math.max(
    ...e.stages.map((s) => {
      const c = s.recomputePerStep;
      return c.flops / r.flopsPerS + c.memoryBytes / r.hbmBytesPerS + c.commBytes / r.commBytesPerS + (s.swap.timePerStepS ?? 0) * (1 - swapOverlap);
    }),
  );
}

const withPolicyFields = (p: ParallelPlan, policy: MemoryPolicy): ParallelPlan => {
  const q: ParallelPlan = { ...p, recompute: policy.recompute, swap: policy.swap };
  if (policy.recomputeNumLayers === undefined) delete q.recomputeNumLayers;
  else q.recomputeNumLayers = policy.recomputeNumLayers;
  return q;
};

/**
 * A run to plan: a small arch (up to 6 layers: the planner's candidates grow with layers per chunk) and a
 * valid plan, estimator options, planner knobs, and what the planner may use.
 */
const planningCase = archAndPlan(6).chain(({ arch, plan }) =>
  fc
    .record({
      training: fc.record(
        {
          hostLink: fc.record({ bandwidth: fc.double({ min: 1e8, max: 1e11, noNaN: true }), latencyS: fc.double({ min: 0, max: 1e-4, noNaN: true }) }),
          loadImbalanceFactor: fc.double({ min: 1, max: 2, noNaN: true }),
          activationOverheadFactor: fc.double({ min: 1, max: 1.5, noNaN: true }),
          frameworkOverheadBytes: fc.constantFrom(0, 4096, 1 << 20),
          swapPrefetchLayers: fc.integer({ min: 1, max: 3 }),
          flashAttention: fc.boolean(),
          dropout: fc.boolean(),
        },
        { requiredKeys: [] },
      ),
      rates: fc.record({
        flopsPerS: fc.double({ min: 1e9, max: 1e15, noNaN: true }),
        hbmBytesPerS: fc.double({ min: 1e9, max: 1e13, noNaN: true }),
        commBytesPerS: fc.double({ min: 1e8, max: 1e12, noNaN: true }),
      }),
      swapOverlap: fc.double({ min: 0, max: 1, noNaN: true }),
      allowRecompute: fc.option(fc.subarray([...RecomputeModuleSchema.options])),
      allowSwap: fc.option(fc.subarray([...SwapModuleSchema.options])),
      /** Two budgets, each below the fullest policy's peak, between it and no policy's, or above that. */
      budgets: fc.array(fc.record({ region: fc.constantFrom('below', 'between', 'ample'), f: fc.double({ min: 0, max: 1, noNaN: true }) }), { minLength: 2, maxLength: 2 }),
      /** Any policy the planner could have picked, to compare its choice against. */
      pick: fc.record({ recompute: fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }), numLayers: fc.option(fc.nat({ max: 8 })), swap: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }) }),
    })
    .map((c) => {
      // The planner is given the lists as drawn; the test's own estimates take the modules the arch
      // has (a plan naming another is refused), which is all the planner may pick from.
      const absent = absentModules(arch);
      const has = (field: 'recompute' | 'swap') => (m: string) => !absent.some((a) => a.field === field && a.module === m);
      const allowRecompute = (c.allowRecompute ?? [...RecomputeModuleSchema.options]).filter(has('recompute'));
      const allowSwap = c.training.hostLink ? (c.allowSwap ?? [...SwapModuleSchema.options]).filter(has('swap')) : [];
      const any: MemoryPolicy = {
        recompute: allowRecompute.filter((_, i) => c.pick.recompute[i]),
        swap: allowSwap.filter((_, i) => c.pick.swap[i]),
      };
      if (any.recompute.includes('layer') && c.pick.numLayers !== null) any.recomputeNumLayers = c.pick.numLayers;
      const options: PlanMemoryOptionsInput = {
        ...c.training,
        rates: c.rates,
        swapOverlap: c.swapOverlap,
        ...(c.allowRecompute ? { allowRecompute: c.allowRecompute } : {}),
        ...(c.allowSwap ? { allowSwap: c.allowSwap } : {}),
      };
      return { arch, plan, training: c.training, options, allowRecompute, allowSwap, any, budgets: c.budgets, rates: c.rates, swapOverlap: c.swapOverlap };
    }),
);

describe('planMemory (property over small archs, plans and budgets)', () => {
  it('a fitting plan fits by an independent estimate; otherwise nothing the planner could pick fits; more budget is never slower', () => {
    fc.assert(
      fc.property(planningCase, (c) => {
        const estimate = (policy: MemoryPolicy) => estimateTrainingMemory(c.arch, withPolicyFields(c.plan, policy), c.training);
        const baseline = estimate({ recompute: [], swap: [] });
        // Everything the planner may use at once: every allowed recompute (whole layers included) and swap.
        const fullest = estimate({ recompute: c.allowRecompute, swap: c.allowSwap });
        const fineOnly = estimate({ recompute: c.allowRecompute.filter((m) => m !== 'layer'), swap: c.allowSwap });
        const least = Math.min(fullest.totalBytes, fineOnly.totalBytes);
        const at = ({ region, f }: { region: string; f: number }) =>
          region === 'below' ? least * (0.8 + 0.2 * f) : region === 'between' ? least + f * (baseline.totalBytes - least) : baseline.totalBytes * (1 + f);
        const [small, large] = c.budgets.map(at).sort((x, y) => x - y) as [number, number];
        const other = estimate(c.any);

        const check = (budget: number): MemoryPlanResult => {
          const r = planMemory(c.arch, c.plan, budget, c.options);
          expect(r.budgetBytes).toBe(budget);
          // The plan it returns, estimated on its own with the same options, is what it reports.
          const own = estimateTrainingMemory(c.arch, r.plan, c.training);
          expect(own.totalBytes).toBe(r.estimate.totalBytes);
          expect(r.addedTime.totalS).toBe(addedTimeOf(own, c.rates, c.swapOverlap));
          // It only uses what it was allowed.
          expect(r.policy.recompute.every((m) => c.allowRecompute.includes(m))).toBe(true);
          expect(r.policy.swap.every((m) => c.allowSwap.includes(m))).toBe(true);
          if (r.fits) {
            expect(own.totalBytes).toBeLessThanOrEqual(budget);
            for (const s of own.stages) expect(s.totalBytes).toBeLessThanOrEqual(budget);
            expect(r.shortfall).toBeUndefined();
            // No policy it could have picked that fits is faster.
            if (other.totalBytes <= budget) expect(r.addedTime.totalS).toBeLessThanOrEqual(addedTimeOf(other, c.rates, c.swapOverlap) * (1 + 1e-12));
          } else {
            expect(own.totalBytes).toBeGreaterThan(budget);
            // Nothing fits: not the fullest policies, not any other; the choice is the least-memory one.
            expect(fullest.totalBytes).toBeGreaterThan(budget);
            expect(fineOnly.totalBytes).toBeGreaterThan(budget);
            expect(other.totalBytes).toBeGreaterThan(budget);
            expect(own.totalBytes).toBeLessThanOrEqual(Math.min(fullest.totalBytes, fineOnly.totalBytes, other.totalBytes, baseline.totalBytes));
            expect(r.shortfall!.overBytes).toBe(own.totalBytes - budget);
          }
          return r;
        };
        const a = check(small);
        const b = check(large);
        // Monotone in the budget: what fits a smaller budget fits a larger one, never slower.
        if (a.fits) {
          expect(b.fits).toBe(true);
          expect(b.addedTime.totalS).toBeLessThanOrEqual(a.addedTime.totalS);
        }
        // An ample budget needs nothing at all.
        if (large >= baseline.totalBytes) expect(b.addedTime.totalS).toBe(0);
      }),
      { numRuns: 250 },
    );
  });
});
