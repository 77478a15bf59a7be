import type { Command } from 'commander';
import { z } from 'zod';
import { formatBytes, formatSeconds, MogeError, MoeArchSchema, parseWith, QuantizationSchema, type MoeArch, type ParallelPlan } from '@moge/core';
import type { Cluster } from '@moge/ascend-hal';
import {
  defaultTpotCapFor,
  enumerateArchs,
  InferenceProfileSchema,
  maxBatchUnderTpot,
  PANGU_PRO_SEARCH_PARAMS,
  PANGU_PRO_SEARCH_VARY,
  searchInference,
  simulateInference,
  type InferenceProfile,
  type InferenceSearchEntry,
  type InferenceSimResult,
  type InferenceStage,
  type MaxBatchResult,
} from '@moge/sim';
import { failIfInfeasible } from '../util/errors';
import { intFlag } from '../util/flags';
import { readInlineOrFile, readStructuredFile } from '../util/io';
import { printJson, printTable } from '../util/output';
import { startProgress } from '../util/progress';
import { ARCH_HELP, resolveArch, resolveArchOrRanges } from '../util/resolve-arch';
import { resolveCluster } from '../util/resolve-cluster';
import { notePastPositions } from '../util/positions-note';
import { resolveServingPlan } from '../util/resolve-plan';
import { emptyLayoutSpaceError } from './sim-empty-space';

/** A positive number of seconds given as a flag (`--max-batch-under-tpot 0.05`). */
const secondsFlag = z
  .string()
  .regex(/^\d*\.?\d+(e-?\d+)?$/i, 'a positive number of seconds, e.g. 0.05')
  .transform(Number)
  .pipe(z.number().positive('a positive number of seconds'));


function planLabel(p: ParallelPlan): string {
  const stages = p.pp > 1 ? `, ${p.pp} pipeline stages` : '';
  return `attn DP${p.dp}×TP${p.tp}, experts ETP${p.etp}×EP${p.ep}${p.sequenceParallel ? ', split all-reduce' : ''}${stages}`;
}

const ms = (s: number | null) => (s === null ? '-' : `${(s * 1e3).toFixed(2)} ms`);

/** The machine output of one simulated step; the required keys first. */
function resultJson(r: InferenceSimResult) {
  return {
    ttftS: r.ttftS,
    tpotS: r.tpotS,
    throughputPerCard: r.throughputPerCard,
    batch: r.batch,
    breakdown: r.breakdown,
    phase: r.phase,
    throughputUnit: r.throughputUnit,
    stepTimeS: r.stepTimeS,
    acceptedTokensPerStep: r.acceptedTokensPerStep,
    devices: r.devices,
    batchPerDpRank: r.batchPerDpRank,
    experts: r.experts,
    memory: r.memory,
    bytesPerStep: r.bytesPerStep,
    flopsPerStep: r.flopsPerStep,
    profile: r.profile,
    pipeline: r.pipeline,
  };
}

/** Layers of a stage in a few characters: `24 MoE`, `3 dense + 13 MoE`, `+ 3 no-op`, `+ embedding`. */
function stageContents(s: InferenceStage): string {
  const parts = [s.denseLayers > 0 ? `${s.denseLayers} dense` : '', s.moeLayers > 0 ? `${s.moeLayers} MoE` : '', s.noopLayers > 0 ? `${s.noopLayers} no-op` : ''].filter(Boolean);
  const ends = [s.embedding ? 'embedding' : '', s.head ? 'head' : ''].filter(Boolean);
  return [parts.join(' + ') || 'no layers', ...ends].join(', ');
}

