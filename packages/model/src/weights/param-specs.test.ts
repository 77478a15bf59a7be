import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createReferenceBackend } from '@moge/ascend-hal';
import { MoeArchSchema, ValidationError, countParameters, layerParams } from '@moge/core';
import { getPreset } from '../presets/presets';
import { initModelWeights } from './model-weights';
import { hfTensorShapes } from './hf-layout';
import { paramSpecs } from './param-specs';

const backend = createReferenceBackend();
const size = (shape: readonly number[]) => shape.reduce((a, d) => a * d, 1);

/** Small runnable MoGE archs: any head layout, expert grouping, shared expert or none, biases or none. */
const smallArch = fc
  .record({
    layers: fc.integer({ min: 1, max: 3 }),
    hidden: fc.integer({ min: 1, max: 12 }),
    kv: fc.integer({ min: 1, max: 3 }),
    rep: fc.integer({ min: 1, max: 3 }),
    halfHeadDim: fc.integer({ min: 1, max: 4 }),
    vocab: fc.integer({ min: 1, max: 40 }),
    groups: fc.integer({ min: 1, max: 4 }),
    perGroup: fc.integer({ min: 1, max: 3 }),
    kPer: fc.integer({ min: 1, max: 3 }),
    ffn: fc.integer({ min: 1, max: 9 }),
    shared: fc.integer({ min: 0, max: 9 }),
    bias: fc.boolean(),
  })
  .map((p) =>
    MoeArchSchema.parse({
      ...getPreset('moge-tiny'),
      name: undefined,
      numLayers: p.layers,
      hiddenSize: 2 * p.hidden,
      numKvHeads: p.kv,
      numHeads: p.kv * p.rep,
      headDim: 2 * p.halfHeadDim,
      vocabSize: p.vocab,
      numExpertGroups: p.groups,
      numExperts: p.groups * p.perGroup,
      topK: p.groups * Math.min(p.kPer, p.perGroup),
      expertFfnSize: p.ffn,
      sharedExpertFfnSize: p.shared,
      attentionBias: p.bias,
    }),
  );

describe('parameter accounting against real tensors', () => {
  it("countParameters equals the sizes of an initialised model's tensors, and of its HF checkpoint tensors (property)", () => {
    fc.assert(
      fc.property(smallArch, (arch) => {
        const w = initModelWeights(arch, backend, { seed: 0 });
        const actual = [...w.params.values()].reduce((s, t) => s + size(t.shape), 0);
        const counted = countParameters(arch);
        expect(counted.total).toBe(actual);
        expect([...hfTensorShapes(arch).values()].reduce((s, shape) => s + size(shape), 0)).toBe(actual);
        // Per layer: its own tensors; active = all but the E − K routed experts a token skips.
        for (let l = 0; l < arch.numLayers; l++) {
          const mine = [...w.params].filter(([name]) => name.startsWith(`model.layers.${l}.`));
          const own = mine.reduce((s, [, t]) => s + size(t.shape), 0);
          const experts = mine.filter(([name]) => name.includes('.mlp.experts.')).reduce((s, [, t]) => s + size(t.shape), 0);
          expect(layerParams(arch, l).total).toBe(own);
          expect(layerParams(arch, l).active).toBe(own - (experts / arch.numExperts) * (arch.numExperts - arch.topK));
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe('assertSupportedArch', () => {
  it('refuses, by name, a router without the per-expert vector (router_scale is what MoGE weights experts by)', () => {
    const arch = { ...getPreset('moge-tiny'), routerExpertVector: false };
    expect(() => paramSpecs(arch)).toThrow(ValidationError);
    expect(() => paramSpecs(arch)).toThrow(/- routerExpertVector: got false, expected true: the runnable model's router has router_scale/);
    expect(() => initModelWeights(arch, backend, { seed: 0 })).toThrow(/routerExpertVector/);
    expect(paramSpecs(getPreset('moge-tiny')).some((s) => s.name.endsWith('.mlp.router_scale'))).toBe(true);
  });
});
