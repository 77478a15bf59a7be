import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '@moge/core';
import { prepareTraining } from './estimate';
import { TrainingMemoryOptionsSchema } from './options';
import { absentModules } from './plan-rules';
import { checkPlanFitsArch } from './stage-layout';
import { archAndPlan } from './test-arbitraries';
import { arch, gptArch, PANGU_PRO_MOE, PANGU_ULTRA_MOE, plan } from './test-archs';

const pro = arch(PANGU_PRO_MOE);
const ultra = arch(PANGU_ULTRA_MOE);

function pathsOf(f: () => void): string[] {
  try {
    f();
  } catch (e) {
    if (e instanceof ValidationError) return e.issues.map((i) => i.path);
    throw e;
  }
  return [];
}

describe('training-plan rules in checkPlanFitsArch', () => {
  it('training shards the 8 KV heads over TP; serving may replicate them (vLLM), so only training refuses tp 16', () => {
    const p = plan({ tp: 16, ep: 2, sequenceParallel: true, globalBatchSize: 1 });
    expect(pathsOf(() => checkPlanFitsArch(pro, p, 'training'))).toContain('plan.tp');
    // 40 heads over 16 fails either way; with 8 query heads the KV rule is what training adds.
    const replicated = arch({ ...PANGU_PRO_MOE, numHeads: 32, numKvHeads: 4, sharedExpertFfnSize: 4096, expertFfnSize: 1024 });
    const p8 = plan({ tp: 8, ep: 2, sequenceParallel: true, globalBatchSize: 1 });
    expect(pathsOf(() => checkPlanFitsArch(replicated, p8, 'training'))).toEqual(['plan.tp']);
    expect(pathsOf(() => checkPlanFitsArch(replicated, p8, 'inference'))).toEqual([]);
  });

  it('serving replicates KV heads only evenly: tp a divisor or a multiple of numKvHeads (vLLM)', () => {
    // Pangu Pro MoE: 40 query heads, 8 KV heads. tp 5, 10 and 20 split the query heads but leave some
    // ranks with more KV heads than others (⌈8 / 5⌉ = 2 on some, 1 on others); vLLM refuses them.
    for (const tp of [5, 10, 20]) {
      expect(pathsOf(() => checkPlanFitsArch(pro, plan({ tp, ep: 1, globalBatchSize: 1 }), 'inference'))).toEqual(['plan.tp']);
    }
    for (const tp of [1, 2, 4, 8, 40]) {
      expect(pathsOf(() => checkPlanFitsArch(pro, plan({ tp, ep: 1, globalBatchSize: 1 }), 'inference'))).toEqual([]);
    }
    expect(() => checkPlanFitsArch(pro, plan({ tp: 10, ep: 1, globalBatchSize: 1 }), 'inference')).toThrow(/a divisor or a multiple of numKvHeads \(8\).*e\.g\. tp 8/);
    // MLA has one latent for all heads: any tp that splits the query heads serves.
    expect(pathsOf(() => checkPlanFitsArch(ultra, plan({ tp: 32, ep: 1, globalBatchSize: 1 }), 'inference'))).toEqual([]);
  });

  it('serving splits the dense FFN over TP and the experts over ETP in whole columns, as training does', () => {
    // Pangu Pro MoE's experts are 1344 wide: etp 5 would give 268.8 columns per rank.
    const etp5 = plan({ tp: 4, dp: 5, ep: 4, etp: 5, globalBatchSize: 5 });
    expect(pathsOf(() => checkPlanFitsArch(pro, etp5, 'inference'))).toEqual(['plan.etp']);
    expect(() => checkPlanFitsArch(pro, etp5, 'inference')).toThrow(/a divisor of expertFfnSize \(1344\).*use etp 4 or fewer/);
    // Dense layers 18436 wide split over tp 4 but not over tp 8.
    const odd = arch({ ...PANGU_ULTRA_MOE, denseFfnSize: 18436 });
    expect(pathsOf(() => checkPlanFitsArch(odd, plan({ tp: 8, ep: 8, globalBatchSize: 1 }), 'inference'))).toEqual(['plan.tp']);
    expect(() => checkPlanFitsArch(odd, plan({ tp: 8, ep: 8, globalBatchSize: 1 }), 'inference')).toThrow(/a divisor of denseFfnSize \(18436\).*e\.g\. tp 4/);
    expect(pathsOf(() => checkPlanFitsArch(odd, plan({ tp: 4, ep: 4, globalBatchSize: 1 }), 'inference'))).toEqual([]);
    // The shared expert may run on a TP group of its own when serving (H2P), so its width is not checked against tp.
    const shared = arch({ ...PANGU_PRO_MOE, sharedExpertFfnSize: 5372 });
    expect(pathsOf(() => checkPlanFitsArch(shared, plan({ tp: 8, ep: 8, globalBatchSize: 1 }), 'inference'))).toEqual([]);
  });

  it('MLA has no query groups to split; its widths and the sequence still must divide', () => {
    const ok = plan({ tp: 8, pp: 16, vpp: 2, ep: 32, dp: 48, microBatchSize: 2, globalBatchSize: 6144, seqLength: 4096, sequenceParallel: true, noopLayers: 3 });
    expect(pathsOf(() => checkPlanFitsArch(ultra, ok, 'training'))).toEqual([]);
    // 4098 tokens: not a multiple of tp 8 for sequence parallelism.
    expect(pathsOf(() => checkPlanFitsArch(ultra, { ...ok, seqLength: 4098 }, 'training'))).toEqual(['plan.seqLength']);
    // 6048 sequences = 63 micro-batches of 2 per DP rank: not whole groups of pp 16 under vpp 2.
    expect(pathsOf(() => checkPlanFitsArch(ultra, { ...ok, globalBatchSize: 6048 }, 'training'))).toEqual(['plan.globalBatchSize']);
  });
});

