import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { captureOutput } from '../test-support/capture';
import { main } from '../main';

function capture() {
  const { out, err } = captureOutput();
  return { out: () => out.join(''), err: () => err.join('') };
}

afterEach(() => vi.restoreAllMocks());

const tmp = mkdtempSync(join(tmpdir(), 'moge-cli-sim-infer-'));
const PLAN = '{"tp":4,"ep":2,"etp":2,"sequenceParallel":true}';
const DECODE = { phase: 'decode', batch: 456, inputLength: 2048, quantization: 'w8a8', layout: { sharedExpertTp: 4, fuseCollectives: true } };
const base = ['sim', 'infer', '--arch', 'pangu-pro-moe', '--cluster', 'atlas-800i-a2:4', '--plan', PLAN];

describe('moge sim infer', () => {
  it('prints ttftS, tpotS, throughputPerCard, batch and breakdown as JSON (PRO-D1 within 10 %)', async () => {
    const io = capture();
    // PRO-D1's published batch is over the memory model's 57.6 GiB usable (validation-cases.ts says so): printed in full, then status 1.
    expect(await main([...base, '--workload', JSON.stringify(DECODE), '--json'])).toBe(1);
    expect(io.err()).toMatch(/^moge: does not fit: batch 456 needs/);
    const r = JSON.parse(io.out());
    expect(Object.keys(r).slice(0, 5)).toEqual(['ttftS', 'tpotS', 'throughputPerCard', 'batch', 'breakdown']);
    expect(r.ttftS).toBeNull();
    expect(r.batch).toBe(456);
    expect(Math.abs(r.tpotS / 0.09931 - 1)).toBeLessThan(0.1);
    expect(r.throughputPerCard).toBeCloseTo(456 / r.tpotS / 4, 6);
    expect(r.breakdown.computeByModule['attention-core']).toBeGreaterThan(0);
  });

  it('reads a workload file and reports TTFT for prefill', async () => {
    const file = join(tmp, 'prefill.json');
    writeFileSync(file, JSON.stringify({ ...DECODE, phase: 'prefill', batch: 2 }));
    const io = capture();
    expect(await main([...base, '--workload', file, '--json'])).toBe(0);
    const r = JSON.parse(io.out());
    expect(r.tpotS).toBeNull();
    expect(r.ttftS).toBeGreaterThan(0);
    expect(r.throughputUnit).toBe('input tokens/s');
    // A workload path that is no file, and bad inline JSON, name the flag.
    expect(await main([...base, '--workload', join(tmp, 'missing.json')])).not.toBe(0);
    expect(io.err()).toMatch(/--workload .*missing\.json: no such file/);
    expect(await main([...base, '--workload', '{"phase":'])).not.toBe(0);
    expect(io.err()).toMatch(/--workload: inline JSON does not parse/);
    // Whole-number flags share the CLI's one rule, which names digits.
    expect(await main(['sim', 'search', '--mode', 'infer', '--arch', 'pangu-pro-moe', '--cluster', 'atlas-800i-a2:8', '--input-length', '1e3'])).not.toBe(0);
    expect(io.err()).toMatch(/--input-length.*a whole number ≥ 1, in digits/);
  });

  it('finds the largest batch under a TPOT cap', async () => {
    const io = capture();
    expect(await main([...base, '--workload', JSON.stringify(DECODE), '--max-batch-under-tpot', '0.05', '--json'])).toBe(0);
    const r = JSON.parse(io.out());
    expect(r.maxBatchUnderTpot.capS).toBe(0.05);
    expect(r.batch).toBe(r.maxBatchUnderTpot.batch);
    expect(r.batch).toBeGreaterThan(1);
    expect(r.tpotS).toBeLessThanOrEqual(0.05);
  });

  it('prints a step that does not fit in memory in full, then fails with one line on stderr', async () => {
    const huge = JSON.stringify({ ...DECODE, batch: 4000 });
    const io = capture();
    expect(await main([...base, '--workload', huge, '--json'])).toBe(1);
    expect(JSON.parse(io.out()).memory.fits).toBe(false);
    expect(io.err()).toMatch(/^moge: does not fit: batch 4000 needs [\d.]+ GiB per device, [\d.]+ GiB usable;[^\n]*\n$/);
    vi.restoreAllMocks();
    const table = capture();
    expect(await main([...base, '--workload', huge])).toBe(1);
    expect(table.out()).toMatch(/\(does NOT fit\)[\s\S]*memory-bound ops/);
  });

  it('fails, after the result, when no batch meets the TPOT cap', async () => {
    const io = capture();
    expect(await main([...base, '--workload', JSON.stringify(DECODE), '--max-batch-under-tpot', '1e-9', '--json'])).toBe(1);
    expect(JSON.parse(io.out()).maxBatchUnderTpot).toMatchObject({ batch: 0, limitedBy: 'tpot' });
    expect(io.err()).toMatch(/^moge: no batch meets the TPOT cap of 1e-9 s: batch 1 is slower; raise --max-batch-under-tpot/);
    vi.restoreAllMocks();
    const table = capture();
    expect(await main([...base, '--workload', JSON.stringify(DECODE), '--max-batch-under-tpot', '1e-9'])).toBe(1);
    expect(table.out()).toMatch(/largest batch under TPOT .*: 0 \(limited by the TPOT cap/);
  });

  it('prints a readable breakdown without --json', async () => {
    const io = capture();
    expect(await main([...base, '--workload', JSON.stringify({ ...DECODE, batch: 1 })])).toBe(0);
    expect(io.out()).toMatch(/TPOT .* ms/);
    expect(io.out()).toMatch(/compute: experts/);
  });

  it('takes a serving plan with attention DP and no training batch fields', async () => {
    const io = capture();
    const plan = '{"tp":2,"dp":2,"ep":4,"sequenceParallel":true}';
    expect(await main(['sim', 'infer', '--arch', 'pangu-pro-moe', '--cluster', 'atlas-800i-a2:4', '--plan', plan, '--workload', JSON.stringify({ ...DECODE, batch: 64 }), '--json'])).toBe(0);
    expect(JSON.parse(io.out()).batchPerDpRank).toBe(32);
  });

  it('takes a plan with pipeline stages and prints every stage, in text and in --json', async () => {
    const piped = ['sim', 'infer', '--arch', 'pangu-pro-moe', '--cluster', 'atlas-800i-a2:8', '--plan', '{"tp":4,"pp":2,"ep":4,"sequenceParallel":true}'];
    const workload = JSON.stringify({ phase: 'decode', batch: 128, inputLength: 2048, quantization: 'w8a8', layout: { fuseCollectives: true } });
    const json = capture();
    expect(await main([...piped, '--workload', workload, '--json'])).toBe(0);
    const r = JSON.parse(json.out());
    expect(r.devices).toBe(8);
    expect(r.pipeline.pp).toBe(2);
    expect(r.pipeline.microBatch).toBe(64);
    expect(r.pipeline.stages.map((s: { moeLayers: number }) => s.moeLayers)).toEqual([24, 24]);
    expect(r.pipeline.stages[0].sendS).toBeGreaterThan(0);
    expect(r.breakdown.p2pS).toBeCloseTo(r.pipeline.stages[0].sendS + r.pipeline.stages[1].sendS, 12);
    vi.restoreAllMocks();
    const text = capture();
    expect(await main([...piped, '--workload', workload])).toBe(0);
    expect(text.out()).toMatch(/2 pipeline stages on 8 devices/);
    expect(text.out()).toMatch(/pipeline: 2 micro-batches of 64 sequences per DP rank in flight, step limited by [a-z-]+; point-to-point sends .+ per step/);
    expect(text.out()).toMatch(/^0 +24 MoE, embedding +\S+ ms/m);
    expect(text.out()).toMatch(/^1 \(busiest\) +24 MoE, head/m);
    expect(text.out()).toMatch(/breakdown of a stage 1 device, one forward of 64 sequences per DP rank/);
  });

  it('names the fix when the stages do not fill the cluster or a layer partition does not add up', async () => {
    const io = capture();
    const workload = (layout?: object) => JSON.stringify({ phase: 'decode', batch: 8, inputLength: 2048, layout });
    expect(await main(['sim', 'infer', '--arch', 'pangu-pro-moe', '--cluster', 'atlas-800i-a2:16', '--plan', '{"tp":4,"pp":2,"ep":4}', '--workload', workload()])).not.toBe(0);
    expect(io.err()).toMatch(/tp × dp × pp = the cluster's 16 devices/);
    // 48 layers over 5 stages: vLLM's uneven split serves it; a partition that loses a layer is refused.
    expect(await main(['sim', 'infer', '--arch', 'pangu-pro-moe', '--cluster', 'atlas-800i-a2:40', '--plan', '{"tp":8,"pp":5,"ep":8}', '--workload', workload()])).toBe(0);
    expect(await main(['sim', 'infer', '--arch', 'pangu-pro-moe', '--cluster', 'atlas-800i-a2:40', '--plan', '{"tp":8,"pp":5,"ep":8}', '--workload', workload({ ppLayerPartition: [10, 10, 10, 10, 7] })])).not.toBe(0);
    expect(io.err()).toMatch(/ppLayerPartition/);
  });

  it('takes a profile file, and names a bad field in it', async () => {
    const good = join(tmp, 'profile.json');
    const profile = JSON.parse(readFileSync(new URL('../../../sim/profiles/inference-default.json', import.meta.url), 'utf8'));
    writeFileSync(good, JSON.stringify({ ...profile, name: 'slow-host', stepOverheadS: { value: 0.01, source: 'test', confidence: 'assumed' } }));
    const io = capture();
    expect(await main([...base, '--workload', JSON.stringify({ ...DECODE, batch: 64 }), '--profile', good, '--json'])).toBe(0);
    const r = JSON.parse(io.out());
    expect(r.profile).toBe('slow-host');
    expect(r.breakdown.stepOverheadS).toBe(0.01);
    const bad = join(tmp, 'bad-profile.json');
    writeFileSync(bad, JSON.stringify({ ...profile, launchFraction: { value: 2, source: 'test', confidence: 'assumed' } }));
    expect(await main([...base, '--workload', JSON.stringify(DECODE), '--profile', bad])).toBe(1);
    expect(io.err()).toMatch(/launchFraction/);
  });

  it('names the bad field of a workload and of a flag', async () => {
    const io = capture();
    expect(await main([...base, '--workload', JSON.stringify({ ...DECODE, phase: 'generate' })])).toBe(1);
    expect(io.err()).toMatch(/phase/);
    expect(await main([...base, '--workload', JSON.stringify(DECODE), '--max-batch-under-tpot', 'soon'])).toBe(1);
    expect(io.err()).toMatch(/--max-batch-under-tpot/);
  });
});

describe('moge sim search --mode infer', () => {
  it('scores layouts under the latency cap, normalised to the baseline, with a Pareto view', async () => {
    const io = capture();
    const code = await main(['sim', 'search', '--mode', 'infer', '--arch', 'pangu-pro-moe', '--cluster', 'atlas-800i-a2:8', '--latency-cap', '0.05', '--top', '3', '--json']);
    expect(code).toBe(0);
    const r = JSON.parse(io.out());
    expect(r.tpotCapS).toBe(0.05);
    expect(r.baseline.arch).toBe('pangu-pro-moe');
    expect(r.top.length).toBe(3);
    expect(r.top[0].relative).toBeCloseTo(1, 10); // one architecture: its best layout is the baseline
    expect(r.top[0].tpotS).toBeLessThanOrEqual(0.05);
    expect(r.pareto.length).toBe(1);
  });

  it('lists the baseline once when the ranges also generate its shape', async () => {
    // Ranges around moge-tiny whose values include the base's own (2 layers): 3 shapes, not 4.
    const dir = mkdtempSync(join(tmpdir(), 'moge-infer-ranges-'));
    const file = join(dir, 'ranges.json');
    writeFileSync(file, JSON.stringify({ base: 'moge-tiny', vary: { numLayers: [1, 2, 4] } }));
    const io = capture();
    expect(await main(['sim', 'search', '--mode', 'infer', '--arch', file, '--cluster', 'hgx-h200:1', '--input-length', '64', '--top', '10', '--json'])).toBe(0);
    expect(JSON.parse(io.out()).counts.architectures).toBe(3);
  });

  it('fails with E_NO_PLAN, after the counts, when no layout meets the cap', async () => {
    const io = capture();
    expect(await main(['sim', 'search', '--mode', 'infer', '--arch', 'pangu-pro-moe', '--cluster', 'atlas-800i-a2:8', '--latency-cap', '0.001', '--json'])).toBe(1);
    expect(JSON.parse(io.out()).top).toEqual([]);
    expect(io.err()).toMatch(/no layout meets the TPOT cap of 1\.00 ms on atlas-800i-a2:8 .*raise --latency-cap/);
    expect(JSON.parse(io.out())).not.toHaveProperty('emptyLayoutSpace');
  });

  // Pangu Pro's 64 experts do not split over 3 devices: no layout is simulated at all, so the cap is
  // not what to raise; the sizes that have layouts are.
  it('says why no layout exists and which --cluster sizes have one, instead of "raise --latency-cap"', async () => {
    const io = capture();
    expect(await main(['sim', 'search', '--mode', 'infer', '--arch', 'pangu-pro-moe', '--cluster', 'atlas-800i-a2:3', '--json'])).toBe(1);
    expect(JSON.parse(io.out()).emptyLayoutSpace.devices).toEqual({ below: expect.any(Number), above: expect.any(Number) });
    const err = io.err();
    expect(err).toMatch(/^moge: no layout to simulate: none of the \d+ attention-TP × expert-TP combinations suits atlas-800i-a2:3's 3 devices/);
    expect(err).toMatch(/\d+ fail "EP = devices \/ ETP divides the routed experts" — the last of them removed/);
    expect(err).toMatch(/Layouts exist with --cluster atlas-800i-a2:\d+ or atlas-800i-a2:\d+\./);
    expect(err).not.toMatch(/latency-cap|input-length/);
  });

  it('defaults the cap to 100 ms on 300I Duo', async () => {
    const io = capture();
    expect(await main(['sim', 'search', '--mode', 'infer', '--arch', 'pangu-pro-moe', '--cluster', 'atlas-300i-duo:4', '--top', '1', '--json'])).toBe(0);
    expect(JSON.parse(io.out()).tpotCapS).toBe(0.1);
  });
});
