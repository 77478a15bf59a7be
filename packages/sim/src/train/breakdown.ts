import type { PassCost } from '../common/pass-cost';
import { sumComm } from '../common/pass-cost';
import type { ScheduleEvent } from './pipeline-sim';
import type { ChunkWork } from './stage-work';

/** Where the step time goes, in seconds; the fields sum to the step time. */
export interface StepBreakdown {
  /** Forward and backward kernels on the critical stage. */
  computeS: number;
  /** Forward ops re-run in backward. */
  recomputeS: number;
  /** Host-swap transfers that compute did not hide. */
  swapS: number;
  /**
   * Communication left on the critical path, by kind. `ppS`: pipeline sends that block the rank
   * (Megatron without `--overlap-p2p-communication`, i.e. pipeline overlap off); otherwise a transfer
   * only delays its receiver and shows up as bubble.
   */
  exposedComm: { tpS: number; cpS: number; epS: number; etpS: number; dpS: number; ppS: number };
  /** Pipeline idle time of the critical stage (fill, drain, waiting on slower stages and transfers). */
  bubbleS: number;
  optimizerS: number;
  /** Fixed per-step overhead from the profile. */
  overheadS: number;
}

/**
 * Splits the critical stage's timeline into categories: every task's span is its compute (with
 * recompute and swap pro rata) plus the communication the schedule left exposed, split by kind in
 * proportion to that task's own communication; the rest of the stage's makespan is bubble.
 */
export function pipelineBreakdown(
  events: ScheduleEvent[],
  work: ChunkWork[][],
  criticalStage: number,
  makespanS: number,
  /** Blocking pipeline-send time inside a task (0 when sends do not block). */
  blockingSendS: (e: ScheduleEvent) => number = () => 0,
): StepBreakdown {
  const b: StepBreakdown = { computeS: 0, recomputeS: 0, swapS: 0, exposedComm: { tpS: 0, cpS: 0, epS: 0, etpS: 0, dpS: 0, ppS: 0 }, bubbleS: 0, optimizerS: 0, overheadS: 0 };
  let busy = 0;
  for (const e of events) {
    if (e.stage !== criticalStage) continue;
    const w = work[e.stage]![e.chunk]!;
    const span = e.endS - e.startS;
    busy += span;
    const pass: PassCost = e.kind === 'F' ? w.forward : w.backward;
    const extra = e.kind === 'F' ? 0 : w.recomputeS;
    const swap = w.swapS / 2;
    const computeTotal = pass.computeS + extra + swap;
    // Paired tasks' spans were split in proportion to their work, so rescale to the span actually used.
    const computeSpan = Math.max(0, span - e.exposedCommS);
    const scale = computeTotal > 0 ? computeSpan / computeTotal : 0;
    b.computeS += pass.computeS * scale;
    b.recomputeS += extra * scale;
    b.swapS += swap * scale;
    const comm = sumComm(pass.comm);
    // A blocking send runs after the task's own work, so it is exposed in full whenever it exists.
    const send = Math.min(e.exposedCommS, blockingSendS(e));
    b.exposedComm.ppS += send;
    const exposed = e.exposedCommS - send;
    if (comm > 0) {
      b.exposedComm.tpS += (exposed * pass.comm.tp) / comm;
      b.exposedComm.cpS += (exposed * pass.comm.cp) / comm;
      b.exposedComm.epS += (exposed * pass.comm.ep) / comm;
      b.exposedComm.etpS += (exposed * pass.comm.etp) / comm;
    } else {
      b.computeS += exposed;
    }
  }
  b.bubbleS = makespanS - busy;
  return b;
}

export function breakdownTotal(b: StepBreakdown): number {
  const c = b.exposedComm;
  return b.computeS + b.recomputeS + b.swapS + c.tpS + c.cpS + c.epS + c.etpS + c.dpS + c.ppS + b.bubbleS + b.optimizerS + b.overheadS;
}