/** With pp > 1: every stage's forward and send, and what paces the step. */
function printStages(r: InferenceSimResult): void {
  const p = r.pipeline;
  const what = r.phase === 'prefill' ? `the batch of ${p.microBatch} per DP rank through ${p.pp} stages in order` : `${p.microBatches} micro-batch${p.microBatches === 1 ? '' : 'es'} of ${p.microBatch} sequences per DP rank in flight, step limited by ${p.limitedBy}`;
  process.stdout.write(`pipeline: ${what}; point-to-point sends ${formatSeconds(r.breakdown.p2pS)} per step\n`);
  printTable(
    ['stage', 'layers', 'forward', 'send', 'memory'],
    p.stages.map((s) => [`${s.stage}${s.stage === p.busiestStage ? ' (busiest)' : ''}`, stageContents(s), formatSeconds(s.timeS), formatSeconds(s.sendS), formatBytes(s.memoryBytes)]),
  );
  process.stdout.write(`\nbreakdown of a stage ${p.busiestStage} device, one forward of ${p.microBatch} sequences per DP rank (share of its ${formatSeconds(p.stages[p.busiestStage]!.timeS)}):\n`);
}

function printResult(r: InferenceSimResult, plan: ParallelPlan): void {
  const b = r.breakdown;
  process.stdout.write(`layout: ${planLabel(plan)} on ${r.devices} devices (profile ${r.profile})\n`);
  const head = r.phase === 'prefill' ? `TTFT ${ms(r.ttftS)}` : `TPOT ${ms(r.tpotS)} (step ${ms(r.stepTimeS)}, ${r.acceptedTokensPerStep.toFixed(2)} tokens/step)`;
  process.stdout.write(`${r.phase} batch ${r.batch}: ${head}, ${r.throughputPerCard.toFixed(1)} ${r.throughputUnit} per card\n`);
  process.stdout.write(
    `experts: ${r.experts.activeExpertsPerDevice.toFixed(2)} of ${r.experts.localExperts} per device touched, load ×${r.experts.loadFactor.toFixed(3)}; memory ${formatBytes(r.memory.totalBytes)} of ${formatBytes(r.memory.usableBytes)}${r.memory.fits ? '' : ' (does NOT fit)'}, KV holds ${r.memory.maxBatch} sequences\n\n`,
  );
  const piped = r.pipeline.pp > 1;
  if (piped) printStages(r);
  // With stages the rows are the busiest stage's forward; its drafts only if it is the last stage.
  const denominatorS = piped ? r.pipeline.stages[r.pipeline.busiestStage]!.timeS : r.stepTimeS;
  const draftsHere = !piped || r.pipeline.stages[r.pipeline.busiestStage]!.mtp;
  const rows: [string, number][] = [
    ...Object.entries(b.computeByModule).map(([m, s]) => [`compute: ${m}`, s] as [string, number]),
    ['exposed TP comm', b.comm.tpS],
    ['exposed shared-expert TP comm', b.comm.sharedTpS],
    ['exposed EP comm', b.comm.epS],
    ['exposed ETP comm', b.comm.etpS],
    ['MTP drafts', draftsHere ? b.draftS : 0],
    ['host overhead', piped ? 0 : b.stepOverheadS],
  ];
  printTable(['part', 'time', 'share'], rows.filter(([, s]) => s > 0).map(([k, s]) => [k, formatSeconds(s), `${((100 * s) / denominatorS).toFixed(1)} %`]));
  if (piped) process.stdout.write(`host overhead ${formatSeconds(b.stepOverheadS)} per micro-batch step\n`);
  process.stdout.write(`\nmemory-bound ops ${formatSeconds(b.memoryBoundS)}, compute-bound ops ${formatSeconds(b.computeBoundS)}; communication hidden under compute ${formatSeconds(b.hiddenCommS)}\n`);
}

function printMaxBatch(m: MaxBatchResult, capS: number): void {
  const why = m.limitedBy === 'kv-cache' ? 'KV-cache capacity' : m.limitedBy === 'tpot' ? 'the TPOT cap' : 'memory (not even one sequence fits)';
  process.stdout.write(`largest batch under TPOT ${ms(capS)}: ${m.batch} (limited by ${why}; the KV cache holds ${m.kvLimitBatch})\n\n`);
}

/** `--profile`: a profile name, or a profile file (a refit to try) checked against InferenceProfileSchema. */
function resolveInferenceProfile(value: string): string | InferenceProfile {
  if (!/[/\\]|\.(json|ya?ml)$/i.test(value)) return value;
  return parseWith(InferenceProfileSchema, readStructuredFile(value), `inference profile (${value})`);
}

