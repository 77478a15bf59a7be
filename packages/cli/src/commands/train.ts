import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { createBackend } from '@moge/ascend-hal/node';
import { closestName, MogeError, parseWith, ValidationError, type MoeArch, type ParallelPlan } from '@moge/core';
import { loadModelDir } from '@moge/model/node';
import { searchTraining } from '@moge/sim';
import { buildLaunchArgs, EngineSchema, flatArgs, type Engine, renderLaunchScript, sampleText, type TrainConfigInput } from '@moge/trainer';
import { compareRouters, type LiveMode, LATEST_FILE, MANIFEST_FILE, readTokenizerFile, resolveCheckpointDir, runDirOf, runMainJob, trainModel, TRAINER_STATE_FILE, verifyManifest } from '@moge/trainer/node';
import { intFlag, refuseIgnoredFlags } from '../util/flags';
import { assertFitsHostMemory } from '../util/host-memory';
import { assertWritablePath, writeFileAtomic, writeJsonAtomic } from '../util/io';
import { mogeCommand } from '../util/invocation';
import { printJson, printTable } from '../util/output';
import { assertPresetFlag, resolveArch } from '../util/resolve-arch';
import { resolveCluster } from '../util/resolve-cluster';
import { resolvePlan } from '../util/resolve-plan';
import { emptyPlanSpaceError } from './sim-empty-space';

/** Flags arrive as text from commander; these schemas turn them into numbers and name the flag on error. */
const int = intFlag;
const num = (what: string) =>
  z
    .string()
    .trim()
    .regex(/^\d*\.?\d+([eE][+-]?\d+)?$/, what)
    .transform(Number)
    .pipe(z.number({ error: what }));

const TrainFlagsSchema = z.object({
  '--steps': int(1).optional(),
  '--seed': int(0).pipe(z.number().max(0xffffffff, 'a 32-bit seed')).optional(),
  '--workers': int(1).pipe(z.number().max(64, 'at most 64 workers')).optional(),
  '--router': z.enum(['moge', 'topk']).optional(),
  '--parallel': z.enum(['dp', 'ep']).optional(),
  '--seq-len': int(2).optional(),
  '--global-batch': int(1).optional(),
  '--micro-batch': int(1).optional(),
  '--vocab-size': int(258).optional(),
  '--lr': num('a positive learning rate').pipe(z.number().positive('a positive learning rate')).optional(),
  '--schedule': z.enum(['cosine', 'wsd']).optional(),
  '--warmup': int(0).optional(),
  '--clip': num('a gradient-norm limit ≥ 0 (0 = off)').optional(),
  '--aux-alpha': num('an auxiliary-loss coefficient ≥ 0').optional(),
  '--eval-every': int(0).optional(),
  '--checkpoint-every': int(0).optional(),
  '--max-documents': int(1).optional(),
  '--backend': z.enum(['reference', 'onnxruntime']).optional(),
});

interface TrainCli {
  preset?: string;
  model?: string;
  data?: string[];
  steps?: string;
  seed?: string;
  out?: string;
  resume?: string;
  router?: string;
  workers?: string;
  parallel?: string;
  logJson?: string;
  seqLen?: string;
  globalBatch?: string;
  microBatch?: string;
  vocabSize?: string;
  lr?: string;
  schedule?: string;
  warmup?: string;
  clip?: string;
  auxAlpha?: string;
  evalEvery?: string;
  checkpointEvery?: string;
  maxDocuments?: string;
  backend?: string;
  live?: boolean;
  json?: boolean;
  emit?: string;
  plan?: string;
  cluster?: string;
}

