import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TrainConfigSchema } from '../config/train-config';
import { loadDocuments, loadSotuCorpus } from '../data/corpus';
import { buildTokenDataset } from '../data/dataset';
import type { HeldOutSplitRule } from '../data/held-out';
import { mainJobConfig, sampleCommandFor } from '../jobs/main-job';
import { loadCheckpoint } from '../checkpoint/checkpoint';
import { buildManifest } from '../checkpoint/manifest';
import { lockRunDir } from '../checkpoint/run-dir';
import type { StepRecord } from '../metrics/step-record';
import type { ParallelMode } from '../parallel/mode';
import { prepareRun, replannedScheduleNote, trainModel, type TrainRunResult } from './train';
import { createReferenceBackend } from '@moge/ascend-hal';
import { getPreset, initModelWeights } from '@moge/model';
import { saveModelDir } from '@moge/model/node';

const tmp = mkdtempSync(join(tmpdir(), 'moge-trainer-loop-'));
const dataFile = join(tmp, 'text.txt');
writeFileSync(dataFile, loadSotuCorpus().slice(0, 2).map((d) => d.text).join('\n').slice(0, 12_000));

interface Run {
  records: StepRecord[];
  result: TrainRunResult;
}

async function run(workers: number, router: 'moge' | 'topk' = 'moge', parallel?: ParallelMode, more: { steps?: number; resume?: string; out?: string; checkpointEvery?: number; globalBatch?: number; backend?: 'reference' | 'onnxruntime' } = {}): Promise<Run> {
  const records: StepRecord[] = [];
  const result = await trainModel(
    // Global batch 8 of 16-token sequences in micro-batches of 2: 4, 2 or 1 micro-batch(es) per worker.
    // moge-tiny has 8 experts in 4 groups: with 2 workers each owns 2 groups, with 4 workers one.
    { preset: 'moge-tiny', vocabSize: 300, data: [dataFile], steps: more.steps ?? 3, seed: 11, seqLen: 16, globalBatch: more.globalBatch ?? 8, microBatch: 2, workers, router, parallel, backend: more.backend ?? 'reference', evalEvery: 3, checkpointEvery: more.checkpointEvery ?? 0 },
    { outDir: more.out ?? join(tmp, `${router}-w${workers}-${parallel ?? 'auto'}`), resume: more.resume, live: false, onStep: (r) => records.push(r) },
  );
  return { records, result };
}

let single: Promise<Run> | undefined;
/** The 1-worker reference run, shared by the tests that compare against it. */
const singleWorker = () => (single ??= run(1));

function expectSameLosses(other: StepRecord[], one: StepRecord[]): void {
  expect(other).toHaveLength(one.length);
  other.forEach((r, i) => {
    expect(Math.abs(r.loss - one[i]!.loss)).toBeLessThan(1e-5);
    expect(Math.abs(r.gradNorm - one[i]!.gradNorm)).toBeLessThan(1e-4);
    // Routing decisions are discrete: the same tokens reach the same experts on any worker count.
    expect(r.expertLoads).toEqual(one[i]!.expertLoads);
  });
}

function maxAbsDiff(a: ReadonlyMap<string, Float32Array>, b: ReadonlyMap<string, Float32Array>): number {
  let d = 0;
  for (const [name, x] of a) {
    const y = b.get(name)!;
    expect(y).toHaveLength(x.length);
    for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i]! - y[i]!));
  }
  return d;
}

