import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadSotuCorpus, readStepLog } from '@moge/trainer/node';
import { captureOutput } from '../test-support/capture';
import { main } from '../main';

const here = dirname(fileURLToPath(import.meta.url));
const cliRoot = resolve(here, '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'moge-cli-train-'));
// ~20 kB of real text: enough for a 300-token BPE and a few hundred 16-token sequences.
const dataFile = join(tmp, 'sotu.txt');
writeFileSync(dataFile, loadSotuCorpus().slice(0, 3).map((d) => d.text).join('\n').slice(0, 20_000));

/** A moge-tiny run small enough for a test: 4 sequences of 16 tokens a step, reference backend (bit-reproducible). */
const tinyRun = (out: string, steps: number, extra: string[] = []) => [
  'train', '--preset', 'moge-tiny', '--vocab-size', '300', '--data', dataFile, '--steps', String(steps), '--seed', '7',
  '--out', out, '--seq-len', '16', '--global-batch', '4', '--micro-batch', '2', '--backend', 'reference', '--eval-every', '2', '--no-live', ...extra,
];

const capture = captureOutput;

afterEach(() => vi.restoreAllMocks());

const latestStep = (runDir: string): number => {
  try {
    return (JSON.parse(readFileSync(join(runDir, 'latest.json'), 'utf8')) as { step: number }).step;
  } catch {
    return 0; // not written yet (or being replaced: it is renamed into place, so never half-written)
  }
};

describe('moge train', () => {
  const runDir = join(tmp, 'run');
  const logFile = join(tmp, 'log', 'steps.jsonl');

  it('trains, logs one JSONL line per step and writes an HF model directory with its training state', async () => {
    const { out } = capture();
    expect(await main([...tinyRun(runDir, 4, ['--checkpoint-every', '2', '--log-json', logFile]), '--json'])).toBe(0);
    const summary = JSON.parse(out.join(''));
    expect(summary.step).toBe(4);
    expect(summary.upToDate).toBe(false);
    const log = readStepLog(logFile);
    expect(log.map((r) => r.step)).toEqual([1, 2, 3, 4]);
    for (const r of log) {
      expect(Number.isFinite(r.loss) && r.tokensPerSecond > 0).toBe(true);
      expect(r.imbalanceScore).toHaveLength(2); // moge-tiny has 2 layers
      expect(r.imbalanceScore.every((v) => v === 0)).toBe(true); // MoGE: balanced over the groups by construction
      expect(r.expertLoads[0]!.reduce((a, b) => a + b, 0)).toBe(4 * 16 * 4); // every token goes to K = 4 experts
    }
    expect(log[3]!.evalLoss).toBeGreaterThan(0);
    expect(log[3]!.loss).toBeLessThan(log[0]!.loss);
    const ck = summary.checkpoint as string;
    expect(readdirSync(ck).sort()).toEqual(
      ['config.json', 'manifest.json', 'model.safetensors', 'optimizer.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'trainer_state.json'].sort(),
    );
  });

  it('--json says upToDate (and no loss) for a resume to the step the run is at, false after training', async () => {
    const { out } = capture();
    expect(await main(['train', '--resume', runDir, '--steps', '4', '--log-json', logFile, '--no-live', '--json'])).toBe(0);
    expect(JSON.parse(out.join(''))).toMatchObject({ step: 4, upToDate: true, loss: null });
    expect(readStepLog(logFile).map((r) => r.step)).toEqual([1, 2, 3, 4]);
  });

  it('samples from the checkpoint with the KV cache, deterministically when greedy', async () => {
    const ck = join(runDir, 'checkpoints', 'step-00000004');
    const runs: string[] = [];
    for (let i = 0; i < 2; i++) {
      const { out } = capture();
      expect(await main(['sample', '--model', ck, '--prompt', 'The Congress', '--max-tokens', '6', '--json'])).toBe(0);
      const r = JSON.parse(out.join(''));
      expect(r.tokens.length).toBeLessThanOrEqual(6);
      runs.push(r.completion);
      vi.restoreAllMocks();
    }
    expect(runs[0]).toBe(runs[1]);
    // Nucleus sampling at a tiny p keeps only the likeliest token: greedy's text, whatever the temperature.
    const { out } = capture();
    expect(await main(['sample', '--model', ck, '--prompt', 'The Congress', '--max-tokens', '6', '--temperature', '5', '--top-p', '0.000001', '--json'])).toBe(0);
    expect(JSON.parse(out.join('')).completion).toBe(runs[0]);
  });

  it('samples from a run directory: the checkpoint its latest.json names', async () => {
    const ck = join(runDir, 'checkpoints', 'step-00000004');
    const completions: string[] = [];
    for (const model of [ck, runDir]) {
      const { out } = capture();
      expect(await main(['sample', '--model', model, '--prompt', 'The Congress', '--max-tokens', '6', '--json'])).toBe(0);
      completions.push(JSON.parse(out.join('')).completion);
      vi.restoreAllMocks();
    }
    expect(completions[1]).toBe(completions[0]);
    const { err } = capture();
    expect(await main(['sample', '--model', runDir, '--prompt', 'The Congress', '--max-tokens', '2'])).toBe(0);
    expect(err.join('')).toContain(`sampling from ${ck} (the run's latest checkpoint)`);
  });

  it('refuses a corrupt checkpoint, names the previous good one and keeps it', async () => {
    const { err } = capture();
    const newest = join(runDir, 'checkpoints', 'step-00000004');
    const previous = join(runDir, 'checkpoints', 'step-00000002');
    const weights = join(newest, 'model.safetensors');
    const bytes = readFileSync(weights);
    bytes[bytes.length - 3] ^= 0xff;
    writeFileSync(weights, bytes);
    expect(await main(tinyRun(runDir, 6, ['--resume', runDir]))).toBe(1);
    const message = err.join('');
    expect(message).toMatch(/corrupt/);
    expect(message).toMatch(/model\.safetensors sha256/);
    expect(message).toContain(previous);
    expect(existsSync(join(previous, 'model.safetensors'))).toBe(true);
    // Sampling checks the same manifest (it generated text from the changed weights before).
    vi.restoreAllMocks();
    const sample = capture();
    expect(await main(['sample', '--model', newest, '--prompt', 'The Congress', '--max-tokens', '2'])).toBe(1);
    expect(sample.err.join('')).toMatch(/corrupt[\s\S]*model\.safetensors sha256/);
    expect(sample.out.join('')).toBe('');
  });

  it('asks for --out to continue a checkpoint copied out of its run, writing nothing beside it', async () => {
    const exports = join(tmp, 'exports');
    cpSync(join(runDir, 'checkpoints', 'step-00000002'), join(exports, 'ck'), { recursive: true });
    const { err } = capture();
    expect(await main(tinyRun(runDir, 6, ['--resume', join(exports, 'ck')]).filter((a, i, all) => a !== '--out' && all[i - 1] !== '--out'))).toBe(1);
    expect(err.join('')).toMatch(/a checkpoint outside a run directory .*give --out <dir>/);
    expect(readdirSync(tmp).filter((n) => ['checkpoints', 'latest.json', 'metrics.jsonl'].includes(n))).toEqual([]);
    expect(readdirSync(exports)).toEqual(['ck']);
  });

  it('names bad flags', async () => {
    const { err } = capture();
    expect(await main(tinyRun(join(tmp, 'bad'), 2, ['--router', 'random']))).toBe(1);
    expect(err.join('')).toMatch(/--router/);
    expect(await main(['train', '--preset', 'moge-tiny', '--steps', 'ten', '--out', join(tmp, 'bad')])).toBe(1);
    expect(err.join('')).toMatch(/--steps/);
    expect(await main(['train', '--steps', '2', '--out', join(tmp, 'bad')])).toBe(1);
    expect(err.join('')).toMatch(/--preset or --model/);
    // A new run never writes over an existing one.
    expect(await main(tinyRun(runDir, 2))).toBe(1);
    expect(err.join('')).toMatch(/already holds another training run[\s\S]*--resume/);
    expect(await main(['train', '--preset', 'moge-tin', '--steps', '1', '--out', join(tmp, 'bad')])).toBe(1);
    expect(err.join('')).toMatch(/--preset moge-tin: not a model preset \(.*\); did you mean "moge-tiny"\?/);
    expect(await main(tinyRun(join(tmp, 'bad'), 10, ['--warmup', '10']))).toBe(1);
    // The trainer's own check (one rule for the CLI and library callers), before any file is written.
    expect(err.join('')).toMatch(/schedule\.warmupSteps: got 10, expected fewer than steps \(10\).*lower --warmup/);
    expect(existsSync(join(tmp, 'bad'))).toBe(false);
    expect(await main(tinyRun(join(tmp, 'bad'), 2, ['--parallel', 'tp']))).toBe(1);
    expect(err.join('')).toMatch(/--parallel/);
    // Out-of-range numbers are named like any other bad value, not dumped as a raw schema error.
    const sample = (...flags: string[]) => main(['sample', '--model', join(tmp, 'no-model'), '--prompt', 'The', ...flags]);
    expect(await main(tinyRun(join(tmp, 'bad'), 2, ['--lr', '0']))).toBe(1);
    expect(err.join('')).toMatch(/--lr: got "0", expected a positive learning rate/);
    expect(await sample('--temperature', '1e999')).toBe(1);
    expect(err.join('')).toMatch(/--temperature: got "1e999", expected a temperature ≥ 0/);
    expect(await sample('--top-p', '1.5')).toBe(1);
    expect(err.join('')).toMatch(/--top-p: got "1\.5", expected a probability mass in \(0, 1\]/);
    expect(await sample('--top-p', '0')).toBe(1);
    expect(err.join('')).toMatch(/--top-p: got "0", expected a probability mass in \(0, 1\]/);
    expect(await sample('--seed', '99999999999')).toBe(1);
    expect(err.join('')).toMatch(/--seed: got "99999999999", expected a seed below 2\^32/);
    expect(await sample('--max-tokens', '99999999999999999999')).toBe(1);
    expect(err.join('')).toMatch(/--max-tokens: got "99999999999999999999", expected a whole number ≥ 1 \(and below 2\^53\)/);
    expect(await sample()).toBe(1);
    expect(err.join('')).toMatch(/--model \S*no-model: no such directory \(give a run or checkpoint directory/);
    // Greedy decoding (no --temperature) draws nothing: the draw flags are refused, not dropped.
    expect(await sample('--top-k', '5', '--seed', '3')).toBe(1);
    expect(err.join('')).toMatch(/--top-k, --seed: not used without --temperature \(greedy decoding\); drop them \(they shape the draws of --temperature > 0\)/);
    expect(await sample('--temperature', '0', '--top-p', '0.9')).toBe(1);
    expect(err.join('')).toMatch(/--top-p: not used without --temperature \(greedy decoding\); drop it/);
  });

  it('names --emit and --steps of a launch by flag, not as a bare (root) value', async () => {
    const { err } = capture();
    const launch = join(tmp, 'bad-launch');
    expect(await main(['train', '--emit', 'vllm', '--plan', 'auto', '--out', launch])).toBe(1);
    expect(err.join('')).toMatch(/^moge: invalid moge train --emit flags:\n {2}- --emit: got "vllm", expected one of "megatron"\|"mindspeed"\n$/);
    err.length = 0;
    expect(await main(['train', '--emit', 'megatron', '--plan', '{"tp":1}', '--preset', 'moge-tiny', '--steps', '0', '--out', launch])).toBe(1);
    expect(err.join('')).toMatch(/^moge: invalid moge train --emit flags:\n {2}- --steps: got "0", expected a whole number ≥ 1\n$/);
    expect(existsSync(launch)).toBe(false);
  });

  it('an unknown mode is a usage error (status 2), with the mode meant for a typo', async () => {
    const { out, err } = capture();
    expect(await main(['train', 'compar', '--preset', 'moge-tiny', '--steps', '1', '--out', join(tmp, 'bad-mode')])).toBe(2);
    expect(err.join('')).toMatch(/^error: unknown mode 'compar' of moge train: expected "compare" or none \(a path goes after --data, --out or --resume\)\n\(Did you mean compare\?\)\n/);
    err.length = 0;
    expect(await main(['train', 'runs/tiny', '--steps', '1'])).toBe(2);
    expect(err.join('')).toMatch(/^error: unknown mode 'runs\/tiny' of moge train: expected "compare" or none \(a path goes after --data, --out or --resume\)\n\n/);
    expect(out.join('')).toBe('');
    expect(existsSync(join(tmp, 'bad-mode'))).toBe(false);
  });

  it('refuses --plan and --cluster without --emit (they only choose the plan of a launch)', async () => {
    const { err } = capture();
    const planned = join(tmp, 'planned');
    expect(await main(tinyRun(planned, 2, ['--plan', 'x', '--cluster', 'nope']))).toBe(1);
    expect(err.join('')).toMatch(/^moge: --plan, --cluster: not used without --emit; drop them \(--plan and --cluster choose the plan of a launch with --emit/);
    expect(existsSync(planned)).toBe(false);
  });

  it('refuses a --log-json that is a directory by name', async () => {
    const { err } = capture();
    const logDir = join(tmp, 'log-dir');
    mkdirSync(logDir, { recursive: true });
    expect(await main(tinyRun(join(tmp, 'log-dir-run'), 2, ['--log-json', logDir]))).toBe(1);
    expect(err.join('')).toMatch(/--log-json \S*log-dir: is a directory; give a file path/);
    expect(err.join('')).not.toMatch(/already holds lines/);
  });

  it('--workers 2 --parallel ep trains expert-parallel (each worker owns 2 of moge-tiny\'s 4 groups)', async () => {
    const { out } = capture();
    expect(await main([...tinyRun(join(tmp, 'ep'), 2, ['--workers', '2', '--parallel', 'ep']), '--json'])).toBe(0);
    const summary = JSON.parse(out.join(''));
    expect(summary).toMatchObject({ step: 2, workers: 2, parallel: 'ep' });
    expect(Number.isFinite(summary.loss)).toBe(true);
  });

  it('refuses a new run of a model this machine cannot hold before reading any data', async () => {
    const { err } = capture();
    const big = join(tmp, 'too-large');
    expect(await main(['train', '--preset', 'pangu-pro-moe', '--steps', '1', '--out', big, '--data', join(tmp, 'no-such-corpus.txt')])).toBe(1);
    expect(err.join('')).toMatch(/^moge: --preset pangu-pro-moe: 72\.0 B parameters need at least 1\.05 TiB of memory to train \(float32 weights, gradients and AdamW moments\), and this machine has .*; train moge-tiny or moge-small here/);
    expect(await main(['train', 'compare', '--preset', 'pangu-pro-moe', '--steps', '1', '--out', big])).toBe(1);
    expect(err.join('')).toMatch(/--preset pangu-pro-moe: 72\.0 B parameters need at least/);
    expect(existsSync(big)).toBe(false);
  });

  it('refuses --parallel without --workers ≥ 2 (one worker runs the same computation under dp and ep)', async () => {
    const { err } = capture();
    const one = join(tmp, 'one-worker');
    expect(await main(tinyRun(one, 2, ['--parallel', 'ep']))).toBe(1);
    expect(err.join('')).toMatch(/^moge: --parallel ep: needs --workers 2 or more on the same command line \(with the default --workers 1 dp and ep are the same run\); give --workers, or drop --parallel/);
    expect(await main(tinyRun(one, 2, ['--workers', '1', '--parallel', 'dp']))).toBe(1);
    expect(err.join('')).toMatch(/--parallel dp: needs --workers 2 or more on the same command line \(with --workers 1 dp/);
    expect(await main(['train', 'compare', '--preset', 'moge-tiny', '--steps', '1', '--out', one, '--parallel', 'dp'])).toBe(1);
    expect(err.join('')).toMatch(/--parallel dp: needs --workers 2 or more/);
    expect(existsSync(one)).toBe(false);
  });

  it('resumes with another --workers and the run\'s own --lr given again (nothing derived for a new run is compared)', async () => {
    const dir = join(tmp, 'rescale');
    const base = ['train', '--resume', dir, '--no-live', '--json'];
    const { out, err } = capture();
    expect(await main(tinyRun(dir, 2, ['--json']))).toBe(0);
    out.length = 0;
    // The run's micro-batch is 2 and its floor the default 3e-4; a new run's flags would derive a
    // micro-batch of 4 for two workers and a floor of 0.003 / 10 = 0.00030000000000000003.
    expect(await main([...base, '--steps', '3', '--workers', '2', '--lr', '0.003'])).toBe(0);
    expect(err.join('')).not.toMatch(/expected the checkpoint's/);
    expect(JSON.parse(out.join(''))).toMatchObject({ step: 3, workers: 2 });
  });
});

describe('moge train --resume after SIGKILL', () => {
  it('continues a killed process bit for bit like an uninterrupted run', async () => {
    const steps = 10;
    const killed = join(tmp, 'killed');
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@moge/source', join(cliRoot, 'src', 'bin.ts'), ...tinyRun(killed, steps, ['--checkpoint-every', '1'])], {
      cwd: cliRoot,
      stdio: 'ignore',
    });
    const exited = new Promise<NodeJS.Signals | null>((done) => child.on('exit', (_code, signal) => done(signal)));
    // Kill it as soon as a couple of checkpoints exist, mid-run.
    while (child.exitCode === null && child.signalCode === null) {
      if (latestStep(killed) >= 2) {
        child.kill('SIGKILL');
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(await exited).toBe('SIGKILL');
    expect(latestStep(killed)).toBeLessThan(steps); // really interrupted

    const { out } = capture();
    expect(await main(['train', '--resume', killed, '--no-live'])).toBe(0);
    // The summary names the run's preset, as the first run's did (not "model": the resumed arch comes from config.json).
    expect(out.join('')).toMatch(/^trained moge-tiny \(moge router\) to step 10:/);
    const full = join(tmp, 'uninterrupted');
    expect(await main(tinyRun(full, steps, ['--checkpoint-every', '5']))).toBe(0);

    const resumed = readStepLog(join(killed, 'metrics.jsonl'));
    const reference = readStepLog(join(full, 'metrics.jsonl'));
    expect(resumed.map((r) => r.step)).toEqual(reference.map((r) => r.step));
    // Bit for bit: the same float64 values, not just close ones.
    expect(resumed.map((r) => [r.loss, r.auxLoss, r.gradNorm, r.evalLoss])).toEqual(reference.map((r) => [r.loss, r.auxLoss, r.gradNorm, r.evalLoss]));
    expect(readFileSync(join(killed, 'checkpoints', 'step-00000010', 'model.safetensors'))).toEqual(
      readFileSync(join(full, 'checkpoints', 'step-00000010', 'model.safetensors')),
    );
  });
});

describe('moge train compare', () => {
  it('trains both routers on the same data: MoGE IS = 0 on the expert-group devices, top-k above 0', async () => {
    const { out } = capture();
    const dir = join(tmp, 'compare');
    const args = tinyRun(dir, 2).slice(1).filter((a, i, all) => a !== '--eval-every' && all[i - 1] !== '--eval-every');
    expect(await main(['train', 'compare', ...args, '--json'])).toBe(0);
    const r = JSON.parse(out.join(''));
    expect(r.rows).toHaveLength(2);
    expect(r.summary.moge.maxImbalance).toBe(0);
    expect(r.summary.topk.maxImbalance).toBeGreaterThan(0);
    expect(r.rows[0].loss.moge).not.toBe(r.rows[0].loss.topk);
    expect(existsSync(join(dir, 'compare.json'))).toBe(true);
    expect(existsSync(join(dir, 'topk', 'metrics.jsonl'))).toBe(true);
  });
});

describe('moge train compare: flags it would drop', () => {
  it('refuses --resume, --router, --log-json and --emit by name', async () => {
    const { err } = capture();
    const dir = join(tmp, 'compare-refused');
    const args = tinyRun(dir, 2).slice(1);
    expect(await main(['train', 'compare', ...args, '--resume', join(tmp, 'run'), '--router', 'topk', '--log-json', join(tmp, 'c.jsonl')])).toBe(1);
    expect(err.join('')).toMatch(/--resume, --router, --log-json: not used by train compare; drop them \(it trains both routers from scratch/);
    expect(existsSync(dir)).toBe(false);
  });
});

describe('moge start', () => {
  it('--help names the default run directory of either size (a --quick run goes to moge-small-quick-…)', async () => {
    const { out } = capture();
    expect(await main(['start', '--help'])).toBe(0);
    const help = out.join('').replace(/\s+/g, ' ');
    expect(help).toContain('default runs/moge-small-<timestamp>; with --quick, runs/moge-small-quick-<timestamp>');
  });

  it('names a command that continues an existing run in --out (start has no --resume)', async () => {
    const { err } = capture();
    const dir = join(tmp, 'start-existing');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'latest.json'), '{}');
    expect(await main(['start', '--quick', '--out', dir, '--no-live'])).toBe(1);
    expect(err.join('')).toMatch(/continue that run with (npx |npm run )?moge (-- )?train --resume /);
    expect(err.join('')).toContain(`train --resume ${dir}, or choose another --out`);
    expect(err.join('')).not.toMatch(/with --resume/);
  });
});

describe('moge train --emit', () => {
  it('writes a MindSpeed-LLM launch and says plainly that the MoGE router cannot be expressed', async () => {
    const { out } = capture();
    const plan = join(tmp, 'plan.json');
    writeFileSync(plan, JSON.stringify({ tp: 8, ep: 2, cp: 1, pp: 5, vpp: 5, dp: 2, noopLayers: 2, sequenceParallel: true, microBatchSize: 1, globalBatchSize: 60, seqLength: 4096 }));
    const dir = join(tmp, 'emit');
    expect(await main(['train', '--emit', 'mindspeed', '--plan', plan, '--preset', 'pangu-pro-moe', '--out', dir])).toBe(0);
    const text = out.join('');
    expect(text).toMatch(/cannot express/);
    expect(text).toMatch(/MoGE router/);
    const script = readFileSync(join(dir, 'launch.sh'), 'utf8');
    expect(script).toMatch(/--expert-model-parallel-size 2/);
    expect(script).toMatch(/NOT EXPRESSIBLE/);
    const args = JSON.parse(readFileSync(join(dir, 'args.json'), 'utf8'));
    expect(args.args).toEqual(expect.arrayContaining(['--tensor-model-parallel-size', '8', '--num-experts', '64']));
  });

  it('--plan auto picks the best simulated plan the engine can express (Megatron-LM has no no-op layers)', async () => {
    const { err } = capture();
    const dir = join(tmp, 'emit-auto');
    expect(await main(['train', '--emit', 'megatron', '--plan', 'auto', '--preset', 'pangu-pro-moe', '--cluster', 'hgx-h200:16', '--global-batch', '64', '--out', dir])).toBe(0);
    expect(err.join('')).toMatch(/--plan auto: (best simulated plan|simulated plan #\d+, the best megatron can express,) on hgx-h200:16/);
    const args = JSON.parse(readFileSync(join(dir, 'args.json'), 'utf8'));
    expect(args.plan.noopLayers).toBe(0);
    expect(args.args).toEqual(expect.arrayContaining(['--num-layers', '48']));
  });

  it('--plan auto with no plan in the search space says why and which --global-batch and --cluster have plans', async () => {
    const { err } = capture();
    const dir = join(tmp, 'emit-auto-empty');
    expect(await main(['train', '--emit', 'mindspeed', '--plan', 'auto', '--preset', 'pangu-ultra-moe', '--cluster', 'atlas-800t-a2:6144', '--out', dir])).toBe(1);
    expect(err.join('')).toMatch(/^moge: no plan to search: .* 1024 sequences of 4096 tokens on atlas-800t-a2:6144's 6144 devices/);
    expect(err.join('')).toMatch(/Plans exist with --global-batch \d+ or \d+, or with --cluster atlas-800t-a2:\d+ or atlas-800t-a2:\d+\./);
    expect(err.join('')).not.toMatch(/bigger --cluster/);
    expect(existsSync(dir)).toBe(false);
  });

  it('rejects an unknown engine with the choices', async () => {
    const { err } = capture();
    expect(await main(['train', '--emit', 'deepspeed', '--plan', '{}', '--preset', 'pangu-pro-moe', '--out', join(tmp, 'e2')])).toBe(1);
    expect(err.join('')).toMatch(/--emit/);
  });

  it('refuses the search flags with a plan file, which states its own batch and sequence length', async () => {
    const { err } = capture();
    const plan = join(tmp, 'plan-search-flags.json');
    writeFileSync(plan, JSON.stringify({ tp: 8, ep: 8, pp: 4, dp: 2, sequenceParallel: true, microBatchSize: 1, globalBatchSize: 64, seqLength: 4096 }));
    const out = join(tmp, 'e4');
    // These used to be dropped: the launch kept the plan's 64 × 4096 and said nothing.
    expect(await main(['train', '--emit', 'megatron', '--plan', plan, '--preset', 'pangu-pro-moe', '--out', out, '--global-batch', '99', '--seq-len', '77', '--cluster', 'hgx-h100:8'])).toBe(1);
    expect(err.join('')).toMatch(/^moge: --global-batch, --seq-len, --cluster: not used with --emit and a --plan file or inline plan; drop them \(they steer --plan auto only; the plan states its own globalBatchSize and seqLength\)\n$/);
    expect(existsSync(out)).toBe(false);
    expect(await main(['train', '--emit', 'megatron', '--plan', plan, '--preset', 'pangu-pro-moe', '--out', out, '--steps', '500'])).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'args.json'), 'utf8')).args).toEqual(expect.arrayContaining(['--train-iters', '500', '--global-batch-size', '64']));
  });

  it('refuses run flags that a launch would silently drop', async () => {
    const { err } = capture();
    const out = join(tmp, 'e3');
    expect(await main(['train', '--emit', 'mindspeed', '--plan', '{}', '--preset', 'pangu-pro-moe', '--out', out, '--lr', '1e-4', '--workers', '2'])).toBe(1);
    expect(err.join('')).toMatch(/--lr, --workers: not used with --emit; drop them/);
    expect(existsSync(out)).toBe(false);
  });
});
