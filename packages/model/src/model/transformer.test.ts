import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createReferenceBackend } from '@moge/ascend-hal';
import { createOnnxBackend } from '@moge/ascend-hal/node';
import { MogeError, ValidationError } from '@moge/core';
import { getPreset } from '../presets/presets';
import { initModelWeights, paramSpecs, weightsToHost, createModelWeights, type ExpertRunner } from '../index';
import { maxRelativeError } from '../test-support/golden';
import { tokenBatchFromRows, nextTokenLabels } from './batch';
import { createKvCache } from './kv-cache';
import { modelBackward, releaseGrads } from './backward';
import { modelForward, releaseLogits } from './transformer';

const arch = getPreset('moge-tiny');
const backend = createReferenceBackend();
const w = initModelWeights(arch, backend, { seed: 7, std: 0.2 });

function ids(batch: number, seqLen: number, seed: number): number[][] {
  return Array.from({ length: batch }, (_, b) => Array.from({ length: seqLen }, (_, s) => (seed * 31 + b * 97 + s * 13 + ((s * s) % 7)) % arch.vocabSize));
}

describe('incremental decode with a KV cache', () => {
  it('gives the logits of a full forward, for any prefix split (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 2, max: 10 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 1000 }), (batch, len, cut, seed) => {
        const split = Math.min(cut, len - 1);
        const rows = ids(batch, len, seed);
        const full = backend.read(modelForward(w, tokenBatchFromRows(rows, arch.vocabSize)).logits);
        const cache = createKvCache(arch, batch);
        const prefill = modelForward(w, { ids: Int32Array.from(rows.flatMap((r) => r.slice(0, split))), batch, seqLen: split }, { cache });
        const v = arch.vocabSize;
        const got = new Float32Array(batch * len * v);
        const pre = backend.read(prefill.logits);
        for (let b = 0; b < batch; b++) got.set(pre.subarray(b * split * v, (b + 1) * split * v), b * len * v);
        // then one token at a time
        for (let s = split; s < len; s++) {
          const step = backend.read(modelForward(w, { ids: Int32Array.from(rows.map((r) => r[s]!)), batch, seqLen: 1 }, { cache }).logits);
          for (let b = 0; b < batch; b++) got.set(step.subarray(b * v, (b + 1) * v), (b * len + s) * v);
        }
        expect(cache.length).toBe(len);
        expect(maxRelativeError(got, full, 1)).toBeLessThan(1e-5);
      }),
      { numRuns: 12 },
    );
  });

  it('gives the logits of a full forward for any split of the sequence into chunks (property)', () => {
    // Up to 70 positions: past the cache's capacity steps (KV_CAPACITY_STEP = 32), where it is regrown.
    const chunking = fc.integer({ min: 2, max: 70 }).chain((len) => fc.tuple(fc.constant(len), fc.uniqueArray(fc.integer({ min: 1, max: len - 1 }), { maxLength: 8 })));
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), chunking, fc.integer({ min: 0, max: 1000 }), (batch, [len, cuts], seed) => {
        const bounds = [0, ...[...cuts].sort((x, y) => x - y), len];
        const rows = ids(batch, len, seed);
        const v = arch.vocabSize;
        const full = backend.read(modelForward(w, tokenBatchFromRows(rows, arch.vocabSize)).logits);
        const cache = createKvCache(arch, batch);
        const got = new Float32Array(batch * len * v);
        for (let c = 0; c + 1 < bounds.length; c++) {
          const [from, to] = [bounds[c]!, bounds[c + 1]!];
          const chunk = backend.read(modelForward(w, { ids: Int32Array.from(rows.flatMap((r) => r.slice(from, to))), batch, seqLen: to - from }, { cache }).logits);
          for (let b = 0; b < batch; b++) got.set(chunk.subarray(b * (to - from) * v, (b + 1) * (to - from) * v), (b * len + from) * v);
        }
        expect(cache.length).toBe(len);
        expect(maxRelativeError(got, full, 1)).toBeLessThan(1e-5);
      }),
      { numRuns: 15 },
    );
  });

  it('gives a sequence the same logits whatever else is in the batch (property)', () => {
    const token = fc.integer({ min: 0, max: arch.vocabSize - 1 });
    const batches = fc.integer({ min: 1, max: 8 }).chain((len) => fc.array(fc.array(token, { minLength: len, maxLength: len }), { minLength: 2, maxLength: 4 }));
    fc.assert(
      fc.property(batches, fc.nat(), (rows, pick) => {
        const [batch, len] = [rows.length, rows[0]!.length];
        const at = pick % batch;
        const v = arch.vocabSize;
        const together = backend.read(modelForward(w, tokenBatchFromRows(rows, arch.vocabSize)).logits).subarray(at * len * v, (at + 1) * len * v);
        const alone = backend.read(modelForward(w, tokenBatchFromRows([rows[at]!], arch.vocabSize)).logits);
        expect(maxRelativeError(together, alone, 1)).toBeLessThan(1e-5);
      }),
      { numRuns: 15 },
    );
  });

  it('gives the logits of a full forward on the onnxruntime backend too', () => {
    const onnx = createOnnxBackend({ intraOpThreads: 1 });
    const wo = createModelWeights(arch, onnx, weightsToHost(w));
    const rows = ids(2, 9, 5);
    const full = onnx.read(modelForward(wo, tokenBatchFromRows(rows, arch.vocabSize)).logits);
    const cache = createKvCache(arch, 2);
    modelForward(wo, { ids: Int32Array.from(rows.flatMap((r) => r.slice(0, 6))), batch: 2, seqLen: 6 }, { cache });
    const v = arch.vocabSize;
    for (let s = 6; s < 9; s++) {
      const step = onnx.read(modelForward(wo, { ids: Int32Array.from(rows.map((r) => r[s]!)), batch: 2, seqLen: 1 }, { cache }).logits);
      for (let b = 0; b < 2; b++) {
        const want = full.subarray((b * 9 + s) * v, (b * 9 + s + 1) * v);
        expect(maxRelativeError(step.subarray(b * v, (b + 1) * v), want, 1)).toBeLessThan(1e-5);
      }
    }
  });

  it('refuses a batch of another size than the cache, and backward through a cache', () => {
    const cache = createKvCache(arch, 2);
    expect(() => modelForward(w, tokenBatchFromRows(ids(1, 3, 0), arch.vocabSize), { cache })).toThrow(MogeError);
    const cache1 = createKvCache(arch, 1);
    const f = modelForward(w, tokenBatchFromRows(ids(1, 3, 0), arch.vocabSize), { cache: cache1 });
    expect(() => modelBackward(w, f)).toThrow(/KV cache/);
  });

  it("refuses another model's cache and one a failed forward left part-advanced, naming the cache", () => {
    const prefill = (weights: typeof w, cache: ReturnType<typeof createKvCache>) => modelForward(weights, tokenBatchFromRows(ids(1, 3, 0), arch.vocabSize), { cache });
    const step = (weights: typeof w, cache: ReturnType<typeof createKvCache>) => modelForward(weights, { ids: Int32Array.of(5), batch: 1, seqLen: 1 }, { cache });
    for (const other of [{ ...arch, numKvHeads: 1 }, { ...arch, numLayers: 3 }, { ...arch, headDim: 8 }]) {
      const cache = createKvCache(arch, 1);
      prefill(w, cache);
      expect(() => step(initModelWeights(other, backend, { seed: 1 }), cache)).toThrow(/^KV cache of 2 layers × 2 KV heads × head_dim 16, the model has (3 × 2 × 16|2 × 1 × 16|2 × 2 × 8); a cache belongs to one model/);
    }
    // A forward that throws in layer 1 (here: its expert runner) has already extended layer 0.
    const cache = createKvCache(arch, 1);
    prefill(w, cache);
    const failing: ExpertRunner = {
      forward: () => {
        throw new Error('worker lost');
      },
      backward: () => {
        throw new Error('unused');
      },
    };
    expect(() => modelForward(w, { ids: Int32Array.of(5), batch: 1, seqLen: 1 }, { cache, experts: failing })).toThrow('worker lost');
    expect(() => step(w, cache)).toThrow(/KV cache layer 0 holds 4 positions, the cache 3 \(a forward with it failed part-way\)/);
  });

  it('refuses positions past max_position_embeddings, with or without a cache', () => {
    const short = { ...w, arch: { ...arch, maxPositionEmbeddings: 8 } };
    expect(() => modelForward(short, tokenBatchFromRows(ids(1, 9, 0), arch.vocabSize))).toThrow(/positions up to 9 \(9 new\) exceed the model's max_position_embeddings 8/);
    const cache = createKvCache(short.arch, 1);
    modelForward(short, tokenBatchFromRows(ids(1, 6, 0), arch.vocabSize), { cache });
    expect(() => modelForward(short, tokenBatchFromRows(ids(1, 3, 1), arch.vocabSize), { cache })).toThrow(/positions up to 9 \(6 cached \+ 3 new\)/);
  });
});

