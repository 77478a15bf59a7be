import type { Command } from 'commander';
import { z } from 'zod';
import { existsSync } from 'node:fs';
import { join as joinPath, resolve as resolvePath } from 'node:path';
import { createBackend, BackendNameSchema } from '@moge/ascend-hal/node';
import { MogeError, ValidationError, countParameters, formatBytes, parseWith } from '@moge/core';
import {
  flopsPerToken,
  initModelWeights,
  kvBytesPerToken,
  modelBackward,
  modelForward,
  tensorsToHost,
  tokenBatchFromRows,
  weightBytes,
  type ForwardResult,
} from '@moge/model';
import { CONFIG_FILE, WEIGHTS_FILE, WEIGHTS_INDEX_FILE, loadModelDir, saveHfTensors, saveModelDir } from '@moge/model/node';
import { assertFitsHostMemory } from '../util/host-memory';
import { assertWritablePath, readStructuredFile, writeJsonAtomic } from '../util/io';
import { printJson, printTable } from '../util/output';
import { ARCH_HELP, resolveArch } from '../util/resolve-arch';
import { trainingFlopsPerToken } from '@moge/sim';
import { intFlag } from '../util/flags';

/** A flag holding a whole number ≥ min, given as text by commander. */

const numberFlag = z
  .string()
  .refine((s) => s.trim() !== '' && Number.isFinite(Number(s)) && Number(s) >= 0, 'a number ≥ 0')
  .transform(Number);

// Keys are the flags themselves, so a validation error names the flag the user typed.
const ForwardFlagsSchema = z.object({
  '--model': z.string().min(1, 'a model directory (config.json + model.safetensors)'),
  '--input': z.string().min(1, 'a JSON file {"input_ids": [[...], ...]}'),
  '--out': z.string().min(1, 'a path for the result JSON'),
  '--grads': z.string().min(1).optional(),
  // Coefficients in use are 1e-4–1e-1; far larger ones overflow the loss and its gradients in f32.
  '--aux-alpha': numberFlag.pipe(z.number().max(1000, 'a number in [0, 1000] (an auxiliary-loss coefficient; 1e-3–1e-1 in use)')).optional(),
  '--backend': BackendNameSchema.default('reference'),
  '--threads': intFlag(1).optional(),
});

const InputFileSchema = z.object({ input_ids: z.unknown() });

/** The result in the format of the golden `expected.json` (logits flattened row-major). */
function resultJson(inputIds: number[][], fwd: ForwardResult, logits: ArrayLike<number>, batch: number, seqLen: number, vocab: number, k: number) {
  const rows = <T>(flat: ArrayLike<T>) => Array.from({ length: flat.length / k }, (_, t) => Array.from({ length: k }, (_, j) => flat[t * k + j]!));
  return {
    input_ids: inputIds,
    loss: fwd.loss && {
      cross_entropy: fwd.loss.crossEntropy,
      aux_alpha: fwd.loss.auxAlpha,
      aux_unscaled_per_layer: fwd.loss.auxUnscaledPerLayer,
      total: fwd.loss.total,
    },
    logits: Array.from(logits),
    logits_shape: [batch, seqLen, vocab],
    routing: fwd.routing.map((r) => ({ layer: r.layer, expert_ids: rows(r.expertIds), weights: rows(r.weights), counts: Array.from(r.counts) })),
  };
}

