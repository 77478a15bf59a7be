import type { CommCostCache, DispatchAlgorithm } from './comm-cost';
import type { PlanGroups } from './group-layout';
import type { ComputeCostCache, ComputeTimes } from './op-cost';
import { isCommOp, recomputeModuleOf, type CollectiveOp, type CommGroup, type ComputeOp, type LayerOp } from './ops';

/** Exposed communication per parallel group, in seconds. */
export type CommByGroup = Record<CommGroup, number>;

export const noComm = (): CommByGroup => ({ tp: 0, cp: 0, ep: 0, etp: 0 });

/** One pass (forward or backward) of one block of ops on one device. */
export interface PassCost {
  /** Compute-stream time. */
  computeS: number;
  /** Communication left exposed after what the block hides inside itself. */
  comm: CommByGroup;
  /** Communication time hidden under the block's own compute. */
  hiddenS: number;
}

/** Forward and backward of one block, with what recompute and swapping add to the backward. */
export interface BlockCost {
  forward: PassCost;
  backward: PassCost;
  /** Forward ops re-run in backward (fine-grained modules, or the whole block under full recompute). */
  recomputeS: number;
  /** Matmul + attention FLOPs of the forward (for the per-layer breakdown and achieved-FLOP checks). */
  forwardFlops: number;
}

export interface BlockCostContext {
  compute: ComputeCostCache;
  comm: CommCostCache;
  groups: PlanGroups;
  dispatch: DispatchAlgorithm;
  /** Busiest EP rank's routed load over the mean, applied to exchange volume. */
  expertLoadFactor: number;
  /** Let a block's independent compute hide its own communication (shared expert under dispatch, ring attention, split expert backward). */
  intraLayerOverlap: boolean;
  /** Fine-grained recompute modules of the plan. */
  recompute: ReadonlySet<string>;
  /**
   * Tensor-parallel collectives fused with the matmul next to them (Ascend MC2: all-gather + matmul,
   * matmul + reduce-scatter / all-reduce): the transfer runs in tiles under that matmul. Absent = off.
   */
  fusedTpMatmul?: boolean;
}

/**
 * The matmul a TP collective fuses with: an all-gather feeds the first matmul after it, a
 * reduce-scatter or all-reduce drains the last matmul before it. Undefined when there is none
 * (e.g. an elementwise op in between would need the full tensor first).
 */
function mc2Partner(ops: LayerOp[], index: number): string | undefined {
  const op = ops[index]!;
  if (op.kind !== 'collective' || op.group !== 'tp') return undefined;
  const step = op.op === 'all-gather' ? 1 : op.op === 'reduce-scatter' || op.op === 'all-reduce' ? -1 : 0;
  if (step === 0) return undefined;
  for (let i = index + step; i >= 0 && i < ops.length; i += step) {
    const o = ops[i]!;
    if (o.kind === 'matmul') return o.name;
    if (o.kind !== 'collective' && o.kind !== 'expert-exchange') return undefined;
  }
  return undefined;
}

function commTime(ctx: BlockCostContext, op: LayerOp & { kind: 'collective' | 'expert-exchange' }): number {
  if (op.kind === 'expert-exchange') return ctx.comm.expertExchange(op, ctx.groups.ep, ctx.dispatch, ctx.expertLoadFactor);
  return ctx.comm.collective(op, ctx.groups[op.group]);
}

/**
 * Costs a block's forward and backward from its forward op list. The backward walks the same ops:
 * matmuls become input- and weight-gradient matmuls, collectives their duals (same bytes). Within a
 * pass, a collective marked `hideUnder` overlaps the compute ops it names (when intra-layer overlap
 * is on); in backward an expert exchange may also hide under the experts' weight gradients, which
 * Pangu Ultra splits off and runs while the exchange is in flight.
 */
