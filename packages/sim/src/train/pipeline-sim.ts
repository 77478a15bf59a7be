import { MogeError } from '@moge/core';
import { pipelineProgram, type PipelineTask } from './schedule-order';

/** What one forward or backward of one micro-batch through one chunk costs on its stage. */
export interface TaskCost {
  /** Time the compute stream is busy (kernels, recompute, swap stalls). */
  computeS: number;
  /** Communication on the critical path of this task alone (after what the task hides inside itself). */
  commS: number;
}

export interface PipelineSimInput {
  pp: number;
  vpp: number;
  numMicroBatches: number;
  forward(stage: number, chunk: number): TaskCost;
  backward(stage: number, chunk: number): TaskCost;
  /** Transfer time of one micro-batch's boundary activations (or their gradients) between consecutive virtual stages. */
  p2pS(fromStage: number, toStage: number): number;
  /**
   * Cross-micro-batch overlap: in steady state a rank runs one micro-batch's forward together with
   * another's backward, so each one's communication can hide under the other's compute. `efficiency`
   * (0…1) is the share of the shorter side that disappears; contention for cores and memory keeps it
   * below 1. Disabled, the two run back to back.
   */
  overlap: { enabled: boolean; efficiency: number };
  /**
   * Megatron-LM's interleaved schedule without `--overlap-p2p-communication`: a steady-state step
   * runs its forward and then its backward, and only then exchanges both results with the
   * neighbouring stages in one batched, blocking send/receive — so the forward's output leaves the
   * rank after the backward, and the step needs both inputs before it starts. Applies when overlap is
   * off and vpp > 1 (plain 1F1B sends each result right after it is computed). Default false.
   */
  batchedP2p?: boolean;
}

export interface ScheduleEvent {
  stage: number;
  chunk: number;
  microBatch: number;
  kind: 'F' | 'B';
  startS: number;
  endS: number;
  /** Compute-stream time of this task. */
  computeS: number;
  /** Communication that stayed exposed within [startS, endS]. */
  exposedCommS: number;
  /** True when it ran overlapped with the other task of a steady-state pair. */
  overlapped: boolean;
}

export interface PipelineSimResult {
  makespanS: number;
  events: ScheduleEvent[];
  /** Per stage: when its last task ends, the busy time and the idle time (bubble) before that. */
  stages: { endS: number; busyS: number; bubbleS: number }[];
}

interface Ready {
  /** When the task's output (activation or gradient) exists on its own stage. */
  doneS: number;
}

const key = (t: PipelineTask, stage: number) => `${t.kind}:${stage}:${t.chunk}:${t.microBatch}`;

/**
 * Simulates a 1F1B or interleaved-1F1B pipeline event by event: every rank runs its Megatron program
 * in order; a task starts when its rank is free and its input has arrived from the neighbouring
 * virtual stage. Bubbles and stage imbalance are what this produces, not inputs to it.
 */