function runForward(opts: Record<string, string | undefined>): void {
  const flags = parseWith(
    ForwardFlagsSchema,
    { '--model': opts.model, '--input': opts.input, '--out': opts.out, '--grads': opts.grads, '--aux-alpha': opts.auxAlpha, '--backend': opts.backend, '--threads': opts.threads },
    'model forward flags',
  );
  // The reference backend has no thread pool: --threads would be dropped without a word.
  if (flags['--threads'] !== undefined && flags['--backend'] !== 'onnxruntime') {
    throw new ValidationError('model forward flags', [{ path: '--threads', received: opts.threads, expected: `nothing with --backend ${flags['--backend']} (it sets onnxruntime's intra-op threads; add --backend onnxruntime)` }]);
  }
  assertWritablePath('--out', flags['--out']);
  if (flags['--grads'] !== undefined) assertWritablePath('--grads', flags['--grads']);
  const same = (a: string, b: string) => resolvePath(a) === resolvePath(b);
  for (const [flag, path] of [['--out', flags['--out']], ['--grads', flags['--grads']]] as const) {
    if (path !== undefined && same(path, flags['--input'])) throw new MogeError('E_BAD_FLAG', `${flag} ${path}: is the --input file; give the output its own path`);
  }
  if (flags['--grads'] !== undefined && same(flags['--grads'], flags['--out'])) throw new MogeError('E_BAD_FLAG', `--grads ${flags['--grads']}: is the --out file too; give each output its own path`);
  const backend = createBackend(flags['--backend'], flags['--threads'] === undefined ? {} : { intraOpThreads: flags['--threads'] });
  const weights = loadModelDir(flags['--model'], backend);
  const input = parseWith(InputFileSchema, readStructuredFile(flags['--input'], '--input'), `input file ${flags['--input']}`);
  const batch = tokenBatchFromRows(input.input_ids, weights.arch.vocabSize, `input_ids (${flags['--input']})`);
  if (flags['--grads'] && batch.seqLen < 2) {
    throw new ValidationError('model forward flags', [
      { path: '--grads', received: flags['--grads'], expected: `input rows of at least 2 tokens for a next-token loss (got ${batch.seqLen})` },
    ]);
  }
  const withGrad = flags['--grads'] !== undefined;
  const fwd = modelForward(weights, batch, { auxAlpha: flags['--aux-alpha'], withGrad });
  if (fwd.loss && !Number.isFinite(fwd.loss.total)) {
    throw new MogeError('E_NOT_FINITE', `the loss is ${fwd.loss.total} (cross-entropy ${fwd.loss.crossEntropy}, aux α ${fwd.loss.auxAlpha}): nothing written; check the weights (and --aux-alpha)`);
  }
  const k = weights.arch.topK;
  const logits = backend.read(fwd.logits);
  // JSON has no NaN or ∞: they would be written as null. A loss over next tokens catches most
  // overflows, but rows of one token have no loss to go non-finite.
  const bad = logits.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    const vocab = weights.arch.vocabSize;
    const [row, token] = [Math.floor(bad / vocab), bad % vocab];
    throw new MogeError(
      'E_NOT_FINITE',
      `logit of token ${token} at sequence ${Math.floor(row / batch.seqLen)}, position ${row % batch.seqLen} is ${logits[bad]}: nothing written; the weights overflow float32 (check the checkpoint)`,
    );
  }
  writeJsonAtomic(flags['--out'], resultJson(input.input_ids as number[][], fwd, logits, batch.batch, batch.seqLen, weights.arch.vocabSize, k));
  if (withGrad) saveHfTensors(flags['--grads']!, weights.arch, tensorsToHost(backend, modelBackward(weights, fwd)));
  const loss = fwd.loss ? ` loss ${fwd.loss.total.toFixed(6)} (CE ${fwd.loss.crossEntropy.toFixed(6)})` : '';
  process.stderr.write(`forward ${batch.batch}×${batch.seqLen} tokens on ${backend.name}:${loss} → ${flags['--out']}${withGrad ? `, grads → ${flags['--grads']}` : ''}\n`);
}

/** `n` over the largest power of 1000 (up to 1000⁴) not above it, and that power's prefix from `prefixes` (K, M, G, T). */
function byThousands(n: number, prefixes: readonly [string, string, string, string]): [number, string] {
  const power = Math.min(4, Math.max(0, Math.floor(Math.log10(Math.max(1, n)) / 3)));
  return [n / 1000 ** power, power === 0 ? '' : prefixes[power - 1]!];
}

