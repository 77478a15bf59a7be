import { ValidationError } from '@moge/core';
import type { LayerSlot } from '@moge/memory';

/**
 * Refuses a cost that is not a finite number ≥ 0, naming it: the packers bisect a budget, and with a
 * NaN cost no budget ever fits (balancedLayerSlots doubled its budget forever).
 */
function checkCosts(field: string, costs: readonly number[]): void {
  const i = costs.findIndex((c) => !(c >= 0 && c < Infinity));
  if (i >= 0) throw new ValidationError('layer layout', [{ path: `${field}.${i}`, received: costs[i], expected: 'a finite cost ≥ 0 in seconds' }]);
}

/**
 * How the transformer layers are split over the pipeline's model chunks:
 * - `uniform`: Megatron-LM's default, the same number of slots per chunk with the plan's no-op slots
 *   at the end (the layout @moge/memory estimates);
 * - `balanced`: per-chunk layer counts chosen so every stage does about the same work, the embedding,
 *   output head and MTP modules included — what Megatron's uneven pipeline split
 *   (`--decoder-first/last-pipeline-num-layers`) and MindSpeed's `--num-layer-list` / placed no-op
 *   layers are for. No-op slots are not needed then and are ignored.
 */
export type LayerLayout = 'uniform' | 'balanced';

export interface BalancedLayoutInput {
  pp: number;
  vpp: number;
  /** Cost of each real layer (forward + backward + recompute + exposed communication of one micro-batch), in order. */
  layerCostS: number[];
  /** Fixed work of each virtual stage (v = chunk · pp + stage) beyond its layers: embedding on the first, head and MTP on the last. */
  extraCostS: number[];
  /**
   * Layers go on the first this-many virtual stages only (default pp · vpp): the rest hold only their
   * extras, e.g. the MTP modules and the loss on virtual stages of their own.
   */
  layerVirtualStages?: number;
}

/**
 * Contiguous split of the layers over the pp·vpp virtual stages that keeps the busiest stage's total
 * (its chunks summed, fixed extras included) small. Bisects the stage budget T; for a given T each
 * stage's room (T minus its extras) is shared evenly by its chunks, so interleaving keeps its short
 * chunks, and layers are packed greedily in pipeline order: a layer joins the current chunk when the
 * chunk has room for it (or is still empty) and its stage stays within T. T is feasible when every
 * layer finds a place; the cheapest feasible T gives the layout.
 */
export function balancedLayerSlots(input: BalancedLayoutInput): LayerSlot[] {
  const { pp, vpp, layerCostS, extraCostS } = input;
  checkCosts('layerCostS', layerCostS);
  checkCosts('extraCostS', extraCostS);
  const numVirtual = pp * vpp;
  const layerVirtual = Math.max(1, Math.min(numVirtual, input.layerVirtualStages ?? numVirtual));
  const numLayers = layerCostS.length;
  const stageExtra = new Float64Array(pp);
  extraCostS.forEach((c, v) => (stageExtra[v % pp]! += c));
  let layerTotal = 0;
  let maxLayer = 0;
  for (const c of layerCostS) {
    layerTotal += c;
    maxLayer = Math.max(maxLayer, c);
  }
  let maxExtra = 0;
  let extraTotal = 0;
  for (const e of stageExtra) {
    maxExtra = Math.max(maxExtra, e);
    extraTotal += e;
  }
  const EPS = 1e-9;
  // Scratch buffers reused by every trial (a search lays out thousands of plans).
  const stageLoad = new Float64Array(pp);
  const trial = new Int32Array(numLayers);

  /** Packs the layers under stage budget `budget` into `trial`; false when they do not all fit. */
  const pack = (budget: number): boolean => {
    stageLoad.set(stageExtra);
    let v = 0;
    let chunkLoad = 0;
    const limit = budget * (1 + EPS);
    for (let layer = 0; layer < numLayers; layer++) {
      const c = layerCostS[layer]!;
      for (;;) {
        if (v >= layerVirtual) return false;
        const s = v % pp;
        // The stage's last chunk may use whatever budget its earlier chunks left: nothing after it on this stage to starve.
        const lastChunk = v >= layerVirtual - pp;
        if (stageLoad[s]! + c <= limit && (chunkLoad === 0 || lastChunk || chunkLoad + c <= (Math.max(0, budget - stageExtra[s]!) / vpp) * (1 + EPS))) break;
        v++;
        chunkLoad = 0;
      }
      trial[layer] = v;
      chunkLoad += c;
      stageLoad[v % pp]! += c;
    }
    return true;
  };

  // The busiest stage carries at least the mean and at least the largest extras; a mean plus a few
  // layers per chunk always suffices.
  const lo = Math.max(maxExtra, (layerTotal + extraTotal) / pp);
  let hi = lo + maxExtra + (vpp + 1) * maxLayer;
  const best = new Int32Array(numLayers);
  // With a budget of everything on one stage, every layer fits; doubling gets there quickly.
  while (!pack(hi)) hi *= 2;
  best.set(trial);
  narrowBudget(lo, hi, 24, pack, () => best.set(trial));
  // The packing is a heuristic; never return worse than the even split (Megatron's default).
  const even = Int32Array.from(layerCostS, (_, layer) => Math.min(layerVirtual - 1, Math.floor((layer * layerVirtual) / numLayers)));
  const toSlots = (a: Int32Array): LayerSlot[] => Array.from(a, (v, layer) => ({ layer, stage: v % pp, chunk: Math.floor(v / pp) }));
  const balanced = toSlots(best);
  const evenSlots = toSlots(even);
  return stageLoads(evenSlots, input).max < stageLoads(balanced, input).max ? evenSlots : balanced;
}

