/**
 * cos and sin of the rotary angles, one row of D/2 values per position, kept between calls: a training
 * step asks for the same positions in every layer (forward and backward), and decode for one more
 * each step, while computing them is a Math.cos and a Math.sin per value — in the JS kernel, more
 * time than the rotation itself. Angles are computed exactly as the reference kernel does (float64),
 * then rounded to fp32.
 */

/** Positions beyond this are not tabled (the backend falls back to the reference kernel). */
export const MAX_TABLED_POSITION = 1 << 17;

interface Table {
  cos: Float32Array;
  sin: Float32Array;
  /** Rows held: positions 0 .. rows − 1. */
  rows: number;
}

export class RopeTables {
  private readonly tables = new Map<string, Table>();

  /** Tables covering every position in `positions` for (θ, D), or null if one is negative or too large. */
  get(theta: number, d: number, positions: Int32Array): { cos: Float32Array; sin: Float32Array } | null {
    let top = -1;
    for (let i = 0; i < positions.length; i++) {
      const p = positions[i]!;
      if (p < 0 || p > MAX_TABLED_POSITION) return null;
      if (p > top) top = p;
    }
    const key = `${theta}:${d}`;
    let table = this.tables.get(key);
    if (!table || table.rows <= top) {
      // Grow by doubling, so decode (one position more per step) rebuilds O(log n) times.
      table = build(theta, d, Math.max(top + 1, 2 * (table?.rows ?? 0), 64));
      this.tables.set(key, table);
    }
    return table;
  }
}

function build(theta: number, d: number, rows: number): Table {
  const half = d / 2;
  const invFreq = new Float64Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = Math.pow(theta, (-2 * i) / d);
  const cos = new Float32Array(rows * half);
  const sin = new Float32Array(rows * half);
  for (let p = 0; p < rows; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p * invFreq[i]!;
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin, rows };
}
