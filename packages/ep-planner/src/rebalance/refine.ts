import { ValidationError } from '@moge/core';
import { checkLoadRow } from '../loads/load-matrix';
import { buildLayerPlacement, type LayerPlacement } from '../placement/layer-placement';
import type { PlacementShape } from '../placement/options';

type RefineShape = Pick<PlacementShape, 'numRanks' | 'ranksPerNode' | 'numExperts'>;

export interface RefineOptions {
  /** Expert copies the refinement may move (a swap moves two, a re-targeted replica one). */
  maxMoves: number;
  /**
   * Keep every move inside a node: a swap only between ranks of one node, a new replica only on
   * the node of the rank it relieves. Hierarchical placements need this to keep a group's
   * experts in the node it was packed to.
   */
  withinNode: boolean;
}

export interface Refinement {
  placement: LayerPlacement;
  /** Expert copies moved (≤ maxMoves; a copy moved twice counts twice, so the migration can be smaller). */
  moves: number;
}

/** Candidate experts to give up a replica, per iteration: enough to find a good one, few enough to stay cheap. */
const DONOR_CANDIDATES = 8;

/**
 * Improves `current` for new `loads` by a bounded number of local moves instead of placing from
 * scratch. A from-scratch policy moves most experts even after a small drift (packing reshuffles
 * which experts share a rank); this moves at most `maxMoves` copies, the trade the trigger of
 * dynamic rebalancing then weighs. Each step relieves the busiest rank with the best of:
 * - a swap: one of its experts trades places with a lighter expert of another rank (2 copies);
 * - a re-targeted replica: a slot holding a spare replica of a cold expert (one with ≥ 2 replicas)
 *   elsewhere gets a new replica of the busiest rank's hottest expert (1 copy), which also changes
 *   the per-replica load of both experts on every rank holding them.
 * It stops when no move lowers the largest rank load. Deterministic (ties: lower ids), and every
 * expert keeps at least one replica.
 *
 * O(maxMoves · (S² · R + DONOR_CANDIDATES · (P + R))) for R ranks of S slots, P = R · S.
 */