/** The run configuration the flags describe (only what was given; the trainer fills defaults). */
function configFromFlags(o: TrainCli): TrainConfigInput & { steps?: number } {
  assertPresetFlag(o.preset);
  const f = parseWith(
    TrainFlagsSchema,
    {
      '--steps': o.steps,
      '--seed': o.seed,
      '--workers': o.workers,
      '--router': o.router,
      '--parallel': o.parallel,
      '--seq-len': o.seqLen,
      '--global-batch': o.globalBatch,
      '--micro-batch': o.microBatch,
      '--vocab-size': o.vocabSize,
      '--lr': o.lr,
      '--schedule': o.schedule,
      '--warmup': o.warmup,
      '--clip': o.clip,
      '--aux-alpha': o.auxAlpha,
      '--eval-every': o.evalEvery,
      '--checkpoint-every': o.checkpointEvery,
      '--max-documents': o.maxDocuments,
      '--backend': o.backend,
    },
    'moge train flags',
  );
  // One worker runs the same computation under dp and ep (the trainer resolves it to dp), so a
  // --parallel there would be a no-op the summary contradicts. A resume keeps the checkpoint's
  // workers unless --workers is given, and this check cannot see them: --parallel asks for it again.
  if (f['--parallel'] !== undefined && (f['--workers'] ?? 1) < 2) {
    throw new MogeError(
      'E_BAD_FLAG',
      `--parallel ${f['--parallel']}: needs --workers 2 or more on the same command line (with ${f['--workers'] === undefined ? 'the default --workers 1' : '--workers 1'} dp and ep are the same run); give --workers, or drop --parallel`,
    );
  }
  const schedule: Record<string, unknown> = {};
  if (f['--schedule']) schedule.kind = f['--schedule'];
  if (f['--lr'] !== undefined) schedule.peakLr = f['--lr'];
  // A new run's floor follows its --lr. A resume keeps the run's own (an --lr equal to the run's peak
  // is accepted, but lr / 10 need not equal the stored floor: 0.003 / 10 is 0.00030000000000000003).
  if (f['--lr'] !== undefined && !o.resume) schedule.minLr = f['--lr'] / 10;
  if (f['--warmup'] !== undefined) schedule.warmupSteps = f['--warmup'];
  const c: Record<string, unknown> = {
    preset: o.preset,
    modelDir: o.model,
    data: o.data,
    steps: f['--steps'],
    seed: f['--seed'],
    workers: f['--workers'],
    router: f['--router'],
    parallel: f['--parallel'],
    seqLen: f['--seq-len'],
    globalBatch: f['--global-batch'],
    microBatch: f['--micro-batch'],
    vocabSize: f['--vocab-size'],
    clipGrad: f['--clip'],
    auxAlpha: f['--aux-alpha'],
    evalEvery: f['--eval-every'],
    checkpointEvery: f['--checkpoint-every'],
    maxDocuments: f['--max-documents'],
    backend: f['--backend'],
    schedule,
  };
  // A flag not given stays absent so the schema's default applies (zod treats undefined as missing).
  for (const k of Object.keys(c)) if (c[k] === undefined) delete c[k];
  // The global batch must split into whole micro-batches per worker: shrink the default micro-batch to fit.
  // (Only for a new run: a resumed run keeps its stored micro-batch, which a derived one would contradict.)
  if (!o.resume && c.microBatch === undefined && (c.workers !== undefined || c.globalBatch !== undefined)) {
    const global = (c.globalBatch as number | undefined) ?? 8;
    const workers = (c.workers as number | undefined) ?? 1;
    let m = 4;
    while (m > 1 && global % (m * workers) !== 0) m--;
    c.microBatch = m;
  }
  return c as TrainConfigInput;
}

/**
 * A new run of a model this machine cannot hold — `--preset pangu-pro-moe` — is refused before the
 * corpus is read and the tokenizer trained: at least float32 weights, gradients and both AdamW moments
 * (16 B per parameter). A --model directory whose config cannot be read is left to the trainer's error.
 */
function assertTrainableHere(o: TrainCli, input: TrainConfigInput): void {
  let arch: MoeArch;
  try {
    arch = resolveArch((o.preset ?? o.model)!, { runnable: true });
  } catch (e) {
    if (e instanceof MogeError) return;
    throw e;
  }
  if (input.vocabSize !== undefined) arch = { ...arch, vocabSize: input.vocabSize };
  const subject = o.preset ? `--preset ${o.preset}` : `--model ${o.model}`;
  assertFitsHostMemory(arch, 16, subject, 'to train (float32 weights, gradients and AdamW moments)', 'train moge-tiny or moge-small here; plan a production model with `moge sim train` and launch it with `moge train --emit`');
}

