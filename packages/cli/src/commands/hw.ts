import type { Command } from 'commander';
import { z } from 'zod';
import {
  CollectiveAlgorithmSchema,
  COLLECTIVE_BYTES_CONVENTION,
  estimateCollective,
  getNodePreset,
  listNodePresets,
  type Cluster,
  type CollectiveEstimate,
  type CollectiveOp,
  type CollectiveRequest,
  type LinkTier,
  type NodeSpec,
} from '@moge/ascend-hal';
import {
  formatBytes,
  formatRate,
  formatSeconds,
  parseWith,
  ValidationError,
  GB,
  GiB,
  KB,
  KiB,
  MB,
  MiB,
  TB,
  TiB,
  type SourcedNumber,
} from '@moge/core';
import { badFlag } from '../util/errors';
import { printJson, printTable } from '../util/output';
import { resolveCluster } from '../util/resolve-cluster';
import { intFlag } from '../util/flags';

/** The ops `moge hw collective` takes: those that need only a byte count. */
const CLI_OPS = [
  'all-reduce',
  'all-gather',
  'reduce-scatter',
  'all-to-all',
  'broadcast',
  'send-recv',
] as const;

const UNITS: Record<string, number> = {
  b: 1,
  kb: KB,
  mb: MB,
  gb: GB,
  tb: TB,
  kib: KiB,
  mib: MiB,
  gib: GiB,
  tib: TiB,
};

/** A size with an optional unit, in bytes; undefined when the text is not one. */
function bytesOf(value: string): number | undefined {
  const match = /^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*$/i.exec(value);
  const unit = match?.[2]?.toLowerCase() ?? '';
  const scale = unit === '' ? 1 : UNITS[unit];
  if (!match || scale === undefined) return undefined;
  const bytes = Number(match[1]) * scale;
  // Whole bytes, up to a petabyte per rank (1e307 made every time Infinity); 1.5 is not a byte count.
  return Number.isInteger(bytes) && bytes >= 0 && bytes <= MAX_BYTES ? bytes : undefined;
}

const MAX_BYTES = 1e15;
const BYTES_EXPECTED = 'a whole byte count up to 1e15, such as 268435456, 2.5e8, 256MiB or 1GB';

/** `--bytes` takes a plain count (`268435456`, `2.5e8`) or a size with a unit (`256MiB`, `1GB`). */
export function parseBytesFlag(flag: string, value: string): number {
  const bytes = bytesOf(value);
  if (bytes === undefined) throw badFlag(flag, value, BYTES_EXPECTED);
  return bytes;
}

/** A flag holding a whole number ≥ min, given as text by commander. */

const ALGORITHM_CHOICES = ['auto', ...CollectiveAlgorithmSchema.options] as const;

/** Keys are the flags themselves, so a validation error names the flag the user typed. */
const CollectiveFlagsSchema = z.object({
  '--op': z.enum(CLI_OPS, { error: `one of ${CLI_OPS.join(', ')}` }),
  '--bytes': z.string().transform((value, ctx) => {
    const bytes = bytesOf(value);
    if (bytes === undefined) {
      ctx.addIssue({ code: 'custom', message: BYTES_EXPECTED });
      return z.NEVER;
    }
    return bytes;
  }),
  '--algorithm': z.enum(ALGORITHM_CHOICES, { error: `one of ${ALGORITHM_CHOICES.join(', ')}` }).optional(),
  '--ranks': intFlag(1).optional(),
  '--ranks-per-node': intFlag(1).optional(),
});

function tierSummary(tier: LinkTier): string {
  return `${tier.name}, ${formatRate(tier.bandwidth.value)} per device, ${tier.topology}`;
}

function listPresets(json: boolean): void {
  const presets = listNodePresets();
  if (json) {
    printJson(presets.map(({ spec, aliases }) => ({ ...spec, aliases })));
    return;
  }
  printTable(
    [
      'preset',
      'aliases',
      'chip',
      'devices',
      'bf16/dev',
      'int8/dev',
      'memory/dev',
      'HBM bw',
      'intra-node',
      'inter-node',
      'role',
    ],
    presets.map(({ spec, aliases }) => [
      spec.name,
      aliases.join(',') || '-',
      spec.chip.name,
      spec.devicesPerNode,
      spec.chip.peakFlops.bf16.value > 0 ? `${(spec.chip.peakFlops.bf16.value / 1e12).toFixed(0)} TF` : '-',
      `${(spec.chip.peakFlops.int8.value / 1e12).toFixed(0)} TO`,
      formatBytes(spec.chip.hbmBytes.value),
      formatRate(spec.chip.hbmBandwidth.value),
      formatRate(spec.intraNode.bandwidth.value),
      formatRate(spec.interNode.bandwidth.value),
      spec.role,
    ]),
  );
}