export function costBlock(ops: LayerOp[], ctx: BlockCostContext, fullRecompute: boolean): BlockCost {
  const computeOps = ops.filter((op): op is ComputeOp => !isCommOp(op));
  const times = new Map<string, ComputeTimes>(computeOps.map((op) => [op.name, ctx.compute.times(op)]));
  let forwardFlops = 0;
  for (const op of computeOps) forwardFlops += opFlops(op);

  const pass = (backward: boolean): PassCost => {
    let computeS = 0;
    for (const t of times.values()) computeS += backward ? t.backwardInputS + t.backwardWeightS : t.forwardS;
    const used = new Set<string>();
    const comm = noComm();
    let hiddenS = 0;
    for (const [index, op] of ops.entries()) {
      if (!isCommOp(op)) continue;
      if (op.kind === 'collective' && op.op === 'send-recv') {
        const ring = ringExchangeCost(ctx, op, times, backward);
        comm[op.group] += ring.exposedS;
        hiddenS += ring.hiddenS;
        continue;
      }
      const t = commTime(ctx, op);
      let hidden = 0;
      const fusedWith = ctx.fusedTpMatmul ? mc2Partner(ops, index) : undefined;
      if (fusedWith !== undefined && !used.has(fusedWith)) {
        // The fused kernel's backward is the dual pair (matmul of the input gradient + the dual collective).
        const ct = times.get(fusedWith)!;
        used.add(fusedWith);
        hidden = Math.min(t, backward ? ct.backwardInputS : ct.forwardS);
      } else if (ctx.intraLayerOverlap) {
        let available = 0;
        const partners = [...(op.hideUnder ?? [])];
        if (backward && op.kind === 'expert-exchange') partners.push('experts-gate-up#w', 'experts-down#w');
        for (const name of partners) {
          if (used.has(name)) continue;
          const weightOnly = name.endsWith('#w');
          const ct = times.get(weightOnly ? name.slice(0, -2) : name);
          if (!ct) continue;
          used.add(name);
          available += backward ? (weightOnly ? ct.backwardWeightS : ct.backwardInputS + ct.backwardWeightS) : weightOnly ? 0 : ct.forwardS;
        }
        hidden = Math.min(t, available);
      }
      comm[op.group] += t - hidden;
      hiddenS += hidden;
    }
    return { computeS, comm, hiddenS };
  };

  const forward = pass(false);
  const backward = pass(true);
  let recomputeS = 0;
  if (fullRecompute) {
    recomputeS = forward.computeS + sumComm(forward.comm);
  } else {
    for (const op of computeOps) {
      const module = recomputeModuleOf(op.module);
      if (module && ctx.recompute.has(module)) recomputeS += times.get(op.name)!.forwardS;
    }
    // Re-running ring attention's forward needs the other ranks' K,V again: its exchange comes back too.
    if (ctx.recompute.has('attention-core')) {
      for (const op of ops) {
        if (op.kind === 'collective' && op.op === 'send-recv' && op.module === 'attention-core') recomputeS += ringExchangeCost(ctx, op, times, false).exposedS;
      }
    }
  }
  return { forward, backward, recomputeS, forwardFlops };
}

/**
 * A ring exchange (context-parallel ring attention): `steps` transfers one after another, step k in
 * flight while block `hideUnder[k]` computes, so each step hides only under its own block: a step
 * longer than the block's compute leaves the difference exposed, however much compute the other
 * blocks have. The overlap is part of how ring attention works (asynchronous send/receive around
 * each block), so it does not depend on the plan's intra-layer overlap switch. In backward each step
 * carries K,V and the partial dK,dV; the last block's dK,dV then makes one more hop back to their
 * owner with nothing left to hide under.
 */
function ringExchangeCost(ctx: BlockCostContext, op: CollectiveOp, times: ReadonlyMap<string, ComputeTimes>, backward: boolean): { exposedS: number; hiddenS: number } {
  const group = ctx.groups[op.group];
  const stepBytes = backward ? (op.backwardBytes ?? op.bytes) : op.bytes;
  const stepS = ctx.comm.ringStep(stepBytes, group);
  let exposedS = 0;
  let hiddenS = 0;
  for (let k = 0; k < (op.steps ?? 1); k++) {
    const ct = times.get(op.hideUnder?.[k] ?? '');
    const available = ct ? (backward ? ct.backwardInputS + ct.backwardWeightS : ct.forwardS) : 0;
    const hidden = Math.min(stepS, available);
    hiddenS += hidden;
    exposedS += stepS - hidden;
  }
  if (backward && op.backwardBytes !== undefined && op.backwardBytes > op.bytes) exposedS += ctx.comm.ringStep(op.backwardBytes - op.bytes, group);
  return { exposedS, hiddenS };
}

export function sumComm(c: CommByGroup): number {
  return c.tp + c.cp + c.ep + c.etp;
}

/** Matrix FLOPs of a compute op's forward (elementwise work is not counted as model FLOPs). */
export function opFlops(op: ComputeOp): number {
  switch (op.kind) {
    case 'matmul':
      return 2 * op.m * op.k * op.n;
    case 'grouped-matmul':
      return 2 * op.tokens * op.k * op.n;
    case 'attention': {
      const pairs = op.causal && op.seqQ === op.seqKv ? (op.seqQ * (op.seqQ + 1)) / 2 : op.seqQ * op.seqKv;
      return 2 * op.batch * op.heads * pairs * (op.headDimQk + op.headDimV);
    }
    case 'elementwise':
      return 0;
  }
}

/** `into` += `b` (blocks run one after another), field by field (sums a chunk's blocks without a new object per block). */
export function accumulatePass(into: PassCost, b: PassCost): void {
  into.computeS += b.computeS;
  into.comm.tp += b.comm.tp;
  into.comm.cp += b.comm.cp;
  into.comm.ep += b.comm.ep;
  into.comm.etp += b.comm.etp;
  into.hiddenS += b.hiddenS;
}

export const emptyPass = (): PassCost => ({ computeS: 0, comm: noComm(), hiddenS: 0 });