describe('training over worker threads, data and expert parallel', () => {
  it('1 worker, 2 and 4 workers expert-parallel and 2 data-parallel give the same losses (to 1e-5)', async () => {
    const [oneRun, twoRun, fourRun, dpRun] = [await singleWorker(), await run(2), await run(4), await run(2, 'moge', 'dp')];
    const one = oneRun.records;
    expect(one.map((r) => r.step)).toEqual([1, 2, 3]);
    // The default with workers dividing the 4 expert groups is expert parallelism.
    expect([oneRun.result.parallel, twoRun.result.parallel, fourRun.result.parallel, dpRun.result.parallel]).toEqual(['dp', 'ep', 'ep', 'dp']);
    for (const other of [twoRun.records, fourRun.records, dpRun.records]) {
      expectSameLosses(other, one);
      expect(Math.abs(other[2]!.evalLoss! - one[2]!.evalLoss!)).toBeLessThan(1e-5);
    }
    expect(one[2]!.loss).toBeLessThan(one[0]!.loss);

    // Rank 0 of the 4-worker EP run gathered every owner's experts and moments: its checkpoint is the
    // single-worker run's, to float rounding.
    const a = loadCheckpoint(oneRun.result.checkpointDir!);
    const b = loadCheckpoint(fourRun.result.checkpointDir!);
    const host = (c: typeof a) => new Map([...c.weights.params].map(([n, t]) => [n, c.weights.backend.read(t) as Float32Array]));
    expect(maxAbsDiff(host(a), host(b))).toBeLessThan(1e-5);
    expect(maxAbsDiff(a.optimizer.m, b.optimizer.m)).toBeLessThan(1e-6);
    expect(b.optimizer.step).toBe(3);
  });

  it('an expert-parallel checkpoint resumes with another worker count and continues the same run', async () => {
    // Same config as the reference run (the LR schedule depends on the total steps), checkpoint at 2.
    const first = await run(2, 'moge', 'ep', { checkpointEvery: 2, out: join(tmp, 'ep-w2-ck') });
    const stepTwo = join(first.result.runDir, 'checkpoints', 'step-00000002');
    const resumed = await run(4, 'moge', undefined, { resume: stepTwo, out: join(tmp, 'ep-w4-resumed') });
    expect(resumed.result.parallel).toBe('ep');
    expect(resumed.records.map((r) => r.step)).toEqual([3]);
    const one = (await singleWorker()).records;
    expectSameLosses(first.records, one);
    expectSameLosses(resumed.records, one.slice(2));
  });

  it('a top-k run resumes bit-exactly, as top-k (its config.json states MoGE with one group)', async () => {
    // onnxruntime: there MoGE with one group takes another code path than top-k, equal only to rounding.
    const straight = await run(1, 'topk', undefined, { checkpointEvery: 2, out: join(tmp, 'topk-straight'), backend: 'onnxruntime' });
    const stepTwo = join(straight.result.runDir, 'checkpoints', 'step-00000002');
    const resumed = await run(1, 'topk', undefined, { resume: stepTwo, out: join(tmp, 'topk-resumed'), backend: 'onnxruntime' });
    const numbers = (records: StepRecord[]) => records.map((r) => [r.step, r.loss, r.gradNorm, r.evalLoss]);
    expect(numbers(resumed.records)).toEqual(numbers(straight.records.slice(2)));
  });

  it('a resume refuses a setting that differs from the checkpoint\'s, naming both values', async () => {
    const first = await run(1, 'moge', undefined, { steps: 2, checkpointEvery: 2, out: join(tmp, 'resume-changed') });
    const resume = trainModel(
      { preset: 'moge-tiny', vocabSize: 300, data: [dataFile], steps: 3, seed: 11, seqLen: 32, schedule: { peakLr: 1 } },
      { outDir: join(tmp, 'resume-changed-2'), resume: first.result.runDir, live: false },
    );
    await expect(resume).rejects.toThrow(/seqLen: got 32, expected the checkpoint's 16[\s\S]*schedule\.peakLr: got 1, expected the checkpoint's 0\.003/);
  });

  it('a resume accepts a setting the run left to the model when given with the value it trained with', async () => {
    // Started without router or auxAlpha (run() names the router itself): the checkpoint stores neither.
    const plain = await trainModel(
      { preset: 'moge-tiny', vocabSize: 300, data: [dataFile], steps: 2, seed: 11, seqLen: 16, globalBatch: 8, microBatch: 2, backend: 'reference', checkpointEvery: 2 },
      { outDir: join(tmp, 'resume-implied'), live: false },
    );
    expect(loadCheckpoint(plain.runDir).state.config.router).toBeUndefined();
    const again = (more: Record<string, unknown>) => trainModel({ steps: 3, ...more }, { outDir: plain.runDir, resume: plain.runDir, live: false });
    await expect(again({ router: 'topk' })).rejects.toThrow(/router: got "topk", expected "moge", the model's, which the run trained with/);
    await expect(again({ auxAlpha: 0.5 })).rejects.toThrow(/auxAlpha: got 0\.5, expected 0\.01, the model's/);
    await expect(again({ router: 'moge', auxAlpha: 0.01 })).resolves.toMatchObject({ step: 3 });
  });

  it('a resume with a worker count that cannot split the kept batch names workers and the counts that can', async () => {
    const first = await run(1, 'moge', undefined, { steps: 2, checkpointEvery: 2, out: join(tmp, 'resume-workers') });
    // globalBatch 8 / microBatch 2 = 4 micro-batches: 1, 2 or 4 workers; --global-batch / --micro-batch cannot change on a resume.
    const resume = trainModel({ steps: 3, workers: 3 }, { outDir: first.result.runDir, resume: first.result.runDir, live: false });
    await expect(resume).rejects.toThrow(/workers: got 3, expected a divisor of the run's 4 micro-batches per step \(globalBatch 8 \/ microBatch 2, which a resume keeps\): 1, 2, 4/);
    await expect(trainModel({ steps: 3, workers: 3 }, { outDir: first.result.runDir, resume: first.result.runDir, live: false })).rejects.not.toThrow(/--global-batch/);
  });

  it('refuses a warmup as long as the run (it would never reach the peak or decay), naming schedule.warmupSteps', async () => {
    const opts = (name: string) => ({ outDir: join(tmp, name), live: false });
    const base = { preset: 'moge-tiny', vocabSize: 300, data: [dataFile], seqLen: 16, backend: 'reference' as const };
    await expect(trainModel({ ...base, steps: 3, schedule: { warmupSteps: 3 } }, opts('warmup-3-of-3'))).rejects.toThrow(/schedule\.warmupSteps: got 3, expected fewer than steps \(3\)/);
    await expect(trainModel({ ...base, steps: 3, schedule: { warmupSteps: 50 } }, opts('warmup-50-of-3'))).rejects.toThrow(/schedule\.warmupSteps: got 50/);
    // The default warmup of a one-step run is that step (10 % rounded up): still allowed.
    await expect(trainModel({ ...base, steps: 1, checkpointEvery: 0 }, opts('warmup-default-1'))).resolves.toMatchObject({ step: 1 });
  });

  it('refuses a global batch larger than the training sequences, before allocating it', async () => {
    const huge = trainModel(
      { preset: 'moge-tiny', vocabSize: 300, data: [dataFile], steps: 1, seqLen: 16, globalBatch: 1024, microBatch: 1024, backend: 'reference' },
      { outDir: join(tmp, 'huge-batch'), live: false },
    );
    await expect(huge).rejects.toThrow(/globalBatch: got 1024, expected at most the \d+ training sequences of 16 tokens in this corpus/);
  });

  it('names a --vocab-size that differs from a model directory\'s', async () => {
    const dir = join(tmp, 'model-300');
    saveModelDir(dir, initModelWeights({ ...getPreset('moge-tiny'), vocabSize: 300 }, createReferenceBackend(), { seed: 1 }));
    await expect(trainModel({ modelDir: dir, vocabSize: 512, data: [dataFile], steps: 1, seqLen: 16 }, { outDir: join(tmp, 'vocab-clash'), live: false })).rejects.toThrow(
      /vocabSize: got 512, expected the model directory's vocab_size 300/,
    );
  });

  it('refuses EP devices that do not divide the experts, by name, before the run directory is made', async () => {
    const out = join(tmp, 'bad-ep-devices');
    await expect(trainModel({ preset: 'moge-tiny', vocabSize: 300, data: [dataFile], steps: 1, seqLen: 16, epDevices: 3 }, { outDir: out, live: false })).rejects.toThrow(
      /epDevices: got 3, expected a divisor of the model's 8 experts/,
    );
    expect(existsSync(out)).toBe(false);
  });

  it('refuses --parallel ep when the workers do not divide the expert groups', async () => {
    await expect(run(3, 'moge', 'ep', { out: join(tmp, 'bad-ep'), globalBatch: 6 })).rejects.toThrow(/expert groups/);
  });

  it('stops on a non-finite loss before applying, logging or checkpointing the step', async () => {
    const out = join(tmp, 'diverged');
    const records: StepRecord[] = [];
    const diverge = trainModel(
      { preset: 'moge-tiny', vocabSize: 300, data: [dataFile], steps: 4, seed: 11, seqLen: 16, globalBatch: 8, microBatch: 2, backend: 'reference', checkpointEvery: 1, schedule: { peakLr: 1e10, warmupSteps: 0 } },
      { outDir: out, live: false, onStep: (r) => records.push(r) },
    );
    await expect(diverge).rejects.toThrow(/step \d: loss NaN.*training diverged; nothing of this step was applied or written\. Start a new run with a lower learning rate/);
    expect(records.length).toBeGreaterThan(0);
    expect(records.every((r) => Number.isFinite(r.loss))).toBe(true);
    // The newest checkpoint is the last finite step's, and it loads.
    expect(loadCheckpoint(out).state.step).toBe(records.at(-1)!.step);
    // Why the message says to start again: a resume may not lower the rate, and with the same settings
    // it stops at the same step.
    const failedAt = records.at(-1)!.step + 1;
    await expect(trainModel({ steps: 4, schedule: { peakLr: 1e-3 } }, { outDir: out, resume: out, live: false })).rejects.toThrow(/schedule\.peakLr: got 0\.001, expected the checkpoint's 10000000000/);
    await expect(trainModel({ steps: 4 }, { outDir: out, resume: out, live: false })).rejects.toThrow(new RegExp(`step ${failedAt}: loss NaN`));
  });

  it('top-k on the same model is measured on the same expert-group devices and shows imbalance', async () => {
    const { records: topk, result } = await run(2, 'topk');
    // Top-k routes over all 8 experts; the workers still own the base model's expert-group blocks.
    expect(result.parallel).toBe('ep');
    expect(topk.flatMap((r) => r.imbalanceScore).some((v) => v > 0)).toBe(true);
    expect(topk[0]!.expertLoads[0]).toHaveLength(8);
  });
});

describe('a resume that changes steps', () => {
  const config = (steps: number, schedule: Record<string, unknown> = {}) => TrainConfigSchema.parse({ preset: 'moge-tiny', steps, schedule });

  it('says when the learning rates of the steps already taken change, and what the next one is', () => {
    // Cosine over 3 steps (warmup 1): step 2 ran at the curve's middle; over 6 it would have been higher.
    const note = replannedScheduleNote(config(3), config(6), 3);
    expect(note).toMatch(/^steps 3 → 6: .*steps 2–3 followed the plan over 3 \(step 3 ran at lr 0\.0003000; step 4 runs at 0\.001233\)/);
  });

  it('is silent when the curve so far is unchanged: same steps, or wsd before its decay with the warmup given', () => {
    expect(replannedScheduleNote(config(3), config(3), 3)).toBeUndefined();
    const wsd = { kind: 'wsd', warmupSteps: 2 };
    expect(replannedScheduleNote(config(10, wsd), config(20, wsd), 5)).toBeUndefined();
    // Past the 10-step plan's decay start (step 8), the same extension re-plans.
    expect(replannedScheduleNote(config(10, wsd), config(20, wsd), 9)).toMatch(/but step 9 followed the plan over 10/);
  });
});

describe('main job configuration', () => {
  it('prints a sample command whose --model is the checkpoint, one shell word whatever the path', () => {
    for (const dir of ['/runs/moge-small/checkpoints/step-00000005', "/home/me/my runs/it's/checkpoints/step-00000005"]) {
      const cmd = sampleCommandFor(dir);
      expect(cmd).toMatch(/^moge sample /);
      const argv = spawnSync('bash', ['-c', `printf '%s\\0' ${cmd.slice('moge '.length)}`], { encoding: 'utf8' }).stdout.split('\0');
      expect(argv.slice(0, 5)).toEqual(['sample', '--model', dir, '--prompt', 'The state of the Union is']);
    }
  });

  it('names --workers, and the counts that work, when the workers cannot split the global batch', () => {
    expect(() => mainJobConfig(true, 0, 3)).toThrow(/workers: got 3, expected a divisor of the job's global batch of 4 sequences \(1, 2, 4\)/);
    expect(() => mainJobConfig(false, 0, 3)).toThrow(/workers: got 3, expected a divisor of the job's global batch of 8 sequences \(1, 2, 4, 8\)/);
    expect(TrainConfigSchema.parse(mainJobConfig(false, 0, 8)).microBatch).toBe(1);
  });

  it.each([1, 2, 4])('quick and full configs are valid runs of moge-small with %i worker(s)', (workers) => {
    for (const quick of [true, false]) {
      const c = TrainConfigSchema.parse(mainJobConfig(quick, 0, workers));
      expect(c.preset).toBe('moge-small');
      expect(c.globalBatch % (c.microBatch * workers)).toBe(0);
    }
  });
});

describe('run directories are never written over', () => {
  const fileOf = (dir: string, ...parts: string[]) => readFileSync(join(dir, ...parts));

  it('a resume finds moved data files by --data (same tokens, checked by fingerprint) and refuses other contents', async () => {
    const dir = join(tmp, 'moving-data');
    mkdirSync(dir);
    const before = join(dir, 'corpus.txt');
    writeFileSync(before, readFileSync(dataFile));
    const base = { preset: 'moge-tiny', vocabSize: 300, seqLen: 16, globalBatch: 8, microBatch: 2, seed: 11, backend: 'reference' as const, evalEvery: 3, checkpointEvery: 2 };
    const straight = await trainModel({ ...base, data: [before], steps: 3 }, { outDir: join(tmp, 'moving-straight'), live: false });
    const stepTwo = join(straight.runDir, 'checkpoints', 'step-00000002');
    const after = join(dir, 'moved', 'corpus.txt');
    mkdirSync(join(dir, 'moved'));
    renameSync(before, after);
    const out = join(tmp, 'moving-resumed');
    await expect(trainModel({ steps: 3 }, { outDir: out, resume: stepTwo, live: false })).rejects.toThrow(/no such file or directory/);
    const records: StepRecord[] = [];
    const resumed = await trainModel({ steps: 3, data: [after] }, { outDir: out, resume: stepTwo, live: false, onStep: (r) => records.push(r) });
    expect(records.map((r) => r.step)).toEqual([3]);
    expect(resumed.loss).toBe(straight.loss);
    expect(resumed.config.data).toEqual([after]);
    const other = join(dir, 'other.txt');
    writeFileSync(other, readFileSync(after, 'utf8').replace(/the/g, 'a'));
    await expect(trainModel({ steps: 4, data: [other] }, { outDir: out, resume: out, live: false })).rejects.toThrow(/training data changed since the checkpoint .*they may have moved: give --data with their new paths/);
  });

  it('a resume refuses an --out that holds another run, and leaves that run as it was', async () => {
    const a = await run(1, 'moge', undefined, { steps: 2, checkpointEvery: 2, out: join(tmp, 'guard-a') });
    const b = await run(1, 'moge', undefined, { steps: 2, checkpointEvery: 1, out: join(tmp, 'guard-b') });
    const before = [fileOf(b.result.runDir, 'latest.json'), fileOf(b.result.runDir, 'metrics.jsonl'), fileOf(b.result.runDir, 'checkpoints', 'step-00000001', 'model.safetensors')];
    await expect(run(1, 'moge', undefined, { steps: 3, resume: a.result.runDir, out: b.result.runDir })).rejects.toThrow(/guard-b already holds another training run \(latest\.json\) and the run continued from .*guard-a.* would write over it/);
    expect([fileOf(b.result.runDir, 'latest.json'), fileOf(b.result.runDir, 'metrics.jsonl'), fileOf(b.result.runDir, 'checkpoints', 'step-00000001', 'model.safetensors')]).toEqual(before);
  });

  it('a new run refuses a directory whose checkpoints lost latest.json, and a resume of it names them', async () => {
    const r = await run(1, 'moge', undefined, { steps: 2, checkpointEvery: 2, out: join(tmp, 'guard-killed') });
    rmSync(join(r.result.runDir, 'latest.json'));
    const weights = fileOf(r.result.runDir, 'checkpoints', 'step-00000002', 'model.safetensors');
    await expect(run(1, 'moge', undefined, { steps: 2, out: r.result.runDir })).rejects.toThrow(/holds checkpoints \(step-00000002\) without latest\.json/);
    expect(fileOf(r.result.runDir, 'checkpoints', 'step-00000002', 'model.safetensors')).toEqual(weights);
    await expect(run(1, 'moge', undefined, { steps: 3, resume: r.result.runDir })).rejects.toThrow(/holds 1 checkpoint\(s\) without latest\.json: resume from the newest with --resume .*step-00000002/);
  });

  it('stores file paths absolute, so a resume from another working directory finds the same files', async () => {
    const out = join(tmp, 'relative-data');
    await trainModel({ preset: 'moge-tiny', vocabSize: 300, data: [relative(process.cwd(), dataFile)], steps: 1, seed: 11, seqLen: 16, checkpointEvery: 1 }, { outDir: out, live: false });
    expect(loadCheckpoint(out).state.config.data).toEqual([dataFile]);
  });

  it('one process at a time trains in a run directory', async () => {
    const dir = join(tmp, 'guard-locked');
    const release = lockRunDir(dir);
    try {
      await expect(run(1, 'moge', undefined, { steps: 1, out: dir })).rejects.toThrow(/guard-locked is in use by process/);
    } finally {
      release();
    }
    await expect(run(1, 'moge', undefined, { steps: 1, out: dir })).resolves.toBeDefined();
  });
});

describe('the held-out split a run was saved with', () => {
  // Three text files: rule 1 holds out a whole one (about a third of the tokens), rule 2 about 5 % of them.
  const text = readFileSync(dataFile, 'utf8');
  const files = [0, 1, 2].map((i) => {
    const file = join(tmp, `third-${i}.txt`);
    writeFileSync(file, text.slice(i * 4000, (i + 1) * 4000));
    return file;
  });
  const base = { preset: 'moge-tiny', vocabSize: 300, data: files, seqLen: 16, globalBatch: 8, microBatch: 2, seed: 11, backend: 'reference' as const, evalEvery: 3, checkpointEvery: 2 };
  const stateOf = (checkpointDir: string) => JSON.parse(readFileSync(join(checkpointDir, 'trainer_state.json'), 'utf8')) as { config: Record<string, unknown> };

  it('a new run stores the rule it split by', async () => {
    const r = await trainModel({ ...base, steps: 1, checkpointEvery: 1 }, { outDir: join(tmp, 'split-new'), live: false });
    expect(stateOf(r.checkpointDir!).config.heldOutSplit).toBe(2);
  });

  it('a run saved before the rule was versioned resumes with its own split, bit for bit, and keeps it in its new checkpoints', async () => {
    const straightRecords: StepRecord[] = [];
    const straight = await trainModel({ ...base, steps: 3, heldOutSplit: 1 }, { outDir: join(tmp, 'split-old'), live: false, onStep: (r) => straightRecords.push(r) });
    // What the trainer wrote before heldOutSplit existed: the same config without the field (and a manifest of that file).
    const stepTwo = join(straight.runDir, 'checkpoints', 'step-00000002');
    const state = stateOf(stepTwo);
    delete state.config.heldOutSplit;
    writeFileSync(join(stepTwo, 'trainer_state.json'), `${JSON.stringify(state, null, 2)}\n`);
    writeFileSync(join(stepTwo, 'manifest.json'), `${JSON.stringify(buildManifest(stepTwo), null, 2)}\n`);

    const tokenizer = loadCheckpoint(stepTwo).tokenizer;
    const dataset = (rule: HeldOutSplitRule) => buildTokenDataset(loadDocuments(files), tokenizer, { seqLen: 16, seed: 11, heldOutSplit: rule });
    expect(dataset(2).heldOut.tokens).toBeLessThan(dataset(1).heldOut.tokens / 2); // the rules differ on this corpus
    const init = prepareRun({ steps: 3 }, { outDir: straight.runDir, resume: stepTwo });
    expect(init.config.heldOutSplit).toBe(1);
    expect(init.heldOut.windows).toEqual(dataset(1).heldOut.windows);
    expect(init.train.windows).toEqual(dataset(1).train.windows);

    const records: StepRecord[] = [];
    const resumed = await trainModel({ steps: 3 }, { outDir: join(tmp, 'split-old-resumed'), resume: stepTwo, live: false, onStep: (r) => records.push(r) });
    const numbers = (rs: StepRecord[]) => rs.map((r) => [r.step, r.loss, r.evalLoss]);
    expect(numbers(records)).toEqual(numbers(straightRecords.slice(2)));
    expect(stateOf(resumed.checkpointDir!).config.heldOutSplit).toBe(1);
  });
});
