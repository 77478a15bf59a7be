import type { Command } from 'commander';
import { z } from 'zod';
import { DTypeSchema, formatBytes, formatSeconds, GiB, parseWith, QuantizationSchema, type MoeArch, type ParallelPlan } from '@moge/core';
import {
  deviceMemoryBytes,
  estimateInferenceMemory,
  estimateTrainingMemory,
  hostLinkOf,
  peakCostRatesOf,
  planMemory,
  TrainingMemoryOptionsSchema,
  type InferenceMemoryEstimate,
  type MemoryPlanResult,
  type TrainingMemoryEstimate,
  type TrainingMemoryOptionsInput,
} from '@moge/memory';
import { failIfInfeasible } from '../util/errors';
import { readInlineOrFile } from '../util/io';
import { printJson, printTable } from '../util/output';
import { ARCH_HELP, resolveArch } from '../util/resolve-arch';
import { resolveCluster } from '../util/resolve-cluster';
import { notePastPositions } from '../util/positions-note';
import { resolvePlan, resolveServingPlan } from '../util/resolve-plan';
import { intFlag } from '../util/flags';

/** Hardware the commands assume when no --cluster is given; named in the output so it is never silent. */
const DEFAULT_TRAIN_CLUSTER = 'atlas-800t-a2';
const DEFAULT_INFER_CLUSTER = 'atlas-800i-a2';

/**
 * A flag holding a number > 0 (or ≥ 0), given as text by commander, at most `max` (GiB flags: a
 * million GiB; beyond, byte counts overflow and the estimates print Infinity).
 */
const numberFlag = (what: string, allowZero = false, max = 1e6) =>
  z
    .string()
    .trim()
    .regex(/^\d+(\.\d+)?([eE][+-]?\d+)?$/, what)
    .transform(Number)
    .pipe((allowZero ? z.number().nonnegative(what) : z.number().positive(what)).max(max, `${what}, at most ${max}`));

const TrainFlagsSchema = z.object({
  '--budget': numberFlag('a positive number of GiB').optional(),
  '--imbalance': numberFlag('a load-imbalance factor ≥ 1 (busiest device over mean)', false, 1000).pipe(z.number().min(1, 'a load-imbalance factor ≥ 1')).optional(),
  '--overhead': numberFlag('a number of GiB ≥ 0', true).optional(),
});

const InferFlagsSchema = z.object({
  '--context': intFlag(1).optional(),
  '--batch': intFlag(0).default(1),
  '--quant': QuantizationSchema.default('bf16'),
  '--kv-dtype': DTypeSchema.default('bf16'),
  '--block-size': intFlag(1).default(16),
  '--hbm': numberFlag('a positive number of GiB').optional(),
  '--utilization': numberFlag('a fraction in (0, 1]').pipe(z.number().max(1, 'a fraction in (0, 1]')).default(0.9),
  '--max-batched-tokens': intFlag(1).optional(),
  '--max-num-seqs': intFlag(1).optional(),
  '--overhead': numberFlag('a number of GiB ≥ 0', true).default(0),
  // vLLM's VLLM_PP_LAYER_PARTITION format: layers per pipeline stage, comma-separated.
  '--pp-layers': z
    .string()
    .trim()
    .regex(/^\d+(\s*,\s*\d+)*$/, 'layers per pipeline stage, comma-separated whole numbers (e.g. 12,12,12,12)')
    .transform((text) => text.split(',').map(Number))
    .optional(),
});

interface TrainCli {
  arch: string;
  plan?: string;
  budget?: string;
  cluster?: string;
  imbalance?: string;
  overhead?: string;
  options?: string;
  json?: boolean;
}

interface InferCli {
  arch: string;
  plan?: string;
  context?: string;
  batch?: string;
  quant?: string;
  kvDtype?: string;
  blockSize?: string;
  hbm?: string;
  cluster?: string;
  utilization?: string;
  maxBatchedTokens?: string;
  maxNumSeqs?: string;
  overhead?: string;
  ppLayers?: string;
  mtp?: boolean;
  json?: boolean;
}

const gib = (bytes: number) => formatBytes(bytes);

function describePlan(arch: MoeArch, p: ParallelPlan): string {
  const layout = `tp${p.tp} cp${p.cp} dp${p.dp} pp${p.pp}${p.vpp > 1 ? ` vpp${p.vpp}` : ''} ep${p.ep} etp${p.etp}${p.sequenceParallel ? ' +sp' : ''}`;
  return `${arch.name ?? 'model'} on ${layout} · micro-batch ${p.microBatchSize} × ${p.seqLength} tokens`;
}

