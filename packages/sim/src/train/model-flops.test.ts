import { describe, expect, it } from 'vitest';
import { countParameters } from '@moge/core';
import { attentionFlopsPerToken, flopsPerToken, getPreset } from '@moge/model';
import { trainingFlopsPerToken } from './model-flops';

describe('trainingFlopsPerToken', () => {
  it('is targets.md\'s count plus the output head, for a model without MTP (Pangu Pro)', () => {
    const pro = getPreset('pangu-pro-moe');
    const f = trainingFlopsPerToken(pro, 4096);
    const base = flopsPerToken(pro, { seqLen: 4096, pass: 'training' });
    expect(f.mtp).toBe(0);
    expect(f.total).toBe(base.mfu + 6 * pro.hiddenSize * pro.vocabSize);
    expect(f.params).toBe(6 * countParameters(pro).activeNonEmbedding);
  });

  it('adds each MTP module: its parameters, one layer of attention and a pass through the head (Pangu Ultra)', () => {
    const ultra = getPreset('pangu-ultra-moe');
    const f = trainingFlopsPerToken(ultra, 4096);
    const mtpParams = countParameters(ultra).mtp.active;
    const expected = 6 * mtpParams + (3 * attentionFlopsPerToken(ultra, 4096)) / ultra.numLayers + 6 * ultra.hiddenSize * ultra.vocabSize;
    expect(f.mtp).toBeCloseTo(expected, 0);
    expect(f.total).toBeCloseTo(f.params + f.head + f.attention + f.mtp, 0);
    // ≈ 3.1e11 FLOP per token: 6 × 39 B active parameters plus attention at 4K, head and MTP.
    expect(f.total).toBeGreaterThan(3.0e11);
    expect(f.total).toBeLessThan(3.2e11);
  });
});
