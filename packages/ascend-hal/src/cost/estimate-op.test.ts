import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { InfeasibleError, ValidationError } from '@moge/core';
import { findChip, listChips } from '../catalog/chips';
import { estimateOpTime } from './estimate-op';
import { OpSchema, type Op } from './op';
import { getEfficiencyProfile } from './profiles';
import { MatmulCurveSchema } from './profile';
import { attentionPairs } from './work';

const h200 = findChip('nvidia-h200')!;
const a910b = findChip('ascend-910b')!;
const chips = listChips().filter((c) => c.peakFlops.bf16.value > 0);

describe('estimateOpTime: roofline', () => {
  it('an M=1 GEMM is memory-bound and costs about its weight bytes at HBM speed', () => {
    const t = estimateOpTime(h200, { kind: 'matmul', m: 1, k: 5120, n: 5120, dtype: 'bf16' });
    expect(t.bound).toBe('memory');
    const profile = getEfficiencyProfile('nvidia-h200');
    expect(t.memoryS).toBeCloseTo((5120 * 5120 * 2 + 5120 * 2 + 5120 * 2) / (4.8e12 * profile.hbmEfficiency.value), 12);
    expect(t.timeS).toBeCloseTo(t.memoryS + t.overheadS, 15);
  });

  it('a large GEMM is compute-bound, below peak', () => {
    const t = estimateOpTime(h200, { kind: 'matmul', m: 8192, k: 8192, n: 8192, dtype: 'bf16' });
    expect(t.bound).toBe('compute');
    expect(t.flops).toBe(2 * 8192 ** 3);
    expect(t.efficiency).toBeGreaterThan(0.5);
    expect(t.efficiency).toBeLessThan(1);
  });

  it('W8A8 halves the weight bytes and uses the int8 peak; int4 weights compute at the int8 peak', () => {
    const bf16 = estimateOpTime(a910b, { kind: 'matmul', m: 1, k: 8192, n: 8192, dtype: 'bf16' });
    const w8a8 = estimateOpTime(a910b, { kind: 'matmul', m: 1, k: 8192, n: 8192, dtype: 'int8' });
    expect(w8a8.bytes).toBeLessThan(bf16.bytes * 0.51);
    const big8 = estimateOpTime(a910b, { kind: 'matmul', m: 8192, k: 8192, n: 8192, dtype: 'int8' });
    const big4 = estimateOpTime(a910b, { kind: 'matmul', m: 8192, k: 8192, n: 8192, dtype: 'int8', weightDType: 'int4' });
    expect(big4.computeS).toBeCloseTo(big8.computeS, 15);
    expect(big8.computeS).toBeCloseTo(estimateOpTime(a910b, { kind: 'matmul', m: 8192, k: 8192, n: 8192, dtype: 'bf16' }).computeS / 2, 12);
  });

  it('a chip without a bf16 path refuses bf16 matmuls (310P)', () => {
    expect(() => estimateOpTime(findChip('ascend-310p')!, { kind: 'matmul', m: 64, k: 64, n: 64, dtype: 'bf16' })).toThrow(InfeasibleError);
  });

  it('bad numbers are named', () => {
    try {
      estimateOpTime(h200, { kind: 'custom', flops: Number.NaN, bytes: 1, dtype: 'bf16' });
      expect.unreachable();
    } catch (e) {
      expect((e as ValidationError).issues[0]).toMatchObject({ path: 'flops' });
    }
    expect(() => estimateOpTime(h200, { kind: 'grouped-matmul', groups: 2, tokensPerGroup: [1, -1], k: 8, n: 8, dtype: 'bf16' })).toThrow(/tokensPerGroup\[1\]/);
  });

  it('an unknown kind or dtype, or a per-group list of the wrong length, is named, not a TypeError or a NaN time', () => {
    const pathOf = (op: unknown) => {
      try {
        estimateOpTime(h200, op as Op);
      } catch (e) {
        expect(e).toBeInstanceOf(ValidationError);
        return (e as ValidationError).issues.map((i) => i.path);
      }
      return expect.unreachable('accepted');
    };
    expect(pathOf({ kind: 'conv', dtype: 'bf16' })).toEqual(['kind']);
    expect(pathOf(null)).toEqual(['kind']);
    expect(pathOf({ kind: 'matmul', m: 1, k: 1, n: 1 })).toEqual(['dtype']);
    expect(pathOf({ kind: 'matmul', m: 1, k: 1, n: 1, dtype: 'fp8' })).toEqual(['dtype']);
    expect(pathOf({ kind: 'elementwise', elements: 10, flopsPerElement: 1, dtype: 'fp8' })).toEqual(['dtype']);
    expect(pathOf({ kind: 'matmul', m: 1, k: 1, n: 1, dtype: 'bf16', weightDType: 'int2' })).toEqual(['weightDType']);
    expect(pathOf({ kind: 'grouped-matmul', groups: 4, tokensPerGroup: [1, 2], k: 8, n: 8, dtype: 'bf16' })).toEqual(['tokensPerGroup']);
  });

  it('property: time ≥ both roofline bounds at full efficiency, and grows with M', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...chips),
        fc.integer({ min: 1, max: 16384 }),
        fc.integer({ min: 1, max: 16384 }),
        fc.integer({ min: 1, max: 16384 }),
        (chip, m, k, n) => {
          const op = { kind: 'matmul', m, k, n, dtype: 'bf16' } as const;
          const t = estimateOpTime(chip, op);
          const ideal = Math.max(t.flops / chip.peakFlops.bf16.value, t.bytes / chip.hbmBandwidth.value);
          const bigger = estimateOpTime(chip, { ...op, m: m + 64 });
          return t.timeS >= ideal && bigger.timeS >= t.timeS;
        },
      ),
      { numRuns: 200 },
    );
  });

  it('property: matmul time never falls as any of M, K, N or the batch grows (every chip, every dtype it has)', () => {
    const dtypes = ['fp32', 'bf16', 'fp16', 'int8', 'int4'] as const;
    const cases = listChips().flatMap((chip) => dtypes.filter((d) => chip.peakFlops[d === 'int4' ? 'int8' : d].value > 0).map((dtype) => ({ chip, dtype })));
    fc.assert(
      fc.property(
        fc.constantFrom(...cases),
        fc.record({ m: fc.nat(8192), k: fc.nat(8192), n: fc.nat(8192), batch: fc.integer({ min: 1, max: 8 }) }),
        fc.constantFrom('m', 'k', 'n', 'batch'),
        fc.integer({ min: 1, max: 4096 }),
        ({ chip, dtype }, dims, grow, by) => {
          const op = { kind: 'matmul', dtype, ...dims } as const;
          return estimateOpTime(chip, { ...op, [grow]: op[grow] + by }).timeS >= estimateOpTime(chip, op).timeS;
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('estimateOpTime: grouped matmul, attention, elementwise, custom', () => {
  const grouped = { kind: 'grouped-matmul', groups: 8, k: 5120, n: 1344, dtype: 'int8' } as const;

  it('grouped matmul: same tokens spread or piled up give the same FLOPs; idle groups read no weights', () => {
    const even = estimateOpTime(a910b, { ...grouped, tokensPerGroup: 16 });
    const piled = estimateOpTime(a910b, { ...grouped, tokensPerGroup: [128, 0, 0, 0, 0, 0, 0, 0] });
    expect(piled.flops).toBe(even.flops);
    expect(piled.bytes).toBeLessThan(even.bytes / 4);
    expect(even.bound).toBe('memory'); // decode-sized expert batches stream their weights
  });

  it('a matmul with no rows reads no weights', () => {
    const none = estimateOpTime(a910b, { kind: 'matmul', m: 0, k: 4096, n: 4096, dtype: 'bf16' });
    expect([none.flops, none.bytes]).toEqual([0, 0]);
  });

  it('refuses a matmul efficiency curve with alpha above 1 (a bigger matmul would cost less time)', () => {
    const p = getEfficiencyProfile('nvidia-h200');
    expect(MatmulCurveSchema.safeParse(p.matmul).success).toBe(true);
    expect(() => MatmulCurveSchema.parse({ ...p.matmul, alpha: { ...p.matmul.alpha, value: 3 } })).toThrow(/alpha in \(0, 1\]/);
  });

  it('causal attention computes s(s+1)/2 pairs: about half of the full square', () => {
    expect(attentionPairs(4096, 4096, true)).toBe((4096 * 4097) / 2);
    expect(attentionPairs(1, 4096, true)).toBe(4096); // decode sees every key
    expect(attentionPairs(8, 4, true)).toBe(10); // more queries than keys: early ones see none
    const op = { kind: 'attention', batch: 2, heads: 40, kvHeads: 8, seqQ: 4096, headDim: 128, dtype: 'bf16' } as const;
    const full = estimateOpTime(h200, op);
    const causal = estimateOpTime(h200, { ...op, causal: true });
    expect(full.flops).toBe(4 * 2 * 40 * 4096 * 4096 * 128);
    expect(causal.flops / full.flops).toBeCloseTo(0.5, 3);
    expect(causal.bytes).toBe(full.bytes);
    expect(full.bytes).toBe(2 * 2 * (40 * 4096 * 256 + 8 * 4096 * 256));
  });

  it('attention runs below a GEMM of the same work (softmax and masking cost)', () => {
    const att = estimateOpTime(h200, { kind: 'attention', batch: 4, heads: 32, seqQ: 4096, headDim: 128, dtype: 'bf16' });
    const gemm = estimateOpTime(h200, { kind: 'custom', flops: att.flops, bytes: att.bytes, dtype: 'bf16' });
    expect(att.efficiency).toBeLessThan(gemm.efficiency);
  });

  it('elementwise work is memory-bound; bytes default to one read and one write', () => {
    const t = estimateOpTime(h200, { kind: 'elementwise', elements: 1 << 24, flopsPerElement: 4, dtype: 'bf16' });
    expect(t.bytes).toBe((1 << 24) * 4);
    expect(t.bound).toBe('memory');
  });

  it('launches scale the fixed overhead', () => {
    const one = estimateOpTime(h200, { kind: 'custom', flops: 0, bytes: 0, dtype: 'bf16' });
    const three = estimateOpTime(h200, { kind: 'custom', flops: 0, bytes: 0, dtype: 'bf16' }, { launches: 3 });
    expect(three.timeS).toBeCloseTo(3 * one.timeS, 15);
  });

  it('OpSchema validates ops at boundaries', () => {
    expect(OpSchema.safeParse({ kind: 'matmul', m: 1, k: 2, n: 3, dtype: 'bf16' }).success).toBe(true);
    expect(OpSchema.safeParse({ kind: 'matmul', m: 1.5, k: 2, n: 3, dtype: 'bf16' }).success).toBe(false);
    expect(OpSchema.safeParse({ kind: 'conv', dtype: 'bf16' }).success).toBe(false);
  });
});
