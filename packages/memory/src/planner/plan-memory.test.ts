import { describe, expect, it } from 'vitest';
import { ValidationError, type ParallelPlan, type RecomputeModule, type SwapModule } from '@moge/core';
import { estimateTrainingMemory, planMemory, type CostRates, type TrainingMemoryEstimate } from '../index';
import { arch, plan } from '../training/test-archs';

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

  it('says no recompute can help when the static part alone exceeds the budget', () => {
    const r = planMemory(tinyMla, p, 1024, { rates, hostLink });
    expect(r.summary).toMatch(/weights, gradients, optimizer states and overhead alone need .* no recompute or swap can help/);
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
