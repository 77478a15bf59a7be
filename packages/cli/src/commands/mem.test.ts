import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { getPreset } from '@moge/model';
import { captureOutput } from '../test-support/capture';
import { main } from '../main';
import { sharedDir } from '../../../../tools/test/shared-dir';

const goldenModel = resolve(sharedDir(), 'golden', 'tiny-moge-a');
const dir = mkdtempSync(join(tmpdir(), 'moge-mem-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

const capture = captureOutput;

// Pangu Pro MoE's final training layout (paper §3): TP8 EP2 PP5 VPP5, 48 layers + 2 no-op layers.
const PRO_PLAN = { tp: 8, pp: 5, vpp: 5, ep: 2, dp: 8, microBatchSize: 1, seqLength: 4096, globalBatchSize: 1000, noopLayers: 2, sequenceParallel: true };
const GiB = 2 ** 30;

interface TrainJson {
  weightsBytes: number;
  gradientsBytes: number;
  optimizerBytes: number;
  activationsBytes: number;
  overheadBytes: number;
  totalBytes: number;
  peakStage: number;
  perLayer: { layer: number; activationBytes: number; stage: number }[];
  stages: { stage: number; totalBytes: number }[];
  memoryPlan?: { fits: boolean; totalBytes: number; budgetBytes: number; policy: { recompute: string[]; swap: string[] }; summary: string };
}

async function train(args: string[]): Promise<{ code: number; json: TrainJson; err: string }> {
  const { out, err } = capture();
  const code = await main(['mem', 'train', ...args, '--json']);
  return { code, json: code === 0 ? (JSON.parse(out.join('')) as TrainJson) : ({} as TrainJson), err: err.join('') };
}

describe('moge mem train', () => {
  it('--json gives per device weights, gradients, optimizer, activations, total and per-layer activation bytes', async () => {
    const { code, json } = await train(['--arch', 'pangu-pro-moe', '--plan', JSON.stringify(PRO_PLAN)]);
    expect(code).toBe(0);
    const parts = json.weightsBytes + json.gradientsBytes + json.optimizerBytes + json.activationsBytes + json.overheadBytes;
    expect(json.totalBytes).toBe(parts);
    // The peak device is the peak stage, and it is the largest of the stages.
    expect(json.totalBytes).toBe(json.stages[json.peakStage]!.totalBytes);
    expect(Math.max(...json.stages.map((s) => s.totalBytes))).toBe(json.totalBytes);
    // Every real layer once (no-op layers keep nothing), in order, each with a positive size.
    expect(json.perLayer.map((l) => l.layer)).toEqual(Array.from({ length: 48 }, (_, i) => i));
    for (const l of json.perLayer) expect(l.activationBytes).toBeGreaterThan(0);
    // bf16 weights, fp32 gradients (Megatron's main grads): gradients are twice the weights.
    expect(json.gradientsBytes).toBe(2 * json.weightsBytes);
    // A 72 B-parameter model over TP8 × PP5 (experts over EP2) fits a 64 GB Ascend 910B at these sizes.
    expect(json.totalBytes).toBeGreaterThan(30 * GiB);
    expect(json.totalBytes).toBeLessThan(64 * GiB);
  });

  it('accepts the arch as a MoeArch file or an HF config.json, and the plan as a file', async () => {
    const archFile = join(dir, 'arch.json');
    writeFileSync(archFile, JSON.stringify(getPreset('pangu-pro-moe')));
    const planFile = join(dir, 'plan.json');
    writeFileSync(planFile, JSON.stringify(PRO_PLAN));
    const fromPreset = await train(['--arch', 'pangu-pro-moe', '--plan', planFile]);
    const fromFile = await train(['--arch', archFile, '--plan', planFile]);
    expect(fromFile.code).toBe(0);
    expect(fromFile.json.totalBytes).toBe(fromPreset.json.totalBytes);
    const hf = await train(['--arch', join(goldenModel, 'config.json'), '--plan', '{"globalBatchSize": 1}']);
    expect(hf.code).toBe(0);
    expect(hf.json.perLayer.length).toBeGreaterThan(0);
    expect(hf.json.totalBytes).toBeGreaterThan(0);
  });

  it('with --budget picks a recompute/swap policy that fits, and says why when nothing can', async () => {
    const baseline = await train(['--arch', 'pangu-pro-moe', '--plan', JSON.stringify(PRO_PLAN)]);
    const budgetGiB = 45;
    expect(baseline.json.totalBytes).toBeGreaterThan(budgetGiB * GiB);
    const fit = await train(['--arch', 'pangu-pro-moe', '--plan', JSON.stringify(PRO_PLAN), '--budget', String(budgetGiB)]);
    expect(fit.code).toBe(0);
    expect(fit.json.memoryPlan!.fits).toBe(true);
    expect(fit.json.memoryPlan!.totalBytes).toBeLessThanOrEqual(budgetGiB * GiB);
    expect(fit.json.memoryPlan!.policy.recompute.length + fit.json.memoryPlan!.policy.swap.length).toBeGreaterThan(0);

    // 40 GiB is less than weights + gradients + optimizer states: no recompute or swap can help.
    const { out, err } = capture();
    expect(await main(['mem', 'train', '--arch', 'pangu-pro-moe', '--plan', JSON.stringify(PRO_PLAN), '--budget', '40'])).toBe(1);
    expect(out.join('')).toMatch(/budget 40\.00 GiB per device/);
    expect(err.join('')).toMatch(/does not fit: stage \d+ needs at least .* no recompute or swap can help\. The largest part is gradients/);
  });

  it('names a bad flag, a bad plan field and an unknown arch', async () => {
    let r = await train(['--arch', 'pangu-pro-moe', '--plan', JSON.stringify(PRO_PLAN), '--budget', 'lots']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--budget: got "lots", expected a positive number of GiB/);
    r = await train(['--arch', 'pangu-pro-moe', '--plan', JSON.stringify({ ...PRO_PLAN, noopLayers: 0 })]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/plan\.noopLayers: got 0, expected .*e\.g\. noopLayers 2/);
    r = await train(['--arch', 'no-such-model', '--plan', '{"globalBatchSize": 1}']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no-such-model.*not a preset/);
    // Values whose byte counts overflow are named as the flag, not as an internal field or Infinity.
    r = await train(['--arch', 'pangu-pro-moe', '--plan', JSON.stringify(PRO_PLAN), '--imbalance', '1e300']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--imbalance: got "1e300", expected .*at most 1000/);
    r = await train(['--arch', 'pangu-pro-moe', '--plan', JSON.stringify(PRO_PLAN), '--budget', '1e300']);
    expect(r.err).toMatch(/--budget: got "1e300", expected a positive number of GiB, at most 1000000/);
  });
});

describe('moge mem infer', () => {
  async function infer(args: string[]) {
    const { out, err } = capture();
    const code = await main(['mem', 'infer', ...args]);
    return { code, out: out.join(''), err: err.join('') };
  }

  it('reports KV per token (GQA and MLA), weights by quantisation and the largest batch at a context length', async () => {
    // Pangu Pro MoE on 4 Atlas 800I A2 chips (attention TP4, experts EP4), 2048-token context.
    const plan = JSON.stringify({ tp: 4, ep: 4, globalBatchSize: 1 });
    const bf16 = JSON.parse((await infer(['--arch', 'pangu-pro-moe', '--plan', plan, '--context', '2048', '--json'])).out);
    const w8a8 = JSON.parse((await infer(['--arch', 'pangu-pro-moe', '--plan', plan, '--context', '2048', '--quant', 'w8a8', '--json'])).out);
    // GQA: K and V of 8 KV heads × 128 × 2 bytes × 48 layers; TP4 splits the heads.
    expect(w8a8.kvBytesPerToken).toBe(2 * 8 * 128 * 2 * 48);
    expect(w8a8.kvBytesPerTokenPerDevice).toBe((2 * 8 * 128 * 2 * 48) / 4);
    expect(w8a8.weightsBytes).toBeLessThan(0.6 * bf16.weightsBytes);
    expect(w8a8.maxBatch).toBeGreaterThan(bf16.maxBatch);
    expect(w8a8.maxBatch).toBeGreaterThan(0);
    // MLA: the 512-wide latent plus the 64-wide rope key per layer, 61 layers, bf16.
    const ultra = JSON.parse((await infer(['--arch', 'pangu-ultra-moe', '--plan', '{"globalBatchSize": 1}', '--context', '4096', '--hbm', '4096', '--json'])).out);
    expect(ultra.kvBytesPerToken).toBe((512 + 64) * 2 * 61);
    // A table for people, and a clear failure when the batch does not fit.
    const text = await infer(['--arch', 'pangu-pro-moe', '--plan', plan, '--context', '2048', '--quant', 'w4a8']);
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/w4a8 weights/);
    expect(text.out).toMatch(/max batch at 2048 tokens: \d+ per attention-DP rank/);
    const tooBig = await infer(['--arch', 'pangu-pro-moe', '--plan', plan, '--context', '2048', '--batch', '100000']);
    expect(tooBig.code).toBe(1);
    expect(tooBig.err).toMatch(/does not fit: batch 100000 needs .*; at most \d+ sequences of 2048 tokens fit: lower --batch to \d+ \(from 100000\)/);
    // Weights past the device: only more parallelism or smaller weights help, and it says so.
    const noRoom = await infer(['--arch', 'pangu-pro-moe', '--plan', '{"tp":1}', '--context', '2048', '--hbm', '64']);
    expect(noRoom.code).toBe(1);
    expect(noRoom.err).toMatch(/not even one sequence of 2048 tokens fits beside .* of weights: split the model over more devices \(raise tp, ep or pp in --plan\), quantise/);
    // --json prints the estimate and fails the same way.
    const tooBigJson = await infer(['--arch', 'pangu-pro-moe', '--plan', plan, '--context', '2048', '--batch', '100000', '--json']);
    expect([tooBigJson.code, JSON.parse(tooBigJson.out).fits]).toEqual([1, false]);
  });

  it('notes a context past the model\'s maxPositionEmbeddings, and still estimates it', async () => {
    const r = await infer(['--arch', 'pangu-pro-moe', '--plan', '{"tp":4,"ep":4}', '--context', '100000', '--json']);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/note: --context 100000 is past pangu-pro-moe's maxPositionEmbeddings \(4096\)/);
    expect(JSON.parse(r.out).maxBatch).toBeGreaterThan(0);
  });

  it("splits layers over pipeline stages as --pp-layers says (vLLM's VLLM_PP_LAYER_PARTITION), and names a bad one", async () => {
    const run = (extra: string[]) => infer(['--arch', 'pangu-pro-moe', '--plan', '{"tp":8,"pp":2,"ep":8}', '--cluster', 'atlas-800i-a2:16', '--json', ...extra]);
    const even = JSON.parse((await run([])).out);
    const skewed = JSON.parse((await run(['--pp-layers', '30,18'])).out);
    expect(even.stages.map((s: { layers: number }) => s.layers)).toEqual([24, 24]);
    expect(skewed.stages.map((s: { layers: number }) => s.layers)).toEqual([30, 18]);
    expect(skewed.busiestStage).toBe(0);
    expect(skewed.weightsBytes).toBeGreaterThan(even.weightsBytes);
    const short = await run(['--pp-layers', '30,17']);
    expect(short.code).toBe(1);
    expect(short.err).toMatch(/ppLayerPartition: got \[30,17\], expected entries summing to numLayers \(48\)/);
    const table = await infer(['--arch', 'pangu-pro-moe', '--plan', '{"tp":8,"pp":2,"ep":8}', '--cluster', 'atlas-800i-a2:16', '--pp-layers', '30,18']);
    expect(table.out).toMatch(/per device of stage 0 \(the busiest of 2\)/);
    expect(table.out).toMatch(/^layers per stage: 30, 18$/m);
    const text = await run(['--pp-layers', '30,x']);
    expect(text.code).toBe(1);
    expect(text.err).toMatch(/--pp-layers: .*comma-separated whole numbers/);
  });

  it("sizes the sampler's logits by --max-num-seqs (vLLM's --max-num-seqs)", async () => {
    const run = async (extra: string[]) => JSON.parse((await infer(['--arch', 'pangu-pro-moe', '--plan', '{"tp":4,"ep":4}', '--context', '2048', '--json', ...extra])).out);
    const base = await run([]);
    const more = await run(['--max-num-seqs', '1024']);
    expect(more.workspaceBytes - base.workspaceBytes).toBe((1024 - 256) * 153376 * 4);
    expect((await infer(['--arch', 'pangu-pro-moe', '--max-num-seqs', '0'])).err).toMatch(/--max-num-seqs/);
  });

  it('takes a serving plan without the training-only globalBatchSize, as sim infer does', async () => {
    const r = await infer(['--arch', 'pangu-ultra-moe', '--plan', '{"tp":8,"ep":64,"dp":8}', '--cluster', 'atlas-800i-a2:64', '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).maxBatch).toBeGreaterThan(0);
  });

  it('names a bad flag', async () => {
    const r = await infer(['--arch', 'pangu-pro-moe', '--quant', 'w3a3']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--quant: got "w3a3"/);
  });
});
