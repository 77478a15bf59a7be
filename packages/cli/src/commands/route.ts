import type { Command } from 'commander';
import { createReferenceBackend } from '@moge/ascend-hal';
import { MogeError, parseWith, toFieldIssues, ValidationError, type FieldIssue } from '@moge/core';
import {
  compareRouterCases,
  evaluateRouterCases,
  formatImbalanceStudy,
  ImbalanceStudyOptionsSchema,
  RouterCasesFileSchema,
  runImbalanceStudy,
  type ImbalanceStudyOptions,
} from '@moge/router';
import { z } from 'zod';
import { readStructuredFile, writeJsonAtomic } from '../util/io';
import { printJson } from '../util/output';
import { startProgress } from '../util/progress';
import { intFlag } from '../util/flags';

// ---- route eval ----------------------------------------------------------------------------------

interface EvalFlags {
  input: string;
  out: string;
  check?: boolean;
  json?: boolean;
}

/**
 * Routes every case of a router-cases file (the format of shared/golden/router-cases.json) through
 * the MoGE router and writes `{ cases: [{ name, <every field of expected> }] }` to --out. The file is
 * validated before anything is computed or written, and written atomically.
 */
function runEval(flags: EvalFlags): void {
  const file = parseWith(RouterCasesFileSchema, readStructuredFile(flags.input, '--input'), `router cases file ${flags.input}`);
  // Checked before anything is written: a refused --check leaves an existing --out as it was.
  const missing = flags.check ? file.cases.findIndex((c) => c.expected === undefined) : -1;
  if (missing >= 0) {
    throw new ValidationError(`router cases file ${flags.input}`, [
      { path: `cases[${missing}].expected`, received: undefined, expected: 'an expected block (--check compares against it)' },
    ]);
  }
  const backend = createReferenceBackend();
  const results = evaluateRouterCases(backend, file);
  writeJsonAtomic(flags.out, results);

  let mismatches: string[] | undefined;
  if (flags.check) {
    mismatches = compareRouterCases(
      results.cases,
      file.cases.map((c) => ({ name: c.name, ...c.expected! })),
    );
  }

  if (flags.json) {
    printJson({ input: flags.input, out: flags.out, cases: results.cases.length, backend: backend.name, ...(mismatches ? { mismatches } : {}) });
  } else {
    process.stdout.write(`routed ${results.cases.length} case(s) from ${flags.input} on the ${backend.name} backend → ${flags.out}\n`);
    if (mismatches) {
      process.stdout.write(
        mismatches.length === 0
          ? 'every case matches its expected block (ids and counts exactly, values to 1e-5 relative)\n'
          : `${mismatches.map((m) => `  mismatch: ${m}`).join('\n')}\n`,
      );
    }
  }
  if (mismatches && mismatches.length > 0) {
    throw new MogeError('E_MISMATCH', `${mismatches.length} field(s) differ from the expected blocks of ${flags.input}`);
  }
}

// ---- route study ---------------------------------------------------------------------------------


const intListFlag = z.string().transform((s, ctx) => {
  const parts = s.split(',');
  if (parts.some((p) => !/^\s*[1-9]\d*\s*$/.test(p))) {
    ctx.addIssue({ code: 'custom', message: 'comma-separated positive integers, e.g. 16,64,256' });
    return z.NEVER;
  }
  return parts.map(Number);
});

/** The flags of `route study`, keyed by flag name so a validation error names the flag to fix. */
const StudyFlagsSchema = z.object({
  '--batch-sizes': intListFlag.optional(),
  '--trials': intFlag(1).optional(),
  '--seed': intFlag(0).pipe(z.number().max(0xffffffff, 'an integer in [0, 2^32)')).optional(),
  '--experts': intFlag(1).optional(),
  '--top-k': intFlag(1).optional(),
  '--devices': intFlag(1).optional(),
});

/** Option field → the flag that sets it, to report cross-field errors (e.g. D ∤ E) by flag. */
const FLAG_OF: Record<string, string> = {
  batchSizes: '--batch-sizes',
  trials: '--trials',
  seed: '--seed',
  numExperts: '--experts',
  topK: '--top-k',
  numDevices: '--devices',
};