export function simulatePipeline(input: PipelineSimInput): PipelineSimResult {
  const { pp, vpp, numMicroBatches } = input;
  const numVirtual = pp * vpp;
  const batched = (input.batchedP2p ?? false) && !input.overlap.enabled && vpp > 1;
  const efficiency = input.overlap.enabled ? input.overlap.efficiency : 0;
  // With overlap on, a steady-state forward/backward pair runs as one unit; otherwise (or when the
  // backward consumes that very forward, as on the last virtual stage of plain 1F1B) one after the other.
  const programs = Array.from({ length: pp }, (_, r) =>
    pipelineProgram(pp, vpp, numMicroBatches, r).flatMap((step): PipelineTask[][] => {
      if (step.tasks.length === 1) return [[step.tasks[0]]];
      const [f, b] = step.tasks;
      const pairable = (input.overlap.enabled || batched) && !isOwnLoss(b, r, pp, vpp, f);
      return pairable ? [[f, b]] : [[f], [b]];
    }),
  );
  const cursor = new Array<number>(pp).fill(0);
  const freeAt = new Array<number>(pp).fill(0);
  const busy = new Array<number>(pp).fill(0);
  const done = new Map<string, Ready>();
  const events: ScheduleEvent[] = [];
  const costCache = new Map<string, TaskCost>();
  const costOf = (t: PipelineTask, stage: number): TaskCost => {
    const k = `${t.kind}:${stage}:${t.chunk}`;
    let c = costCache.get(k);
    if (!c) {
      c = t.kind === 'F' ? input.forward(stage, t.chunk) : input.backward(stage, t.chunk);
      costCache.set(k, c);
    }
    return c;
  };

  /** When `t`'s input is available on `stage`, or undefined if its producer has not run yet. */
  const inputReady = (t: PipelineTask, stage: number): number | undefined => {
    const v = t.chunk * pp + stage;
    if (t.kind === 'F') {
      if (v === 0) return 0;
      const from = (v - 1) % pp;
      const r = done.get(key({ kind: 'F', chunk: Math.floor((v - 1) / pp), microBatch: t.microBatch }, from));
      return r && r.doneS + input.p2pS(from, stage);
    }
    if (v === numVirtual - 1) return done.get(key({ kind: 'F', chunk: t.chunk, microBatch: t.microBatch }, stage))?.doneS;
    const from = (v + 1) % pp;
    const r = done.get(key({ kind: 'B', chunk: Math.floor((v + 1) / pp), microBatch: t.microBatch }, from));
    return r && r.doneS + input.p2pS(from, stage);
  };

  let remaining = programs.reduce((s, p) => s + p.length, 0);
  while (remaining > 0) {
    let progressed = false;
    for (let stage = 0; stage < pp; stage++) {
      const step = programs[stage]![cursor[stage]!];
      if (!step) continue;
      const [first, second] = step;
      const readyFirst = inputReady(first, stage);
      if (readyFirst === undefined) continue;
      if (second) {
        const readySecond = inputReady(second, stage);
        if (readySecond === undefined) continue;
        if (!batched && !pairPays(stage, first, second, readyFirst, readySecond)) {
          // The backward's input comes too late to wait for: run the forward alone now and keep
          // the backward as the rank's next step (the overlap adapts to what is ready).
          runSolo(stage, first, readyFirst);
          programs[stage]![cursor[stage]!] = [second];
          progressed = true;
          continue;
        }
        runPair(stage, first, second, Math.max(readyFirst, readySecond));
      } else {
        runSolo(stage, first, readyFirst);
      }
      cursor[stage]!++;
      remaining--;
      progressed = true;
    }
    if (!progressed) throw new MogeError('E_SCHEDULE', `pipeline schedule deadlocked (pp=${pp}, vpp=${vpp}, micro-batches=${numMicroBatches})`);
  }

  /** Overlapped span of a forward/backward pair (one's communication under the other's compute). */
  function pairDurationS(cf: TaskCost, cb: TaskCost): number {
    const compute = cf.computeS + cb.computeS;
    const comm = cf.commS + cb.commS;
    return Math.max(compute, comm) + (1 - efficiency) * Math.min(compute, comm);
  }

  /**
   * True when waiting for both inputs and overlapping ends strictly before running the two one after
   * the other. A tie goes to running them in turn: a pair hands the forward's output on only at its
   * end, so pairing that saves nothing would still hold up the next stage.
   */
  function pairPays(stage: number, f: PipelineTask, b: PipelineTask, readyF: number, readyB: number): boolean {
    const cf = costOf(f, stage);
    const cb = costOf(b, stage);
    const free = freeAt[stage]!;
    const pairedEnd = Math.max(free, readyF, readyB) + pairDurationS(cf, cb);
    const soloFEnd = Math.max(free, readyF) + cf.computeS + cf.commS;
    const serialEnd = Math.max(soloFEnd, readyB) + cb.computeS + cb.commS;
    return pairedEnd < serialEnd;
  }

  function runSolo(stage: number, t: PipelineTask, readyS: number): void {
    const c = costOf(t, stage);
    const startS = Math.max(freeAt[stage]!, readyS);
    const endS = startS + c.computeS + c.commS;
    record(stage, t, startS, endS, c.computeS, c.commS, false);
  }

  function runPair(stage: number, f: PipelineTask, b: PipelineTask, readyS: number): void {
    const cf = costOf(f, stage);
    const cb = costOf(b, stage);
    const compute = cf.computeS + cb.computeS;
    const comm = cf.commS + cb.commS;
    const durationS = pairDurationS(cf, cb);
    const startS = Math.max(freeAt[stage]!, readyS);
    const exposed = durationS - compute;
    // Split the pair's span between its two tasks in proportion to their own work, for the trace.
    const soloF = cf.computeS + cf.commS;
    const soloB = cb.computeS + cb.commS;
    const splitS = startS + (durationS * soloF) / Math.max(soloF + soloB, Number.MIN_VALUE);
    const share = (c: TaskCost) => (comm > 0 ? (exposed * c.commS) / comm : 0);
    record(stage, f, startS, splitS, cf.computeS, share(cf), input.overlap.enabled, startS + durationS);
    record(stage, b, splitS, startS + durationS, cb.computeS, share(cb), input.overlap.enabled);
  }

  function record(
    stage: number,
    t: PipelineTask,
    startS: number,
    endS: number,
    computeS: number,
    exposedCommS: number,
    overlapped: boolean,
    outputReadyS = endS,
  ): void {
    events.push({ stage, chunk: t.chunk, microBatch: t.microBatch, kind: t.kind, startS, endS, computeS, exposedCommS, overlapped });
    done.set(key(t, stage), { doneS: outputReadyS });
    busy[stage]! += endS - startS;
    freeAt[stage] = endS;
  }

  const makespanS = Math.max(...freeAt);
  return {
    makespanS,
    events,
    stages: freeAt.map((endS, s) => ({ endS, busyS: busy[s]!, bubbleS: endS - busy[s]! })),
  };
}

/** True when backward `b` is the loss-side backward that consumes forward `f` of the same micro-batch. */
function isOwnLoss(b: PipelineTask, stage: number, pp: number, vpp: number, f: PipelineTask): boolean {
  const v = b.chunk * pp + stage;
  return v === pp * vpp - 1 && f.kind === 'F' && f.chunk === b.chunk && f.microBatch === b.microBatch;
}
