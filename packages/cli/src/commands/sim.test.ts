import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { getPreset, hfConfigFromArch } from '@moge/model';
import { main } from '../main';

const tmp = mkdtempSync(join(tmpdir(), 'moge-cli-sim-'));

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
  return { out: () => out.join(''), err: () => err.join('') };
}

afterEach(() => vi.restoreAllMocks());

const proPlan = JSON.stringify({ tp: 4, pp: 4, vpp: 2, ep: 8, dp: 4, microBatchSize: 1, globalBatchSize: 64, seqLength: 4096, sequenceParallel: true });

describe('moge sim train', () => {
  it('prints the prediction as JSON and writes a Chrome trace', async () => {
    const io = capture();
    const trace = join(tmp, 'trace.json');
    const code = await main(['sim', 'train', '--arch', 'pangu-pro-moe', '--cluster', 'atlas-800t-a2:64', '--plan', proPlan, '--json', '--trace', trace]);
    expect(code).toBe(0);
    const r = JSON.parse(io.out());
    for (const k of ['stepTimeS', 'tokensPerSecond', 'mfu', 'peakMemoryBytesPerDevice', 'breakdown', 'perLayer', 'mfuConvention']) expect(r).toHaveProperty(k);
    expect(r.perLayer).toHaveLength(48);
    expect(Object.keys(r.perLayer[0]).sort()).toEqual(expect.arrayContaining(['layer', 'forwardS', 'backwardS']));
    expect(r.breakdown.exposedComm).toHaveProperty('epS');
    // The memory parts add up to the total (the framework reserve is one of them).
    const m = r.memory;
    expect(m.overheadBytes).toBeGreaterThan(0);
    expect(m.weightsBytes + m.gradientsBytes + m.optimizerBytes + m.activationsBytes + m.overheadBytes).toBeCloseTo(m.totalBytes, -3);
    // The split it simulated, one entry per virtual stage (pp 4 × vpp 2), in Megatron-core's layout notation.
    expect(r.pipelineLayout.split('|')).toHaveLength(8);
    expect(r.pipelineLayout).toMatch(/^E.*L$/);
    const t = JSON.parse(readFileSync(trace, 'utf8'));
    expect(t.traceEvents.filter((e: { ph: string }) => e.ph === 'X').length).toBeGreaterThan(100);
  });

  it('refuses a --trace path it cannot write before simulating, naming the flag', async () => {
    const io = capture();
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    for (const bad of [tmp, join(file, 'trace.json')]) {
      expect(await main(['sim', 'train', '--arch', 'moge-tiny', '--cluster', 'atlas-800t-a2:8', '--plan', 'auto', '--global-batch', '16', '--seq-length', '512', '--trace', bad])).not.toBe(0);
    }
    expect(io.err()).toMatch(/--trace .*: is a directory; give a file path[\s\S]*--trace .*a-file is a file, not a directory/);
    // Nothing was simulated or printed.
    expect(io.out()).toBe('');
  });

  it('names the pipeline layout it simulated in the table output', async () => {
    const io = capture();
    expect(await main(['sim', 'train', '--arch', 'pangu-pro-moe', '--cluster', 'atlas-800t-a2:64', '--plan', proPlan])).toBe(0);
    expect(io.out()).toMatch(/pipeline layout E[t|]*L\n/);
  });

  it('notes a plan that leaves devices idle or trains past the model\'s positions, on stderr only', async () => {
    const io = capture();
    expect(await main(['sim', 'train', '--arch', 'pangu-pro-moe', '--cluster', 'atlas-800t-a2:128', '--plan', proPlan, '--json'])).toBe(0);
    expect(io.err()).toMatch(/note: the plan uses 64 of atlas-800t-a2:128's 128 devices \(tp×cp×dp×pp = 4×1×4×4\)/);
    expect(JSON.parse(io.out()).devices).toBe(64);
    // Full recompute keeps the longer sequences in memory (a plan that does not fit exits 1).
    const long = JSON.stringify({ ...JSON.parse(proPlan), seqLength: 8192, recompute: ['layer'] });
    const io2 = capture();
    expect(await main(['sim', 'train', '--arch', 'pangu-pro-moe', '--cluster', 'atlas-800t-a2:64', '--plan', long, '--json'])).toBe(0);
    expect(io2.err()).toMatch(/note: seqLength 8192 is past pangu-pro-moe's maxPositionEmbeddings \(4096\)/);
    expect(io2.err()).not.toMatch(/devices/);
  });

  it('hides tensor-parallel communication with --fused-operators (MC2), slows compute with --unfused-elementwise', async () => {
    const run = async (extra: string[]) => {
      const io = capture();
      expect(await main(['sim', 'train', '--arch', 'pangu-pro-moe', '--cluster', 'atlas-800t-a2:64', '--plan', proPlan, '--json', ...extra])).toBe(0);
      const r = JSON.parse(io.out());
      vi.restoreAllMocks();
      return r as { stepTimeS: number; breakdown: { computeS: number; exposedComm: { tpS: number } } };
    };
    const plain = await run([]);
    const fused = await run(['--fused-operators']);
    expect(fused.breakdown.exposedComm.tpS).toBeLessThan(plain.breakdown.exposedComm.tpS);
    expect(fused.stepTimeS).toBeLessThan(plain.stepTimeS);
    // Without MindSpeed's fused elementwise kernels the norms, RoPE, SwiGLU and permutes cost more compute.
    const unfused = await run(['--unfused-elementwise']);
    expect(unfused.breakdown.computeS).toBeGreaterThan(plain.breakdown.computeS);
    expect(unfused.stepTimeS).toBeGreaterThan(plain.stepTimeS);
  });

  it('reads an HF config.json and finds a plan itself with --plan auto', async () => {
    const io = capture();
    const config = join(tmp, 'config.json');
    writeFileSync(config, JSON.stringify(hfConfigFromArch(getPreset('moge-small'))));
    const code = await main(['sim', 'train', '--arch', config, '--cluster', 'atlas-800t-a2:8', '--plan', 'auto', '--global-batch', '16', '--seq-length', '1024']);
    expect(code).toBe(0);
    expect(io.out()).toMatch(/plan: TP\d+ CP\d+ PP\d+/);
    expect(io.out()).toMatch(/MFU convention: Megatron-LM/);
  });

  it('prints a plan that does not fit in full, then fails with one line on stderr (as mem does)', async () => {
    const tooBig = JSON.stringify({ tp: 1, pp: 1, ep: 8, dp: 8, microBatchSize: 1, globalBatchSize: 64, seqLength: 4096 });
    const io = capture();
    expect(await main(['sim', 'train', '--arch', 'pangu-pro-moe', '--cluster', 'atlas-800t-a2:8', '--plan', tooBig, '--json'])).toBe(1);
    expect(JSON.parse(io.out()).fitsInMemory).toBe(false);
    expect(io.err()).toMatch(/^moge: does not fit: the plan needs [\d.]+ GiB per device, ascend-910b has 64\.00 GiB;[^\n]*\n$/);
    vi.restoreAllMocks();
    const table = capture();
    expect(await main(['sim', 'train', '--arch', 'pangu-pro-moe', '--cluster', 'atlas-800t-a2:8', '--plan', tooBig])).toBe(1);
    expect(table.out()).toMatch(/\(does NOT fit\)[\s\S]*MFU convention/);
    expect(table.err()).toMatch(/does not fit/);
  });

  it('refuses an unknown --profile by flag, with the one meant, before reading the plan or printing notes', async () => {
    const io = capture();
    expect(await main(['sim', 'train', '--arch', 'moge-small', '--cluster', 'atlas-800t-a2:8', '--profile', 'ascend-910b-trainin', '--plan', '{"tp":2}'])).toBe(1);
    expect(io.err()).toBe(
      'moge: invalid sim flags:\n  - --profile: got "ascend-910b-trainin", expected one of "ascend-910b-training"|"uncalibrated"; did you mean "ascend-910b-training"?\n',
    );
    expect(io.out()).toBe('');
  });

  it('--plan auto with no plan in memory fails with E_NO_PLAN, stating the batch in tokens and what to change', async () => {
    const io = capture();
    expect(await main(['sim', 'train', '--arch', 'pangu-pro-moe', '--cluster', 'atlas-800t-a2:8', '--plan', 'auto', '--global-batch', '64', '--json'])).toBe(1);
    expect(io.out()).toBe('');
    expect(io.err()).toBe(
      'moge: no plan of the search space fits pangu-pro-moe on atlas-800t-a2:8 with 64 sequences of 4096 tokens per step; give a bigger --cluster, a smaller --global-batch or --seq-length, or a --plan file\n',
    );
  });

  it('names a bad flag and a bad plan field', async () => {
    let io = capture();
    expect(await main(['sim', 'train', '--arch', 'pangu-pro-moe', '--cluster', 'atlas-800t-a2:64', '--plan', proPlan, '--dispatch', 'ring'])).toBe(1);
    expect(io.err()).toMatch(/--dispatch/);
    vi.restoreAllMocks();
    io = capture();
    expect(await main(['sim', 'train', '--arch', 'pangu-pro-moe', '--cluster', 'atlas-800t-a2:64', '--plan', '{"tp": 3}'])).toBe(1);
    expect(io.err()).toMatch(/tp/);
    vi.restoreAllMocks();
    io = capture();
    expect(await main(['sim', 'train', '--arch', 'pangu-pro-moe', '--cluster', 'atlas-800t-a2:64', '--plan', proPlan, '--global-batch', '4'])).toBe(1);
    expect(io.err()).toMatch(/--global-batch: only with --plan auto; a plan states globalBatchSize and seqLength itself/);
  });
});

describe('moge sim search', () => {
  it('prints the top plans and the Pareto front as JSON', async () => {
    const io = capture();
    const code = await main(['sim', 'search', '--arch', 'moge-small', '--cluster', 'atlas-800t-a2:8', '--global-batch', '16', '--seq-length', '1024', '--top', '3', '--json']);
    expect(code).toBe(0);
    const r = JSON.parse(io.out());
    expect(r.top.length).toBeGreaterThan(0);
    expect(r.top.length).toBeLessThanOrEqual(3);
    expect(r.pareto.length).toBeGreaterThan(0);
    expect(r.counts.enumerated).toBeGreaterThan(0);
    expect(r.top[0]).toHaveProperty('label');
  });

  it('rejects an unknown --mode', async () => {
    const io = capture();
    expect(await main(['sim', 'search', '--arch', 'moge-small', '--cluster', 'atlas-800t-a2:8', '--mode', 'serve'])).toBe(1);
    expect(io.err()).toMatch(/--mode/);
  });

  it('refuses the flags of the other mode, naming them and the mode', async () => {
    const io = capture();
    const infer = ['sim', 'search', '--mode', 'infer', '--arch', 'pangu-pro-moe', '--cluster', 'atlas-800i-a2:8'];
    expect(await main([...infer, '--profile', 'nope', '--dispatch', 'bogus', '--objective', 'mfu', '--global-batch', '7', '--no-overlap'])).toBe(1);
    expect(io.err()).toMatch(/^moge: --objective, --global-batch, --profile, --dispatch, --no-overlap: not used with --mode infer; drop them \(with --mode infer takes [^\n]*--latency-cap/);
    expect(io.out()).toBe('');
    vi.restoreAllMocks();
    const io2 = capture();
    expect(await main(['sim', 'search', '--arch', 'moge-small', '--cluster', 'atlas-800t-a2:8', '--latency-cap', '0.05', '--quantization', 'bf16'])).toBe(1);
    expect(io2.err()).toMatch(/--latency-cap, --quantization: not used with --mode train; drop them/);
  });

  it('lists the presets for an --arch that is neither a preset nor a file, in both modes', async () => {
    for (const mode of ['train', 'infer']) {
      const io = capture();
      expect(await main(['sim', 'search', '--mode', mode, '--arch', 'nope', '--cluster', 'atlas-800t-a2:8'])).toBe(1);
      expect(io.err()).toMatch(/architecture "nope": not a preset \(pangu-pro-moe, .*moge-tiny.*\) and no such file/);
      vi.restoreAllMocks();
    }
  });

  it('fails (after printing the counts) when no plan fits', async () => {
    const io = capture();
    expect(await main(['sim', 'search', '--arch', 'pangu-ultra-moe', '--cluster', 'atlas-800t-a2:8', '--global-batch', '16', '--seq-length', '4096', '--json'])).toBe(1);
    expect(JSON.parse(io.out()).top).toEqual([]);
    expect(io.err()).toMatch(/no plan fits: \d+ enumerated, 0 fit in memory/);
    expect(JSON.parse(io.out())).not.toHaveProperty('emptyPlanSpace');
  });

  // 6144 = 3 × 2048 devices leave every dp a factor 3, which 1024 sequences lack: a bigger cluster or a
  // smaller batch is not the fix, a batch or cluster of the right shape is.
  it('says why no plan is enumerated and which --global-batch and --cluster have plans, for search and train --plan auto', async () => {
    const ultra6144 = ['--arch', 'pangu-ultra-moe', '--cluster', 'atlas-800t-a2:6144'];
    for (const args of [['sim', 'search', ...ultra6144, '--json'], ['sim', 'train', ...ultra6144, '--plan', 'auto']]) {
      const io = capture();
      expect(await main(args)).toBe(1);
      const err = io.err();
      expect(err).toMatch(/^moge: no plan to search: none of the \d+ tp × cp × pp × vpp × micro-batch × ep × etp combinations .* 1024 sequences of 4096 tokens on atlas-800t-a2:6144's 6144 devices/);
      expect(err).toMatch(/\d+ fail "the global batch is a multiple of dp·micro-batch size" — the last of them removed the \d+ that the earlier ones had left/);
      expect(err).toMatch(/Plans exist with --global-batch \d+ or \d+, or with --cluster atlas-800t-a2:\d+ or atlas-800t-a2:\d+\./);
      expect(err).not.toMatch(/bigger --cluster|smaller --global-batch/);
      if (args[1] === 'search') expect(JSON.parse(io.out()).emptyPlanSpace.globalBatchSizes.above).toBeGreaterThan(1024);
      vi.restoreAllMocks();
    }
  });
});

describe('moge sim validate', () => {
  it('prints every training case next to its published figure', async () => {
    const io = capture();
    expect(await main(['sim', 'validate', '--json', '--no-search'])).toBe(0);
    const rows = JSON.parse(io.out()) as { id: string; metric: string; withinGoal: boolean }[];
    const ids = new Set(rows.map((r) => r.id));
    for (const id of ['ULT-T1', 'ULT-T0', 'PRO-T1']) expect(ids.has(id)).toBe(true);
    expect(rows.filter((r) => r.id === 'ULT-T1' || r.id === 'ULT-T0').every((r) => r.withinGoal)).toBe(true);
    expect(ids.has('ULT-S1')).toBe(false); // --no-search
  });
});
