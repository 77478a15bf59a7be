import type { Command } from 'commander';
import { z } from 'zod';
import { parseWith, ValidationError } from '@moge/core';
import { parseLoadsFile, placeExperts, placementToJson, PlacementPolicySchema, type Placement } from '@moge/ep-planner';
import { readStructuredFile } from '../util/io';
import { printJson, printTable } from '../util/output';
import { intFlag } from '../util/flags';

/** A flag holding a whole number ≥ min, given as text by commander. */

/** Keys are the flags themselves, so a validation error names the flag the user typed. */
const PlaceFlagsSchema = z.object({
  '--loads': z.string().min(1, 'a path to a JSON/YAML file {"loads": [[tokens per expert] per layer]}'),
  '--policy': PlacementPolicySchema,
  '--ranks': intFlag(1),
  '--nodes': intFlag(1),
  '--groups': intFlag(1).optional(),
  '--redundant': intFlag(0).default(0),
});

/** Library option names → the flags they come from, to name flags in cross-field errors. */
const FLAG_OF: Record<string, string> = {
  policy: '--policy',
  numRanks: '--ranks',
  numNodes: '--nodes',
  numGroups: '--groups',
  redundantSlots: '--redundant',
};

interface PlaceCliOptions {
  loads?: string;
  policy?: string;
  ranks?: string;
  nodes?: string;
  groups?: string;
  redundant?: string;
  json?: boolean;
}

function runPlace(opts: PlaceCliOptions): void {
  const flags = parseWith(
    PlaceFlagsSchema,
    { '--loads': opts.loads, '--policy': opts.policy, '--ranks': opts.ranks, '--nodes': opts.nodes, '--groups': opts.groups, '--redundant': opts.redundant },
    'ep place flags',
  );
  const loads = parseLoadsFile(readStructuredFile(flags['--loads'], '--loads'), `loads file ${flags['--loads']}`);
  // Checked here, where a flag can be named: a copy of every expert on every rank is more replicas
  // than any placement uses (a million slots took minutes), and only two policies place by groups.
  const issues: { path: string; received: unknown; expected: string }[] = [];
  const maxRedundant = loads.numExperts * flags['--ranks'];
  if (flags['--redundant'] > maxRedundant) issues.push({ path: '--redundant', received: flags['--redundant'], expected: `at most experts × ranks = ${maxRedundant} (a copy of every expert on every rank)` });
  if (flags['--groups'] !== undefined && (flags['--policy'] === 'greedy' || flags['--policy'] === 'eplb-global')) {
    issues.push({ path: '--groups', received: flags['--groups'], expected: `nothing: policy "${flags['--policy']}" places experts without groups (--groups is for moge and eplb-hierarchical)` });
  }
  if (issues.length) throw new ValidationError('ep place flags', issues);
  let placement: Placement;
  try {
    placement = placeExperts(loads, {
      policy: flags['--policy'],
      numRanks: flags['--ranks'],
      numNodes: flags['--nodes'],
      numGroups: flags['--groups'],
      redundantSlots: flags['--redundant'],
    });
  } catch (e) {
    if (!(e instanceof ValidationError)) throw e;
    const issues = e.issues.map((i) => ({ ...i, path: FLAG_OF[i.path] ?? i.path, expected: renameFields(i.expected) }));
    throw new ValidationError('ep place flags', issues);
  }
  if (opts.json) printJson(placementToJson(placement));
  else printPlacementTable(placement);
}

/** Option names inside messages ("a multiple of numRanks (3)") become flag names too. */
function renameFields(text: string): string {
  return text.replace(/\b(numRanks|numNodes|numGroups|redundantSlots)\b/g, (name) => FLAG_OF[name]!);
}

function printPlacementTable(p: Placement): void {
  process.stdout.write(
    `${p.policy}: ${p.numExperts} experts on ${p.numRanks} ranks (${p.numNodes} nodes × ${p.ranksPerNode}), ` +
      `${p.slotsPerRank} slots per rank, ${p.redundantSlots} redundant per layer\n`,
  );
  const rows = p.layers.map((layer, l) => {
    const loads = Array.from(layer.rankLoads);
    const mean = loads.reduce((s, v) => s + v, 0) / loads.length;
    const replicated = Array.from(layer.replicaCounts).filter((c) => c > 1).length;
    return [l, layer.maxOverMean.toFixed(3), Math.max(...loads).toFixed(1), mean.toFixed(1), Math.min(...loads).toFixed(1), replicated, Math.max(...layer.replicaCounts)];
  });
  printTable(['layer', 'max/mean', 'max load', 'mean load', 'min load', 'replicated experts', 'max replicas'], rows);
  const meanRatio = p.layers.reduce((s, l) => s + l.maxOverMean, 0) / p.layers.length;
  process.stdout.write(`mean max/mean over ${p.layers.length} layers: ${meanRatio.toFixed(3)}\n`);
}

/** `moge ep …`: expert placement for expert parallelism. */
export function registerEp(program: Command): void {
  const ep = program.command('ep').description('expert parallelism: place experts on ranks, balance their load');
  ep.command('place')
    .description('place the experts of every MoE layer on ranks from a load matrix and report max/mean rank load')
    .requiredOption('--loads <file>', 'JSON/YAML file {"loads": [[tokens per expert] per layer]}')
    .requiredOption('--policy <policy>', `placement policy: ${PlacementPolicySchema.options.join(' | ')}`)
    .requiredOption('--ranks <n>', 'expert-parallel ranks (devices)')
    .requiredOption('--nodes <n>', 'nodes the ranks live on (consecutive ranks share a node)')
    .option('--groups <n>', 'expert groups (default: one per rank for moge, one per node for eplb-hierarchical)')
    .option('--redundant <slots>', 'extra physical slots per layer for replicas of hot experts', '0')
    .option('--json', 'print the placement as JSON (per layer: maxOverMean, rankLoads, physicalToLogical, …)')
    .action((opts: PlaceCliOptions) => runPlace(opts));
}