function printTraining(arch: MoeArch, plan: ParallelPlan, e: TrainingMemoryEstimate): void {
  process.stdout.write(`${describePlan(arch, plan)} · ${e.numMicroBatches} micro-batches per step\n`);
  const policy = [...e.policy.recompute.map((r) => `recompute ${r}`), ...e.policy.swap.map((s) => `swap ${s}`)];
  process.stdout.write(`policy: ${policy.length > 0 ? policy.join(', ') : 'keep everything'}\n`);
  process.stdout.write(
    `peak: stage ${e.peakStage} — weights ${gib(e.weightsBytes)}, gradients ${gib(e.gradientsBytes)}, optimizer ${gib(e.optimizerBytes)}, ` +
      `activations ${gib(e.activationsBytes)}, overhead ${gib(e.overheadBytes)} → ${gib(e.totalBytes)} per device\n\n`,
  );
  printTable(
    ['stage', 'in flight', 'weights', 'gradients', 'optimizer', 'activations', 'host (swap)', 'total'],
    e.stages.map((s) => [
      s.stage,
      s.activation.microBatchesInFlight.join('+'),
      gib(s.weightsBytes),
      gib(s.gradientsBytes),
      gib(s.optimizerBytes),
      gib(s.activationsBytes),
      gib(s.hostBytes),
      gib(s.totalBytes),
    ]),
  );
}

function printPlan(r: MemoryPlanResult, hardware: string): void {
  process.stdout.write(`\nbudget ${gib(r.budgetBytes)} per device; recompute and swap priced with ${hardware}\n${r.summary}\n`);
  if (!r.fits) return;
  const t = r.addedTime;
  process.stdout.write(
    `added per step (stage ${t.stage}): recompute ${(t.recompute.flops / 1e12).toFixed(2)} TFLOP, ${gib(t.recompute.memoryBytes)} HBM, ` +
      `${gib(t.recompute.commBytes)} collectives → ${formatSeconds(t.recomputeTimeS)}; swap ${gib(t.swapBytesPerStep)} → ${formatSeconds(t.swapTimeS)}\n`,
  );
  process.stdout.write(`plan fields: ${JSON.stringify({ recompute: r.plan.recompute, recomputeNumLayers: r.plan.recomputeNumLayers, swap: r.plan.swap })}\n`);
}

function runTrain(opts: TrainCli): void {
  const flags = parseWith(TrainFlagsSchema, { '--budget': opts.budget, '--imbalance': opts.imbalance, '--overhead': opts.overhead }, 'mem train flags');
  const arch = resolveArch(opts.arch);
  const plan = resolvePlan(opts.plan ?? '{}');
  const fromFile = opts.options === undefined ? {} : parseWith(TrainingMemoryOptionsSchema.partial(), readInlineOrFile(opts.options, '--options'), `--options (${opts.options})`);
  const clusterSpec = opts.cluster ?? DEFAULT_TRAIN_CLUSTER;
  const cluster = resolveCluster(clusterSpec);
  const options: TrainingMemoryOptionsInput = {
    hostLink: hostLinkOf(cluster.node),
    ...fromFile,
    ...(flags['--imbalance'] !== undefined ? { loadImbalanceFactor: flags['--imbalance'] } : {}),
    ...(flags['--overhead'] !== undefined ? { frameworkOverheadBytes: flags['--overhead'] * GiB } : {}),
  };
  const estimate = estimateTrainingMemory(arch, plan, options);
  const hardware = `${cluster.name}${opts.cluster === undefined ? ' (default; pass --cluster)' : ''}`;
  const result = flags['--budget'] === undefined ? undefined : planMemory(arch, plan, flags['--budget'] * GiB, { ...options, rates: peakCostRatesOf(cluster) });
  if (opts.json) {
    printJson({
      ...estimate,
      hardware,
      ...(result && {
        memoryPlan: {
          fits: result.fits,
          budgetBytes: result.budgetBytes,
          policy: result.policy,
          plan: result.plan,
          addedTime: result.addedTime,
          peakStage: result.estimate.peakStage,
          totalBytes: result.estimate.totalBytes,
          activationsBytes: result.estimate.activationsBytes,
          candidatesEvaluated: result.candidatesEvaluated,
          shortfall: result.shortfall,
          summary: result.summary,
        },
      }),
    });
  } else {
    printTraining(arch, plan, estimate);
    if (result) printPlan(result, hardware);
  }
  failIfInfeasible(result && !result.fits ? result.summary : undefined);
}