/** Per-stage totals of a layout (layers plus extras). */
export function stageLoads(slots: LayerSlot[], input: BalancedLayoutInput): { loads: number[]; max: number } {
  const loads = new Array<number>(input.pp).fill(0);
  input.extraCostS.forEach((c, v) => (loads[v % input.pp]! += c));
  for (const s of slots) loads[s.stage]! += input.layerCostS[s.layer]!;
  return { loads, max: Math.max(...loads) };
}

/**
 * Contiguous split of a sequence of unit costs over `parts` virtual stages that minimises the largest
 * part (the chunk balance the interleaved schedule needs: each rank runs its chunks in a fixed order,
 * so the slowest chunk of each round holds every rank up). Bisects the part budget; for a budget,
 * units are packed greedily from the back so the last unit (the loss) always ends on the last part
 * and any slack falls on the first parts, which also carry the embedding and the deepest warm-up.
 * Returns the part of each unit.
 */
export function chunkBalancedSplit(costs: readonly number[], parts: number): Int32Array {
  checkCosts('costs', costs);
  const n = costs.length;
  const out = new Int32Array(n);
  if (n === 0 || parts <= 1) return out;
  let total = 0;
  let maxCost = 0;
  for (const c of costs) {
    total += c;
    maxCost = Math.max(maxCost, c);
  }
  const trial = new Int32Array(n);
  const pack = (budget: number): boolean => {
    let part = parts - 1;
    let load = 0;
    const limit = budget * (1 + 1e-9);
    for (let i = n - 1; i >= 0; i--) {
      const c = costs[i]!;
      if (load > 0 && load + c > limit) {
        part--;
        load = 0;
        if (part < 0) return false;
      }
      trial[i] = part;
      load += c;
    }
    return true;
  };
  const lo = Math.max(maxCost, total / parts);
  const hi = Math.max(lo, total);
  pack(hi);
  out.set(trial);
  narrowBudget(lo, hi, 40, pack, () => out.set(trial));
  return out;
}

/**
 * Bisects a packing budget between `lo` (too small, or just the lower bound) and `hi` (known to
 * fit) for the smallest one that fits: `fits(budget)` packs under the budget, and `keep()` runs right
 * after every packing that fitted, so the caller keeps the tightest packing found. Stops after
 * `iterations` halvings or once the interval is negligible.
 */
function narrowBudget(lo: number, hi: number, iterations: number, fits: (budget: number) => boolean, keep: () => void): void {
  for (let i = 0; i < iterations && hi - lo > 1e-12 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (fits(mid)) {
      keep();
      hi = mid;
    } else {
      lo = mid;
    }
  }
}
