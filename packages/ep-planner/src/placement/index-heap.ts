/**
 * A binary heap of small integer ids (0..capacity-1) ordered by a float key, ties broken by the
 * smaller id. Packing and replication pop the "best" bin or expert thousands of times per layer;
 * a heap keeps that O(log n) instead of the O(n) argmin of a straight port of EPLB, which is
 * what makes 6,144 ranks × 61 layers fast. Typed arrays keep it allocation-free in the hot loop.
 */
export class IndexHeap {
  private readonly ids: Int32Array;
  /**
   * sign · key: a max-heap stores negated keys so that both orders sift with the min-heap's
   * comparison (negation is exact, so the order is the same as comparing the keys themselves).
   */
  private readonly keys: Float64Array;
  private size = 0;
  /** +1 for a min-heap, -1 for a max-heap. */
  private readonly sign: number;

  constructor(capacity: number, order: 'min' | 'max') {
    this.ids = new Int32Array(capacity);
    this.keys = new Float64Array(capacity);
    this.sign = order === 'min' ? 1 : -1;
  }

  get length(): number {
    return this.size;
  }

  /** The most ids it can hold. */
  get capacity(): number {
    return this.ids.length;
  }

  /** Empties the heap, so one instance can serve many packings. */
  clear(): void {
    this.size = 0;
  }

  /** Adds `id` with `key`; each id may be present at most once. */
  push(id: number, key: number): void {
    const ids = this.ids;
    const keys = this.keys;
    const k = this.sign * key;
    // Sift up with a hole: parents move down until the new entry's place is found, then it is
    // written once (the comparisons are those of swapping it up step by step).
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const kp = keys[parent]!;
      if (!(k < kp || (k === kp && id < ids[parent]!))) break;
      ids[i] = ids[parent]!;
      keys[i] = kp;
      i = parent;
    }
    ids[i] = id;
    keys[i] = k;
  }

  /** The id at the top (smallest key for a min-heap, largest for a max-heap); -1 when empty. */
  peek(): number {
    return this.size > 0 ? this.ids[0]! : -1;
  }

  /** Removes and returns the top id; -1 when empty. */
  pop(): number {
    if (this.size === 0) return -1;
    const top = this.ids[0]!;
    this.size--;
    if (this.size > 0) this.siftDown(this.ids[this.size]!, this.keys[this.size]!);
    return top;
  }

  /** Changes the key of the top element and restores the order (cheaper than pop + push). */
  replaceTopKey(key: number): void {
    this.siftDown(this.ids[0]!, this.sign * key);
  }

  /**
   * Places (id, signed key) starting from the root: the lighter child moves up into the hole until
   * the entry fits. Same comparisons as swapping the entry down level by level, fewer writes.
   */
  private siftDown(id: number, k: number): void {
    const ids = this.ids;
    const keys = this.keys;
    const size = this.size;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= size) break;
      let child = left;
      let kc = keys[left]!;
      const right = left + 1;
      if (right < size) {
        const kr = keys[right]!;
        if (kr < kc || (kr === kc && ids[right]! < ids[left]!)) {
          child = right;
          kc = kr;
        }
      }
      if (!(kc < k || (kc === k && ids[child]! < id))) break;
      ids[i] = ids[child]!;
      keys[i] = kc;
      i = child;
    }
    ids[i] = id;
    keys[i] = k;
  }
}