/**
 * What to change when a serving plan does not fit: with no room for even one sequence the weights
 * (and fixed buffers) are the problem, which only more model parallelism or smaller weights solve;
 * otherwise the batch asked for is past the largest that fits, or the context is.
 */
function servingFitAdvice(e: InferenceMemoryEstimate, batch: number, contextLength: number): string {
  if (e.maxBatch === 0) {
    return `not even one sequence of ${contextLength} tokens fits beside ${gib(e.weightsBytes)} of weights: split the model over more devices (raise tp, ep or pp in --plan), quantise the weights (--quant w8a8 or w4a8), or shorten --context`;
  }
  return `at most ${e.maxBatch} sequences of ${contextLength} tokens fit: lower --batch to ${e.maxBatch} (from ${batch}), shorten --context, store the KV cache in int8 (--kv-dtype int8), or raise dp / tp in --plan`;
}

function runInfer(opts: InferCli): void {
  const flags = parseWith(
    InferFlagsSchema,
    {
      '--context': opts.context,
      '--batch': opts.batch,
      '--quant': opts.quant,
      '--kv-dtype': opts.kvDtype,
      '--block-size': opts.blockSize,
      '--hbm': opts.hbm,
      '--utilization': opts.utilization,
      '--max-batched-tokens': opts.maxBatchedTokens,
      '--max-num-seqs': opts.maxNumSeqs,
      '--overhead': opts.overhead,
      '--pp-layers': opts.ppLayers,
    },
    'mem infer flags',
  );
  const arch = resolveArch(opts.arch);
  const plan = resolveServingPlan(opts.plan ?? '{}');
  let hbmBytes: number;
  let hardware: string;
  if (flags['--hbm'] !== undefined) {
    hbmBytes = flags['--hbm'] * GiB;
    hardware = `--hbm ${flags['--hbm']} GiB`;
  } else {
    const cluster = resolveCluster(opts.cluster ?? DEFAULT_INFER_CLUSTER);
    hbmBytes = deviceMemoryBytes(cluster);
    hardware = `${cluster.name}${opts.cluster === undefined ? ' (default; pass --cluster or --hbm)' : ''}`;
  }
  const contextLength = flags['--context'] ?? arch.maxPositionEmbeddings;
  notePastPositions(arch, contextLength, '--context');
  const e = estimateInferenceMemory(arch, plan, {
    hbmBytes,
    contextLength,
    batch: flags['--batch'],
    quantization: flags['--quant'],
    kvDType: flags['--kv-dtype'],
    blockSize: flags['--block-size'],
    memoryUtilization: flags['--utilization'],
    maxBatchedTokens: flags['--max-batched-tokens'],
    maxNumSeqs: flags['--max-num-seqs'],
    includeMtp: opts.mtp === true,
    frameworkOverheadBytes: flags['--overhead'] * GiB,
    ...(flags['--pp-layers'] === undefined ? {} : { ppLayerPartition: flags['--pp-layers'] }),
  });
  const problem = e.fits ? undefined : `does not fit: batch ${flags['--batch']} needs ${gib(e.totalBytes)} per device, ${gib(e.usableBytes)} usable; ${servingFitAdvice(e, flags['--batch'], contextLength)}`;
  if (opts.json) {
    printJson({ ...e, contextLength, quantization: flags['--quant'], kvDType: flags['--kv-dtype'], hardware });
    // The same exit status as the table's: a script sees "does not fit" without reading `fits`.
    return failIfInfeasible(problem);
  }
  process.stdout.write(`${arch.name ?? 'model'} on tp${plan.tp} dp${plan.dp} pp${plan.pp} ep${plan.ep} etp${plan.etp} · ${flags['--quant']} weights, ${flags['--kv-dtype']} KV · ${hardware}\n`);
  // With pp > 1 the stages differ (embedding first, head and MTP last): the table is the busiest one's.
  const device = plan.pp > 1 ? `per device of stage ${e.busiestStage} (the busiest of ${plan.pp})` : 'per device';
  printTable(
    ['item', device],
    [
      ['weights', gib(e.weightsBytes)],
      ['KV per token (whole model)', `${e.kvBytesPerToken} B`],
      ['KV per token (this device)', `${e.kvBytesPerTokenPerDevice} B`],
      [`KV per sequence (${contextLength} tokens)`, gib(e.kvBytesPerSequence)],
      [`KV for batch ${flags['--batch']}`, gib(e.kvBytes)],
      ['workspace', gib(e.workspaceBytes)],
      ['overhead', gib(e.overheadBytes)],
      ['total', gib(e.totalBytes)],
      [`usable (${(flags['--utilization'] * 100).toFixed(0)} % of ${gib(hbmBytes)})`, gib(e.usableBytes)],
    ],
  );
  if (plan.pp > 1) process.stdout.write(`layers per stage: ${e.stages.map((st) => st.layers).join(', ')}\n`);
  process.stdout.write(
    `max batch at ${contextLength} tokens: ${e.maxBatch} per attention-DP rank (${e.maxBatchTotal} over dp ${plan.dp}); ${e.numBlocks} KV blocks of ${flags['--block-size']} tokens\n`,
  );
  failIfInfeasible(problem);
}

