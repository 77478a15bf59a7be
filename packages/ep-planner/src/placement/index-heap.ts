/**
 * A binary heap of small integer ids (0..capacity-1) ordered by a float key, ties broken by the
 * smaller id. Packing and replication pop the "best" bin or expert thousands of times per layer;
 * a heap keeps that O(log n) instead of the O(n) argmin of a straight port of EPLB, which is
 * what makes 6,144 ranks × 61 layers fast. Typed arrays keep it allocation-free in the hot loop.
 */
export class IndexHeap {
  private readonly ids: Int32Array;
  private readonly keys: Float64Array;
  private size = 0;
  /** +1 for a min-heap, -1 for a max-heap (keys are compared as sign·key). */
  private readonly sign: number;

  constructor(capacity: number, order: 'min' | 'max') {
    this.ids = new Int32Array(capacity);
    this.keys = new Float64Array(capacity);
    this.sign = order === 'min' ? 1 : -1;
  }

  get length(): number {
    return this.size;
  }

  /** Adds `id` with `key`; each id may be present at most once. */
  push(id: number, key: number): void {
    let i = this.size++;
    this.ids[i] = id;
    this.keys[i] = key;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
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
    if (this.size > 0) {
      this.ids[0] = this.ids[this.size]!;
      this.keys[0] = this.keys[this.size]!;
      this.siftDown(0);
    }
    return top;
  }

  /** Changes the key of the top element and restores the order (cheaper than pop + push). */
  replaceTopKey(key: number): void {
    this.keys[0] = key;
    this.siftDown(0);
  }

  private siftDown(start: number): void {
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= this.size) return;
      const right = left + 1;
      const child = right < this.size && this.before(right, left) ? right : left;
      if (!this.before(child, i)) return;
      this.swap(i, child);
      i = child;
    }
  }

  /** True when the entry at slot a must sit above the entry at slot b. */
  private before(a: number, b: number): boolean {
    const ka = this.sign * this.keys[a]!;
    const kb = this.sign * this.keys[b]!;
    return ka < kb || (ka === kb && this.ids[a]! < this.ids[b]!);
  }

  private swap(a: number, b: number): void {
    const id = this.ids[a]!;
    this.ids[a] = this.ids[b]!;
    this.ids[b] = id;
    const key = this.keys[a]!;
    this.keys[a] = this.keys[b]!;
    this.keys[b] = key;
  }
}
