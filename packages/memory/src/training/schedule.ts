import { ValidationError, type FieldIssue } from '@moge/core';

/**
 * How many micro-batches' activations a pipeline stage holds at once, per model chunk.
 *
 * Plain 1F1B (Narayanan et al., PipeDream-Flush; Megatron-LM `forward_backward_pipelining_without_interleaving`):
 * stage i runs pp − i − 1 warm-up forwards, then alternates one forward and one backward, so it holds
 * min(pp − i, M) micro-batches — stage 0 holds pp, which is why it is usually the peak.
 *
 * Interleaved 1F1B (Megatron-LM `forward_backward_pipelining_with_interleaving`): stage i runs
 * (pp − i − 1)·2 + (vpp − 1)·pp warm-up forwards of model chunks, chunk of the k-th forward =
 * ⌊(k mod pp·vpp) / pp⌋ and of the k-th backward vpp − 1 − that. At stage 0 this holds
 * (vpp + 1)·pp − 1 chunk-micro-batches, i.e. pp micro-batches of the whole stage times
 * 1 + (pp − 1)/(pp·vpp) — the penalty of Korthikanti et al. §4.2.3 and of Megatron-LM's
 * `megatron/training/theoretical_memory_usage.py`. Simulating the order (rather than applying the factor)
 * also gives the split over chunks, which matters when chunks differ (embedding, MoE vs dense layers, head).
 *
 * Returns every distinct per-chunk count vector seen right after a forward (when memory peaks).
 */
export function inFlightProfiles(pp: number, vpp: number, numMicroBatches: number, stage: number): number[][] {
  checkScheduleInputs(pp, vpp, numMicroBatches, stage);
  if (vpp === 1) return [[Math.min(pp - stage, numMicroBatches)]];
  const total = numMicroBatches * vpp;
  const warmup = Math.min((pp - stage - 1) * 2 + (vpp - 1) * pp, total);
  const forwardChunk = (k: number) => Math.floor((k % (pp * vpp)) / pp);
  const live = new Array<number>(vpp).fill(0);
  const seen = new Map<string, number[]>();
  const snapshot = () => seen.set(live.join(','), [...live]);
  let forwards = 0;
  let backwards = 0;
  const forward = () => {
    live[forwardChunk(forwards++)]! += 1;
    snapshot();
  };
  const backward = () => {
    live[vpp - 1 - forwardChunk(backwards++)]! -= 1;
  };
  for (let k = 0; k < warmup; k++) forward();
  while (forwards < total) {
    forward();
    backward();
  }
  return [...seen.values()];
}

/**
 * The chunk formula above holds only for whole groups of pp micro-batches (Megatron-LM's interleaved
 * schedule refuses others too); elsewhere it would put more micro-batches in a chunk than exist.
 */
function checkScheduleInputs(pp: number, vpp: number, numMicroBatches: number, stage: number): void {
  const issues: FieldIssue[] = [];
  const positive = (path: string, value: number) => {
    if (!Number.isInteger(value) || value < 1) issues.push({ path, received: value, expected: 'a positive integer' });
  };
  positive('pp', pp);
  positive('vpp', vpp);
  positive('numMicroBatches', numMicroBatches);
  if (!Number.isInteger(stage) || stage < 0 || stage >= pp) issues.push({ path: 'stage', received: stage, expected: `an integer in [0, pp) = [0, ${pp})` });
  if (issues.length === 0 && vpp > 1 && numMicroBatches % pp !== 0) {
    issues.push({ path: 'numMicroBatches', received: numMicroBatches, expected: `a multiple of pp (${pp}) when vpp > 1: the interleaved schedule runs micro-batches in groups of pp` });
  }
  if (issues.length > 0) throw new ValidationError('pipeline schedule', issues);
}
