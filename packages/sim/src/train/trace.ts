import type { DataParallelTiming } from './data-parallel';
import type { ScheduleEvent } from './pipeline-sim';

/** One complete event of the Chrome trace event format (chrome://tracing, Perfetto). */
export interface ChromeTraceEvent {
  name: string;
  cat?: string;
  ph: 'X' | 'M';
  /** Microseconds. */
  ts?: number;
  dur?: number;
  pid: number;
  tid: number;
  args?: Record<string, unknown>;
}

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
 * gradient reductions, the optimizer and the parameter gather.
 */
export function buildChromeTrace(
  events: ScheduleEvent[],
  dp: DataParallelTiming,
  stageEndS: number[],
  pipelineEndS: number,
  metadata: Record<string, unknown>,
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
  stageEndS.forEach((_, stage) => {
    const opt = dp.optimizerS[stage]!;
    out.push({ name: 'optimizer step', cat: 'optimizer', ph: 'X', ts: gradDone * US, dur: opt * US, pid: stage, tid: COMPUTE_TID });
    const gather = dp.paramGatherExposedS[stage]!;
    if (gather > 0) out.push({ name: 'param all-gather', cat: 'dp', ph: 'X', ts: (gradDone + opt) * US, dur: gather * US, pid: stage, tid: COMM_TID });
  });
  return { traceEvents: out, displayTimeUnit: 'ms', metadata };
}
