import { describe, expect, it } from 'vitest';
import { parseWith, ParallelPlanSchema, ValidationError } from '@moge/core';
import { parseClusterSpec } from '@moge/ascend-hal';
import { getPreset } from '@moge/model';
import { NO_ELEMENTWISE_FUSED } from '../common/elementwise-kernels';
import { layerOpBreakdown } from './op-breakdown';
import { resolveFusedOperators, TrainingSimOptionsSchema, type TrainingSimOptionsInput } from './options';
import { prepareTraining, simulateTraining } from './simulate';

const pro = getPreset('pangu-pro-moe');
const cluster = parseClusterSpec('atlas-800t-a2:64');
const plan = (tp: number) =>
  parseWith(ParallelPlanSchema, { tp, pp: 4, vpp: 2, ep: 8, dp: 16 / tp, microBatchSize: 1, globalBatchSize: 64, seqLength: 4096, sequenceParallel: tp > 1 }, 'plan');
const step = (tp: number, options: TrainingSimOptionsInput) => simulateTraining({ arch: pro, cluster, plan: plan(tp), options }).stepTimeS;
const resolve = (input: TrainingSimOptionsInput['fusedOperators']) => resolveFusedOperators(TrainingSimOptionsSchema.parse({ fusedOperators: input }).fusedOperators);

describe('fusedOperators option', () => {
  it('keeps the boolean form as the MC2 switch, elementwise kernels fused either way', () => {
    expect(resolve(undefined)).toEqual({ mc2: false, elementwise: { rmsNorm: true, rope: true, swiglu: true, moePermute: true } });
    expect(resolve(true)).toEqual({ mc2: true, elementwise: { rmsNorm: true, rope: true, swiglu: true, moePermute: true } });
    expect(resolve(false).elementwise.rmsNorm).toBe(true);
  });

  it('takes an object: MC2 and the elementwise kernels, all at once or one switch each', () => {
    expect(resolve({ elementwise: false })).toEqual({ mc2: false, elementwise: NO_ELEMENTWISE_FUSED });
    expect(resolve({ mc2: true })).toEqual(resolve(true));
    expect(resolve({ elementwise: { swiglu: false } }).elementwise).toEqual({ rmsNorm: true, rope: true, swiglu: false, moePermute: true });
  });

  it('rejects a malformed value naming the field', () => {
    expect(() => parseWith(TrainingSimOptionsSchema, { fusedOperators: { elementwise: 'yes' } }, 'options')).toThrow(ValidationError);
    expect(() => parseWith(TrainingSimOptionsSchema, { fusedOperators: { elementwise: 'yes' } }, 'options')).toThrow(/fusedOperators/);
    // A misspelt switch is an error, not a silent default.
    expect(() => parseWith(TrainingSimOptionsSchema, { fusedOperators: { elementwize: false } }, 'options')).toThrow(ValidationError);
    expect(() => parseWith(TrainingSimOptionsSchema, { fusedOperators: { elementwise: { rmsnorm: false } } }, 'options')).toThrow(ValidationError);
  });

  it('slows a step when the elementwise kernels run unfused, and MC2 changes nothing at TP1', () => {
    const fused = step(1, {});
    expect(step(1, { fusedOperators: { elementwise: false } })).toBeGreaterThan(fused);
    expect(step(1, { fusedOperators: { mc2: true } })).toBe(fused);
    // Each family contributes on its own.
    for (const family of ['rmsNorm', 'rope', 'swiglu', 'moePermute'] as const) {
      expect(step(1, { fusedOperators: { elementwise: { [family]: false } } })).toBeGreaterThan(fused);
    }
    // With TP, MC2 hides TP collectives under their matmuls.
    expect(step(4, { fusedOperators: true })).toBeLessThan(step(4, { fusedOperators: false }));
  });
});

describe('layerOpBreakdown', () => {
  it('splits a layer into matmul, attention and memory-bound time, more memory-bound when unfused', () => {
    const prep = (options: TrainingSimOptionsInput) => prepareTraining({ arch: pro, cluster, plan: plan(1), options }, undefined, { deferMemory: true });
    const fused = layerOpBreakdown(prep({}), 0);
    const unfused = layerOpBreakdown(prep({ fusedOperators: { elementwise: false } }), 0);
    for (const b of [fused, unfused]) {
      const sum = b.ops.reduce((acc, o) => acc + o.forwardS + o.backwardS, 0);
      expect(b.byClass.matmul + b.byClass.attention + b.byClass['memory-bound']).toBeCloseTo(sum, 12);
      expect(b.memoryBoundShare).toBeGreaterThan(0);
      expect(b.memoryBoundShare).toBeLessThan(1);
      expect(b.ops.find((o) => o.name === 'experts-gate-up')!.opClass).toBe('matmul');
      expect(b.ops.find((o) => o.name === 'attention-core')!.opClass).toBe('attention');
    }
    expect(unfused.byClass.matmul).toBe(fused.byClass.matmul);
    expect(unfused.memoryBoundShare).toBeGreaterThan(fused.memoryBoundShare);
  });
});
