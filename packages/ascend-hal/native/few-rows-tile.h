/*
 * One instantiation of the few-row product (few-rows-products.c includes this once per instruction
 * set). The includer defines:
 *   VEC          a GCC/Clang vector of LANES floats (8 or 16)
 *   LANES        its width
 *   TILE_ROWS    rows of X per tile (4 with 32 vector registers, 2 with 16)
 *   ISA_ATTR     the function attribute that selects the instruction set (may be empty)
 *   SUFFIX(name) the instantiation's name for `name`
 * A tile is TILE_ROWS rows of X against 4 rows of W: TILE_ROWS × 4 running dot products, each
 * weight vector loaded once per step and used TILE_ROWS times, each X vector 4 times.
 */

ISA_ATTR INLINE VEC SUFFIX(load)(const float *p) {
  VEC v;
  memcpy(&v, p, sizeof v); /* an unaligned load */
  return v;
}

/* The 8-float sum of a vector's halves (for 8 lanes, the vector itself). */
ISA_ATTR INLINE f32x8 SUFFIX(fold8)(VEC v) {
#if LANES == 16
  f32x8 lo, hi;
  memcpy(&lo, &v, sizeof lo);
  memcpy(&hi, (const char *)&v + sizeof lo, sizeof hi);
  return lo + hi;
#else
  return v;
#endif
}

/* {Σ a0, Σ a1, Σ a2, Σ a3}: the lanes summed by pairs, then quads, then halves (no scalar adds). */
ISA_ATTR INLINE f32x4 SUFFIX(sums4)(VEC a0, VEC a1, VEC a2, VEC a3) {
  const f32x8 q = QUADS8(PAIRS8(SUFFIX(fold8)(a0), SUFFIX(fold8)(a1)), PAIRS8(SUFFIX(fold8)(a2), SUFFIX(fold8)(a3)));
  return low4(q) + high4(q);
}

/*
 * Y[i, 0..3] = X[i]·W[0..3] (+ bias[0..3]) for R ≤ TILE_ROWS rows i of X (row stride k), W's 4 rows
 * contiguous from w0 (k floats each), Y's row stride ldy. R is a constant at every call, so the
 * loops over it unroll and the accumulators live in registers.
 */
ISA_ATTR INLINE void SUFFIX(tile)(const int R, int k, const float *w0, const float *x, float *y, int ldy, const float *bias) {
  const float *w1 = w0 + k, *w2 = w1 + k, *w3 = w2 + k;
  const int kv = k - k % LANES;
  VEC a[TILE_ROWS][4];
  for (int i = 0; i < R; i++)
    for (int c = 0; c < 4; c++) a[i][c] = (VEC){0};
  for (int o = 0; o < kv; o += LANES) {
    const VEC q0 = SUFFIX(load)(w0 + o), q1 = SUFFIX(load)(w1 + o), q2 = SUFFIX(load)(w2 + o), q3 = SUFFIX(load)(w3 + o);
    for (int i = 0; i < R; i++) {
      const VEC p = SUFFIX(load)(x + (size_t)i * k + o);
      a[i][0] += p * q0, a[i][1] += p * q1, a[i][2] += p * q2, a[i][3] += p * q3;
    }
  }
  for (int i = 0; i < R; i++) {
    const float *xi = x + (size_t)i * k;
    f32x4 s = SUFFIX(sums4)(a[i][0], a[i][1], a[i][2], a[i][3]);
    for (int o = kv; o < k; o++) s += (f32x4){xi[o] * w0[o], xi[o] * w1[o], xi[o] * w2[o], xi[o] * w3[o]};
    if (bias) s += load4(bias);
    store4(y + (size_t)i * ldy, s);
  }
}

/*
 * Y[r, j] = X[r]·W[j] (+ bias[j]) for `rows` rows r of X (row stride k) and n rows j of W
 * (contiguous, k floats each); Y's row stride is ldy. Each 4-row block of W is asked for
 * PREFETCH_ROWS rows ahead, its lines spread over the block's tiles; rows past W's last are asked
 * for at `after` (what the caller reads next; a prefetch of any address is harmless).
 */
ISA_ATTR static void SUFFIX(rows_times_wt)(int rows, int n, int k, const float *w, const float *x, float *y, int ldy, const float *bias,
                                           const float *after) {
  const int block_lines = (int)(((size_t)16 * k + 63) / 64);
  const int tiles = (rows + TILE_ROWS - 1) / TILE_ROWS;
  const int lines_per_tile = (block_lines + tiles - 1) / tiles;
  int j = 0;
  for (; j + 4 <= n; j += 4) {
    const float *wj = w + (size_t)j * k;
    const int ahead_row = j + PREFETCH_ROWS;
    const char *ahead = (const char *)(ahead_row < n ? w + (size_t)ahead_row * k : after + (size_t)(ahead_row - n) * k);
    const float *bj = bias ? bias + j : NULL;
    int r = 0, line = 0;
    for (; r + TILE_ROWS <= rows; r += TILE_ROWS, line += lines_per_tile) {
      prefetch_lines(ahead, line, lines_per_tile, block_lines);
      SUFFIX(tile)(TILE_ROWS, k, wj, x + (size_t)r * k, y + (size_t)r * ldy + j, ldy, bj);
    }
    prefetch_lines(ahead, line, block_lines - line, block_lines);
#if TILE_ROWS == 4
    if (r + 2 <= rows) {
      SUFFIX(tile)(2, k, wj, x + (size_t)r * k, y + (size_t)r * ldy + j, ldy, bj);
      r += 2;
    }
#endif
    if (r < rows) SUFFIX(tile)(1, k, wj, x + (size_t)r * k, y + (size_t)r * ldy + j, ldy, bj);
  }
  for (; j < n; j++) single_row_of_w(rows, k, w + (size_t)j * k, x, y + j, ldy, bias ? bias[j] : 0.0f);
}
