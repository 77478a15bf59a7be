import type { Command } from 'commander';
import { z } from 'zod';
import { formatBytes, formatSeconds, MogeError, parseWith, planWorldSize, type ParallelPlan } from '@moge/core';
import type { Cluster } from '@moge/ascend-hal';
import * as simApi from '@moge/sim';
import {
  enumerateArchs,
  listSimProfiles,
  searchTraining,
  simulateTraining,
  validateTraining,
  type SearchEntry,
  type TrainingSimOptionsInput,
  type TrainingSimResult,
  type ValidationRow,
} from '@moge/sim';
import { failIfInfeasible } from '../util/errors';
import { intFlag, refuseIgnoredFlags } from '../util/flags';
import { assertWritablePath, writeJsonAtomic } from '../util/io';
import { printJson, printTable } from '../util/output';
import { startProgress } from '../util/progress';
import { ARCH_HELP, resolveArch, resolveArchOrRanges } from '../util/resolve-arch';
import { resolveCluster } from '../util/resolve-cluster';
import { resolvePlan } from '../util/resolve-plan';
import { notePastPositions } from '../util/positions-note';
import { emptyPlanSpaceError } from './sim-empty-space';
import * as simInfer from './sim-infer';
import { registerSimInfer } from './sim-infer';


/** Flags shared by `train` and `search` that shape the simulation; keys are the flags, so errors name them. */
const SimFlagsSchema = z.object({
  // Checked with the other flags, before a plan is read or notes are printed (the simulator itself
  // would refuse it only once it runs, under the field name "profile").
  '--profile': z.enum(listSimProfiles().map((p) => p.name) as [string, ...string[]]).optional(),
  '--dispatch': z.enum(['flat', 'hierarchical']).default('hierarchical'),
  '--overlap': z.boolean().default(true),
  '--rebalance': z.boolean().default(true),
  '--fused-operators': z.boolean().default(false),
  '--unfused-elementwise': z.boolean().default(false),
});

interface SimCliFlags {
  profile?: string;
  dispatch?: string;
  overlap?: boolean;
  rebalance?: boolean;
  fusedOperators?: boolean;
  unfusedElementwise?: boolean;
}

function simOptions(flags: SimCliFlags): TrainingSimOptionsInput {
  const f = parseWith(SimFlagsSchema, { '--profile': flags.profile, '--dispatch': flags.dispatch, '--overlap': flags.overlap, '--rebalance': flags.rebalance, '--fused-operators': flags.fusedOperators, '--unfused-elementwise': flags.unfusedElementwise }, 'sim flags');
  return {
    ...(f['--profile'] ? { profile: f['--profile'] } : {}),
    dispatch: f['--dispatch'],
    overlap: f['--overlap'],
    expertLoad: { kind: 'router', rebalance: f['--rebalance'] },
    fusedOperators: { mc2: f['--fused-operators'], elementwise: !f['--unfused-elementwise'] },
  };
}

const BatchFlagsSchema = z.object({ '--global-batch': intFlag(1), '--seq-length': intFlag(1) });

function addSimFlags(cmd: Command): Command {
  return cmd
    .option('--profile <name>', 'simulator profile (default: the calibrated one for the chip)')
    .option('--dispatch <algorithm>', 'expert all-to-all: flat | hierarchical', 'hierarchical')
    .option('--no-overlap', 'switch communication/computation overlap off')
    .option('--no-rebalance', 'no expert re-placement (top-k imbalance as routed)')
    .option('--fused-operators', 'TP all-gather / reduce-scatter fused with the adjacent matmul (Ascend MC2)')
    .option('--unfused-elementwise', 'RMSNorm, RoPE, SwiGLU and MoE permute/unpermute as unfused PyTorch op chains (no MindSpeed fused kernels)');
}

function planLabel(p: ParallelPlan): string {
  const recompute = p.recompute.length === 0 ? 'none' : p.recompute.includes('layer') ? 'full' : p.recompute.join('+');
  return `TP${p.tp} CP${p.cp} PP${p.pp} VPP${p.vpp} EP${p.ep} ETP${p.etp} DP${p.dp} mbs${p.microBatchSize} rc=${recompute}${p.noopLayers ? ` noop${p.noopLayers}` : ''}`;
}

