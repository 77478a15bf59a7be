import { ValidationError } from '@moge/core';

/** One unit of pipeline work: the forward or backward of one micro-batch through one model chunk. */
export interface PipelineTask {
  kind: 'F' | 'B';
  /** Model chunk (virtual stage index on this rank), 0 ≤ chunk < vpp. */
  chunk: number;
  microBatch: number;
}

/** One step of a rank's program: a task, or a forward and a backward that may run overlapped. */
export type ProgramStep = { tasks: [PipelineTask] } | { tasks: [PipelineTask, PipelineTask]; steady: true };

/**
 * The order in which each pipeline rank runs its forwards and backwards: Megatron-LM's 1F1B
 * (`forward_backward_pipelining_without_interleaving`) for vpp = 1 and its interleaved 1F1B
 * (`..._with_interleaving`) for vpp > 1. Steady-state steps pair one forward with one backward:
 * that pairing is what the Pangu Ultra / DualPipe-style overlap exploits (one micro-batch's compute
 * hides the other's communication), so the order exposes it instead of flattening it away.
 */
export function pipelineProgram(pp: number, vpp: number, numMicroBatches: number, rank: number): ProgramStep[] {
  checkScheduleShape(pp, vpp, numMicroBatches);
  const total = numMicroBatches * vpp;
  const warmup =
    vpp === 1
      ? Math.min(pp - rank - 1, numMicroBatches)
      : Math.min((pp - rank - 1) * 2 + (vpp - 1) * pp, total);
  const forwardTask = (k: number): PipelineTask => ({ kind: 'F', ...virtualMicroBatch(k, pp, vpp, false) });
  const backwardTask = (k: number): PipelineTask => ({ kind: 'B', ...virtualMicroBatch(k, pp, vpp, true) });
  const steps: ProgramStep[] = [];
  for (let k = 0; k < warmup; k++) steps.push({ tasks: [forwardTask(k)] });
  for (let i = 0; i < total - warmup; i++) {
    steps.push({ tasks: [forwardTask(warmup + i), backwardTask(i)], steady: true });
  }
  for (let k = total - warmup; k < total; k++) steps.push({ tasks: [backwardTask(k)] });
  return steps;
}

/** Maps the k-th forward (or backward) of a rank to its chunk and micro-batch, as Megatron does. */
function virtualMicroBatch(k: number, pp: number, vpp: number, backward: boolean): { chunk: number; microBatch: number } {
  if (vpp === 1) return { chunk: 0, microBatch: k };
  const inGroup = k % (pp * vpp);
  const forwardChunk = Math.floor(inGroup / pp);
  return {
    chunk: backward ? vpp - 1 - forwardChunk : forwardChunk,
    microBatch: Math.floor(k / (pp * vpp)) * pp + (k % pp),
  };
}

/** Shapes the schedules accept; errors name the field, the value and what would work. */
export function checkScheduleShape(pp: number, vpp: number, numMicroBatches: number): void {
  const issues = [];
  if (!Number.isInteger(pp) || pp < 1) issues.push({ path: 'pp', received: pp, expected: 'an integer ≥ 1' });
  if (!Number.isInteger(vpp) || vpp < 1) issues.push({ path: 'vpp', received: vpp, expected: 'an integer ≥ 1' });
  if (!Number.isInteger(numMicroBatches) || numMicroBatches < 1) {
    issues.push({ path: 'numMicroBatches', received: numMicroBatches, expected: 'an integer ≥ 1' });
  }
  // Interleaving walks micro-batches in groups of pp (Megatron asserts the same).
  if (issues.length === 0 && vpp > 1 && numMicroBatches % pp !== 0) {
    issues.push({
      path: 'numMicroBatches',
      received: numMicroBatches,
      expected: `a multiple of pp (${pp}) for the interleaved schedule (globalBatchSize / (microBatchSize × dp))`,
    });
  }
  if (issues.length > 0) throw new ValidationError('pipeline schedule', issues);
}
