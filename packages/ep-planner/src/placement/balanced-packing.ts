import { IndexHeap } from './index-heap';

/** Where balanced packing put each item: its pack and its position inside the pack. */
export interface Packing {
  /** packOf[i] = pack of item i. */
  packOf: Int32Array;
  /** slotOf[i] = position of item i in its pack, 0..itemsPerPack-1, in the order items were placed. */
  slotOf: Int32Array;
  /** Sum of the weights of the items of each pack. */
  packWeights: Float64Array;
}

/**
 * Item indices sorted by weight, heaviest first; equal weights keep index order so the result does
 * not depend on the engine's sort.
 */
export function orderByWeightDescending(weights: ArrayLike<number>): Int32Array {
  const order = new Int32Array(weights.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  order.sort((a, b) => weights[b]! - weights[a]! || a - b);
  return order;
}

/**
 * Packs `weights.length` items into `numPacks` packs of exactly `weights.length / numPacks` items
 * each, balancing pack weights: longest-processing-time first with a per-pack item cap (the
 * `balanced_packing` of DeepSeek EPLB). Items go heaviest first to the lightest pack that still has
 * room; ties go to the lower pack index. The cap is what keeps "slots per rank" equal.
 *
 * With `keys` (replicas: keys[i] = the logical expert of item i), an item skips packs that already
 * hold an item with its key when another open pack is free of it: two replicas of one expert on
 * one rank add nothing a single replica would not, and waste a slot. EPLB's packing can do that.
 *
 * O(n log n + n log m) with a heap of open packs, instead of EPLB's O(n·m) argmin scan (the key
 * check pops the few packs holding the key, typically none).
 */
export function balancedPacking(weights: ArrayLike<number>, numPacks: number, keys?: Int32Array): Packing {
  const n = weights.length;
  if (!Number.isInteger(numPacks) || numPacks < 1 || n % numPacks !== 0) {
    throw new RangeError(`balancedPacking: numPacks must be a positive divisor of the item count ${n}, got ${numPacks}`);
  }
  if (keys && keys.length !== n) throw new RangeError(`balancedPacking: ${keys.length} keys for ${n} items`);
  const perPack = n / numPacks;
  const packOf = new Int32Array(n);
  const slotOf = new Int32Array(n);
  const packWeights = new Float64Array(numPacks);
  const packCounts = new Int32Array(numPacks);
  const open = new IndexHeap(numPacks, 'min');
  for (let p = 0; p < numPacks; p++) open.push(p, 0);
  const packsOfKey = keys ? new Map<number, Set<number>>() : null;
  const skipped: number[] = [];
  const order = orderByWeightDescending(weights);
  for (let k = 0; k < n; k++) {
    const item = order[k]!;
    let pack = open.peek();
    const holders = packsOfKey ? packsOfKey.get(keys![item]!) : undefined;
    if (holders) {
      // Set aside open packs that hold this key; fall back to the lightest if all of them do.
      while (open.length > 1 && holders.has(open.peek())) skipped.push(open.pop());
      if (holders.has(open.peek()) && skipped.length > 0) {
        open.push(skipped[0]!, packWeights[skipped[0]!]!);
        skipped.shift();
      }
      pack = open.peek();
    }
    packOf[item] = pack;
    slotOf[item] = packCounts[pack]!;
    packCounts[pack]!++;
    packWeights[pack]! += weights[item]!;
    if (packCounts[pack] === perPack) open.pop();
    else open.replaceTopKey(packWeights[pack]!);
    while (skipped.length > 0) {
      const p = skipped.pop()!;
      open.push(p, packWeights[p]!);
    }
    if (packsOfKey) {
      const key = keys![item]!;
      const set = packsOfKey.get(key) ?? new Set<number>();
      set.add(pack);
      packsOfKey.set(key, set);
    }
  }
  return { packOf, slotOf, packWeights };
}