describe('forward and backward', () => {
  it('backward matches central finite differences of the total loss', () => {
    const batch = tokenBatchFromRows(ids(2, 6, 3), arch.vocabSize);
    const alpha = 0.1;
    const grads = modelBackward(w, modelForward(w, batch, { auxAlpha: alpha }));
    // The largest-gradient coordinate of every parameter tensor. The forward runs in float32, so the
    // step is large and the tolerance loose; the golden test pins the exact values.
    const names = paramSpecs(arch).map((s) => s.name);
    for (const name of names) {
      const t = w.params.get(name)!;
      const data = backend.read(t) as Float32Array;
      const g = backend.read(grads.get(name)!);
      let idx = 0;
      for (let i = 0; i < g.length; i++) if (Math.abs(g[i]!) > Math.abs(g[idx]!)) idx = i;
      const h = 1e-2 * Math.max(1, Math.abs(data[idx]!));
      const orig = data[idx]!;
      data[idx] = orig + h;
      const up = modelForward(w, batch, { auxAlpha: alpha, withGrad: false }).loss!.total;
      data[idx] = orig - h;
      const down = modelForward(w, batch, { auxAlpha: alpha, withGrad: false }).loss!.total;
      data[idx] = orig;
      const numeric = (up - down) / (2 * h);
      expect(Math.abs(numeric - g[idx]!), name).toBeLessThan(2e-2 * Math.abs(g[idx]!) + 2e-4);
    }
  });

  it('returns a gradient for every parameter, same names and shapes', () => {
    const grads = modelBackward(w, modelForward(w, tokenBatchFromRows(ids(2, 5, 1), arch.vocabSize)));
    expect([...grads.keys()]).toEqual([...w.params.keys()]);
    for (const [name, g] of grads) expect(g.shape, name).toEqual(w.params.get(name)!.shape);
  });

  it('counts K assignments per token, one K/M share per group (MoGE)', () => {
    const f = modelForward(w, tokenBatchFromRows(ids(3, 7, 2), arch.vocabSize));
    const per = arch.numExperts / arch.numExpertGroups;
    for (const r of f.routing) {
      expect(r.counts.reduce((a, c) => a + c, 0)).toBe(21 * arch.topK);
      for (let t = 0; t < 21; t++) {
        const groups = Array.from(r.expertIds.subarray(t * arch.topK, (t + 1) * arch.topK), (e) => Math.floor(e / per));
        expect(groups).toEqual([0, 1, 2, 3]);
      }
    }
  });

  it('uses labels: ignored positions do not count', () => {
    const rows = ids(1, 6, 4);
    const batch = tokenBatchFromRows(rows, arch.vocabSize);
    const labels = nextTokenLabels(batch.ids, 1, 6);
    labels.fill(-1, 3);
    const part = modelForward(w, { ...batch, labels }).loss!;
    const short = modelForward(w, tokenBatchFromRows([rows[0]!.slice(0, 4)], arch.vocabSize)).loss!;
    expect(part.crossEntropy).toBeCloseTo(short.crossEntropy, 5);
  });

  it('validates token ids and ragged rows, naming the position', () => {
    expect(() => tokenBatchFromRows([[1, 2], [3]], arch.vocabSize)).toThrow(ValidationError);
    expect(() => tokenBatchFromRows([[1, 999]], arch.vocabSize)).toThrow(/\[0\]\[1\].*999/);
  });

  it('lists the first 10 problems of a large input_ids and counts the rest (a line per row buried the first)', () => {
    const lines = (rows: unknown) => {
      try {
        tokenBatchFromRows(rows, arch.vocabSize);
      } catch (e) {
        return (e as Error).message.split('\n');
      }
      throw new Error('accepted');
    };
    const ragged = lines([[1, 2], ...Array.from({ length: 5000 }, () => [1])]);
    expect(ragged).toHaveLength(12);
    expect(ragged[11]).toBe('  - …: got "4990 more", expected the same fix for the other 4990 (5000 problems in all)');
    const fractional = lines([Array.from({ length: 5000 }, () => 1.5)]);
    expect(fractional).toHaveLength(12);
    expect(fractional[1]).toMatch(/\[0\]\[0\]: got 1\.5, expected a whole number/);
    expect(lines([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((i) => 300 + i)])[11]).toMatch(/the other 1 \(11 problems in all\)/);
  });

  it('refuses an empty or fractional batch, labels that do not fit it, and a NaN or negative auxAlpha by name, before computing', () => {
    expect(() => modelForward(w, { ids: new Int32Array(0), batch: 0, seqLen: 3 })).toThrow(/^token batch: 0 sequences × 3 positions, expected whole numbers ≥ 1/);
    expect(() => modelForward(w, { ids: new Int32Array(3), batch: 1.5, seqLen: 2 })).toThrow(/^token batch: 1\.5 sequences × 2 positions/);
    const batch = tokenBatchFromRows(ids(1, 3, 0), arch.vocabSize);
    const two = { ids: Int32Array.of(1, 2), batch: 1, seqLen: 2 };
    expect(() => modelForward(w, { ...two, labels: Int32Array.of(2) })).toThrow(/^token batch: 1 labels for 2 ids, expected one per position \(-1 to leave one out/);
    expect(() => modelForward(w, { ...two, labels: Int32Array.of(2, 999) })).toThrow(/^token batch: labels\[1\] = 999, expected -1 or a token id in \[0, 256\)/);
    expect(() => modelForward(w, { ...two, labels: Int32Array.of(-5, -1) })).toThrow(MogeError);
    for (const auxAlpha of [NaN, -0.01, Infinity]) expect(() => modelForward(w, batch, { auxAlpha })).toThrow(new RegExp(`^auxAlpha: got ${auxAlpha}, expected a finite number ≥ 0`));
  });

  it('initialises deterministically from the seed', () => {
    const a = initModelWeights(arch, backend, { seed: 1 });
    const b = initModelWeights(arch, backend, { seed: 1 });
    const c = initModelWeights(arch, backend, { seed: 2 });
    const name = 'model.layers.1.self_attn.q_proj.weight';
    expect(backend.read(a.params.get(name)!)).toEqual(backend.read(b.params.get(name)!));
    expect(backend.read(a.params.get(name)!)).not.toEqual(backend.read(c.params.get(name)!));
    expect(Array.from(backend.read(a.params.get('model.layers.0.mlp.router_scale')!))).toEqual(new Array(arch.numExperts).fill(1));
    const emb = backend.read(a.params.get('model.embed_tokens.weight')!) as Float32Array;
    const std = Math.sqrt(emb.reduce((s, v) => s + v * v, 0) / emb.length);
    expect(std).toBeGreaterThan(0.018);
    expect(std).toBeLessThan(0.022);
  });
});

describe('activation recycling (onnxruntime)', () => {
  const host = weightsToHost(initModelWeights(arch, backend, { seed: 11, std: 0.2 }));
  const batch = tokenBatchFromRows(ids(2, 9, 5), arch.vocabSize);
  const labelled = { ...batch, labels: nextTokenLabels(batch.ids, batch.batch, batch.seqLen) };

  function twoSteps(recycleBuffers: boolean): Float32Array[] {
    const b = createOnnxBackend({ intraOpThreads: 1, recycleBuffers });
    const weights = createModelWeights(arch, b, host);
    const out: Float32Array[] = [];
    // The second step runs on buffers the first one handed back (poisoned with NaN in between).
    for (let step = 0; step < 2; step++) {
      const fwd = modelForward(weights, labelled);
      if (recycleBuffers) expect(fwd.state.layers.every((l) => l.allocations !== undefined)).toBe(true);
      const routing = fwd.routing.map((r) => Int32Array.from(r.expertIds));
      const grads = modelBackward(weights, fwd);
      // The caller's routing report survives the recycling of the layers it came from.
      expect(fwd.routing.map((r) => Int32Array.from(r.expertIds))).toEqual(routing);
      for (const g of grads.values()) out.push(Float32Array.from(b.read(g)));
      // The next step's gradients (and dLogits) reuse these buffers.
      releaseGrads(weights, grads);
    }
    return out;
  }

  it('gives the same gradients, bit for bit, as leaving buffers to the garbage collector', () => {
    const on = twoSteps(true);
    const off = twoSteps(false);
    expect(on.length).toBe(off.length);
    for (let i = 0; i < on.length; i++) expect(on[i]).toEqual(off[i]);
    expect(on.every((g) => g.every(Number.isFinite))).toBe(true);
  });

  it('releaseGrads hands every gradient buffer back (poisoned with NaN under vitest), keeps the logits, and is a no-op the second time', () => {
    const b = createOnnxBackend({ intraOpThreads: 1 });
    const weights = createModelWeights(arch, b, host);
    const fwd = modelForward(weights, labelled);
    const logits = Float32Array.from(b.read(fwd.logits));
    const grads = modelBackward(weights, fwd);
    expect([...grads.values()].every((g) => b.read(g).every(Number.isFinite))).toBe(true);
    releaseGrads(weights, grads);
    // Kernel outputs the backend pooled (here the head's and the stacked experts' gradients; small
    // products of this tiny arch run in JS or onnxruntime, whose outputs are not pooled) come back NaN.
    const pooled = ['lm_head.weight', ...[...grads.keys()].filter((name) => name.includes('.mlp.experts.'))];
    expect(pooled.length).toBeGreaterThan(1);
    for (const name of pooled) expect(b.read(grads.get(name)!).every(Number.isNaN), name).toBe(true);
    expect(Float32Array.from(b.read(fwd.logits))).toEqual(logits);
    expect(() => releaseGrads(weights, grads)).not.toThrow();
    releaseGrads(weights, new Map());
  });

  it('releaseLogits hands the logits back (NaN under vitest) without touching the loss or what backward needs, once', () => {
    const b = createOnnxBackend({ intraOpThreads: 1 });
    const weights = createModelWeights(arch, b, host);
    // 64 tokens × 256: logits of 64 KiB, the size from which outputs get pooled buffers of their own.
    const big = tokenBatchFromRows(ids(4, 16, 7), arch.vocabSize);
    const bigLabelled = { ...big, labels: nextTokenLabels(big.ids, big.batch, big.seqLen) };
    const kept = modelForward(weights, bigLabelled);
    const want = modelBackward(weights, kept);
    const fwd = modelForward(weights, bigLabelled);
    const loss = fwd.loss!.total;
    releaseLogits(weights, fwd);
    expect(b.read(fwd.logits).every(Number.isNaN)).toBe(true);
    expect(fwd.loss!.total).toBe(loss);
    // Released before the backward: it reads dLogits and the final norm, never the logits.
    const grads = modelBackward(weights, fwd);
    for (const [name, g] of want) expect(Array.from(b.read(grads.get(name)!)), name).toEqual(Array.from(b.read(g)));
    expect(() => releaseLogits(weights, fwd)).not.toThrow();
    const inference = modelForward(weights, bigLabelled, { withGrad: false });
    releaseLogits(weights, inference);
    expect(b.read(inference.logits).every(Number.isNaN)).toBe(true);
  });

  it('refuses a second backward of one forward, and collects nothing without a backward to follow', () => {
    const b = createOnnxBackend({ intraOpThreads: 1 });
    const weights = createModelWeights(arch, b, host);
    const fwd = modelForward(weights, labelled);
    modelBackward(weights, fwd);
    expect(() => modelBackward(weights, fwd)).toThrow(/already backpropagated/);
    const inference = modelForward(weights, labelled, { withGrad: false });
    expect(inference.state.layers.some((l) => l.allocations !== undefined)).toBe(false);
  });
});
