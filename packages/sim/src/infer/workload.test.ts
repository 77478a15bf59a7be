import { describe, expect, it } from 'vitest';
import { parseWith } from '@moge/core';
import { InferenceWorkloadSchema, type InferenceWorkloadInput } from './workload';

const parse = (w: InferenceWorkloadInput) => () => parseWith(InferenceWorkloadSchema, w, 'inference workload');

describe('InferenceWorkloadSchema', () => {
  it('refuses fields the phase would ignore, naming them', () => {
    expect(parse({ phase: 'prefill', batch: 2, inputLength: 2048, contextLength: 4096 })).toThrow(/contextLength: got 4096, expected nothing in prefill/);
    expect(parse({ phase: 'prefill', batch: 2, inputLength: 2048, speculation: { method: 'mtp', depth: 1, acceptanceRate: 0.8 } })).toThrow(/speculation: got .*, expected nothing in prefill/);
  });

  it('refuses a decode context shorter than the prompt it holds', () => {
    expect(parse({ phase: 'decode', batch: 2, inputLength: 2048, contextLength: 1024 })).toThrow(/contextLength: got 1024, expected at least inputLength \(2048\)/);
    expect(parse({ phase: 'decode', batch: 2, inputLength: 2048, contextLength: 2048 })().contextLength).toBe(2048);
    expect(parse({ phase: 'decode', batch: 2, inputLength: 2048, speculation: { method: 'mtp', depth: 1, acceptanceRate: 0.8 } })().speculation?.depth).toBe(1);
  });
});