function printTrainResult(r: TrainingSimResult, plan: ParallelPlan): void {
  const b = r.breakdown;
  const pct = (s: number) => `${((100 * s) / r.stepTimeS).toFixed(1)} %`;
  process.stdout.write(`plan: ${planLabel(plan)} on ${r.devices} devices (profile ${r.profile})\n`);
  process.stdout.write(`step ${formatSeconds(r.stepTimeS)}  ${(r.tokensPerSecond / 1e6).toFixed(3)} M tokens/s  MFU ${(100 * r.mfu).toFixed(1)} %  peak memory ${formatBytes(r.peakMemoryBytesPerDevice)}${r.fitsInMemory ? '' : ' (does NOT fit)'}\n`);
  process.stdout.write(`micro-batches ${r.numMicroBatches}, busiest EP device load ×${r.expertLoadFactor.toFixed(3)}, critical stage ${r.criticalStage}\n`);
  // The split the simulator kept, as Megatron-core's --pipeline-model-parallel-layout would write it.
  if (plan.pp > 1) process.stdout.write(`pipeline layout ${r.pipelineLayout}\n`);
  process.stdout.write('\n');
  const rows: [string, number][] = [
    ['compute', b.computeS],
    ['recompute', b.recomputeS],
    ['swap', b.swapS],
    ['exposed TP comm', b.exposedComm.tpS],
    ['exposed CP comm', b.exposedComm.cpS],
    ['exposed EP comm', b.exposedComm.epS],
    ['exposed ETP comm', b.exposedComm.etpS],
    ['exposed DP comm', b.exposedComm.dpS],
    ['exposed PP sends', b.exposedComm.ppS],
    ['pipeline bubble', b.bubbleS],
    ['optimizer', b.optimizerS],
    ['overhead', b.overheadS],
  ];
  printTable(['category', 'time', 'share'], rows.map(([k, s]) => [k, formatSeconds(s), pct(s)]));
  process.stdout.write(`\nMFU convention: ${r.mfuConvention}\n`);
}

