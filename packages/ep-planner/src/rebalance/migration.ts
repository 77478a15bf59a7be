import type { LayerPlacement } from '../placement/layer-placement';
import type { RankLayout } from '../dispatch/replica-choice';

/** Bytes moved when one expert copy moves: its weights, and in training its optimizer state too. */
export interface ExpertStateBytes {
  weightBytes: number;
  optimizerBytes: number;
}

/** Bytes each rank sends and receives over one tier during a migration. */
export interface TierBytes {
  sendBytes: Float64Array;
  recvBytes: Float64Array;
  totalBytes: number;
}

/** One expert copy to move: the migration plan an executor follows. */
export interface ExpertTransfer {
  expert: number;
  fromRank: number;
  toRank: number;
  bytes: number;
}

/** What re-placing one layer (or several, merged) moves. */
export interface LayerMigration {
  /** (rank, expert) pairs where the rank newly needs an expert it did not hold: one transfer each. */
  copies: number;
  transfers: ExpertTransfer[];
  bytes: number;
  intraNode: TierBytes;
  interNode: TierBytes;
}

function tierBytes(numRanks: number): TierBytes {
  return { sendBytes: new Float64Array(numRanks), recvBytes: new Float64Array(numRanks), totalBytes: 0 };
}

/**
 * The expert copies (and bytes per link tier) needed to go from `before` to `after`. A rank that
 * already holds an expert keeps it (slot order inside a rank costs nothing, and a second replica
 * on the same rank is a local copy); each expert a rank newly needs is
 * fetched from a rank that held the expert before, on the same node when there is one (the fast
 * tier), with sources taking turns so no single holder serves every copy.
 */
export function migrationBetween(
  before: LayerPlacement,
  after: LayerPlacement,
  layout: RankLayout,
  expertBytes: ExpertStateBytes,
): LayerMigration {
  const { numRanks, ranksPerNode } = layout;
  const slotsBefore = before.physicalToLogical.length / numRanks;
  const slotsAfter = after.physicalToLogical.length / numRanks;
  const perCopy = expertBytes.weightBytes + expertBytes.optimizerBytes;
  const out: LayerMigration = { copies: 0, transfers: [], bytes: 0, intraNode: tierBytes(numRanks), interNode: tierBytes(numRanks) };
  // present[e] === r: rank r holds expert e (before, or fetched during this migration).
  const present = new Int32Array(before.replicaCounts.length).fill(-1);
  const turn = new Int32Array(before.replicaCounts.length);
  for (let r = 0; r < numRanks; r++) {
    for (let j = 0; j < slotsBefore; j++) present[before.physicalToLogical[r * slotsBefore + j]!] = r;
    for (let j = 0; j < slotsAfter; j++) {
      const e = after.physicalToLogical[r * slotsAfter + j]!;
      // A second replica on the same rank is a local copy: nothing crosses a link.
      if (present[e] === r) continue;
      present[e] = r;
      const src = sourceRank(before, e, r, ranksPerNode, slotsBefore, turn[e]!++);
      const t = ((src / ranksPerNode) | 0) === ((r / ranksPerNode) | 0) ? out.intraNode : out.interNode;
      t.sendBytes[src]! += perCopy;
      t.recvBytes[r]! += perCopy;
      t.totalBytes += perCopy;
      out.transfers.push({ expert: e, fromRank: src, toRank: r, bytes: perCopy });
      out.copies++;
      out.bytes += perCopy;
    }
  }
  return out;
}

function sourceRank(before: LayerPlacement, e: number, dst: number, ranksPerNode: number, slotsPerRank: number, turn: number): number {
  const first = before.logicalOffsets[e]!;
  const count = before.logicalOffsets[e + 1]! - first;
  const dstNode = (dst / ranksPerNode) | 0;
  let onNode = 0;
  for (let i = 0; i < count; i++) if (((before.logicalToPhysical[first + i]! / slotsPerRank / ranksPerNode) | 0) === dstNode) onNode++;
  let pick = onNode > 0 ? turn % onNode : turn % count;
  for (let i = 0; i < count; i++) {
    const rank = (before.logicalToPhysical[first + i]! / slotsPerRank) | 0;
    if ((onNode === 0 || ((rank / ranksPerNode) | 0) === dstNode) && pick-- === 0) return rank;
  }
  return -1; // unreachable: every expert has ≥ 1 replica in a built placement
}

/** Several layers' migrations done together: bytes per rank and tier add up. */
export function mergeMigrations(migrations: readonly LayerMigration[], numRanks: number): LayerMigration {
  const out: LayerMigration = { copies: 0, transfers: [], bytes: 0, intraNode: tierBytes(numRanks), interNode: tierBytes(numRanks) };
  for (const m of migrations) {
    out.copies += m.copies;
    for (const t of m.transfers) out.transfers.push(t);
    out.bytes += m.bytes;
    for (const key of ['intraNode', 'interNode'] as const) {
      const from = m[key];
      const to = out[key];
      to.totalBytes += from.totalBytes;
      for (let r = 0; r < numRanks; r++) {
        to.sendBytes[r]! += from.sendBytes[r]!;
        to.recvBytes[r]! += from.recvBytes[r]!;
      }
    }
  }
  return out;
}