/** A count exact with thousands separators, as HF and Megatron logs print it, and its size in K/M/B: `181,968 (182.0 K)`. */
function formatCount(n: number): string {
  const [scaled, unit] = byThousands(n, ['K', 'M', 'B', 'T']);
  return unit ? `${n.toLocaleString('en-US')} (${scaled.toFixed(1)} ${unit})` : n.toLocaleString('en-US');
}

/** FLOPs in the unit that suits the value: `101.65 GFLOP`, `1.09 MFLOP`. */
function formatFlop(n: number): string {
  const [scaled, unit] = byThousands(n, ['K', 'M', 'G', 'T']);
  return `${scaled.toFixed(2)} ${unit}FLOP`;
}

const InfoFlagsSchema = z.object({ '--seq-len': intFlag(1).default(4096) });

/** The architecture `model info` was given, as its operand or as --arch (one of them, or both the same). */
function infoArch(operand: string | undefined, flag: string | undefined): string {
  if (operand !== undefined && flag !== undefined && operand !== flag) {
    throw new MogeError('E_BAD_FLAG', `--arch ${flag}: the operand already names ${operand}; give the architecture once`);
  }
  const arch = operand ?? flag;
  if (arch === undefined) throw new MogeError('E_BAD_FLAG', 'no architecture: give a preset, MoeArch file, HF config.json or model directory (moge model info <arch> or --arch <arch>)');
  return arch;
}

function runInfo(archValue: string, opts: { seqLen?: string; json?: boolean }): void {
  const flags = parseWith(InfoFlagsSchema, { '--seq-len': opts.seqLen }, 'model info flags');
  const arch = resolveArch(archValue);
  const c = countParameters(arch);
  const s = flags['--seq-len'];
  const train = flopsPerToken(arch, { seqLen: s, pass: 'training' });
  const fwd = flopsPerToken(arch, { seqLen: s, pass: 'forward' });
  // What `moge sim train` divides by for its MFU (Megatron-LM's count: the output head and MTP included).
  const simTrain = trainingFlopsPerToken(arch, s);
  const info = {
    arch,
    parameters: { total: c.total, active: c.active, activeExcludingEmbedding: c.activeExcludingEmbedding, activeNonEmbedding: c.activeNonEmbedding, mtp: c.mtp.total },
    flopsPerToken: { seqLen: s, training: train, forward: fwd, trainingMegatron: simTrain },
    weightBytes: { bf16: weightBytes(arch, 'bf16'), int8: weightBytes(arch, 'int8') },
    kvBytesPerToken: { bf16: kvBytesPerToken(arch, 'bf16') },
  };
  if (opts.json) return printJson(info);
  printTable(
    ['quantity', 'value'],
    [
      ['parameters (total)', formatCount(c.total)],
      ['parameters (active per token)', formatCount(c.active)],
      ['active, no input embedding', formatCount(c.activeExcludingEmbedding)],
      ['MTP parameters (apart)', formatCount(c.mtp.total)],
      // Two conventions, each named: the same words must never stand for two numbers.
      [`training FLOP/token, sim train MFU (6N + head + attn + MTP, s=${s})`, formatFlop(simTrain.total)],
      [`training FLOP/token, targets.md MFU (6N + attn, s=${s})`, formatFlop(train.mfu)],
      [`forward FLOP/token (2N + head + attn, s=${s})`, formatFlop(fwd.total)],
      ['weights in bf16', formatBytes(info.weightBytes.bf16)],
      ['KV cache per token (bf16)', formatBytes(info.kvBytesPerToken.bf16)],
    ],
  );
  process.stdout.write(
    `\nN = active parameters without embedding and output head. sim train's MFU counts as Megatron-LM does (output head and MTP modules included); targets.md's minimal convention leaves them out.\n`,
  );
}

const InitFlagsSchema = z.object({
  '--arch': z.string().min(1, 'a preset name, MoeArch file or HF config.json'),
  '--out': z.string().min(1, 'a directory to write config.json + model.safetensors into'),
  '--seed': intFlag(0).pipe(z.number().max(0xffffffff, 'a seed below 2^32')).default(0),
  '--dtype': z.enum(['F32', 'BF16', 'F16']).default('F32'),
});