function registerSimTrain(sim: Command): void {
  addSimFlags(
    sim
      .command('train')
      .description('predict step time, tokens/s, MFU and memory of a training plan')
      .requiredOption('--arch <arch>', ARCH_HELP)
      .requiredOption('--cluster <cluster>', '<node-preset>:<devices> or a cluster file')
      .requiredOption('--plan <plan>', 'ParallelPlan file, inline JSON, or "auto" (best plan of a search)')
      // No commander defaults: with a plan file these flags would be ignored, so they are refused there.
      .option('--global-batch <sequences>', 'with --plan auto: sequences per step (default 1024; a plan file states its own)')
      .option('--seq-length <tokens>', 'with --plan auto: tokens per sequence (default 4096; a plan file states its own)')
      .option('--json', 'machine-readable output on stdout')
      .option('--trace <file>', 'write a Chrome trace (chrome://tracing, Perfetto) of the schedule'),
  ).action((flags: SimCliFlags & { arch: string; cluster: string; plan: string; json?: boolean; trace?: string; globalBatch?: string; seqLength?: string }) => {
    const arch = resolveArch(flags.arch);
    const cluster = resolveCluster(flags.cluster);
    const options = simOptions(flags);
    // Before the search or simulation (minutes for a big --plan auto), and naming the flag.
    if (flags.trace !== undefined) assertWritablePath('--trace', flags.trace);
    let plan: ParallelPlan;
    if (flags.plan.trim() === 'auto') {
      const batch = parseWith(BatchFlagsSchema, { '--global-batch': flags.globalBatch ?? '1024', '--seq-length': flags.seqLength ?? '4096' }, 'sim train flags');
      const found = searchTraining({ archs: [arch], cluster, globalBatchSize: batch['--global-batch'], seqLength: batch['--seq-length'], options, top: 1 });
      if (found.emptyPlanSpace) throw emptyPlanSpaceError(found.emptyPlanSpace, cluster, batch['--global-batch'], batch['--seq-length']);
      if (found.top.length === 0) throw new MogeError('E_NO_PLAN', `no plan of the search space fits ${arch.name ?? 'this architecture'} on ${cluster.name} with ${batch['--global-batch']} sequences of ${batch['--seq-length']} tokens per step; give a bigger --cluster, a smaller --global-batch or --seq-length, or a --plan file`);
      plan = found.top[0]!.plan;
    } else {
      const ignored = [flags.globalBatch !== undefined && '--global-batch', flags.seqLength !== undefined && '--seq-length'].filter(Boolean);
      if (ignored.length) throw new MogeError('E_BAD_FLAG', `${ignored.join(', ')}: only with --plan auto; a plan states globalBatchSize and seqLength itself (set them there)`);
      plan = resolvePlan(flags.plan);
    }
    notePastPositions(arch, plan.seqLength, 'seqLength');
    const used = planWorldSize(plan);
    if (used < cluster.numDevices) process.stderr.write(`note: the plan uses ${used} of ${cluster.name}'s ${cluster.numDevices} devices (tp×cp×dp×pp = ${plan.tp}×${plan.cp}×${plan.dp}×${plan.pp}); the rest stay idle\n`);
    const r = simulateTraining({ arch, cluster, plan, options: { ...options, trace: Boolean(flags.trace) } });
    if (flags.trace && r.trace) writeJsonAtomic(flags.trace, r.trace);
    const problem = r.fitsInMemory
      ? undefined
      : `does not fit: the plan needs ${formatBytes(r.peakMemoryBytesPerDevice)} per device, ${cluster.node.chip.name} has ${formatBytes(cluster.node.chip.hbmBytes.value)}; add recompute or parallelism (moge mem train --budget plans recompute and swap)`;
    if (flags.json) {
      const { trace: _trace, memory, ...rest } = r;
      printJson({ ...rest, plan, memory: { totalBytes: memory.totalBytes, weightsBytes: memory.weightsBytes, gradientsBytes: memory.gradientsBytes, optimizerBytes: memory.optimizerBytes, activationsBytes: memory.activationsBytes, overheadBytes: memory.overheadBytes, peakStage: memory.peakStage } });
      return failIfInfeasible(problem);
    }
    printTrainResult(r, plan);
    if (flags.trace) process.stdout.write(`trace written to ${flags.trace}\n`);
    failIfInfeasible(problem);
  });
}

/**
 * An optional export of the inference half (./sim-infer), looked up by name so this file compiles and
 * works whether or not the inference side has provided it yet.
 */
function inferHook<T>(name: string): T | undefined {
  const v = (simInfer as Record<string, unknown>)[name];
  return typeof v === 'function' ? (v as T) : undefined;
}

function entryJson(e: SearchEntry) {
  return {
    arch: e.arch.name ?? 'custom',
    plan: e.plan,
    label: planLabel(e.plan),
    stepTimeS: e.result.stepTimeS,
    tokensPerSecond: e.result.tokensPerSecond,
    mfu: e.result.mfu,
    peakMemoryBytesPerDevice: e.result.peakMemoryBytesPerDevice,
    breakdown: e.result.breakdown,
  };
}