interface InferCliFlags {
  arch: string;
  cluster: string;
  plan: string;
  workload: string;
  maxBatchUnderTpot?: string;
  profile?: string;
  json?: boolean;
}

/** `moge sim infer`: one prefill or decode step, or the largest decode batch under a TPOT cap. */
export function registerSimInfer(sim: Command): void {
  sim
    .command('infer')
    .description('predict TTFT (prefill) or TPOT (decode), output tokens/s per card and a breakdown of a serving step')
    .requiredOption('--arch <arch>', ARCH_HELP)
    .requiredOption('--cluster <cluster>', '<node-preset>:<devices> or a cluster file')
    .requiredOption('--plan <plan>', 'ParallelPlan file or inline JSON: attention dp × tp, experts ep × etp, sequenceParallel = split all-reduce, pp = pipeline stages (devices = tp × dp × pp)')
    .requiredOption(
      '--workload <workload>',
      'file or inline JSON {phase: prefill|decode, batch, inputLength, contextLength?, quantization?: bf16|fp16|w8a8|w4a8, kvDType?, maxNumSeqs?, speculation?: {method: "mtp", depth, acceptanceRate}, layout?: {sharedExpertTp?, fuseCollectives?, ppLayerPartition?: layers per pipeline stage, as VLLM_PP_LAYER_PARTITION}, routing?}',
    )
    .option('--max-batch-under-tpot <seconds>', 'search the largest decode batch whose TPOT stays under this cap')
    .option('--profile <name|file>', 'inference simulator profile name or file (default inference-default)')
    .option('--json', 'machine-readable output on stdout')
    .action((flags: InferCliFlags) => {
      const arch = resolveArch(flags.arch);
      const cluster = resolveCluster(flags.cluster);
      const plan = resolveServingPlan(flags.plan);
      const workload = readInlineOrFile(flags.workload, '--workload');
      if (typeof workload !== 'object' || workload === null || Array.isArray(workload)) {
        throw new MogeError('E_BAD_FLAG', `--workload: expected an object {phase, batch, inputLength, …}, got ${JSON.stringify(workload)}`);
      }
      const lengths = workload as { inputLength?: unknown; contextLength?: unknown };
      const context = Math.max(...[lengths.inputLength, lengths.contextLength].filter((n): n is number => typeof n === 'number'), 0);
      notePastPositions(arch, context, 'the workload\'s context');
      const base = { arch, cluster, plan, workload: workload as never, ...(flags.profile ? { profile: resolveInferenceProfile(flags.profile) } : {}) };
      if (flags.maxBatchUnderTpot !== undefined) {
        const capS = parseWith(z.object({ '--max-batch-under-tpot': secondsFlag }), { '--max-batch-under-tpot': flags.maxBatchUnderTpot }, 'sim infer flags')['--max-batch-under-tpot'];
        // The batch is the search's: a workload without one (or with any) is fine here.
        const m = maxBatchUnderTpot({ ...base, workload: { batch: 1, ...(workload as object), phase: 'decode' } as never }, capS);
        // As the inference search with nothing under its cap: no batch at all is a failure a script should see.
        const none = m.batch > 0 ? undefined : `no batch meets the TPOT cap of ${capS} s: ${m.limitedBy === 'tpot' ? 'batch 1 is slower; raise --max-batch-under-tpot or give a bigger --cluster' : 'not even one sequence fits in memory; give a bigger --cluster or a shorter context in --workload'}`;
        if (flags.json) {
          printJson({ ...(m.result ? resultJson(m.result) : { ttftS: null, tpotS: null, throughputPerCard: 0, batch: 0, breakdown: null }), maxBatchUnderTpot: { capS, batch: m.batch, limitedBy: m.limitedBy, kvLimitBatch: m.kvLimitBatch } });
          return failIfInfeasible(none);
        }
        printMaxBatch(m, capS);
        if (m.result) printResult(m.result, plan);
        return failIfInfeasible(none);
      }
      const r = simulateInference(base);
      const problem = r.memory.fits ? undefined : `does not fit: batch ${r.batch} needs ${formatBytes(r.memory.totalBytes)} per device, ${formatBytes(r.memory.usableBytes)} usable; find the largest that fits with moge mem infer`;
      if (flags.json) {
        printJson(resultJson(r));
        return failIfInfeasible(problem);
      }
      printResult(r, plan);
      failIfInfeasible(problem);
    });
}