function sourcedRow(label: string, n: SourcedNumber, shown: string): (string | number)[] {
  return [label, shown, n.confidence, n.source];
}

/** A tier's measured collective efficiency and per-call overhead, where it has them. */
function calibrationRows(label: string, tier: LinkTier): (string | number)[][] {
  const rows: (string | number)[][] = [];
  if (tier.efficiency)
    rows.push(
      sourcedRow(
        `${label} collective efficiency`,
        tier.efficiency,
        `${(tier.efficiency.value * 100).toFixed(1)} %`,
      ),
    );
  if (tier.callOverheadS)
    rows.push(
      sourcedRow(`${label} overhead per call`, tier.callOverheadS, formatSeconds(tier.callOverheadS.value)),
    );
  return rows;
}

function showPreset(node: NodeSpec): void {
  const c = node.chip;
  process.stdout.write(
    `${node.displayName}\n  chip ${c.displayName}, ${node.devicesPerNode} devices per node, role ${node.role}\n`,
  );
  process.stdout.write(
    `  intra-node: ${tierSummary(node.intraNode)}\n  inter-node: ${tierSummary(node.interNode)}\n  host link:  ${tierSummary(node.hostLink)}\n`,
  );
  if (node.pcieDomain) {
    process.stdout.write(
      `  PCIe domain: ${node.pcieDomain.chipsPerCard} chips per card, ${node.pcieDomain.chipsPerCpuDomain} per host CPU domain\n`,
    );
  }
  process.stdout.write(
    `  efficiency profile: ${c.efficiencyProfile.name} (${c.efficiencyProfile.confidence})\n\n`,
  );
  const tf = (n: SourcedNumber) => (n.value > 0 ? `${(n.value / 1e12).toFixed(1)} T/s` : 'none');
  printTable(
    ['figure', 'value', 'confidence', 'source'],
    [
      sourcedRow('peak fp32', c.peakFlops.fp32, tf(c.peakFlops.fp32)),
      sourcedRow('peak bf16', c.peakFlops.bf16, tf(c.peakFlops.bf16)),
      sourcedRow('peak fp16', c.peakFlops.fp16, tf(c.peakFlops.fp16)),
      sourcedRow('peak int8', c.peakFlops.int8, tf(c.peakFlops.int8)),
      sourcedRow('device memory', c.hbmBytes, formatBytes(c.hbmBytes.value)),
      sourcedRow('memory bandwidth', c.hbmBandwidth, formatRate(c.hbmBandwidth.value)),
      sourcedRow(
        'intra-node bandwidth',
        node.intraNode.bandwidth,
        formatRate(node.intraNode.bandwidth.value),
      ),
      sourcedRow('intra-node latency', node.intraNode.latencyS, formatSeconds(node.intraNode.latencyS.value)),
      ...calibrationRows('intra-node', node.intraNode),
      sourcedRow(
        'inter-node bandwidth',
        node.interNode.bandwidth,
        formatRate(node.interNode.bandwidth.value),
      ),
      sourcedRow('inter-node latency', node.interNode.latencyS, formatSeconds(node.interNode.latencyS.value)),
      ...calibrationRows('inter-node', node.interNode),
      sourcedRow('host-link bandwidth', node.hostLink.bandwidth, formatRate(node.hostLink.bandwidth.value)),
      sourcedRow('host memory (node)', node.hostMemoryBytes, formatBytes(node.hostMemoryBytes.value)),
    ],
  );
}

interface CollectiveFlags {
  cluster: string;
  op: string;
  bytes: string;
  ranks?: string;
  ranksPerNode?: string;
  algorithm?: string;
  json?: boolean;
}

/** The flag that sets each field of the collective request. */
const FLAG_OF_FIELD: Record<string, string> = { op: '--op', bytes: '--bytes', ranks: '--ranks', ranksPerNode: '--ranks-per-node', algorithm: '--algorithm' };

