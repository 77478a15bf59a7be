import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MoeArchSchema, numMoeLayers } from '../schemas/moe-arch';
import { countParameters } from './parameters';

const panguPro = MoeArchSchema.parse({
  numLayers: 48, hiddenSize: 5120, numHeads: 40, numKvHeads: 8, headDim: 128, vocabSize: 153376, denseFfnSize: 0,
  numExperts: 64, numExpertGroups: 8, topK: 8, expertFfnSize: 1344, sharedExpertFfnSize: 5376, attentionBias: true,
});

const panguUltra = MoeArchSchema.parse({
  numLayers: 61, numDenseLayers: 3, hiddenSize: 7680, numHeads: 128, numKvHeads: 128, headDim: 192, vocabSize: 153600,
  denseFfnSize: 18432, numExperts: 256, numExpertGroups: 8, topK: 8, expertFfnSize: 2048, sharedExpertFfnSize: 2048,
  attention: 'mla', mla: { qLoraRank: 1536, kvLoraRank: 512, qkRopeHeadDim: 64, qkNopeHeadDim: 128, vHeadDim: 128 }, mtpDepth: 1,
});

describe('countParameters', () => {
  it('gives Pangu Pro MoE 71.99 B total and 16.50 B active (embedding and head included)', () => {
    const c = countParameters(panguPro);
    expect((c.total / 1e9).toFixed(2)).toBe('71.99');
    expect((c.active / 1e9).toFixed(2)).toBe('16.50');
  });

  it('gives Pangu Ultra MoE within 1 % of 718 B total and 39 B active (MTP and input embedding excluded)', () => {
    const c = countParameters(panguUltra);
    expect(Math.abs(c.total / 718e9 - 1)).toBeLessThan(0.01);
    expect(Math.abs(c.activeExcludingEmbedding / 39e9 - 1)).toBeLessThan(0.01);
    expect(c.mtp.total).toBeGreaterThan(0);
  });

  it('without the router\'s per-expert vector, counts numExperts fewer parameters per MoE layer, in total, active and every MTP layer', () => {
    fc.assert(
      fc.property(fc.constantFrom(panguPro, panguUltra), fc.integer({ min: 0, max: 3 }), (base, numDenseLayers) => {
        const arch = MoeArchSchema.parse({ ...base, numDenseLayers, denseFfnSize: numDenseLayers > 0 ? 1024 : base.denseFfnSize });
        const withVector = countParameters(arch);
        const without = countParameters({ ...arch, routerExpertVector: false });
        const perLayer = numMoeLayers(arch) * arch.numExperts;
        expect(withVector.total - without.total).toBe(perLayer);
        expect(withVector.active - without.active).toBe(perLayer);
        expect(withVector.mtp.total - without.mtp.total).toBe(arch.mtpDepth * arch.numExperts);
        for (const [i, layer] of without.perLayer.entries()) {
          expect(layer.router).toBe(layer.kind === 'moe' ? arch.numExperts * arch.hiddenSize : 0);
          expect(withVector.perLayer[i]!.router - layer.router).toBe(layer.kind === 'moe' ? arch.numExperts : 0);
        }
      }),
      { seed: 20261202, numRuns: 8 },
    );
  });

  it('counts a dense model with no expert parameters', () => {
    const dense = MoeArchSchema.parse({ numLayers: 2, hiddenSize: 8, numHeads: 2, numKvHeads: 1, headDim: 4, vocabSize: 10, denseFfnSize: 16, tiedEmbeddings: true });
    const c = countParameters(dense);
    expect(c.total).toBe(c.active);
    // per layer: q 8·8, k 8·4, v 8·4, o 8·8, norms 16, ffn 3·8·16; + embedding 80 + final norm 8
    expect(c.total).toBe(2 * (64 + 32 + 32 + 64 + 16 + 384) + 80 + 8);
  });
});
