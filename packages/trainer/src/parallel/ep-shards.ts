import { jsVectorMath, type Communicator, type VectorMath } from '@moge/ascend-hal';
import { clipScale } from '../optim/clip';
import type { FlatLayout, ParamSlot } from '../loop/flat-params';
import type { ExpertOwnership } from './ownership';

/**
 * How one rank holds the flat parameter buffer under expert parallelism: dense parameters (embedding,
 * attention, norms, router, shared expert, head) are replicated and their gradients all-reduced;
 * of each stacked expert tensor [E, …] the rank owns rows [lo, hi) — its experts — which only it
 * updates, with optimizer state only there. Every rank keeps a full-size buffer so a checkpoint can
 * gather the owners' rows into it and write the same files as a single-worker run.
 */
export interface OwnedRange {
  slot: ParamSlot;
  /** Element range of the owned experts inside the flat buffer. */
  start: number;
  end: number;
  /** Shape of the owned block, [El, …]. */
  shape: number[];
}

export interface ShardedLayout {
  dense: ParamSlot[];
  experts: OwnedRange[];
  /** Owned expert elements per rank (equal on every rank). */
  ownedElems: number;
}

const EXPERT_SLOT = /^model\.layers\.\d+\.mlp\.experts\.(gate|up|down)_proj\.weight$/;

export function isExpertSlot(name: string): boolean {
  return EXPERT_SLOT.test(name);
}

export function shardLayout(layout: FlatLayout, own: ExpertOwnership, rank: number): ShardedLayout {
  const dense: ParamSlot[] = [];
  const experts: OwnedRange[] = [];
  for (const slot of layout.slots) {
    if (!isExpertSlot(slot.name)) {
      dense.push(slot);
      continue;
    }
    if (slot.shape[0] !== own.numExperts) throw new RangeError(`${slot.name} has ${slot.shape[0]} experts, ownership is for ${own.numExperts}`);
    const perExpert = slot.size / own.numExperts;
    const start = slot.offset + rank * own.perRank * perExpert;
    experts.push({ slot, start, end: start + own.perRank * perExpert, shape: [own.perRank, ...slot.shape.slice(1)] });
  }
  return { dense, experts, ownedElems: experts.reduce((a, r) => a + r.end - r.start, 0) };
}

/** All-reduces (sums, in rank order) the dense part of `grad` as one packed collective. */
export function allReduceDense(comm: Communicator, sh: ShardedLayout, grad: Float32Array): void {
  const total = sh.dense.reduce((a, s) => a + s.size, 0);
  const packed = new Float32Array(total);
  let at = 0;
  for (const s of sh.dense) {
    packed.set(grad.subarray(s.offset, s.offset + s.size), at);
    at += s.size;
  }
  comm.allReduce(packed);
  at = 0;
  for (const s of sh.dense) {
    grad.set(packed.subarray(at, at + s.size), s.offset);
    at += s.size;
  }
}

/**
 * Global gradient norm over dense (identical on every rank) and owned expert gradients (summed over
 * ranks), clipped to `maxNorm` by one common scale as in the single-worker run; returns the norm.
 */
export function clipShardedGradNorm(comm: Communicator, sh: ShardedLayout, grad: Float32Array, maxNorm: number, math: VectorMath = jsVectorMath): number {
  const dense = sh.dense.map((s) => grad.subarray(s.offset, s.offset + s.size));
  const experts = sh.experts.map((r) => grad.subarray(r.start, r.end));
  const ss = Float64Array.of(0, 0);
  for (const g of dense) ss[0] += math.sumSquares(g);
  for (const g of experts) ss[1] += math.sumSquares(g);
  comm.allReduce(ss.subarray(1, 2));
  const norm = Math.sqrt(ss[0]! + ss[1]!);
  const scale = clipScale(norm, maxNorm);
  if (scale !== undefined) for (const g of [...dense, ...experts]) math.scale(g, scale);
  return norm;
}

/** name → the part of `flat` this rank updates: the whole dense slot, or the owned expert rows. */
export function ownedViews(sh: ShardedLayout, flat: Float32Array): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  const byName = new Map(sh.experts.map((r) => [r.slot.name, r]));
  // Keep parameter order (dense and expert slots interleave), the order the optimizer walks.
  const slots = [...sh.dense, ...sh.experts.map((r) => r.slot)].sort((a, b) => a.offset - b.offset);
  for (const s of slots) {
    const r = byName.get(s.name);
    out.set(s.name, r ? flat.subarray(r.start, r.end) : flat.subarray(s.offset, s.offset + s.size));
  }
  return out;
}

/** Shape of what `ownedViews` gives for `name`. */
export function ownedShape(sh: ShardedLayout, slot: ParamSlot): number[] {
  return sh.experts.find((r) => r.slot.name === slot.name)?.shape ?? slot.shape;
}

/**
 * Fills every rank's full-size buffers with the owners' expert rows (all-gather of the owned blocks),
 * so `flats` hold the whole model on every rank. Collective: every rank calls it with as many buffers.
 */
export function gatherExperts(comm: Communicator, sh: ShardedLayout, flats: readonly Float32Array[], own: ExpertOwnership): void {
  const per = sh.ownedElems * flats.length;
  const mine = new Float32Array(per);
  let at = 0;
  for (const f of flats) for (const r of sh.experts) {
    mine.set(f.subarray(r.start, r.end), at);
    at += r.end - r.start;
  }
  const all = comm.allGather(mine);
  for (let rank = 0; rank < comm.size; rank++) {
    at = rank * per;
    for (const f of flats) for (const r of sh.experts) {
      const len = r.end - r.start;
      const start = r.slot.offset + rank * own.perRank * (r.slot.size / own.numExperts);
      f.set(all.subarray(at, at + len), start);
      at += len;
    }
  }
}
