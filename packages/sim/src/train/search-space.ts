import { z } from 'zod';
import { ParallelPlanSchema, type MoeArch, type ParallelPlan, type RecomputeModule } from '@moge/core';
import { hasMoeLayers } from '@moge/memory';
import { batchRule, cpRule, expertRule, noopLayersFor, ppRule, tpRule, vppRule, type PlanTemplate } from './plan-space-rules';

const ints = z.array(z.number().int().positive()).min(1);

/** The plan dimensions a search enumerates; every list is a set of candidate values. */
// Strict: a misspelt dimension (`tpp`) would otherwise be dropped and its default searched instead.
export const PlanSpaceSchema = z.strictObject({
  tp: ints.default([1, 2, 4, 8]),
  cp: ints.default([1, 2, 4, 8]),
  pp: ints.default([1, 2, 4, 5, 6, 8, 10, 12, 16]),
  vpp: ints.default([1, 2, 3, 4, 5]),
  ep: ints.default([1, 2, 4, 8, 16, 32, 64]),
  etp: ints.default([1]),
  microBatchSize: ints.default([1, 2, 4]),
  /** Recompute policies: none, fine-grained (per attention kind, see below) and whole layers. */
  recompute: z.array(z.enum(['none', 'fine', 'full'])).min(1).default(['none', 'fine', 'full']),
  /** At most this many no-op layer slots to pad the layers to pp × vpp chunks (Pangu Pro used 2). */
  maxNoopLayers: z.number().int().nonnegative().default(4),
});
export type PlanSpace = z.output<typeof PlanSpaceSchema>;
export type PlanSpaceInput = z.input<typeof PlanSpaceSchema>;

/** Fine-grained recompute as the Pangu papers use it: MLA up-projections (or the attention core), permute, activations. */
export function fineRecompute(arch: MoeArch): RecomputeModule[] {
  const modules: RecomputeModule[] = [arch.attention === 'mla' ? 'mla-up-proj' : 'attention-core', 'activation'];
  if (arch.numExperts > 0) modules.push('permute');
  return modules;
}

export type { PlanTemplate } from './plan-space-rules';

/**
 * Every plan of `space` that can run `arch` on exactly `t.devices` devices with the given batch:
 * TP within a node and dividing the heads, KV heads and FFN widths, ETP the expert width, the sequence splitting over CP and SP (@moge/memory's plan-rules), EP dividing the experts and the stage's devices, layers
 * padded with a few no-op slots to fill pp × vpp chunks, micro-batch counts the interleaved schedule
 * accepts (the checks are plan-space-rules.ts). Plans are generated lazily: a search over tens of thousands needs no big array.
 */
export function* enumeratePlans(arch: MoeArch, space: PlanSpace, t: PlanTemplate): Generator<ParallelPlan> {
  // Parsed once for the defaults; the loops below enforce the schema's cross-field rules themselves,
  // so each plan is a plain spread (a search enumerates hundreds of thousands). Parsed at the first
  // plan: explainEmptyPlanSpace probes thousands of batches and clusters that have none.
  let base: ParallelPlan | undefined;
  const moe = hasMoeLayers(arch);
  for (const tp of space.tp) {
    if (tpRule(arch, tp, t)) continue;
    for (const cp of space.cp) {
      if (cpRule(tp, cp, t)) continue;
      for (const pp of space.pp) {
        if (ppRule(arch, tp, cp, pp, t)) continue;
        const dp = t.devices / (tp * cp * pp);
        for (const vpp of space.vpp) {
          if (vppRule(arch, pp, vpp, space.maxNoopLayers)) continue;
          const noopLayers = noopLayersFor(arch, pp * vpp);
          for (const mbs of space.microBatchSize) {
            if (batchRule(pp, vpp, dp, mbs, t)) continue;
            for (const ep of moe ? space.ep : [1]) {
              for (const etp of moe ? space.etp : [1]) {
                if (expertRule(arch, moe, tp * cp * dp, ep, etp)) continue;
                for (const r of space.recompute) {
                  const recompute = r === 'none' ? [] : r === 'full' ? (['layer'] as RecomputeModule[]) : fineRecompute(arch);
                  base ??= ParallelPlanSchema.parse({ seqLength: t.seqLength });
                  yield {
                    ...base,
                    tp,
                    cp,
                    dp,
                    pp,
                    vpp,
                    ep,
                    etp,
                    sequenceParallel: tp > 1,
                    microBatchSize: mbs,
                    globalBatchSize: t.globalBatchSize,
                    seqLength: t.seqLength,
                    recompute,
                    noopLayers,
                  };
                }
              }
            }
          }
        }
      }
    }
  }
}