/**
 * Where a resumed run writes: --out, else the run directory the checkpoint belongs to. A checkpoint
 * copied out of its run has none, and the folder above it may be anything: --out must say where.
 * (A path that is neither a run nor a checkpoint is left to the trainer, whose error says what it is.)
 */
function resumeOutDir(resume: string, out?: string): string {
  if (out) return out;
  const abs = resolve(resume);
  if (existsSync(join(abs, LATEST_FILE))) return abs;
  const own = runDirOf(abs);
  if (own) return own;
  if (existsSync(join(abs, MANIFEST_FILE)) || existsSync(join(abs, TRAINER_STATE_FILE))) {
    throw new MogeError('E_NEED_OUT', `--resume ${resume}: a checkpoint outside a run directory (not in a run's checkpoints/ folder); give --out <dir> for the continued run`);
  }
  return abs;
}

/**
 * Progress on stderr: the live bar on a terminal; elsewhere (CI, containers, `2> log`) a plain line every
 * 5 % of the steps and on each evaluation, as Megatron and Hugging Face log, unless `--json` asked for
 * machine output only (its set-up messages are off too). `--no-live` turns both off.
 */
const liveFlag = (live?: boolean, json?: boolean): LiveMode => (live === false ? false : process.stderr.isTTY ? true : json ? false : 'lines');

const phase = (json?: boolean) => (m: string) => {
  if (!json) process.stderr.write(`${m}\n`);
};

/** The flags that set up a training run, as `train` and `train compare` take them. */
const RUN_FLAGS = [
  'preset', 'model', 'data', 'steps', 'seed', 'out', 'workers', 'parallel', 'seqLen', 'globalBatch', 'microBatch', 'vocabSize',
  'lr', 'schedule', 'warmup', 'clip', 'auxAlpha', 'evalEvery', 'checkpointEvery', 'maxDocuments', 'backend',
] as const satisfies readonly (keyof TrainCli)[];

async function runTrain(o: TrainCli): Promise<void> {
  if (o.emit) {
    refuseIgnoredFlags(o, ['emit', 'plan', 'out', 'preset', 'model', 'cluster', 'globalBatch', 'seqLen', 'steps'], 'with --emit');
    // --cluster, --global-batch and --seq-len only steer the search of --plan auto; a plan file or
    // inline plan states its own batch and sequence length, so they would be dropped silently.
    if (o.plan !== undefined && o.plan.trim() !== 'auto') {
      refuseIgnoredFlags(o, ['emit', 'plan', 'out', 'preset', 'model', 'steps'], 'with --emit and a --plan file or inline plan', {
        hint: 'they steer --plan auto only; the plan states its own globalBatchSize and seqLength',
      });
    }
    return runEmit(o);
  }
  refuseIgnoredFlags(o, [...RUN_FLAGS, 'router', 'resume', 'logJson'], 'without --emit', { hint: '--plan and --cluster choose the plan of a launch with --emit mindspeed | megatron' });
  const input = configFromFlags(o);
  if (!o.resume) {
    if (!o.out) throw new MogeError('E_BAD_FLAG', '--out: required (the run directory for checkpoints and metrics), unless --resume names one');
    if (input.steps === undefined) throw new MogeError('E_BAD_FLAG', '--steps: required for a new run');
    if (!o.preset === !o.model) throw new MogeError('E_BAD_FLAG', '--preset or --model: give exactly one (e.g. --preset moge-tiny --vocab-size 512, or --model <checkpoint dir>)');
  }
  if (!o.resume) assertTrainableHere(o, input);
  const outDir = o.resume ? resumeOutDir(o.resume, o.out) : o.out!;
  const r = await trainModel(input, { outDir, resume: o.resume, logFile: o.logJson, live: liveFlag(o.live, o.json), onPhase: phase(o.json) });
  // A resume to the step the run is at trains nothing and has no loss (NaN, null in JSON): upToDate
  // says so, where a script would otherwise read a null loss as a failure.
  const upToDate = Number.isNaN(r.loss);
  const summary = { step: r.step, upToDate, loss: r.loss, evalLoss: r.evalLoss, checkpoint: r.checkpointDir, runDir: r.runDir, log: r.logFile, router: r.arch.router, workers: r.config.workers, parallel: r.parallel };
  if (o.json) return printJson(summary);
  if (upToDate) {
    process.stdout.write(`nothing to do: ${r.runDir} is already at step ${r.step} (give a larger --steps to continue it)\n`);
    return;
  }
  process.stdout.write(
    // A resumed run's arch is read back from config.json, which has no name; the run's config keeps the preset.
    `trained ${r.arch.name ?? r.config.preset ?? 'model'} (${r.arch.router} router) to step ${r.step}: loss ${r.loss.toFixed(4)}` +
      `${r.evalLoss !== undefined ? `, held-out loss ${r.evalLoss.toFixed(4)}` : ''}\n` +
      `checkpoint: ${r.checkpointDir ?? '(none written)'}\nmetrics:    ${r.logFile}\n`,
  );
}