/**
 * estimateCollective checks the group against the cluster and names the request's fields
 * (`ranksPerNode: … a divisor of ranks (16)`); a CLI user typed flags, so its issues are reported
 * under the flags that set them.
 */
function estimateNamingFlags(cluster: Cluster, request: CollectiveRequest): CollectiveEstimate {
  try {
    return estimateCollective(cluster, request);
  } catch (e) {
    if (!(e instanceof ValidationError) || e.subject !== 'collective request') throw e;
    throw new ValidationError(
      'hw collective flags',
      e.issues.map((i) => ({ ...i, path: FLAG_OF_FIELD[i.path] ?? i.path, expected: i.expected.replace(/\branks \(/g, '--ranks (') })),
    );
  }
}

function runCollective(opts: CollectiveFlags): void {
  const flags = parseWith(
    CollectiveFlagsSchema,
    {
      '--op': opts.op,
      '--bytes': opts.bytes,
      '--algorithm': opts.algorithm,
      '--ranks': opts.ranks,
      '--ranks-per-node': opts.ranksPerNode,
    },
    'hw collective flags',
  );
  const op: CollectiveOp = flags['--op'];
  const bytes = flags['--bytes'];
  const algorithm = flags['--algorithm'] === 'auto' ? undefined : flags['--algorithm'];
  const cluster = resolveCluster(opts.cluster);
  const ranks = flags['--ranks'] ?? (op === 'send-recv' ? 2 : cluster.numDevices);
  const ranksPerNode = flags['--ranks-per-node'];
  const result = estimateNamingFlags(cluster, { op, bytes, ranks, ranksPerNode, algorithm });
  if (opts.json) {
    printJson({ cluster: cluster.name, bytesConvention: COLLECTIVE_BYTES_CONVENTION[op], ...result });
    return;
  }
  process.stdout.write(
    `${op} of ${formatBytes(bytes)} (${COLLECTIVE_BYTES_CONVENTION[op]}) over ${ranks} ranks ` +
      `(${result.nodes} node(s) × ${result.ranksPerNode}) on ${cluster.name}\n` +
      `  algorithm ${result.algorithm}: ${formatSeconds(result.timeS)}, ` +
      `algbw ${formatRate(result.algBandwidth)} (HCCL), busbw ${formatRate(result.busBandwidth)} (NCCL)\n\n`,
  );
  printTable(
    ['phase', 'tier', 'step', 'bytes/rank', 'time'],
    result.perTier.map((t) => [t.phase, t.tier, t.step, formatBytes(t.bytesPerRank), formatSeconds(t.timeS)]),
  );
  if (result.candidates.length > 1) {
    process.stdout.write(
      `\nalternatives: ${result.candidates.map((c) => `${c.algorithm} ${formatSeconds(c.timeS)}`).join(', ')}\n`,
    );
  }
}

export function registerHw(program: Command): void {
  const hw = program
    .command('hw')
    .description('hardware catalog (chips, nodes, clusters) and communication cost');
  hw.command('list')
    .description('list node presets')
    .option('--json', 'machine-readable output')
    .action((opts: { json?: boolean }) => listPresets(Boolean(opts.json)));
  hw.command('show')
    .description('show a node preset with the source and confidence of every figure')
    .argument('<preset>', 'node preset name or alias (see `moge hw list`)')
    .option('--json', 'machine-readable output')
    .action((name: string, opts: { json?: boolean }) => {
      const node = getNodePreset(name);
      if (opts.json) printJson(node);
      else showPreset(node);
    });
  hw.command('collective')
    .description('estimate one collective (α-β model per link tier)')
    .requiredOption('--cluster <spec>', 'cluster: <node-preset>[:<devices>], inline JSON or a JSON/YAML file')
    .requiredOption('--op <op>', `collective: ${CLI_OPS.join(', ')}`)
    .requiredOption('--bytes <size>', 'bytes in nccl-tests convention (e.g. 268435456, 256MiB, 1GB)')
    .option('--ranks <n>', 'ranks in the group (default: every device of the cluster; 2 for send-recv)')
    .option('--ranks-per-node <n>', 'ranks of the group per node (default: fill nodes)')
    .option('--algorithm <name>', `auto, ${CollectiveAlgorithmSchema.options.join(', ')}`)
    .option('--json', 'machine-readable output')
    .action((flags: CollectiveFlags) => runCollective(flags));
}
