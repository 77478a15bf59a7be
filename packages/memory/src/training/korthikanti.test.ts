import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { estimateTrainingMemory } from '../index';
import { gptArch, KORTHIKANTI_OPTIONS, plan } from './test-archs';

/**
 * Korthikanti et al., "Reducing Activation Recomputation in Large Transformer Models", Table 2: bytes of
 * activations per transformer layer (fp16, MHA, 4h GeLU MLP, dropout, unfused attention).
 */
const table2 = {
  none: (s: number, b: number, h: number, a: number, _t: number) => s * b * h * (34 + (5 * a * s) / h),
  tensorParallel: (s: number, b: number, h: number, a: number, t: number) => s * b * h * (10 + 24 / t + (5 * a * s) / (h * t)),
  tensorSequenceParallel: (s: number, b: number, h: number, a: number, t: number) => ((s * b * h) / t) * (34 + (5 * a * s) / h),
  selectiveRecompute: (s: number, b: number, h: number, _a: number, t: number) => ((s * b * h) / t) * 34,
};

const config = fc.record({
  heads: fc.constantFrom(1, 2, 4, 8, 12, 16, 32),
  headDim: fc.integer({ min: 1, max: 128 }),
  seq: fc.integer({ min: 1, max: 4096 }),
  micro: fc.integer({ min: 1, max: 8 }),
  tpExp: fc.integer({ min: 0, max: 5 }),
});

function layerBytes(c: { heads: number; headDim: number; seq: number; micro: number }, t: number, extra: object = {}): number {
  const a = gptArch(2, c.heads, c.headDim);
  const p = plan({ tp: t, seqLength: c.seq, microBatchSize: c.micro, globalBatchSize: c.micro, ...extra });
  return estimateTrainingMemory(a, p, KORTHIKANTI_OPTIONS).perLayer[0]!.activationBytes;
}

function close(actual: number, expected: number) {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-9 * expected);
}

describe('dense activations match Korthikanti et al. Table 2', () => {
  it('GPT-3 175B, no parallelism: 34·sbh + 5·a·s²·b', () => {
    // s = 2048, b = 1, h = 12288, a = 96.
    close(layerBytes({ heads: 96, headDim: 128, seq: 2048, micro: 1 }, 1), 2048 * 12288 * (34 + (5 * 96 * 2048) / 12288));
  });

  it('holds for every size, TP degree and parallelism mode', () => {
    fc.assert(
      fc.property(config, (drawn) => {
        let t = 1; // the largest power of two ≤ 2^tpExp that divides the head count
        while (t < 2 ** drawn.tpExp && drawn.heads % (2 * t) === 0) t *= 2;
        // Sequence parallelism splits the sequence over TP, so it is a multiple of t (Megatron asserts it).
        const c = { ...drawn, seq: Math.ceil(drawn.seq / t) * t };
        const args = [c.seq, c.micro, c.heads * c.headDim, c.heads, t] as const;
        close(layerBytes(c, 1), table2.none(...args));
        close(layerBytes(c, t), table2.tensorParallel(...args));
        close(layerBytes(c, t, { sequenceParallel: true }), table2.tensorSequenceParallel(...args));
        close(layerBytes(c, t, { sequenceParallel: true, recompute: ['attention-core'] }), table2.selectiveRecompute(...args));
      }),
      { numRuns: 200 },
    );
  });

  it('full recompute keeps only the layer input, 2·sbh (/t with SP)', () => {
    const c = { heads: 16, headDim: 64, seq: 1024, micro: 2 };
    expect(layerBytes(c, 1, { recompute: ['layer'] })).toBe(2 * 1024 * 2 * 1024);
    expect(layerBytes(c, 4, { recompute: ['layer'], sequenceParallel: true })).toBe((2 * 1024 * 2 * 1024) / 4);
  });
});