/** The built-in Pangu Pro search space, usable as `--arch pangu-pro-space`. */
const PANGU_PRO_SPACE = 'pangu-pro-space';

/** `--arch` for the inference search: the built-in space, a preset/file, or a ranges file; returns the baseline too. */
function resolveSearchArchs(value: string): { archs: MoeArch[]; baseline: MoeArch } {
  if (value.trim() === PANGU_PRO_SPACE) {
    const base = resolveArch('pangu-pro-moe');
    return { archs: withBaseline(base, enumerateArchs({ base: base as unknown as Record<string, unknown>, vary: PANGU_PRO_SEARCH_VARY, totalParams: PANGU_PRO_SEARCH_PARAMS })), baseline: base };
  }
  const given = resolveArchOrRanges(value);
  if (!given.ranges) return { archs: [given.arch], baseline: given.arch };
  // The ranges' base is the candidate every score is normalised to (Pangu Pro's procedure).
  const baseline = parseWith(MoeArchSchema, given.ranges.base, `base architecture (${value})`);
  return { archs: withBaseline(baseline, enumerateArchs(given.ranges)), baseline };
}

/** The baseline first, then the candidates, less the one with the baseline's own shape (it would be listed twice). */
function withBaseline(baseline: MoeArch, candidates: MoeArch[]): MoeArch[] {
  const shape = (a: MoeArch) => JSON.stringify({ ...a, name: undefined });
  const own = shape(baseline);
  return [baseline, ...candidates.filter((a) => shape(a) !== own)];
}

/** Flags only the inference search uses, added to `moge sim search` (which calls this before parsing). */
export function addInferenceSearchFlags(cmd: Command): Command {
  return cmd
    .option('--latency-cap <seconds>', 'with --mode infer: TPOT cap (default 0.1 on atlas-300i-duo, 0.05 elsewhere, as Pangu Pro)')
    .option('--input-length <tokens>', 'with --mode infer: prompt tokens per sequence', '2048')
    .option('--quantization <q>', 'with --mode infer: bf16 | fp16 | w8a8 | w4a8', 'w8a8')
    .option('--infer-profile <name>', 'with --mode infer: inference simulator profile');
}

const SearchFlagsSchema = z.object({
  '--latency-cap': secondsFlag.optional(),
  '--input-length': intFlag(1),
  '--quantization': QuantizationSchema,
  '--top': intFlag(1),
});

/**
 * Options of `moge sim search --mode infer`, as commander parsed them (strings and booleans):
 * - `arch` (required): a preset, MoeArch file, a ranges file `{base, vary, totalParams}`, or
 *   `pangu-pro-space` (hidden 4096–8192, 32–64 heads, 8–16 KV heads, 40–64 layers, 32–64 experts, 60–80 B);
 *   scores are normalised to the preset / the ranges' base;
 * - `cluster` (required): `<node-preset>:<devices>` or a cluster file (one server);
 * - `latencyCap`: TPOT cap in seconds (default 0.1 on 300I Duo, 0.05 otherwise);
 * - `inputLength` (default '2048'), `quantization` (default 'w8a8'), `top` (default '10'),
 *   `inferProfile` (inference profile name), `json` (machine output).
 */
export interface InferenceSearchCommandOptions {
  arch: string;
  cluster: string;
  latencyCap?: string;
  inputLength?: string;
  quantization?: string;
  top?: string;
  inferProfile?: string;
  json?: boolean;
}