function registerSimSearch(sim: Command): void {
  const search = addSimFlags(
    sim
      .command('search')
      .description('search architectures × plans: prune by memory, rank by the objective, show the top and the Pareto front')
      .requiredOption('--arch <arch>', 'preset, MoeArch file, or a ranges file {base, vary, totalParams}')
      .requiredOption('--cluster <cluster>', '<node-preset>:<devices> or a cluster file')
      .option('--objective <objective>', 'throughput | mfu', 'throughput')
      .option('--global-batch <sequences>', 'sequences per optimizer step', '1024')
      .option('--seq-length <tokens>', 'tokens per sequence', '4096')
      .option('--top <n>', 'configurations to show', '10')
      .option('--mode <mode>', 'train | infer (inference search: see `moge sim infer --help`)', 'train')
      .option('--json', 'machine-readable output on stdout'),
  );
  // The inference half may add its own search flags (latency caps, prompt lengths) to the same command.
  const addInferFlags = inferHook<(cmd: Command) => Command>('addInferenceSearchFlags');
  if (addInferFlags) addInferFlags(search);
  type SearchCli = SimCliFlags & { arch: string; cluster: string; objective: string; globalBatch: string; seqLength: string; top: string; mode: string; json?: boolean };
  search.action(async (flags: SearchCli, cmd: Command) => {
    const mode = parseWith(z.object({ '--mode': z.enum(['train', 'infer']) }), { '--mode': flags.mode }, 'sim search flags')['--mode'];
    // Each mode refuses the other's flags (given on the command line; defaults are no one's choice).
    const common = ['arch', 'cluster', 'top', 'mode'] as const;
    const trainOnly = ['objective', 'globalBatch', 'seqLength', 'profile', 'dispatch', 'overlap', 'rebalance', 'fusedOperators', 'unfusedElementwise'] as const;
    const inferOnly = ['latencyCap', 'inputLength', 'quantization', 'inferProfile'] as const;
    const all = flags as SearchCli & Record<string, unknown>;
    refuseIgnoredFlags(all, [...common, ...(mode === 'infer' ? inferOnly : trainOnly)], `with --mode ${mode}`, { cmd });
    if (mode === 'infer') {
      const searchInference = inferHook<(flags: Record<string, unknown>) => void | Promise<void>>('searchInferenceCommand');
      if (!searchInference) throw new MogeError('E_NOT_AVAILABLE', '--mode infer: the inference search is not available in this build (sim-infer has no searchInferenceCommand); use --mode train');
      await searchInference(flags as unknown as Record<string, unknown>);
      return;
    }
    const f = parseWith(
      BatchFlagsSchema.extend({ '--objective': z.enum(['throughput', 'mfu']), '--top': intFlag(1) }),
      { '--global-batch': flags.globalBatch, '--seq-length': flags.seqLength, '--objective': flags.objective, '--top': flags.top },
      'sim search flags',
    );
    const given = resolveArchOrRanges(flags.arch);
    const archs = given.ranges ? enumerateArchs(given.ranges) : [given.arch];
    const cluster: Cluster = resolveCluster(flags.cluster);
    const progress = startProgress(1, 'searching');
    let result;
    try {
      result = searchTraining({
        archs,
        cluster,
        globalBatchSize: f['--global-batch'],
        seqLength: f['--seq-length'],
        objective: f['--objective'],
        top: f['--top'],
        options: simOptions(flags),
        onProgress: (done, total) => progress.update(done, { total }),
      });
    } finally {
      progress.stop();
    }
    // Like `sim train --plan auto`: finding nothing is a failure a script should see (after the counts).
    const noPlan = () =>
      result.emptyPlanSpace
        ? emptyPlanSpaceError(result.emptyPlanSpace, cluster, f['--global-batch'], f['--seq-length'], archs.length)
        : new MogeError('E_NO_PLAN', `no plan fits: ${result.counts.enumerated} enumerated, ${result.counts.fitting} fit in memory; give a bigger --cluster, a smaller --global-batch or --seq-length, or more recompute`);
    if (flags.json) {
      printJson({ objective: result.objective, counts: result.counts, architectures: archs.length, top: result.top.map(entryJson), pareto: result.pareto.map(entryJson), ...(result.emptyPlanSpace ? { emptyPlanSpace: result.emptyPlanSpace } : {}) });
      if (result.top.length === 0) throw noPlan();
      return;
    }
    if (result.top.length === 0) {
      process.stdout.write(`${archs.length} architecture(s), ${result.counts.enumerated} plans, ${result.counts.fitting} fit in memory\n`);
      throw noPlan();
    }
    process.stdout.write(`${archs.length} architecture(s), ${result.counts.enumerated} plans, ${result.counts.fitting} fit in memory, ${result.counts.simulated} simulated event by event\n\n`);
    const row = (e: SearchEntry, i: number) => [
      String(i + 1),
      e.arch.name ?? 'custom',
      planLabel(e.plan),
      (e.result.tokensPerSecond / 1e6).toFixed(3),
      `${(100 * e.result.mfu).toFixed(1)} %`,
      formatBytes(e.result.peakMemoryBytesPerDevice),
    ];
    printTable(['#', 'arch', 'plan', 'M tok/s', 'MFU', 'peak memory'], result.top.map(row));
    process.stdout.write('\nPareto front (throughput vs peak memory):\n');
    printTable(['#', 'arch', 'plan', 'M tok/s', 'MFU', 'peak memory'], result.pareto.map(row));
  });
}

