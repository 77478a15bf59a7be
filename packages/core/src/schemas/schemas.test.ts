import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { MAX_MICRO_BATCHES, MoeArchSchema, ParallelPlanSchema, planWorldSize, planExpertDataParallel, servingPlanInput } from '../index';
import { parseWith } from '../errors/parse';
import { ValidationError } from '../errors/moge-error';

const panguPro = {
  numLayers: 48, hiddenSize: 5120, numHeads: 40, numKvHeads: 8, headDim: 128, vocabSize: 153376,
  denseFfnSize: 0, numExperts: 64, numExpertGroups: 8, topK: 8, expertFfnSize: 1344, sharedExpertFfnSize: 5376,
  attentionBias: true, ropeTheta: 1.6e7,
};

describe('MoeArchSchema', () => {
  it('accepts Pangu Pro MoE and fills defaults', () => {
    const a = parseWith(MoeArchSchema, panguPro, 'arch');
    expect(a.router).toBe('moge');
    expect(a.attention).toBe('gqa');
    expect(a.numDenseLayers).toBe(0);
  });

  it('accepts dense models', () => {
    const a = parseWith(MoeArchSchema, { numLayers: 64, hiddenSize: 5120, numHeads: 40, numKvHeads: 8, headDim: 128, vocabSize: 152064, denseFfnSize: 27648 }, 'arch');
    expect(a.numExperts).toBe(0);
  });

  it('names the field, the value and what was expected', () => {
    try {
      parseWith(MoeArchSchema, { ...panguPro, topK: 6 }, 'arch');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      const err = e as ValidationError;
      expect(err.issues[0]!.path).toBe('topK');
      expect(err.issues[0]!.received).toBe(6);
      expect(err.message).toMatch(/topK: got 6, expected a multiple of numExpertGroups \(8\)/);
    }
  });

  it('requires MLA ranks for MLA attention', () => {
    expect(() => parseWith(MoeArchSchema, { ...panguPro, attention: 'mla' }, 'arch')).toThrow(/mla: got nothing/);
  });

  it('rejects a wrong type with the field path', () => {
    expect(() => parseWith(MoeArchSchema, { ...panguPro, hiddenSize: '5120' }, 'arch')).toThrow(/hiddenSize: got "5120"/);
  });

  it('names an unknown field (a typo would otherwise fall back to a default) and suggests the known one', () => {
    // `numExpert` for `numExperts` used to leave numExperts at its default 0: silently a dense model.
    expect(() => parseWith(MoeArchSchema, { ...panguPro, numExpert: 64 }, 'arch')).toThrow(/numExpert: got 64, expected no such field; did you mean "numExperts"\?/);
    expect(() => parseWith(ParallelPlanSchema, { tp: 2, zzz: 1 }, 'plan')).toThrow(/zzz: got 1, expected no such field \(known: tp, cp, /);
    expect(() => parseWith(MoeArchSchema, { ...panguPro, mla: { qLoraRank: 1, kvLoraRank: 1, qkRopeHeadDim: 1, qkNopeHeadDim: 1, vHeadDim: 1, extra: 2 } }, 'arch')).toThrow(/mla\.extra: got 2, expected no such field \(known: qLoraRank, kvLoraRank, /);
    // A typo below the top level gets its own level's suggestion.
    expect(() => parseWith(MoeArchSchema, { ...panguPro, mla: { qLoraRnk: 1, kvLoraRank: 1, qkRopeHeadDim: 1, qkNopeHeadDim: 1, vHeadDim: 1 } }, 'arch')).toThrow(/mla\.qLoraRnk: got 1, expected no such field; did you mean "qLoraRank"\?/);
  });

  it('says what was expected in plain words, and survives input nested too deep to print', () => {
    expect(() => parseWith(ParallelPlanSchema, { tp: '8' }, 'plan')).toThrow(/tp: got "8", expected a number \(not a string\)$/);
    let deep: unknown = 1;
    for (let i = 0; i < 20000; i++) deep = [deep];
    expect(() => parseWith(ParallelPlanSchema, { tp: deep }, 'plan')).toThrow(/tp: got a \(deeply nested\) array, expected a number/);
    // zod's own wording ("a array (not a undefined)", ">=1 items", "Invalid input") never leaks.
    const expectation = (schema: z.ZodType, input: unknown) => {
      try {
        parseWith(z.object({ a: schema }), { a: input }, 'x');
      } catch (e) {
        return (e as Error).message.split('expected ')[1];
      }
      throw new Error('parsed');
    };
    expect(expectation(z.array(z.number()), undefined)).toBe('an array');
    expect(expectation(z.array(z.number()).min(1), [])).toBe('an array with at least 1 item');
    expect(expectation(z.string().min(2), '')).toBe('a string with at least 2 characters');
    expect(expectation(z.number().min(0), -1)).toBe('a number at least 0');
    expect(expectation(z.number().gt(0), 0)).toBe('a number more than 0');
    expect(expectation(z.number().int(), 1.5)).toBe('a whole number');
    expect(expectation(z.object({ b: z.number() }), 3)).toBe('an object (not a number)');
    expect(expectation(z.string().optional().nonoptional(), undefined)).toBe('a value');
    expect(expectation(z.union([z.number(), z.array(z.string())]), true)).toBe('a number or an array');
    expect(expectation(z.literal(1), 2)).toBe('1');
    // NaN and ±Infinity (YAML's .nan, .inf, -.inf) are not finite; zod's "received -Infinity" never leaks.
    expect(expectation(z.number(), NaN)).toBe('a finite number');
    expect(expectation(z.number().int().positive(), Infinity)).toBe('a finite number');
    expect(expectation(z.number().positive(), -Infinity)).toBe('a finite number');
    expect(() => parseWith(ParallelPlanSchema, { tp: -Infinity, dp: Infinity, pp: NaN }, 'plan')).toThrow(
      /tp: got -Infinity, expected a finite number\n {2}- dp: got Infinity, expected a finite number\n {2}- pp: got NaN, expected a finite number$/,
    );
  });

  it('shows a non-finite number as itself, not as null', () => {
    expect(() => parseWith(MoeArchSchema, { ...panguPro, ropeTheta: -Infinity }, 'arch')).toThrow(/ropeTheta: got -Infinity/);
  });

  it('names sizes far beyond any model (a typo) instead of laying them out', () => {
    expect(() => parseWith(MoeArchSchema, { ...panguPro, numLayers: 5e9 }, 'arch')).toThrow(/numLayers: got 5000000000, expected at most 4096 layers/);
    expect(() => parseWith(MoeArchSchema, { ...panguPro, numExperts: 1e6 }, 'arch')).toThrow(/numExperts: got 1000000, expected at most 65536 experts/);
    expect(parseWith(MoeArchSchema, { ...panguPro, numLayers: 4096 }, 'arch').numLayers).toBe(4096);
  });
});

describe('MoeArchSchema: fields another setting switches off', () => {
  const dense = { numLayers: 2, hiddenSize: 64, numHeads: 4, numKvHeads: 2, headDim: 16, vocabSize: 300, denseFfnSize: 128 };
  const mla = { qLoraRank: 0, kvLoraRank: 32, qkRopeHeadDim: 8, qkNopeHeadDim: 16, vHeadDim: 16 };

  it('refuses MLA ranks without attention "mla", naming the switch', () => {
    expect(() => parseWith(MoeArchSchema, { ...panguPro, mla }, 'arch')).toThrow(/^invalid arch:\n {2}- mla: got \{.*, expected nothing unless attention is "mla" \(it is "gqa"\); set attention: "mla" or drop mla$/);
    expect(parseWith(MoeArchSchema, { ...panguPro, attention: 'mla', mla }, 'arch').mla).toEqual(mla);
  });

  it('refuses routerTopGroups outside the group-limited router', () => {
    expect(() => parseWith(MoeArchSchema, { ...panguPro, routerTopGroups: 4 }, 'arch')).toThrow(/routerTopGroups: got 4, expected nothing unless router is "group-limited" \(it is "moge"\)/);
    expect(parseWith(MoeArchSchema, { ...panguPro, router: 'group-limited', routerTopGroups: 4 }, 'arch').routerTopGroups).toBe(4);
  });

  it('refuses expert fields in a dense model (numExperts left out), each by name', () => {
    const { numExperts: _, ...noExperts } = panguPro;
    expect(() => parseWith(MoeArchSchema, { ...noExperts, denseFfnSize: 17408 }, 'arch')).toThrow(
      /- topK: got 8, expected 0 in a dense model \(numExperts is 0\); set numExperts for a MoE model, or drop topK\n.*expertFfnSize: got 1344, .*\n.*sharedExpertFfnSize: got 5376, .*\n.*numExpertGroups: got 8, expected 1 in a dense model/,
    );
    expect(parseWith(MoeArchSchema, dense, 'arch')).toMatchObject({ numExperts: 0, topK: 0, numExpertGroups: 1 });
  });

  it('defaults routerExpertVector to true (Pangu\'s router_scale) and refuses false in a dense model, by name', () => {
    expect(parseWith(MoeArchSchema, panguPro, 'arch').routerExpertVector).toBe(true);
    expect(parseWith(MoeArchSchema, { ...panguPro, routerExpertVector: false }, 'arch').routerExpertVector).toBe(false);
    expect(() => parseWith(MoeArchSchema, { ...dense, routerExpertVector: false }, 'arch')).toThrow(
      /^invalid arch:\n {2}- routerExpertVector: got false, expected true \(its default\) in a dense model \(numExperts is 0: no router\); set numExperts for a MoE model, or drop routerExpertVector$/,
    );
    expect(parseWith(MoeArchSchema, { ...dense, routerExpertVector: true }, 'arch').routerExpertVector).toBe(true);
  });
});

describe('ParallelPlanSchema', () => {
  it('accepts the Pangu Ultra plan and derives sizes', () => {
    const p = parseWith(ParallelPlanSchema, { tp: 8, pp: 16, vpp: 2, ep: 4, dp: 48, microBatchSize: 2, globalBatchSize: 1536 }, 'plan');
    expect(planWorldSize(p)).toBe(6144);
    expect(planExpertDataParallel(p)).toBe(96);
  });

  it('rejects an expert layout that does not fit a stage', () => {
    expect(() => parseWith(ParallelPlanSchema, { tp: 2, dp: 3, ep: 4 }, 'plan')).toThrow(/ep: got 4, expected ep × etp/);
  });

  it('a serving plan may leave out globalBatchSize (microBatchSize × dp); a given one or bad input is the schema\'s to judge', () => {
    expect(parseWith(ParallelPlanSchema, servingPlanInput({ tp: 4, dp: 2 }), 'plan').globalBatchSize).toBe(2);
    expect(parseWith(ParallelPlanSchema, servingPlanInput({ dp: 2, microBatchSize: 3 }), 'plan').globalBatchSize).toBe(6);
    expect(() => parseWith(ParallelPlanSchema, servingPlanInput({ dp: 2, globalBatchSize: 3 }), 'plan')).toThrow(/globalBatchSize/);
    expect(() => parseWith(ParallelPlanSchema, servingPlanInput({ dp: 'two' }), 'plan')).toThrow(/dp/);
    expect(servingPlanInput([1])).toEqual([1]);
  });

  it('refuses recomputeNumLayers without whole-layer recompute, which would drop it silently', () => {
    expect(() => parseWith(ParallelPlanSchema, { recompute: ['permute'], recomputeNumLayers: 2 }, 'plan')).toThrow(
      /recomputeNumLayers: got 2, expected nothing unless recompute includes "layer"/,
    );
    expect(parseWith(ParallelPlanSchema, { recompute: ['layer', 'permute'], recomputeNumLayers: 2 }, 'plan').recomputeNumLayers).toBe(2);
  });

  it('rejects a global batch that does not split into micro-batches', () => {
    expect(() => parseWith(ParallelPlanSchema, { dp: 4, microBatchSize: 2, globalBatchSize: 12 }, 'plan')).toThrow(/globalBatchSize/);
  });

  it('bounds the micro-batches per step, which the simulators run one by one', () => {
    expect(parseWith(ParallelPlanSchema, { dp: 8, globalBatchSize: 8 * MAX_MICRO_BATCHES }, 'plan').globalBatchSize).toBe(800_000);
    expect(() => parseWith(ParallelPlanSchema, { dp: 8, globalBatchSize: 8589934592 }, 'plan')).toThrow(/globalBatchSize: .*at most 100000 micro-batches per step .* = 1073741824\)/);
  });
});
