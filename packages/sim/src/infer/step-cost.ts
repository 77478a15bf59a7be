import type { CommCostCache } from '../common/comm-cost';
import type { GroupLayout } from '../common/group-layout';
import type { OpModule } from '../common/ops';
import type { InferOpCost } from './op-time';
import { FUSED_WITH } from './layer-ops';
import { isInferCommOp, type InferComputeOp, type InferOp } from './ops';

/** Groups an inference collective can span. `shared-tp` is the shared expert's own TP group (H2P). */
export type InferCommGroup = 'tp' | 'shared-tp' | 'ep' | 'etp';

export interface InferGroups {
  tp: GroupLayout;
  sharedTp: GroupLayout;
  ep: GroupLayout;
  etp: GroupLayout;
}

export interface BlockCostContext {
  cost: InferOpCost;
  comm: CommCostCache;
  groups: InferGroups;
  /** Hide collectives under the matmul they are fused with, and the dispatch under the shared expert. */
  fuse: boolean;
  overlapEfficiency: number;
  /** Busiest EP rank's routed load over the mean: it receives last, so it sets the exchange time. */
  expertLoadFactor: number;
}

/** One operator of a step as the HAL model sees it (per occurrence), and how many times the step runs it. */
export interface OpDetail {
  name: string;
  module: OpModule;
  timeS: number;
  /** What limits it: compute, memory (the roofline's larger side), or link (a collective's exposed part). */
  bound: 'compute' | 'memory' | 'link';
  count: number;
}

/** Time of a block of ops on one device, split the ways the breakdown reports it. */
export interface BlockCost {
  ops: OpDetail[];
  totalS: number;
  computeS: number;
  /** Compute time by module (attention, experts, shared-expert, …). */
  byModule: Partial<Record<OpModule, number>>;
  /** Exposed communication by group. */
  comm: Record<InferCommGroup, number>;
  /** Communication hidden under compute. */
  hiddenCommS: number;
  /** Compute time of ops the HAL model finds memory-bound vs compute-bound. */
  memoryBoundS: number;
  computeBoundS: number;
  /** Kernel launch overhead included in computeS. */
  launchS: number;
  /** Weight and KV bytes the block reads or writes. */
  bytes: number;
  flops: number;
}

export const emptyBlockCost = (): BlockCost => ({
  ops: [],
  totalS: 0,
  computeS: 0,
  byModule: {},
  comm: { tp: 0, 'shared-tp': 0, ep: 0, etp: 0 },
  hiddenCommS: 0,
  memoryBoundS: 0,
  computeBoundS: 0,
  launchS: 0,
  bytes: 0,
  flops: 0,
});

/** a + k·b, field by field (k layers of a block). */
export function addBlock(a: BlockCost, b: BlockCost, k = 1): BlockCost {
  const byModule = { ...a.byModule };
  for (const [m, v] of Object.entries(b.byModule) as [OpModule, number][]) byModule[m] = (byModule[m] ?? 0) + k * v;
  const comm = { ...a.comm };
  for (const g of Object.keys(comm) as InferCommGroup[]) comm[g] += k * b.comm[g];
  return {
    ops: [...a.ops, ...b.ops.map((o) => ({ ...o, count: o.count * k }))],
    totalS: a.totalS + k * b.totalS,
    computeS: a.computeS + k * b.computeS,
    byModule,
    comm,
    hiddenCommS: a.hiddenCommS + k * b.hiddenCommS,
    memoryBoundS: a.memoryBoundS + k * b.memoryBoundS,
    computeBoundS: a.computeBoundS + k * b.computeBoundS,
    launchS: a.launchS + k * b.launchS,
    bytes: a.bytes + k * b.bytes,
    flops: a.flops + k * b.flops,
  };
}

const MTP_PREFIX = 'mtp-';

function groupOf(name: string, group: string): InferCommGroup {
  if (name.replace(MTP_PREFIX, '').startsWith('shared-')) return 'shared-tp';
  return group as InferCommGroup;
}

/**
 * Costs one block's ops on one device, in order: compute ops by the operator model, communication by
 * the collective model. With fusion on, a collective runs inside the matmul it is fused with (or the
 * EP dispatch under the shared expert), so only what that compute cannot cover stays exposed.
 */
export function costBlock(ops: readonly InferOp[], ctx: BlockCostContext): BlockCost {
  const out = emptyBlockCost();
  const computeTimes = new Map<string, number>();
  for (const op of ops) {
    if (isInferCommOp(op)) continue;
    const t = ctx.cost.time(op as InferComputeOp);
    computeTimes.set(op.name, t.timeS);
    out.computeS += t.timeS;
    out.byModule[op.module] = (out.byModule[op.module] ?? 0) + t.timeS;
    if (t.bound === 'memory') out.memoryBoundS += t.timeS;
    else out.computeBoundS += t.timeS;
    out.launchS += t.overheadS;
    out.ops.push({ name: op.name, module: op.module, timeS: t.timeS, bound: t.bound, count: 1 });
    out.bytes += t.bytes;
    out.flops += t.flops;
  }
  const used = new Set<string>();
  for (const op of ops) {
    if (!isInferCommOp(op)) continue;
    const group = groupOf(op.name, op.group);
    const layout = ctx.groups[group === 'shared-tp' ? 'sharedTp' : group];
    const linkS = op.kind === 'expert-exchange' ? ctx.comm.expertExchange(op, layout, 'flat', ctx.expertLoadFactor) : ctx.comm.collective(op, layout);
    const t = linkS > 0 ? linkS + ctx.cost.collectiveOverheadS : 0;
    let hidden = 0;
    if (ctx.fuse && t > 0) {
      const prefix = op.name.startsWith(MTP_PREFIX) ? MTP_PREFIX : '';
      const partners = [...(op.hideUnder ?? []), ...(FUSED_WITH[op.name.slice(prefix.length)] ?? [])];
      let available = 0;
      for (const p of partners) {
        const name = p.startsWith(MTP_PREFIX) ? p : prefix + p;
        const ct = computeTimes.get(name);
        if (ct === undefined || used.has(name)) continue;
        used.add(name);
        available += ct;
      }
      hidden = Math.min(t, ctx.overlapEfficiency * available);
    }
    out.comm[group] += t - hidden;
    out.ops.push({ name: op.name, module: op.module, timeS: t - hidden, bound: 'link', count: 1 });
    out.hiddenCommS += hidden;
  }
  out.totalS = out.computeS + out.comm.tp + out.comm['shared-tp'] + out.comm.ep + out.comm.etp;
  return out;
}
