import fc from 'fast-check';
import type { MoeArch, MoeArchInput, ParallelPlan, ParallelPlanInput } from '@moge/core';
import { hasMoeLayers, seqLengthMultiple, tpSplitsFfn, tpSplitsKvHeads } from './plan-rules';
import { arch as parseArch, plan as parsePlan } from './test-archs';

/**
 * fast-check generators of small architectures and of the plans that can run them, shared by the
 * property tests. Only valid inputs are generated: MoeArchSchema, ParallelPlanSchema and
 * checkPlanFitsArch all accept them (a test fails loudly if the generator drifts from those rules).
 */

const divisorsOf = (n: number, max = n) =>
  Array.from({ length: Math.min(n, max) }, (_, i) => i + 1).filter((d) => n % d === 0);

/**
 * 1–`maxLayers` layers, dense or MoE (MoGE groups or plain top-k), GQA or MLA, optional MTP and tied
 * embeddings; widths from toy (16) to real-model scale (8192), so byte counts reach the tens of GiB
 * where floating-point rounding shows.
 */
export function archWith(maxLayers: number): fc.Arbitrary<MoeArch> {
  return fc
    .record({
      numLayers: fc.integer({ min: 1, max: maxLayers }),
      heads: fc.constantFrom(1, 2, 4, 8, 40, 128),
      kvDiv: fc.nat({ max: 16 }),
      headDim: fc.constantFrom(8, 16, 32, 128),
      hiddenSize: fc.integer({ min: 1, max: 512 }).map((x) => 16 * x),
      vocabSize: fc.integer({ min: 16, max: 160_000 }),
      denseFfnSize: fc.integer({ min: 1, max: 1024 }).map((x) => 16 * x),
      moe: fc.option(
        fc.record({
          numExperts: fc.constantFrom(2, 4, 6, 8, 16, 64),
          grouped: fc.boolean(),
          kPerGroup: fc.integer({ min: 1, max: 3 }),
          expertFfnSize: fc.integer({ min: 1, max: 256 }).map((x) => 16 * x),
          sharedExpertFfnSize: fc.constantFrom(0, 32, 64, 2048),
          denseFraction: fc.double({ min: 0, max: 1, noNaN: true }),
          denseFfnWhenAllMoe: fc.boolean(),
        }),
      ),
      mla: fc.option(
        fc.record({
          qLoraRank: fc.constantFrom(0, 16, 24, 1536),
          kvLoraRank: fc.constantFrom(8, 16, 32, 512),
          qkRopeHeadDim: fc.constantFrom(4, 8, 64),
          qkNopeHeadDim: fc.constantFrom(8, 16, 128),
          vHeadDim: fc.constantFrom(8, 16, 128),
        }),
      ),
      mtpDepth: fc.constantFrom(0, 0, 1, 2),
      tiedEmbeddings: fc.boolean(),
    })
    .map((r) => {
      const kvChoices = divisorsOf(r.heads);
      const input: MoeArchInput = {
        numLayers: r.numLayers,
        hiddenSize: r.hiddenSize,
        numHeads: r.heads,
        numKvHeads: kvChoices[r.kvDiv % kvChoices.length]!,
        headDim: r.headDim,
        vocabSize: r.vocabSize,
        denseFfnSize: r.denseFfnSize,
        mtpDepth: r.mtpDepth,
        tiedEmbeddings: r.tiedEmbeddings,
      };
      if (r.mla) {
        input.attention = 'mla';
        input.mla = r.mla;
      }
      if (r.moe) {
        const m = r.moe;
        const groups = m.grouped && m.numExperts % 2 === 0 ? 2 : 1;
        const numDenseLayers = Math.min(r.numLayers - 1, Math.floor(m.denseFraction * r.numLayers));
        Object.assign(input, {
          numExperts: m.numExperts,
          numExpertGroups: groups,
          router: groups > 1 ? 'moge' : 'topk',
          topK: Math.min(m.numExperts / groups, m.kPerGroup) * groups,
          expertFfnSize: m.expertFfnSize,
          sharedExpertFfnSize: m.sharedExpertFfnSize,
          numDenseLayers,
          // With no dense layer the dense FFN width may be 0 (Pangu Pro MoE writes it so).
          denseFfnSize: numDenseLayers === 0 && !m.denseFfnWhenAllMoe ? 0 : r.denseFfnSize,
        });
      }
      return parseArch(input);
    });
}

