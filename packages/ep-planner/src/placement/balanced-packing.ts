import { IndexHeap } from './index-heap';
import { int32Scratch } from './scratch';
import { SortScratch, sortByWeightDescending } from './weight-order';

export { orderByWeightDescending } from './weight-order';

/** Where balanced packing put each item: its pack and its position inside the pack. */
export interface Packing {
  /** packOf[i] = pack of item i. */
  packOf: Int32Array;
  /** slotOf[i] = position of item i in its pack, 0..itemsPerPack-1, in the order items were placed. */
  slotOf: Int32Array;
  /** Sum of the weights of the items of each pack. */
  packWeights: Float64Array;
  /**
   * Items `keys` sent to another pack than the lightest open one (0 without keys): when 0, the
   * packing is exactly the plain one, which lets a caller comparing both skip computing it.
   */
  displaced: number;
}

/**
 * Working arrays of the sort and the packing, kept from one call to the next (see scratch.ts): the
 * eplb policies sort and pack a few hundred items per layer, where fresh typed arrays per call cost
 * about as much as the work. One per placement run; not for concurrent use.
 */
export class PackingScratch extends SortScratch {
  packCounts: Int32Array = new Int32Array(0);
  open = new IndexHeap(0, 'min');
  lastOfKey: Int32Array = new Int32Array(0);
  previousOfKey: Int32Array = new Int32Array(0);
  skipped: Int32Array = new Int32Array(0);
}

/**
 * Dense ids 0..k-1 for the keys, in order of first appearance, so the packing can keep per-key
 * state in typed arrays. Replica keys are logical expert ids, already small and dense; any other
 * Int32 keys go through a Map once.
 */
function denseKeys(keys: Int32Array): { ids: Int32Array; count: number } {
  let max = -1;
  let min = 0;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    if (k > max) max = k;
    if (k < min) min = k;
  }
  if (min >= 0 && max < 4 * keys.length + 64) return { ids: keys, count: max + 1 };
  const idOf = new Map<number, number>();
  const ids = new Int32Array(keys.length);
  for (let i = 0; i < keys.length; i++) {
    let id = idOf.get(keys[i]!);
    if (id === undefined) idOf.set(keys[i]!, (id = idOf.size));
    ids[i] = id;
  }
  return { ids, count: idOf.size };
}

/**
 * Packs `weights.length` items into `numPacks` packs of exactly `weights.length / numPacks` items
 * each, balancing pack weights: longest-processing-time first with a per-pack item cap (the
 * `balanced_packing` of DeepSeek EPLB). Items go heaviest first to the lightest pack that still has
 * room; ties go to the lower pack index. The cap is what keeps "slots per rank" equal.
 *
 * With `keys` (replicas: keys[i] = the logical expert of item i), an item skips packs that already
 * hold an item with its key when another open pack is free of it: two replicas of one expert on
 * one rank hold its weights twice where one copy could serve their tokens, so distinct ranks are
 * preferred. EPLB's packing can do that. The preference can cost balance (a second copy still
 * carries its share of the load), so the eplb policies pack both ways and keep the keyed result
 * unless the plain one has a lighter busiest pack.
 *
 * `order` is orderByWeightDescending(weights), for a caller packing the same weights more than once.
 *
 * O(n log n + n log m) with a heap of open packs, instead of EPLB's O(n·m) argmin scan (the key
 * check pops the few packs holding the key, typically none).
 */
export function balancedPacking(weights: ArrayLike<number>, numPacks: number, keys?: Int32Array, order?: Int32Array): Packing {
  const n = weights.length;
  if (!Number.isInteger(numPacks) || numPacks < 1 || n % numPacks !== 0) {
    throw new RangeError(`balancedPacking: numPacks must be a positive divisor of the item count ${n}, got ${numPacks}`);
  }
  if (keys && keys.length !== n) throw new RangeError(`balancedPacking: ${keys.length} keys for ${n} items`);
  if (order && order.length !== n) throw new RangeError(`balancedPacking: an order of ${order.length} items for ${n}`);
  const scratch = new PackingScratch();
  const out: Packing = { packOf: new Int32Array(n), slotOf: new Int32Array(n), packWeights: new Float64Array(numPacks), displaced: 0 };
  packInto(out, weights, numPacks, keys, order ?? sortByWeightDescending(weights, scratch), scratch);
  return out;
}

