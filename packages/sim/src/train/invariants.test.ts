import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MoeArchSchema } from '@moge/core';
import { parseClusterSpec } from '@moge/ascend-hal';
import { getPreset } from '@moge/model';
import { breakdownTotal } from './breakdown';
import { trainingFlopsPerToken } from './model-flops';
import { searchTraining } from './search';
import { enumeratePlans, PlanSpaceSchema } from './search-space';
import { simulateTraining } from './simulate';

// Small models on small clusters keep every case fast: a MoGE model with GQA, and a top-k model with
// MLA, a dense first layer and an MTP module (the Pangu Ultra features).
const archs = [
  getPreset('moge-small'),
  MoeArchSchema.parse({
    name: 'mla-mini', numLayers: 6, hiddenSize: 512, numHeads: 8, numKvHeads: 8, headDim: 64, vocabSize: 4096, denseFfnSize: 1024,
    numExperts: 16, topK: 4, expertFfnSize: 256, sharedExpertFfnSize: 256, numDenseLayers: 1, router: 'topk', mtpDepth: 1,
    attention: 'mla', mla: { qLoraRank: 128, kvLoraRank: 64, qkRopeHeadDim: 32, qkNopeHeadDim: 64, vHeadDim: 64 },
  }),
];
const cluster = parseClusterSpec('atlas-800t-a2:16');
const space = PlanSpaceSchema.parse({ microBatchSize: [1, 2], recompute: ['none', 'fine', 'full'] });
const cases = archs.flatMap((arch) => [...enumeratePlans(arch, space, { globalBatchSize: 32, seqLength: 1024, devices: 16, devicesPerNode: 8 })].map((plan) => ({ arch, plan })));

describe('a simulated training step (property over plans and options)', () => {
  it('adds up: breakdown = step time, tokens/s × step = tokens, MFU by the stated convention, every layer timed, same answer twice', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: cases.length - 1 }),
        fc.boolean(),
        fc.constantFrom('uniform' as const, 'balanced' as const),
        fc.constantFrom('flat' as const, 'hierarchical' as const),
        fc.boolean(),
        (i, overlap, layerLayout, dispatch, mc2) => {
          const { arch, plan } = cases[i]!;
          const options = { overlap, layerLayout, dispatch, fusedOperators: mc2 };
          const r = simulateTraining({ arch, cluster, plan, options });
          expect(r.stepTimeS).toBeGreaterThan(0);
          expect(breakdownTotal(r.breakdown)).toBeCloseTo(r.stepTimeS, 12);
          const b = r.breakdown;
          for (const v of [b.computeS, b.recomputeS, b.swapS, b.bubbleS, b.optimizerS, b.overheadS, ...Object.values(b.exposedComm)]) expect(v).toBeGreaterThanOrEqual(-1e-12);
          expect(r.tokensPerStep).toBe(plan.globalBatchSize * plan.seqLength);
          expect(r.tokensPerSecond * r.stepTimeS).toBeCloseTo(r.tokensPerStep, 6);
          const flops = trainingFlopsPerToken(arch, plan.seqLength).total;
          expect(r.mfu).toBeCloseTo((flops * r.tokensPerSecond) / (r.devices * cluster.node.chip.peakFlops.bf16.value), 12);
          expect(r.mfu).toBeGreaterThan(0);
          expect(r.mfu).toBeLessThan(1);
          expect(r.perLayer.map((l) => l.layer)).toEqual(Array.from({ length: arch.numLayers }, (_, k) => k));
          for (const l of r.perLayer) expect(l.forwardS > 0 && l.backwardS > 0).toBe(true);
          expect(simulateTraining({ arch, cluster, plan, options })).toEqual(r);
        },
      ),
      { numRuns: 40, seed: 7 },
    );
  });
});

describe('a training search (property over objectives and top)', () => {
  it('returns at most top fitting plans, best first by its objective, and a Pareto front nothing returned beats', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: archs.length - 1 }), fc.constantFrom('throughput' as const, 'mfu' as const), fc.integer({ min: 1, max: 6 }), (a, objective, top) => {
        const r = searchTraining({ archs: [archs[a]!], cluster, globalBatchSize: 32, seqLength: 1024, space, objective, top, survivors: 24 });
        expect(r.top.length).toBeGreaterThan(0);
        expect(r.top.length).toBeLessThanOrEqual(top);
        const value = (e: (typeof r.top)[number]) => (objective === 'mfu' ? e.result.mfu : e.result.tokensPerSecond);
        for (let k = 1; k < r.top.length; k++) expect(value(r.top[k - 1]!)).toBeGreaterThanOrEqual(value(r.top[k]!));
        const returned = [...r.top, ...r.pareto];
        for (const e of returned) {
          expect(e.result.fitsInMemory).toBe(true);
          expect(e.result.peakMemoryBytesPerDevice).toBeLessThanOrEqual(cluster.node.chip.hbmBytes.value);
          expect(e.result.devices).toBe(cluster.numDevices);
        }
        for (const p of r.pareto) {
          const beaten = returned.some(
            (o) =>
              o.result.tokensPerSecond >= p.result.tokensPerSecond &&
              o.result.peakMemoryBytesPerDevice <= p.result.peakMemoryBytesPerDevice &&
              (o.result.tokensPerSecond > p.result.tokensPerSecond || o.result.peakMemoryBytesPerDevice < p.result.peakMemoryBytesPerDevice),
          );
          expect(beaten).toBe(false);
        }
        // The throughput leader is on the front (nothing is faster).
        const fastest = Math.max(...returned.map((e) => e.result.tokensPerSecond));
        expect(r.pareto.some((p) => p.result.tokensPerSecond === fastest)).toBe(true);
      }),
      { numRuns: 6, seed: 3 },
    );
  });
});