export function refinePlacement(current: LayerPlacement, loads: ArrayLike<number>, shape: RefineShape, options: RefineOptions): Refinement {
  const { numRanks, ranksPerNode, numExperts } = shape;
  // A NaN load made every rank load NaN and the result read max/mean 1; a short row did the same.
  checkLoadRow(loads, numExperts, 'refinePlacement loads', 'loads');
  if (!(Number.isInteger(options.maxMoves) && options.maxMoves >= 0)) {
    throw new ValidationError('refinePlacement options', [{ path: 'maxMoves', received: options.maxMoves, expected: 'a non-negative integer (expert copies to move)' }]);
  }
  const slots = new Int32Array(current.physicalToLogical);
  const S = slots.length / numRanks;
  const counts = new Int32Array(current.replicaCounts);
  const rankLoads = new Float64Array(numRanks);
  const share = (e: number) => loads[e]! / counts[e]!;
  const recomputeLoads = () => {
    rankLoads.fill(0);
    for (let p = 0; p < slots.length; p++) rankLoads[(p / S) | 0]! += share(slots[p]!);
  };
  const holds = (r: number, e: number) => {
    for (let j = 0; j < S; j++) if (slots[r * S + j] === e) return true;
    return false;
  };
  const sameNode = (a: number, b: number) => ((a / ranksPerNode) | 0) === ((b / ranksPerNode) | 0);
  const maxOf = (values: Float64Array) => {
    let m = -Infinity;
    for (let i = 0; i < values.length; i++) if (values[i]! > m) m = values[i]!;
    return m;
  };
  recomputeLoads();
  let moves = 0;
  const trial = new Float64Array(numRanks);
  while (moves < options.maxMoves) {
    let busiest = 0;
    for (let r = 1; r < numRanks; r++) if (rankLoads[r]! > rankLoads[busiest]!) busiest = r;
    const peak = rankLoads[busiest]!;
    // The largest load among ranks other than a and b, for scoring swaps in O(1).
    const order = Array.from({ length: Math.min(3, numRanks) }, () => -1);
    for (let r = 0; r < numRanks; r++) {
      for (let k = 0; k < order.length; k++) {
        if (order[k] === -1 || rankLoads[r]! > rankLoads[order[k]!]!) {
          order.splice(k, 0, r);
          order.length = Math.min(3, numRanks);
          break;
        }
      }
    }
    const maxExcluding = (a: number, b: number) => {
      for (const r of order) if (r !== a && r !== b && r >= 0) return rankLoads[r]!;
      return -Infinity;
    };
    // The best move so far: a swap of slots p and q, or slot q re-targeted to `hot` (from `donor`).
    let bestPeak = peak * (1 - 1e-12);
    let bestKind: 'swap' | 'retarget' | null = null;
    let bestP = -1;
    let bestQ = -1;
    let bestDonor = -1;

    // Swaps: an expert of the busiest rank with a lighter one elsewhere.
    if (options.maxMoves - moves >= 2) {
      for (let i = 0; i < S; i++) {
        const e = slots[busiest * S + i]!;
        const we = share(e);
        for (let c = 0; c < numRanks; c++) {
          if (c === busiest || (options.withinNode && !sameNode(c, busiest)) || holds(c, e)) continue;
          for (let j = 0; j < S; j++) {
            const f = slots[c * S + j]!;
            const wf = share(f);
            if (wf >= we || holds(busiest, f)) continue;
            const newPeak = Math.max(peak - we + wf, rankLoads[c]! - wf + we, maxExcluding(busiest, c));
            if (newPeak < bestPeak) {
              bestPeak = newPeak;
              bestKind = 'swap';
              bestP = busiest * S + i;
              bestQ = c * S + j;
            }
          }
        }
      }
    }

    // Re-targeted replicas: a new copy of the busiest rank's hottest expert in a spare replica's slot.
    let hot = slots[busiest * S]!;
    for (let j = 1; j < S; j++) if (share(slots[busiest * S + j]!) > share(hot)) hot = slots[busiest * S + j]!;
    const donors: number[] = [];
    for (let f = 0; f < numExperts; f++) if (f !== hot && counts[f]! > 1) donors.push(f);
    donors.sort((a, b) => loads[a]! / (counts[a]! - 1) - loads[b]! / (counts[b]! - 1) || a - b);
    for (const f of donors.slice(0, DONOR_CANDIDATES)) {
      for (let q = 0; q < slots.length; q++) {
        const c = (q / S) | 0;
        if (slots[q] !== f || holds(c, hot) || (options.withinNode && !sameNode(c, busiest))) continue;
        // Loads after the move: hot's share drops on its holders, f's share rises on its others.
        const hotOld = share(hot);
        const hotNew = loads[hot]! / (counts[hot]! + 1);
        const fOld = share(f);
        const fNew = loads[f]! / (counts[f]! - 1);
        trial.set(rankLoads);
        for (let p = 0; p < slots.length; p++) {
          const r = (p / S) | 0;
          if (slots[p] === hot) trial[r]! += hotNew - hotOld;
          else if (slots[p] === f && p !== q) trial[r]! += fNew - fOld;
        }
        trial[c]! += hotNew - fOld;
        const newPeak = maxOf(trial);
        if (newPeak < bestPeak) {
          bestPeak = newPeak;
          bestKind = 'retarget';
          bestQ = q;
          bestDonor = f;
        }
      }
    }

    if (bestKind === null) break;
    if (bestKind === 'swap') {
      const e = slots[bestP]!;
      slots[bestP] = slots[bestQ]!;
      slots[bestQ] = e;
      moves += 2;
    } else {
      slots[bestQ] = hot;
      counts[hot]! += 1;
      counts[bestDonor]! -= 1;
      moves += 1;
    }
    recomputeLoads();
  }
  // Rebuilt even when nothing moved, so rankLoads and maxOverMean describe the new loads.
  return { placement: buildLayerPlacement(slots, numRanks, numExperts, loads), moves };
}
