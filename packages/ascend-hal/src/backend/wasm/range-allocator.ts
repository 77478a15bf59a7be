/**
 * First-fit allocation of byte ranges in a WebAssembly memory that only grows: ranges are aligned to
 * ALIGN bytes, freed ranges are merged with free neighbours and reused, and `top` is the end of the
 * highest range ever handed out (the memory must reach at least that far).
 */
export const ALIGN = 64;

const roundUp = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

export class RangeAllocator {
  /** Free ranges below `top`, sorted by start, never adjacent (adjacent ones are merged). */
  private readonly free: { at: number; bytes: number }[] = [];
  private end: number;

  /** Ranges start at `base` (bytes below it are the caller's). */
  constructor(base = 0) {
    this.end = roundUp(base);
  }

  get top(): number {
    return this.end;
  }

  /** The start of a fresh range of at least `bytes`; the first free range that fits, else above `top`. */
  alloc(bytes: number): number {
    const size = roundUp(Math.max(bytes, 1));
    const i = this.free.findIndex((r) => r.bytes >= size);
    if (i >= 0) {
      const r = this.free[i]!;
      const at = r.at;
      if (r.bytes === size) this.free.splice(i, 1);
      else this.free[i] = { at: r.at + size, bytes: r.bytes - size };
      return at;
    }
    const at = this.end;
    this.end += size;
    return at;
  }

  /** Returns the range [at, at + bytes) (as allocated) for reuse. */
  release(at: number, bytes: number): void {
    const size = roundUp(Math.max(bytes, 1));
    let i = 0;
    while (i < this.free.length && this.free[i]!.at < at) i++;
    this.free.splice(i, 0, { at, bytes: size });
    // Merge with the next range, then with the previous one.
    const next = this.free[i + 1];
    if (next && at + size === next.at) {
      this.free[i]!.bytes += next.bytes;
      this.free.splice(i + 1, 1);
    }
    const prev = this.free[i - 1];
    if (prev && prev.at + prev.bytes === at) {
      prev.bytes += this.free[i]!.bytes;
      this.free.splice(i, 1);
    }
  }

  /** Bytes currently free below `top` (for tests and diagnostics). */
  freeBytes(): number {
    return this.free.reduce((s, r) => s + r.bytes, 0);
  }
}