describe('recompute and swap of modules the architecture lacks', () => {
  it('are refused by field, saying why and what to use instead', () => {
    const gqa = () => checkPlanFitsArch(pro, plan({ tp: 8, ep: 8, sequenceParallel: true, recompute: ['mla-up-proj', 'activation'] }));
    expect(gqa).toThrow(/plan\.recompute: got \["mla-up-proj","activation"\], expected no "mla-up-proj": pangu-pro-moe uses GQA attention, not MLA; recompute its attention with "attention-core"/);
    const dense = gptArch(4, 8, 64);
    expect(pathsOf(() => checkPlanFitsArch(dense, plan({ recompute: ['permute'], swap: ['moe', 'mlp'] })))).toEqual(['plan.recompute', 'plan.swap']);
    expect(() => checkPlanFitsArch(dense, plan({ swap: ['moe'] }))).toThrow(/no "moe": .* has no MoE layers; swap its FFN activations with "mlp"/);
    const noShared = arch({ ...PANGU_PRO_MOE, sharedExpertFfnSize: 0 });
    expect(() => checkPlanFitsArch(noShared, plan({ swap: ['mlp'] }))).toThrow(/no "mlp": pangu-pro-moe has neither dense FFN layers nor a shared expert/);
    // What the architectures have passes: MLA up-projections on Pangu Ultra, the shared expert's 'mlp' on Pangu Pro.
    expect(pathsOf(() => checkPlanFitsArch(ultra, plan({ tp: 8, ep: 8, sequenceParallel: true, noopLayers: 3, recompute: ['mla-up-proj', 'permute'], swap: ['mlp', 'moe'] })))).toEqual([]);
    expect(pathsOf(() => checkPlanFitsArch(pro, plan({ tp: 8, ep: 8, sequenceParallel: true, swap: ['mlp', 'moe'] })))).toEqual([]);
  });

  it('are exactly those no activation of the architecture is tagged with (property over small archs and plans)', () => {
    const options = TrainingMemoryOptionsSchema.parse({});
    fc.assert(
      fc.property(archAndPlan(4), ({ arch: a, plan: p }) => {
        const tensors = prepareTraining(a, { ...p, recompute: [], swap: [] }, options).blocksByStage.flat().flatMap((b) => b.tensors);
        const absent = absentModules(a);
        const ruled = [['recompute', 'mla-up-proj'], ['recompute', 'permute'], ['swap', 'moe'], ['swap', 'mlp']] as const;
        for (const [field, module] of ruled) {
          const isAbsent = absent.some((x) => x.field === field && x.module === module);
          expect(tensors.some((t) => t[field] === module)).toBe(!isAbsent);
        }
      }),
      { numRuns: 200 },
    );
  });
});