/**
 * A plan that can train (and serve) `arch`: tp divides the heads, the KV heads and the FFN widths, ep
 * the experts, etp the expert width, ep × etp the devices of a stage (both 1 without MoE layers), the
 * global batch is whole micro-batches (whole groups of pp of them under vpp > 1), vpp > 1 only with
 * pp > 1, no-op layers pad the stack to pp × vpp chunks, sequence parallelism whenever a MoE model uses
 * tp > 1, the sequence splits over CP and SP (plan-rules.ts). The memory policy fields are left empty.
 */
export function planFor(a: MoeArch): fc.Arbitrary<ParallelPlan> {
  return fc
    .record({
      tp: fc.constantFrom(...divisorsOf(a.numHeads, 4).filter((tp) => tpSplitsKvHeads(a, tp) && tpSplitsFfn(a, tp))),
      cp: fc.constantFrom(1, 2),
      dp: fc.integer({ min: 1, max: 4 }),
      pp: fc.integer({ min: 1, max: 3 }),
      vpp: fc.integer({ min: 1, max: 2 }),
      epPick: fc.nat({ max: 16 }),
      etpPick: fc.nat({ max: 16 }),
      sp: fc.boolean(),
      microBatchSize: fc.integer({ min: 1, max: 2 }),
      microBatches: fc.integer({ min: 1, max: 6 }),
      seqLength: fc.constantFrom(32, 64, 128, 256),
      extraNoopChunks: fc.nat({ max: 1 }),
      distributedOptimizer: fc.boolean(),
    })
    .map((r) => {
      const vpp = r.pp > 1 ? r.vpp : 1;
      const stageDevices = r.tp * r.cp * r.dp;
      const moe = hasMoeLayers(a);
      const epChoices = moe ? divisorsOf(stageDevices).filter((d) => a.numExperts % d === 0) : [1];
      const ep = epChoices[r.epPick % epChoices.length]!;
      const etpChoices = moe ? divisorsOf(stageDevices / ep).filter((d) => a.expertFfnSize % d === 0) : [1];
      const etp = etpChoices[r.etpPick % etpChoices.length]!;
      const sequenceParallel = r.tp > 1 && (moe || r.sp);
      const multiple = seqLengthMultiple({ tp: r.tp, cp: r.cp, sequenceParallel });
      const chunks = r.pp * vpp;
      const noopLayers = ((chunks - (a.numLayers % chunks)) % chunks) + r.extraNoopChunks * chunks;
      const input: ParallelPlanInput = {
        tp: r.tp,
        cp: r.cp,
        dp: r.dp,
        pp: r.pp,
        vpp,
        ep,
        etp,
        sequenceParallel,
        microBatchSize: r.microBatchSize,
        globalBatchSize: r.microBatchSize * r.dp * r.microBatches * (vpp > 1 ? r.pp : 1),
        seqLength: Math.ceil(r.seqLength / multiple) * multiple,
        noopLayers,
        distributedOptimizer: r.distributedOptimizer,
      };
      return parsePlan(input);
    });
}

/** An architecture of up to `maxLayers` layers and a valid plan for it. */
export function archAndPlan(maxLayers: number): fc.Arbitrary<{ arch: MoeArch; plan: ParallelPlan }> {
  return archWith(maxLayers).chain((arch) => planFor(arch).map((plan) => ({ arch, plan })));
}
