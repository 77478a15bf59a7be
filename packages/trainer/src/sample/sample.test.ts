import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createReferenceBackend } from '@moge/ascend-hal';
import { Rng } from '@moge/core';
import { getPreset, initModelWeights, modelForward } from '@moge/model';
import { loadSotuCorpus } from '../data/corpus';
import { trainTokenizer } from '../tokenizer/train-tokenizer';
import { pickToken, sampleText } from './sample';

const arch = { ...getPreset('moge-tiny'), vocabSize: 300 };
const weights = initModelWeights(arch, createReferenceBackend(), { seed: 5 });
const tokenizer = trainTokenizer([loadSotuCorpus()[0]!.text.slice(0, 8000)], { vocabSize: 300 });

describe('sampleText', () => {
  it('greedy decoding with the KV cache picks what a full forward of the whole sequence picks', () => {
    const r = sampleText(weights, tokenizer, { prompt: 'Fellow citizens', maxTokens: 8 });
    expect(r.tokens.length).toBeGreaterThan(0);
    // Recompute every step without a cache: the argmax of the last position must agree.
    const seq = Array.from(tokenizer.encode('Fellow citizens'));
    for (const expected of r.tokens) {
      const fwd = modelForward(weights, { ids: Int32Array.from(seq), batch: 1, seqLen: seq.length }, { withGrad: false });
      const logits = weights.backend.read(fwd.logits) as Float32Array;
      const last = logits.subarray((seq.length - 1) * arch.vocabSize, seq.length * arch.vocabSize);
      expect(pickToken(last, 0, 0, new Rng(0))).toBe(expected);
      seq.push(expected);
    }
    expect(r.text).toBe(tokenizer.decode(r.tokens));
  });

  it('says when the prompt was cut or generation stopped at the model\'s positions', () => {
    const short = { ...weights, arch: { ...arch, maxPositionEmbeddings: 16 } };
    const prompt = 'The state of the Union is strong and growing stronger every year';
    const promptLength = tokenizer.encode(prompt).length;
    expect(promptLength).toBeGreaterThan(15);
    const r = sampleText(short, tokenizer, { prompt, maxTokens: 8 });
    // The prompt's last 16 − 8 + 1 = 9 tokens stay: room for all 8 new ones (the 8th read off position 16).
    expect(r.promptTokensDropped).toBe(promptLength - 9);
    expect(r.promptTokens).toBe(9);
    if (!r.stoppedAtEndOfText) expect([r.stoppedAtContextLimit, r.tokens.length]).toEqual([false, 8]);
    // Asking for more than the context holds: one prompt token, and generation stops at the limit.
    const long = sampleText(short, tokenizer, { prompt, maxTokens: 40 });
    expect(long.promptTokens).toBe(1);
    if (!long.stoppedAtEndOfText) expect([long.stoppedAtContextLimit, long.tokens.length]).toEqual([true, 16]);
    const free = sampleText(weights, tokenizer, { prompt: 'The', maxTokens: 4 });
    expect([free.promptTokensDropped, free.stoppedAtContextLimit]).toEqual([0, false]);
  });

  it('is reproducible by seed when sampling with a temperature, and the seed and temperature matter', () => {
    const sample = (seed: number, temperature = 1) => sampleText(weights, tokenizer, { prompt: 'The', maxTokens: 6, temperature, seed }).tokens;
    expect(sample(3)).toEqual(sample(3));
    // An untrained model's next-token distribution is nearly flat over 300 ids: other seeds draw other tokens.
    expect(sample(4)).not.toEqual(sample(3));
    expect(sample(3)).not.toEqual(sample(3, 0));
  });

  it('never draws an id the tokenizer lacks when the model\'s vocabulary is larger', () => {
    const wide = initModelWeights({ ...arch, vocabSize: 600 }, createReferenceBackend(), { seed: 5 });
    const r = sampleText(wide, tokenizer, { prompt: 'The', maxTokens: 40, temperature: 1, seed: 1 });
    expect(r.tokens.length).toBeGreaterThan(0);
    expect(Math.max(...r.tokens)).toBeLessThan(tokenizer.size);
  });
});

describe('pickToken', () => {
  it('temperature 0 is the argmax; top-k sampling only returns one of the k likeliest', () => {
    fc.assert(
      fc.property(fc.array(fc.float({ min: -20, max: 20, noNaN: true }), { minLength: 2, maxLength: 40 }), fc.integer({ min: 1, max: 5 }), fc.nat(), (xs, k, seed) => {
        const logits = Float32Array.from(xs);
        const argmax = logits.indexOf(Math.max(...logits));
        expect(logits[pickToken(logits, 0, 0, new Rng(seed))]).toBe(logits[argmax]);
        const kth = [...logits].sort((a, b) => b - a)[Math.min(k, logits.length) - 1]!;
        expect(logits[pickToken(logits, 0.7, k, new Rng(seed))]).toBeGreaterThanOrEqual(kth);
      }),
      { numRuns: 200 },
    );
  });

  it('top-p only returns a token of the nucleus: the likeliest tokens whose probabilities first reach p', () => {
    fc.assert(
      fc.property(
        fc.array(fc.float({ min: -8, max: 8, noNaN: true }), { minLength: 2, maxLength: 40 }),
        fc.double({ min: 0.01, max: 1, noNaN: true }),
        fc.double({ min: 0.2, max: 2, noNaN: true }),
        fc.nat(),
        (xs, p, t, seed) => {
          const logits = Float32Array.from(xs);
          // The nucleus, computed apart: probabilities at temperature t, sorted, shortest prefix reaching p
          // (reaching p + 1e-9, so rounding in either sum never makes it the smaller of the two).
          const probs = [...logits].map((l) => Math.exp((l - Math.max(...logits)) / t));
          const total = probs.reduce((a, b) => a + b, 0);
          const order = probs.map((q, i) => [q, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
          let mass = 0;
          const nucleus = new Set<number>();
          for (const [q, i] of order) {
            nucleus.add(i);
            mass += q / total;
            if (mass >= p + 1e-9) break;
          }
          // Outside the nucleus every token is at most as likely as its least likely member; one of
          // equal probability (a tie at the edge) may be cut either way.
          const edge = Math.min(...[...nucleus].map((i) => probs[i]!));
          const picked = pickToken(logits, t, 0, new Rng(seed), p);
          expect(nucleus.has(picked) || probs[picked] === edge).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('top-p near 0 is the argmax, and top-p 1 draws exactly what it drew without it', () => {
    const logits = Float32Array.from([0.5, 2, -1, 1.9, 0]);
    for (let seed = 0; seed < 50; seed++) {
      expect(pickToken(logits, 1, 0, new Rng(seed), 1e-6)).toBe(1);
      expect(pickToken(logits, 0.9, 0, new Rng(seed), 1)).toBe(pickToken(logits, 0.9, 0, new Rng(seed)));
    }
    // A high-temperature draw from the {1, 3} nucleus covers both and nothing else.
    const seen = new Set(Array.from({ length: 200 }, (_, seed) => pickToken(logits, 1, 0, new Rng(seed), 0.6)));
    expect([...seen].sort()).toEqual([1, 3]);
  });
});
