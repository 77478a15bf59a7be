import { int32Scratch } from './scratch';

/**
 * The arrays the weight sort works in, kept from one call to the next (see scratch.ts); the result
 * of a sort is one of them, valid until the next sort with the same scratch.
 */
export class SortScratch {
  order: Int32Array = new Int32Array(0);
  orderSpare: Int32Array = new Int32Array(0);
  prefixes: Int32Array = new Int32Array(0);
  prefixesSpare: Int32Array = new Int32Array(0);
  readonly digitCounts = new Int32Array(256);
}

/**
 * Item indices sorted by weight, heaviest first; equal weights keep index order so the result does
 * not depend on the engine's sort.
 */
export function orderByWeightDescending(weights: ArrayLike<number>): Int32Array {
  return sortByWeightDescending(weights, new SortScratch());
}

/**
 * orderByWeightDescending in the arrays of `scratch`. Both sorts below are stable sorts by weight,
 * so they give the same order; the radix sort is about twice as fast on a layer's replica loads and
 * hands over to the merge sort where it does not apply or would be slow.
 */
export function sortByWeightDescending(weights: ArrayLike<number>, scratch: SortScratch): Int32Array {
  return (weights.length > RADIX_MIN_ITEMS ? radixSortDescending(weights, scratch) : null) ?? mergeSortDescending(weights, scratch);
}

/**
 * Below this many items the merge sort is faster: the radix sort's fixed cost (two passes over 256
 * digit counts) outweighs its comparisons saved. Measured: 8 items 4× slower by radix, 32 about
 * even, 72 (a node's replicas in the benchmark) 0.8×, 288 0.56×.
 */
const RADIX_MIN_ITEMS = 32;

/** A double's 64 bits, to read the high word of a weight (see radixSortDescending). */
const bits = new Float64Array(1);
const bitWords = new Uint32Array(bits.buffer);
/** Index of the high 32-bit word in bitWords: 1 on little-endian hosts. */
const HIGH_WORD = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1 ? 1 : 0;

/**
 * For weights ≥ 0, the bit patterns of doubles order like their values, so the top 16 bits (sign,
 * exponent, 4 mantissa bits) are a key that never contradicts the weights: two counting-sort passes
 * on it (stable, so ties keep index order) leave only items sharing those bits to be ordered, which
 * an insertion pass does. Null (nothing decided) when a weight is negative or NaN, or when the
 * insertion pass exceeds a few moves per item (weights too close together to tell apart by 16 bits).
 */
function radixSortDescending(weights: ArrayLike<number>, scratch: SortScratch): Int32Array | null {
  const n = weights.length;
  let order = (scratch.order = int32Scratch(scratch.order, n));
  let prefixes = (scratch.prefixes = int32Scratch(scratch.prefixes, n));
  for (let i = 0; i < n; i++) {
    const w = weights[i]!;
    if (!(w >= 0)) return null;
    bits[0] = w + 0; // -0 → +0: equal weights need equal bits
    // Complemented so that ascending keys are descending weights.
    prefixes[i] = 0xffff - (bitWords[HIGH_WORD]! >>> 16);
    order[i] = i;
  }
  let orderSpare = (scratch.orderSpare = int32Scratch(scratch.orderSpare, n));
  let prefixesSpare = (scratch.prefixesSpare = int32Scratch(scratch.prefixesSpare, n));
  const counts = scratch.digitCounts;
  for (let shift = 0; shift < 16; shift += 8) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[(prefixes[i]! >>> shift) & 0xff]!++;
    for (let digit = 0, start = 0; digit < 256; digit++) {
      const count = counts[digit]!;
      counts[digit] = start;
      start += count;
    }
    for (let i = 0; i < n; i++) {
      const prefix = prefixes[i]!;
      const to = counts[(prefix >>> shift) & 0xff]!++;
      orderSpare[to] = order[i]!;
      prefixesSpare[to] = prefix;
    }
    [order, orderSpare] = [orderSpare, order];
    [prefixes, prefixesSpare] = [prefixesSpare, prefixes];
  }
  // Two passes: the order is back in scratch.order. Items only move among equal prefixes here.
  let moves = 0;
  const maxMoves = 4 * n + 64;
  for (let i = 1; i < n; i++) {
    const item = order[i]!;
    const w = weights[item]!;
    let j = i - 1;
    while (j >= 0 && weights[order[j]!]! < w) {
      order[j + 1] = order[j]!;
      j--;
      if (++moves > maxMoves) return null;
    }
    order[j + 1] = item;
  }
  return order;
}

/**
 * The general stable sort: short runs by insertion sort, then bottom-up merges.
 *
 * Hand-written rather than `Int32Array.prototype.sort` with a comparator: the comparator call per
 * comparison made the sort a third of the placement time for a layer of a few hundred slots, and
 * placement runs once per layer and EP group (11,712 times for 6,144 ranks).
 */
function mergeSortDescending(weights: ArrayLike<number>, scratch: SortScratch): Int32Array {
  const n = weights.length;
  let order = (scratch.order = int32Scratch(scratch.order, n));
  for (let i = 0; i < n; i++) order[i] = i;
  // Both steps are stable, and the input is in index order, so ties stay in index order.
  const RUN = 16;
  for (let lo = 0; lo < n; lo += RUN) {
    const hi = Math.min(lo + RUN, n);
    for (let i = lo + 1; i < hi; i++) {
      const item = order[i]!;
      const w = weights[item]!;
      let j = i - 1;
      while (j >= lo && weights[order[j]!]! < w) {
        order[j + 1] = order[j]!;
        j--;
      }
      order[j + 1] = item;
    }
  }
  if (n <= RUN) return order;
  let buffer = (scratch.orderSpare = int32Scratch(scratch.orderSpare, n));
  for (let width = RUN; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      let k = lo;
      if (mid < hi) {
        // The head of each run and its weight are kept in locals: one array read per item taken.
        let a = lo;
        let b = mid;
        let itemA = order[a]!;
        let itemB = order[b]!;
        let weightA = weights[itemA]!;
        let weightB = weights[itemB]!;
        for (;;) {
          // Take from the right run only when strictly heavier, which keeps the merge stable.
          if (weightB > weightA) {
            buffer[k++] = itemB;
            if (++b === hi) break;
            itemB = order[b]!;
            weightB = weights[itemB]!;
          } else {
            buffer[k++] = itemA;
            if (++a === mid) break;
            itemA = order[a]!;
            weightA = weights[itemA]!;
          }
        }
        while (a < mid) buffer[k++] = order[a++]!;
        while (b < hi) buffer[k++] = order[b++]!;
      } else {
        for (let a = lo; a < hi; a++) buffer[k++] = order[a]!;
      }
    }
    [order, buffer] = [buffer, order];
  }
  return order;
}
