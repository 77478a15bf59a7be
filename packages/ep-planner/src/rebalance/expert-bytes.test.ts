import { describe, expect, it } from 'vitest';
import { MoeArchSchema } from '@moge/core';
import { expertStateBytes } from './expert-bytes';

// Pangu Ultra MoE expert: hidden 7680, SwiGLU width 2048 → 3 · 7680 · 2048 parameters.
const arch = MoeArchSchema.parse({
  numLayers: 61, hiddenSize: 7680, numHeads: 128, numKvHeads: 128, headDim: 128, vocabSize: 153376,
  denseFfnSize: 18432, numExperts: 256, topK: 8, expertFfnSize: 2048, numDenseLayers: 3,
  router: 'topk', numExpertGroups: 1,
});

describe('expertStateBytes', () => {
  it('counts weights in their dtype and the optimizer state per parameter', () => {
    const params = 3 * 7680 * 2048;
    expect(expertStateBytes(arch, { weightDType: 'bf16', optimizerBytesPerParam: 12 })).toEqual({ weightBytes: 2 * params, optimizerBytes: 12 * params });
    expect(expertStateBytes(arch, { weightDType: 'int8', optimizerBytesPerParam: 0 })).toEqual({ weightBytes: params, optimizerBytes: 0 });
    expect(() => expertStateBytes(arch, { weightDType: 'bf16', optimizerBytesPerParam: -1 })).toThrow(/optimizerBytesPerParam/);
    // An unknown dtype gave NaN weight bytes and Infinity passed as a byte count, both without an error.
    expect(() => expertStateBytes(arch, { weightDType: 'bfloat16' as 'bf16', optimizerBytesPerParam: 12 })).toThrow(/weightDType: got "bfloat16"/);
    expect(() => expertStateBytes(arch, { weightDType: 'bf16', optimizerBytesPerParam: Infinity })).toThrow(/optimizerBytesPerParam: got Infinity/);
  });
});