/**
 * balancedPacking into `out` (packOf and slotOf of weights.length items, packWeights of numPacks),
 * with the working arrays of `scratch`; arguments are the caller's to check. Sets out.displaced.
 */
export function packInto(out: Packing, weights: ArrayLike<number>, numPacks: number, keys: Int32Array | undefined, order: Int32Array, scratch: PackingScratch): void {
  const n = weights.length;
  const perPack = n / numPacks;
  const { packOf, slotOf, packWeights } = out;
  packWeights.fill(0);
  const packCounts = (scratch.packCounts = int32Scratch(scratch.packCounts, numPacks)).fill(0);
  if (scratch.open.capacity !== numPacks) scratch.open = new IndexHeap(numPacks, 'min');
  const open = scratch.open;
  open.clear();
  for (let p = 0; p < numPacks; p++) open.push(p, 0);
  if (!keys) {
    // Plain packing, every item to the lightest open pack: the keyed loop below without its key
    // bookkeeping, which took a third of its time (the eplb policies pack plainly in half the layers).
    // The six placing lines are repeated in both loops on purpose: a shared closure, allocated per
    // call, made eplb-hierarchical (many packings of 8 items) about 12 % slower in the bench.
    for (let k = 0; k < n; k++) {
      const item = order[k]!;
      const pack = open.peek();
      packOf[item] = pack;
      slotOf[item] = packCounts[pack]!;
      packCounts[pack]!++;
      packWeights[pack]! += weights[item]!;
      if (packCounts[pack] === perPack) open.pop();
      else open.replaceTopKey(packWeights[pack]!);
    }
    out.displaced = 0;
    return;
  }
  // Packs already holding a key, as a chain through the items placed so far: lastOfKey[key] is the
  // last placed item with that key (-1: none), previousOfKey[item] the one before it. A key has a
  // handful of replicas at most, so walking its chain is cheaper than a Set per key.
  const dense = denseKeys(keys);
  const keyIds = dense.ids;
  const lastOfKey = (scratch.lastOfKey = int32Scratch(scratch.lastOfKey, dense.count)).fill(-1);
  const previousOfKey = (scratch.previousOfKey = int32Scratch(scratch.previousOfKey, n));
  const holds = (key: number, pack: number): boolean => {
    for (let other = lastOfKey[key]!; other >= 0; other = previousOfKey[other]!) if (packOf[other] === pack) return true;
    return false;
  };
  // Packs set aside for the current item, a stack: skipped[skippedFirst..skippedCount) are still out
  // of the heap (skippedFirst is 1 once the lightest of them went back).
  const skipped = (scratch.skipped = int32Scratch(scratch.skipped, numPacks));
  let displaced = 0;
  for (let k = 0; k < n; k++) {
    const item = order[k]!;
    const key = keyIds[item]!;
    const lightest = open.peek();
    let skippedFirst = 0;
    let skippedCount = 0;
    if (lastOfKey[key]! >= 0) {
      // Set aside open packs that hold this key; fall back to the lightest if all of them do.
      while (open.length > 1 && holds(key, open.peek())) skipped[skippedCount++] = open.pop();
      if (skippedCount > 0 && holds(key, open.peek())) {
        open.push(skipped[0]!, packWeights[skipped[0]!]!);
        skippedFirst = 1;
      }
    }
    const pack = open.peek();
    if (pack !== lightest) displaced++;
    packOf[item] = pack;
    slotOf[item] = packCounts[pack]!;
    packCounts[pack]!++;
    packWeights[pack]! += weights[item]!;
    if (packCounts[pack] === perPack) open.pop();
    else open.replaceTopKey(packWeights[pack]!);
    // Back into the heap, last set aside first.
    while (skippedCount > skippedFirst) {
      const p = skipped[--skippedCount]!;
      open.push(p, packWeights[p]!);
    }
    previousOfKey[item] = lastOfKey[key]!;
    lastOfKey[key] = item;
  }
  out.displaced = displaced;
}