function entryJson(e: InferenceSearchEntry) {
  return {
    arch: e.arch.name ?? 'custom',
    totalParams: e.totalParams,
    activeParams: e.activeParams,
    layout: e.layout.label,
    plan: e.layout.plan,
    sharedExpertTp: e.layout.layout.sharedExpertTp,
    batch: e.batch,
    limitedBy: e.limitedBy,
    tpotS: e.result.tpotS,
    throughputPerCard: e.throughputPerCard,
    relative: e.relative,
  };
}

/** `moge sim search --mode infer`: the Pangu Pro architecture × layout search under a TPOT cap. */
export function runInferenceSearchCommand(opts: InferenceSearchCommandOptions): void {
  const f = parseWith(
    SearchFlagsSchema,
    { '--latency-cap': opts.latencyCap, '--input-length': opts.inputLength ?? '2048', '--quantization': opts.quantization ?? 'w8a8', '--top': opts.top ?? '10' },
    'sim search --mode infer flags',
  );
  const cluster: Cluster = resolveCluster(opts.cluster);
  const { archs, baseline } = resolveSearchArchs(opts.arch);
  const tpotCapS = f['--latency-cap'] ?? defaultTpotCapFor(cluster);
  const progress = startProgress(1, 'searching');
  let result;
  try {
    result = searchInference({
      archs,
      cluster,
      tpotCapS,
      baseline,
      top: f['--top'],
      workload: { inputLength: f['--input-length'], quantization: f['--quantization'] },
      ...(opts.inferProfile ? { profile: resolveInferenceProfile(opts.inferProfile) } : {}),
      onProgress: (done, total) => progress.update(done, { total }),
    });
  } finally {
    progress.stop();
  }
  // As the training search: finding nothing is a failure a script should see (after the counts).
  const noLayout = () =>
    result.emptyLayoutSpace
      ? emptyLayoutSpaceError(result.emptyLayoutSpace, cluster, archs.length)
      : new MogeError('E_NO_PLAN', `no layout meets the TPOT cap of ${ms(tpotCapS)} on ${cluster.name} (${result.counts.layoutsSimulated} simulated); raise --latency-cap, shorten --input-length, or give a bigger --cluster`);
  if (opts.json) {
    printJson({ mode: 'infer', tpotCapS, counts: result.counts, baseline: result.baseline, filtered: result.filtered, top: result.top.map(entryJson), pareto: result.pareto.map(entryJson), ...(result.emptyLayoutSpace ? { emptyLayoutSpace: result.emptyLayoutSpace } : {}) });
    if (result.top.length === 0) throw noLayout();
    return;
  }
  const c = result.counts;
  process.stdout.write(`TPOT cap ${ms(tpotCapS)} on ${cluster.name}: ${c.architectures} architecture(s), ${c.passedFilter} pass the single-server filter, ${c.layoutsSimulated} layouts simulated, ${c.meetingCap} meet the cap\n`);
  if (result.baseline) process.stdout.write(`baseline ${result.baseline.arch}: ${result.baseline.throughputPerCard.toFixed(1)} output tokens/s per card\n`);
  process.stdout.write('\n');
  const row = (e: InferenceSearchEntry, i: number) => [String(i + 1), e.arch.name ?? 'custom', e.layout.label, String(e.batch), ms(e.result.tpotS), e.throughputPerCard.toFixed(1), `${e.relative.toFixed(2)}×`, `${(e.totalParams / 1e9).toFixed(1)} B`];
  const headers = ['#', 'arch', 'layout', 'batch', 'TPOT', 'tok/s/card', 'vs baseline', 'params'];
  printTable(headers, result.top.map(row));
  process.stdout.write('\nPareto front (throughput per card vs total parameters, best layout per architecture):\n');
  printTable(headers, result.pareto.map(row));
  for (const x of result.filtered.slice(0, 5)) process.stdout.write(`filtered: ${x.arch}: ${x.reason}\n`);
  if (result.filtered.length > 5) process.stdout.write(`… and ${result.filtered.length - 5} more filtered\n`);
  if (result.top.length === 0) throw noLayout();
}

/** The name sim.ts looks up for `--mode infer` (same function). */
export function searchInferenceCommand(flags: Record<string, unknown>): void {
  runInferenceSearchCommand(flags as unknown as InferenceSearchCommandOptions);
}