/** `--emit`: launch script and arguments for the engines that train at scale. */
async function runEmit(o: TrainCli): Promise<void> {
  // Keyed by flag, so the error names it ("--emit: got …") rather than a bare "(root)".
  const engine = parseWith(z.object({ '--emit': EngineSchema }), { '--emit': o.emit }, 'moge train --emit flags')['--emit'];
  if (!o.plan) throw new MogeError('E_BAD_FLAG', '--plan: required with --emit (a ParallelPlan file, inline JSON, or "auto")');
  if (!o.out) throw new MogeError('E_BAD_FLAG', '--out: required with --emit (the folder for launch.sh and args.json)');
  const arch = resolveArch(o.model ?? o.preset ?? 'pangu-pro-moe');
  let plan: ParallelPlan;
  if (o.plan.trim() === 'auto') {
    const flags = parseWith(z.object({ '--global-batch': int(1).default(1024), '--seq-len': int(2).default(4096) }), { '--global-batch': o.globalBatch, '--seq-len': o.seqLen }, 'moge train --emit flags');
    const cluster = resolveCluster(o.cluster ?? (engine === 'mindspeed' ? 'atlas-800t-a2:64' : 'hgx-h200:64'));
    const found = searchTraining({ archs: [arch], cluster, globalBatchSize: flags['--global-batch'], seqLength: flags['--seq-len'], top: 100 });
    if (found.emptyPlanSpace) throw emptyPlanSpaceError(found.emptyPlanSpace, cluster, flags['--global-batch'], flags['--seq-len'], 1, '--seq-len');
    if (found.top.length === 0) throw new MogeError('E_NO_PLAN', `no plan fits ${arch.name ?? 'this model'} on ${cluster.name}; give a bigger --cluster or a --plan file`);
    // The fastest plan the engine can express: Megatron-LM has no no-op layers, for one, so a layout
    // that needs them is passed over (the emitter's own check decides, one rule in one place).
    const expressible = found.top.find((e) => expressibleIn(arch, e.plan, engine));
    if (!expressible) throw new MogeError('E_NO_PLAN', `none of the ${found.top.length} best plans on ${cluster.name} can be written for ${engine}; give a --plan file`);
    plan = expressible.plan;
    const rank = found.top.indexOf(expressible) + 1;
    phase(o.json)(`--plan auto: ${rank === 1 ? 'best simulated plan' : `simulated plan #${rank}, the best ${engine} can express,`} on ${cluster.name}: TP${plan.tp} PP${plan.pp} VPP${plan.vpp} EP${plan.ep} CP${plan.cp} DP${plan.dp}, micro-batch ${plan.microBatchSize}`);
  } else {
    plan = resolvePlan(o.plan);
  }
  const launch = buildLaunchArgs(arch, plan, { engine, trainIters: emitIters(o.steps) });
  const script = join(o.out, 'launch.sh');
  const args = join(o.out, 'args.json');
  // Both checked before either is written: a new launch.sh beside the old args.json would not match.
  assertWritablePath('--out', script);
  assertWritablePath('--out', args);
  writeFileAtomic(script, renderLaunchScript(launch));
  writeJsonAtomic(args, { engine, plan, worldSize: launch.worldSize, nodes: launch.nodes, devicesPerNode: launch.devicesPerNode, args: flatArgs(launch), groups: launch.groups, unsupported: launch.unsupported });
  if (o.json) return printJson({ script, args, engine, worldSize: launch.worldSize, unsupported: launch.unsupported });
  process.stdout.write(`${engine === 'mindspeed' ? 'MindSpeed-LLM' : 'Megatron-LM'} launch for ${launch.worldSize} devices (${launch.nodes} node(s)):\n  ${script}\n  ${args}\n`);
  if (launch.unsupported.length > 0) {
    process.stdout.write(`\nWhat ${engine === 'mindspeed' ? 'MindSpeed-LLM' : 'Megatron-LM'} cannot express (the run will differ from moge here):\n`);
    for (const u of launch.unsupported) process.stdout.write(`  - ${u}\n`);
  }
}

function expressibleIn(arch: MoeArch, plan: ParallelPlan, engine: Engine): boolean {
  try {
    buildLaunchArgs(arch, plan, { engine, trainIters: 10_000 });
    return true;
  } catch (e) {
    if (e instanceof ValidationError) return false;
    throw e;
  }
}

const emitIters = (steps?: string) => (steps ? parseWith(z.object({ '--steps': int(1) }), { '--steps': steps }, 'moge train --emit flags')['--steps'] : 10_000);

async function runCompare(o: TrainCli): Promise<void> {
  refuseIgnoredFlags(o, RUN_FLAGS, 'by train compare', { hint: 'it trains both routers from scratch, each logging into its run under --out: moge/ and topk/' });
  if (!o.out) throw new MogeError('E_BAD_FLAG', '--out: required (both runs go under it, in moge/ and topk/)');
  if (!o.preset === !o.model) throw new MogeError('E_BAD_FLAG', '--preset or --model: give exactly one');
  const cfg = configFromFlags({ ...o, router: undefined });
  if (cfg.steps === undefined) throw new MogeError('E_BAD_FLAG', '--steps: required');
  assertTrainableHere(o, cfg);
  const result = await compareRouters(cfg, o.out, { live: liveFlag(o.live, o.json), onPhase: phase(o.json) });
  writeJsonAtomic(join(o.out, 'compare.json'), result);
  if (o.json) return printJson(result);
  printTable(
    ['step', 'loss moge', 'loss topk', 'IS moge', 'IS topk'],
    result.rows.map((r) => [r.step, r.loss.moge.toFixed(4), r.loss.topk.toFixed(4), r.imbalance.moge.toFixed(3), r.imbalance.topk.toFixed(3)]),
  );
  const s = result.summary;
  process.stdout.write(
    `\nImbalance Score over ${s.moge.meanImbalancePerLayer.length} layer(s), EP devices = expert groups (IS per layer, mean over steps):\n` +
      `  moge: ${s.moge.meanImbalancePerLayer.map((v) => v.toFixed(3)).join(' ')}  (max ${s.moge.maxImbalance.toFixed(3)})\n` +
      `  topk: ${s.topk.meanImbalancePerLayer.map((v) => v.toFixed(3)).join(' ')}  (max ${s.topk.maxImbalance.toFixed(3)})\n` +
      `final loss: moge ${s.moge.finalLoss.toFixed(4)}, topk ${s.topk.finalLoss.toFixed(4)}` +
      `${s.moge.evalLoss !== undefined && s.topk.evalLoss !== undefined ? `; held-out: moge ${s.moge.evalLoss.toFixed(4)}, topk ${s.topk.evalLoss.toFixed(4)}` : ''}\n` +
      `written: ${join(o.out, 'compare.json')}\n`,
  );
}

const SampleFlagsSchema = z.object({
  '--max-tokens': int(1).default(64),
  '--temperature': num('a temperature ≥ 0 (0 = greedy)').default(0),
  '--top-k': int(0).default(0),
  '--top-p': num('a probability mass in (0, 1]').pipe(z.number().gt(0, 'a probability mass in (0, 1]').max(1, 'a probability mass in (0, 1]')).default(1),
  '--seed': int(0).pipe(z.number().max(0xffffffff, 'a seed below 2^32')).default(0),
  '--backend': z.enum(['reference', 'onnxruntime']).default('reference'),
});

interface SampleCli {
  model: string;
  prompt: string;
  maxTokens?: string;
  temperature?: string;
  topK?: string;
  topP?: string;
  seed?: string;
  backend?: string;
  json?: boolean;
}

function runSample(o: SampleCli): void {
  const f = parseWith(
    SampleFlagsSchema,
    { '--max-tokens': o.maxTokens, '--temperature': o.temperature, '--top-k': o.topK, '--top-p': o.topP, '--seed': o.seed, '--backend': o.backend },
    'moge sample flags',
  );
  // Greedy decoding draws nothing, so these would be dropped without a word.
  if (f['--temperature'] === 0) {
    refuseIgnoredFlags({ topK: o.topK, topP: o.topP, seed: o.seed }, [], 'without --temperature (greedy decoding)', { hint: 'they shape the draws of --temperature > 0' });
  }
  const stat = statSync(o.model, { throwIfNoEntry: false });
  if (!stat?.isDirectory()) throw new MogeError('E_NO_FILE', `--model ${o.model}: ${stat ? 'a file, not a directory' : 'no such directory'} (give a run or checkpoint directory written by moge train)`);
  // A run directory stands for its latest checkpoint (the one its latest.json names).
  const dir = existsSync(join(o.model, LATEST_FILE)) ? resolveCheckpointDir(o.model) : o.model;
  if (dir !== o.model && !o.json) process.stderr.write(`sampling from ${dir} (the run's latest checkpoint)\n`);
  const tokFile = join(dir, 'tokenizer.json');
  if (!existsSync(tokFile)) throw new MogeError('E_NO_FILE', `--model ${o.model}: no tokenizer.json (give a run or checkpoint directory written by moge train)`);
  // A checkpoint names the sha256 of each of its files: a changed weight or a tokenizer copied in from
  // another run would otherwise sample plausible-looking nonsense.
  if (existsSync(join(dir, MANIFEST_FILE))) verifyManifest(dir, 'Sample from an intact checkpoint of the run instead.');
  const tokenizer = readTokenizerFile(tokFile);
  const weights = loadModelDir(dir, createBackend(f['--backend']));
  if (tokenizer.size > weights.arch.vocabSize) {
    throw new MogeError('E_VOCAB', `${tokFile} has ${tokenizer.size} tokens but the model (${join(dir, 'config.json')}) only ${weights.arch.vocabSize}: they are not from the same checkpoint`);
  }
  const r = sampleText(weights, tokenizer, { prompt: o.prompt, maxTokens: f['--max-tokens'], temperature: f['--temperature'], topK: f['--top-k'], topP: f['--top-p'], seed: f['--seed'] });
  if (o.json) {
    return printJson({ prompt: o.prompt, completion: r.text, tokens: r.tokens, promptTokens: r.promptTokens, stoppedAtEndOfText: r.stoppedAtEndOfText, promptTokensDropped: r.promptTokensDropped, stoppedAtContextLimit: r.stoppedAtContextLimit });
  }
  const limit = weights.arch.maxPositionEmbeddings;
  if (r.promptTokensDropped > 0) process.stderr.write(`note: the prompt's first ${r.promptTokensDropped} tokens were dropped to leave room for --max-tokens ${f['--max-tokens']} within the model's ${limit} positions\n`);
  process.stdout.write(`${o.prompt}${r.text}\n`);
  if (r.stoppedAtContextLimit) process.stderr.write(`note: stopped after ${r.tokens.length} tokens at the model's ${limit} positions (--max-tokens ${f['--max-tokens']})\n`);
}

async function runStart(o: { quick?: boolean; out?: string; seed?: string; workers?: string; live?: boolean }): Promise<void> {
  const f = parseWith(z.object({ '--seed': int(0).default(0), '--workers': int(1).pipe(z.number().max(64, 'at most 64 workers')).optional() }), { '--seed': o.seed, '--workers': o.workers }, 'moge start flags');
  process.stderr.write(`main job: training moge-small on the State of the Union corpus${o.quick ? ' (--quick: a few documents and steps)' : ''}\n`);
  let r;
  try {
    r = await runMainJob({ quick: o.quick, outDir: o.out, seed: f['--seed'], workers: f['--workers'], live: liveFlag(o.live, false), onPhase: phase(false) });
  } catch (e) {
    // The trainer's advice names `moge train`'s --resume, which start does not take: give the whole command.
    if (e instanceof MogeError && e.code === 'E_RUN_EXISTS') throw new MogeError(e.code, e.message.replace(/with --resume /g, `with ${mogeCommand()} train --resume `));
    throw e;
  }
  const sample = sampleText(loadModelDir(r.checkpointDir, createBackend('reference')), readTokenizerFile(join(r.checkpointDir, 'tokenizer.json')), {
    prompt: 'The state of the Union is',
    maxTokens: 24,
    // A few minutes of training make greedy decoding loop on "the"; a tempered draw shows more of what was learnt.
    temperature: 0.8,
    topK: 40,
  });
  process.stdout.write(
    `\ntrained moge-small to step ${r.step}: loss ${r.loss.toFixed(4)}${r.evalLoss !== undefined ? `, held-out loss ${r.evalLoss.toFixed(4)}` : ''}\n` +
      `checkpoint (HF model directory: config.json, model.safetensors, tokenizer.json): ${r.checkpointDir}\n` +
      `metrics: ${r.logFile}\n` +
      `sample (temperature 0.8, top-k 40): "The state of the Union is${sample.text}"\n` +
      `sample from it yourself:\n  ${r.sampleCommand.replace(/^moge /, `${mogeCommand()} `)}\n`,
  );
}

function addRunFlags(cmd: Command): Command {
  return cmd
    .option('--preset <name>', 'model preset to train from random init (moge-tiny, moge-small, …)')
    .option('--model <dir>', 'HF model directory to continue training (config.json + model.safetensors [+ tokenizer.json])')
    .option('--data <files...>', 'UTF-8 text, JSONL ({"text"} per line) or JSON ({"text"} records in an array, or JSON Lines as written by to_json of HF datasets) files, or folders of them (default: the State of the Union corpus)')
    .option('--steps <n>', "optimizer steps (with --resume: the new total; with --emit: the launch's --train-iters, default 10000)")
    .option('--seed <n>', 'seed of initialisation, data order and everything random (default 0)')
    .option('--out <dir>', 'run directory: checkpoints/, latest.json, metrics.jsonl')
    .option('--router <kind>', 'moge | topk: train the same model with either router')
    .option('--workers <n>', 'worker threads (data + expert parallel over shared memory; default 1)')
    .option('--parallel <mode>', 'dp | ep: with --workers 2 or more (also on a resume), data parallel (every worker holds every expert) or expert parallel (each owns its MoGE groups; default ep when the workers divide the groups)')
    .option('--seq-len <n>', 'tokens per sequence (default 128; with --emit --plan auto: 4096)')
    .option('--global-batch <n>', 'sequences per optimizer step over all workers (default 8; with --emit --plan auto: 1024)')
    .option('--micro-batch <n>', 'sequences per forward/backward (default 4)')
    .option('--vocab-size <n>', "tokenizer/model vocabulary (overrides the preset's; ≥ 258)")
    .option('--lr <x>', 'peak learning rate (default 3e-3; min = peak / 10)')
    .option('--schedule <kind>', 'cosine | wsd (default cosine)')
    .option('--warmup <n>', 'warmup steps, below --steps (default 10 % of the steps, at most 100)')
    .option('--clip <x>', 'global gradient-norm clip, 0 = off (default 1)')
    .option('--aux-alpha <x>', "auxiliary balance loss coefficient (default the model's)")
    .option('--eval-every <n>', 'held-out evaluation every n steps, 0 = only at the end (default 25)')
    .option('--checkpoint-every <n>', 'checkpoint every n steps, 0 = only at the end (default 25)')
    .option('--max-documents <n>', 'use only the first n documents of the corpus')
    .option('--backend <name>', 'reference | onnxruntime (default onnxruntime)')
    .option('--no-live', 'no progress on stderr (by default a live bar on a terminal, else a line every 5 % of the steps)')
    .option('--json', 'machine-readable summary on stdout');
}

export function registerTrain(program: Command): void {
  // `train compare` is an operand, not a subcommand: both take the same flags, and a commander
  // subcommand would have its flags consumed by `train` unless positional options were turned on
  // for the whole program.
  addRunFlags(
    program
      .command('train')
      .argument('[mode]', '"compare": train with the MoGE and the plain top-k router on the same data; loss curves and Imbalance Score side by side')
      .description('train a MoGE model: tokenizer, data, AdamW, checkpoints, live view; `train compare` for MoGE vs top-k; or emit a launch for MindSpeed-LLM / Megatron-LM'),
  )
    .option('--resume <dir>', 'continue a run directory (or one checkpoint) exactly where it stopped')
    .option('--log-json <file>', 'metrics JSONL path (default <out>/metrics.jsonl; with --resume, give the same one again)')
    .option('--emit <engine>', 'mindspeed | megatron: write launch.sh and args.json into --out instead of training')
    .option('--plan <plan>', 'with --emit: ParallelPlan file, inline JSON, or "auto" (best plan of a simulated search)')
    .option('--cluster <spec>', 'with --plan auto: the cluster to search on (default atlas-800t-a2:64 / hgx-h200:64)')
    .action((mode: string | undefined, o: TrainCli, cmd: Command) => {
      if (mode === undefined) return runTrain(o);
      if (mode === 'compare') return runCompare(o);
      // The operand stands where a subcommand would: a usage error (status 2) like `moge hw lst`,
      // with commander's kind of suggestion for a typo.
      const meant = closestName(mode, ['compare']) ? "\n(Did you mean compare?)" : '';
      return cmd.error(`error: unknown mode '${mode}' of moge train: expected "compare" or none (a path goes after --data, --out or --resume)${meant}`, { exitCode: 2, code: 'commander.unknownCommand' });
    });

  program
    .command('sample')
    .description('generate text from a checkpoint with the KV cache (greedy, or with --temperature)')
    .requiredOption('--model <dir>', 'run directory (its latest checkpoint), checkpoint or HF model directory with tokenizer.json')
    .requiredOption('--prompt <text>', 'text to continue')
    .option('--max-tokens <n>', 'new tokens at most (default 64)')
    .option('--temperature <x>', '0 = greedy (default); > 0 samples from softmax(logits / x)')
    .option('--top-k <n>', 'with --temperature: sample among the k likeliest tokens (0 = all)')
    .option('--top-p <p>', 'with --temperature: sample among the likeliest tokens whose probabilities first reach p (nucleus sampling; default 1 = all)')
    .option('--seed <n>', 'with --temperature: seed of the sampling draws (default 0)')
    .option('--backend <name>', 'reference | onnxruntime (default reference)')
    .option('--json', 'machine-readable output')
    .action((o: SampleCli) => runSample(o));

  program
    .command('start')
    .description('the main job: train moge-small on the default corpus with the live view, write the checkpoint, show how to sample')
    .option('--quick', 'CI-sized: a few documents and steps, well under a minute')
    // The trainer's runMainJob names the default directory, with -quick for a --quick run.
    .option('--out <dir>', 'run directory (default runs/moge-small-<timestamp>; with --quick, runs/moge-small-quick-<timestamp>)')
    .option('--seed <n>', 'seed (default 0)')
    .option('--workers <n>', 'worker threads (default 1: on the 2-core hosts measured, 2 workers ran a step slower)')
    .option('--no-live', 'no progress on stderr (by default a live bar on a terminal, else a line every 5 % of the steps)')
    .action((o: { quick?: boolean; out?: string; seed?: string; workers?: string; live?: boolean }) => runStart(o));
}
