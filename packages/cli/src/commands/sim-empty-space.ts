import { MogeError } from '@moge/core';
import type { Cluster } from '@moge/ascend-hal';
import type { EmptyPlanSpaceExplanation } from '@moge/sim';

/**
 * The error of a training search whose plan space holds no plan at all. "A bigger cluster or a
 * smaller batch" is wrong advice there (6144 devices with 1024 sequences has no plan, 1026 sequences
 * does): it says which of the search's rules removed the combinations and which nearby --global-batch
 * and --cluster sizes have plans.
 */
export function emptyPlanSpaceError(why: EmptyPlanSpaceExplanation, cluster: Cluster, globalBatch: number, seqLength: number, architectures = 1): MogeError {
  const rules = why.eliminatedBy.map((r) => `${r.combinations} fail "${r.requires}"`).join('; ');
  const last = why.eliminatedBy.at(-1)!;
  const options: string[] = [];
  const batches = [why.globalBatchSizes.below, why.globalBatchSizes.above].filter((n) => n !== undefined);
  if (batches.length) options.push(`--global-batch ${batches.join(' or ')}`);
  const devices = [why.devices.below, why.devices.above].filter((n) => n !== undefined);
  // A preset cluster is named <node>:<devices>; a cluster file has a name of its own.
  const preset = /^(.+):\d+$/.exec(cluster.name)?.[1];
  if (devices.length) options.push(preset ? `--cluster ${devices.map((d) => `${preset}:${d}`).join(' or ')}` : `a cluster of ${devices.join(' or ')} devices`);
  const advice = options.length
    ? `Plans exist with ${options.join(', or with ')}`
    : `No global batch from 1 to ${2 * globalBatch} and no device count up to ${2 * cluster.numDevices} has a plan either: change the architecture or --seq-length`;
  return new MogeError(
    'E_NO_PLAN',
    `no plan to search: none of the ${why.combinations} tp × cp × pp × vpp × micro-batch × ep × etp combinations of the search space${architectures > 1 ? ` (over ${architectures} architectures)` : ''} can run ${globalBatch} sequences of ${seqLength} tokens on ${cluster.name}'s ${cluster.numDevices} devices (none was left to check for memory). In the order the search applies its rules, ${rules} — the last rule removed all ${last.combinations} that the others had left. ${advice}.`,
  );
}