/** Bytes per element of the file `model init` writes. */
const INIT_DTYPE_BYTES = { F32: 4, BF16: 2, F16: 2 } as const;

function runInit(opts: Record<string, string | undefined>): void {
  const flags = parseWith(InitFlagsSchema, { '--arch': opts.arch, '--out': opts.out, '--seed': opts.seed, '--dtype': opts.dtype }, 'model init flags');
  // A random model over a trained one (a checkpoint directory, say) would destroy it.
  const existing = [CONFIG_FILE, WEIGHTS_FILE, WEIGHTS_INDEX_FILE].filter((f) => existsSync(joinPath(flags['--out'], f)));
  if (existing.length) throw new MogeError('E_MODEL_EXISTS', `--out ${flags['--out']}: already holds a model (${existing.join(', ')}); give a new directory`);
  // A random model of the runnable architecture: other HF families are read for planning only.
  const arch = resolveArch(flags['--arch'], { runnable: true });
  // Every parameter in float32 (4 B), copied once more to save (4 B), then serialised in --dtype.
  assertFitsHostMemory(arch, 8 + INIT_DTYPE_BYTES[flags['--dtype']], `--arch ${flags['--arch']}`, `to initialise and write in ${flags['--dtype']}`, 'model init is for models that fit (moge-tiny, moge-small, or a smaller MoeArch file); `moge model info` gives any model\'s sizes');
  const weights = initModelWeights(arch, createBackend('reference'), { seed: flags['--seed'] });
  saveModelDir(flags['--out'], weights, { dtype: flags['--dtype'] });
  process.stderr.write(`initialised ${arch.name ?? flags['--arch']} (${formatCount(countParameters(arch).total)} parameters, seed ${flags['--seed']}) → ${flags['--out']}\n`);
}

export function registerModel(program: Command): void {
  const model = program.command('model').description('MoGE transformer checkpoints: forward/backward, accounting, initialisation');
  model
    .command('forward')
    .description('run a forward pass (and optionally backward) of an HF model directory on token ids')
    .requiredOption('--model <dir>', 'model directory: config.json + model.safetensors (or sharded with an index)')
    .requiredOption('--input <file>', 'JSON file {"input_ids": [[...], ...]} (rows of equal length)')
    .requiredOption('--out <file>', 'result JSON: logits, loss {cross_entropy, aux_alpha, aux_unscaled_per_layer, total}, routing')
    .option('--grads <file>', 'also write d total / d parameter for every tensor (HF names) as safetensors')
    .option('--aux-alpha <alpha>', "α of the auxiliary loss (default: the config's router_aux_loss_coef)")
    .option('--backend <name>', 'reference | onnxruntime', 'reference')
    .option('--threads <n>', 'with --backend onnxruntime: intra-op threads')
    .action((opts: Record<string, string | undefined>) => runForward(opts));
  model
    .command('info')
    .description('parameters, FLOPs per token, weight and KV-cache bytes of an architecture')
    .argument('[arch]', ARCH_HELP)
    // --arch as well, the spelling of every other command that takes an architecture (model init, sim, mem).
    .option('--arch <arch>', 'the same, as a flag')
    .option('--seq-len <n>', 'sequence length for attention FLOPs', '4096')
    .option('--json', 'machine-readable output')
    .action((arch: string | undefined, opts: { arch?: string; seqLen?: string; json?: boolean }) => runInfo(infoArch(arch, opts.arch), opts));
  model
    .command('init')
    .description('write a randomly initialised model directory (normal(0, 0.02), router_scale ones)')
    .requiredOption('--arch <arch>', ARCH_HELP)
    .requiredOption('--out <dir>', 'output model directory')
    .option('--seed <n>', 'RNG seed', '0')
    .option('--dtype <dtype>', 'F32 | BF16 | F16', 'F32')
    .action((opts: Record<string, string | undefined>) => runInit(opts));
}
