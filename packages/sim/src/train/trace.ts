import type { DataParallelTiming } from './data-parallel';
import type { ScheduleEvent } from './pipeline-sim';

/** One event of the Chrome trace event format (chrome://tracing, Perfetto): complete (X), instant (i) or metadata (M). */
export interface ChromeTraceEvent {
  name: string;
  cat?: string;
  ph: 'X' | 'i' | 'M';
  /** Microseconds. */
  ts?: number;
  dur?: number;
  /** Scope of an instant event: 'g' draws it across every track. */
  s?: 'g' | 'p' | 't';
  pid: number;
  tid: number;
  args?: Record<string, unknown>;
}

/** Where the step repeats: the trace shows one period of the steady state, not an isolated step. */
export interface StepPeriod {
  stepTimeS: number;
  /** When each stage's first forward starts, from the step's start (stage 0's is 0). */
  firstForwardS: number[];
}

/**
 * What stepTimeS is, as the trace states it. Megatron-LM reports the time per iteration of a run, the
 * steady state; with the distributed optimizer and --overlap-param-gather a stage's parameter
 * all-gather for the next iteration only has to finish before that stage's first forward of it, which
 * pipeline fill delays on every stage but the first.
 */
export const STEP_PERIOD_DEFINITION =
  'stepTimeS is the steady-state step period: from stage 0 starting a step\'s first forward to it starting the next step\'s, after every gradient is reduced, the optimizer has stepped and the parameters stage 0 needs first are gathered (plus the profile\'s step overhead). ' +
  'Events that end after it (args.overlapsNextStep) are the optimizer step and parameter all-gather of later stages: they run under the next step\'s pipeline fill and end before that stage\'s first forward of the next step (args.nextStepFirstForwardS).';

export interface ChromeTrace {
  traceEvents: ChromeTraceEvent[];
  displayTimeUnit: 'ms';
  metadata?: Record<string, unknown>;
}

const US = 1e6;
const COMPUTE_TID = 0;
const COMM_TID = 1;

/**
 * The simulated step as a Chrome trace: one process per pipeline stage, a compute track with every
 * forward/backward (named F/B, chunk and micro-batch), and a communication track with the data-parallel
 * gradient reductions, the optimizer and the parameter gather; then a "step" process whose slice spans
 * the step period and an instant event (across all tracks) where the next step starts.
 */
export function buildChromeTrace(
  events: ScheduleEvent[],
  dp: DataParallelTiming,
  stageEndS: number[],
  pipelineEndS: number,
  metadata: Record<string, unknown>,
  period: StepPeriod,
): ChromeTrace {
  const out: ChromeTraceEvent[] = [];
  stageEndS.forEach((_, stage) => {
    out.push({ name: 'process_name', ph: 'M', pid: stage, tid: 0, args: { name: `stage ${stage}` } });
    out.push({ name: 'thread_name', ph: 'M', pid: stage, tid: COMPUTE_TID, args: { name: 'compute' } });
    out.push({ name: 'thread_name', ph: 'M', pid: stage, tid: COMM_TID, args: { name: 'communication' } });
  });
  const interleaved = events.some((x) => x.chunk > 0);
  for (const e of events) {
    out.push({
      name: `${e.kind}${interleaved ? `c${e.chunk}` : ''} mb${e.microBatch}`,
      cat: e.kind === 'F' ? 'forward' : 'backward',
      ph: 'X',
      ts: e.startS * US,
      dur: (e.endS - e.startS) * US,
      pid: e.stage,
      tid: COMPUTE_TID,
      args: { chunk: e.chunk, microBatch: e.microBatch, computeMs: e.computeS * 1e3, exposedCommMs: e.exposedCommS * 1e3, overlapped: e.overlapped },
    });
  }
  for (const g of dp.gradIntervals) {
    out.push({ name: g.label, cat: 'dp', ph: 'X', ts: g.startS * US, dur: (g.endS - g.startS) * US, pid: g.stage, tid: COMM_TID });
  }
  const gradDone = Math.max(...stageEndS.map((end, s) => end + dp.gradExposedS[s]!), pipelineEndS);
  // The period's end is a rounded sum of the breakdown; an event ending within rounding of it does not outlast it.
  const { stepTimeS } = period;
  const nextStep = (stage: number, endS: number) =>
    endS > stepTimeS * (1 + 1e-12) ? { args: { overlapsNextStep: true, nextStepFirstForwardS: stepTimeS + period.firstForwardS[stage]! } } : {};
  stageEndS.forEach((_, stage) => {
    const opt = dp.optimizerS[stage]!;
    out.push({ name: 'optimizer step', cat: 'optimizer', ph: 'X', ts: gradDone * US, dur: opt * US, pid: stage, tid: COMPUTE_TID, ...nextStep(stage, gradDone + opt) });
    const gather = dp.paramGatherExposedS[stage]!;
    if (gather > 0) out.push({ name: 'param all-gather', cat: 'dp', ph: 'X', ts: (gradDone + opt) * US, dur: gather * US, pid: stage, tid: COMM_TID, ...nextStep(stage, gradDone + opt + gather) });
  });
  const stepPid = stageEndS.length;
  out.push({ name: 'process_name', ph: 'M', pid: stepPid, tid: 0, args: { name: 'step' } });
  out.push({ name: 'step period', cat: 'step', ph: 'X', ts: 0, dur: stepTimeS * US, pid: stepPid, tid: 0, args: { stepTimeS, definition: STEP_PERIOD_DEFINITION } });
  out.push({ name: 'next step starts (stepTimeS)', cat: 'step', ph: 'i', s: 'g', ts: stepTimeS * US, pid: stepPid, tid: 0, args: { stepTimeS } });
  return { traceEvents: out, displayTimeUnit: 'ms', metadata: { ...metadata, stepTimeS, stepPeriod: STEP_PERIOD_DEFINITION } };
}
