import { MogeError } from '@moge/core';
import type { Cluster } from '@moge/ascend-hal';
import type { EmptyLayoutSpaceExplanation, EmptyPlanSpaceExplanation } from '@moge/sim';

/** "In the order the search applies its rules, N fail "…"; … — the last rule removed all M that the others had left." */
function rulesText(eliminatedBy: readonly { requires: string; combinations: number }[]): string {
  const rules = eliminatedBy.map((r) => `${r.combinations} fail "${r.requires}"`).join('; ');
  const last = eliminatedBy.at(-1);
  return last ? `In the order the search applies its rules, ${rules} — the last of them removed the ${last.combinations} that the earlier ones had left.` : '';
}

/** The --cluster values of the suggested device counts: a preset is named <node>:<devices>, a cluster file has a name of its own. */
function clusterOption(devices: { below?: number; above?: number }, cluster: Cluster): string | undefined {
  const counts = [devices.below, devices.above].filter((n) => n !== undefined);
  if (counts.length === 0) return undefined;
  const preset = /^(.+):\d+$/.exec(cluster.name)?.[1];
  return preset ? `--cluster ${counts.map((d) => `${preset}:${d}`).join(' or ')}` : `a cluster of ${counts.join(' or ')} devices`;
}

/** " (over N architectures)" when a ranges file gave several. */
const over = (architectures: number) => (architectures > 1 ? ` (over ${architectures} architectures)` : '');

/**
 * The error of a training search whose plan space holds no plan at all. "A bigger cluster or a
 * smaller batch" is wrong advice there (6144 devices with 1024 sequences has no plan, 1026 sequences
 * does): it says which of the search's rules removed the combinations and which nearby --global-batch
 * and --cluster sizes have plans.
 */
export function emptyPlanSpaceError(
  why: EmptyPlanSpaceExplanation,
  cluster: Cluster,
  globalBatch: number,
  seqLength: number,
  architectures = 1,
  /** The command's name for the sequence-length flag (`moge train` says --seq-len). */
  seqFlag = '--seq-length',
): MogeError {
  const options: string[] = [];
  const batches = [why.globalBatchSizes.below, why.globalBatchSizes.above].filter((n) => n !== undefined);
  if (batches.length) options.push(`--global-batch ${batches.join(' or ')}`);
  const clusters = clusterOption(why.devices, cluster);
  if (clusters) options.push(clusters);
  const advice = options.length
    ? `Plans exist with ${options.join(', or with ')}`
    : `No global batch from 1 to ${2 * globalBatch} and no cluster size near ${cluster.numDevices} devices has a plan either: change the architecture or ${seqFlag}`;
  return new MogeError(
    'E_NO_PLAN',
    `no plan to search: none of the ${why.combinations} tp × cp × pp × vpp × micro-batch × ep × etp combinations of the search space${over(architectures)} can run ${globalBatch} sequences of ${seqLength} tokens on ${cluster.name}'s ${cluster.numDevices} devices (none was left to check for memory). ${rulesText(why.eliminatedBy)} ${advice}.`,
  );
}

/**
 * The error of an inference search with no serving layout to simulate: no TPOT cap or prompt length
 * was what failed, so "raise --latency-cap" is wrong advice there; it says which layout rule removed
 * the combinations and which nearby --cluster sizes have layouts.
 */
export function emptyLayoutSpaceError(why: EmptyLayoutSpaceExplanation, cluster: Cluster, architectures: number): MogeError {
  const clusters = clusterOption(why.devices, cluster);
  const advice = clusters ? `Layouts exist with ${clusters}` : `No cluster size near ${cluster.numDevices} devices has a layout either: change the architecture`;
  return new MogeError(
    'E_NO_PLAN',
    `no layout to simulate: none of the ${why.combinations} attention-TP × expert-TP combinations${over(architectures)} suits ${cluster.name}'s ${cluster.numDevices} devices (so no TPOT cap was what failed). ${rulesText(why.eliminatedBy)} ${advice}.`,
  );
}