interface StudyFlags {
  batchSizes?: string;
  trials?: string;
  seed?: string;
  experts?: string;
  topK?: string;
  devices?: string;
  json?: boolean;
  progress?: boolean;
}

/** Flags → validated study options; every error names the flag. */
export function studyOptionsFromFlags(flags: StudyFlags): ImbalanceStudyOptions {
  const f = parseWith(
    StudyFlagsSchema,
    {
      '--batch-sizes': flags.batchSizes,
      '--trials': flags.trials,
      '--seed': flags.seed,
      '--experts': flags.experts,
      '--top-k': flags.topK,
      '--devices': flags.devices,
    },
    'route study flags',
  );
  const options: ImbalanceStudyOptions = {
    ...(f['--batch-sizes'] ? { batchSizes: f['--batch-sizes'] as [number, ...number[]] } : {}),
    ...(f['--trials'] !== undefined ? { trials: f['--trials'] } : {}),
    ...(f['--seed'] !== undefined ? { seed: f['--seed'] } : {}),
    ...(f['--experts'] !== undefined ? { numExperts: f['--experts'] } : {}),
    ...(f['--top-k'] !== undefined ? { topK: f['--top-k'] } : {}),
    ...(f['--devices'] !== undefined ? { numDevices: f['--devices'] } : {}),
  };
  const checked = ImbalanceStudyOptionsSchema.safeParse(options);
  if (!checked.success) {
    const issues: FieldIssue[] = toFieldIssues(checked.error, options).map((i) => {
      const [field, ...rest] = i.path.split(/(?=[.[])/);
      // The schema's words name its fields ("a divisor of numExperts"); a CLI user knows the flags.
      const expected = i.expected.replace(new RegExp(`\\b(${Object.keys(FLAG_OF).join('|')})\\b`, 'g'), (k) => FLAG_OF[k]!);
      return { ...i, path: `${FLAG_OF[field ?? ''] ?? field ?? ''}${rest.join('')}`, expected };
    });
    throw new ValidationError('route study flags', issues);
  }
  return options;
}

function runStudy(flags: StudyFlags): void {
  const options = studyOptionsFromFlags(flags);
  // The bar goes to stderr and only on a terminal, so `--json` on stdout stays parseable.
  let bar: ReturnType<typeof startProgress> | undefined;
  const result = runImbalanceStudy(options, (p) => {
    if (flags.progress === false) return;
    bar ??= startProgress(p.total, 'imbalance study');
    bar.update(p.done);
  });
  bar?.stop();
  if (flags.json) printJson(result);
  else process.stdout.write(formatImbalanceStudy(result));
}

// ---- registration --------------------------------------------------------------------------------

export function registerRoute(program: Command): void {
  const route = program.command('route').description('routers: evaluate routing cases, Imbalance Score study');
  route
    .command('eval')
    .description('route every case of a router-cases file (format of shared/golden/router-cases.json) with the MoGE router')
    .requiredOption('--input <file>', 'router cases, JSON or YAML')
    .requiredOption('--out <file>', 'results: per case, the fields of `expected` (written atomically)')
    .option('--check', "also compare with each case's `expected` block; exit 1 on any mismatch")
    .option('--json', 'machine-readable summary on stdout')
    .action((opts: EvalFlags) => runEval(opts));
  route
    .command('study')
    .description('Imbalance Score of plain top-k vs MoGE over batch sizes (Pangu Pro MoE Fig. 2b, targets.md IS-1)')
    .option('--batch-sizes <list>', 'comma-separated batch sizes in tokens (default 16,64,256)')
    .option('--trials <n>', 'Monte-Carlo batches per batch size and router (default 2000)')
    .option('--seed <n>', 'RNG seed (default 0)')
    .option('--experts <n>', 'routed experts E (default 64)')
    .option('--top-k <n>', 'experts per token K (default 8)')
    .option('--devices <n>', 'devices D of E/D contiguous experts; MoGE uses one group per device (default 8)')
    .option('--no-progress', 'no progress bar (it is shown only when stderr is a terminal anyway)')
    .option('--json', 'machine-readable output')
    .action((opts: StudyFlags) => runStudy(opts));
}