/** `moge mem …`: training and inference memory per device, and the recompute/swap plan for a budget. */
export function registerMem(program: Command): void {
  const mem = program.command('mem').description('memory per device: training breakdown and recompute/swap planning, inference KV cache and max batch');
  mem
    .command('train')
    .description('training memory per device (weights, gradients, optimizer, activations per stage); with --budget, the cheapest recompute/swap policy that fits')
    .requiredOption('--arch <arch>', ARCH_HELP)
    .option('--plan <plan>', 'ParallelPlan file (JSON/YAML) or inline JSON (default: one device)')
    .option('--budget <GiB>', 'device memory budget; plans recompute and swap to fit it')
    .option('--cluster <spec>', `hardware for swap time and recompute pricing, e.g. atlas-800t-a2:8 (default ${DEFAULT_TRAIN_CLUSTER})`)
    .option('--imbalance <factor>', 'busiest device load over mean for routed tokens (default 1)')
    .option('--overhead <GiB>', 'framework overhead per device (default 0; `moge sim train` reserves its profile\'s deviceMemoryReserveBytes, 5 GiB for the Ascend 910B, so give --overhead 5 to compare)')
    .option('--options <options>', 'TrainingMemoryOptions file or inline JSON (dtypes, flashAttention, dropout, …)')
    .option('--json', 'print JSON: weightsBytes, gradientsBytes, optimizerBytes, activationsBytes, totalBytes, perLayer, stages, memoryPlan')
    .action((opts: TrainCli) => runTrain(opts));
  mem
    .command('infer')
    .description('inference memory per device: weights by quantisation, KV cache per token, largest batch at a context length')
    .requiredOption('--arch <arch>', ARCH_HELP)
    .option('--plan <plan>', 'ParallelPlan file or inline JSON: tp, dp, pp, ep, etp (default: one device)')
    .option('--context <tokens>', 'context length per sequence (default: the arch maxPositionEmbeddings)')
    .option('--batch <n>', 'sequences per attention-DP rank to size the KV cache for', '1')
    .option('--quant <q>', `weight quantisation: ${QuantizationSchema.options.join(' | ')}`, 'bf16')
    .option('--kv-dtype <dtype>', `KV-cache dtype: ${DTypeSchema.options.join(' | ')}`, 'bf16')
    .option('--block-size <tokens>', 'tokens per KV block', '16')
    .option('--hbm <GiB>', 'device memory (overrides --cluster)')
    .option('--cluster <spec>', `hardware, e.g. atlas-800i-a2:8 (default ${DEFAULT_INFER_CLUSTER})`)
    .option('--utilization <fraction>', 'fraction of device memory the engine may use', '0.9')
    .option('--max-batched-tokens <n>', 'largest forward in tokens (default: the context length)')
    .option('--max-num-seqs <n>', "sequences the sampler takes at once, whose fp32 logits the workspace holds (vLLM's --max-num-seqs; default 256)")
    .option('--overhead <GiB>', 'framework overhead per device', '0')
    .option('--pp-layers <n,n,…>', "layers per pipeline stage (vLLM's VLLM_PP_LAYER_PARTITION); default vLLM's even split, the remainder to the stages before the last")
    .option('--mtp', 'load MTP modules and give them KV cache')
    .option('--json', 'print JSON: weightsBytes, kvBytesPerToken, kvBytesPerTokenPerDevice, maxBatch, …')
    .action((opts: InferCli) => runInfer(opts));
}