/** Inference validation rows, when the inference simulator exports them (`validateInference(): ValidationRow[]`). */
function inferenceRows(): ValidationRow[] {
  const v = (simApi as Record<string, unknown>).validateInference;
  return typeof v === 'function' ? (v as () => ValidationRow[])() : [];
}

/** A figure in the unit its metric is read in: MFU and gains as percentages, throughputs in millions. */
function formatFigure(r: ValidationRow, v: number): string {
  if (r.errorKind === 'rank') return `#${v}`;
  if (r.unit === '%' || /MFU|gain/i.test(r.metric)) return `${(100 * v).toFixed(1)} %`;
  if (r.unit === 's') return formatSeconds(v);
  if (Math.abs(v) >= 1e5) return `${(v / 1e6).toFixed(3)} M`;
  return `${Number(v.toPrecision(4))}${r.unit ? ` ${r.unit}` : ''}`;
}

function errorText(r: ValidationRow): string {
  if (r.errorKind === 'rank') return r.withinGoal ? 'in top' : `${r.error} below`;
  return r.errorKind === 'points' ? `${r.error.toFixed(1)} pt` : `${(100 * r.error).toFixed(1)} %`;
}

function goalText(r: ValidationRow): string {
  if (r.errorKind === 'rank') return `top ${r.published}`;
  return r.errorKind === 'points' ? `±${r.goal} pt` : `±${100 * r.goal} %`;
}

function registerSimValidate(sim: Command): void {
  sim
    .command('validate')
    .description('predict every training and inference case of targets.md next to the published figure')
    .option('--profile <name>', 'training simulator profile to validate')
    .option('--no-search', 'skip ULT-S1, the plan search that ranks Pangu Ultra\'s layout (a few seconds)')
    .option('--json', 'machine-readable output on stdout')
    .action((flags: { profile?: string; search: boolean; json?: boolean }) => {
      const rows = [...validateTraining({ ...(flags.profile ? { profile: flags.profile } : {}), search: flags.search }), ...inferenceRows()];
      if (flags.json) {
        printJson(rows);
        return;
      }
      printTable(
        ['case', 'metric', 'published', 'predicted', 'error', 'goal', 'ok'],
        rows.map((r) => [
          r.id,
          r.metric,
          formatFigure(r, r.published),
          formatFigure(r, r.predicted),
          errorText(r),
          goalText(r),
          r.withinGoal ? 'yes' : 'no',
        ]),
      );
      const within = rows.filter((r) => r.withinGoal).length;
      process.stdout.write(`\n${within} of ${rows.length} figures within their goal\n\nAssumed conditions:\n`);
      for (const id of [...new Set(rows.map((r) => r.id))]) {
        const assumed = rows.find((r) => r.id === id)!.assumed;
        if (assumed.length > 0) process.stdout.write(`  ${id}: ${assumed.join('; ')}\n`);
      }
    });
}

/** `moge sim …`: simulators. Each subcommand registers itself on the `sim` group (inference adds its own). */
export function registerSim(program: Command): void {
  const sim = program.command('sim').description('simulate training and inference of a plan on a cluster, and search for the best');
  registerSimTrain(sim);
  registerSimSearch(sim);
  registerSimValidate(sim);
  registerSimInfer(sim);
}
