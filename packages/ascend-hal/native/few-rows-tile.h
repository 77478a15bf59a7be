/*
 * Few-row f32 products against row-major weights, Y = X·Wᵀ (+ bias), W being n × k: what a batch-32
 * decode step does with every expert (32 tokens × top-4 over 16 experts is 8 rows an expert on
 * average) and with its dense weights (32 rows). Such a product reads each weight once and does
 * 2·rows FLOPs per 4 bytes. A GEMM library packs the weight first (a second pass over it, per call
 * and per expert), and onnxruntime's pre-packed session ran moge-small's expert products at
 * ≈ 50 GFLOP/s. Here each block of 4 weight rows is read once from memory, asked for PREFETCH_ROWS
 * rows ahead, and used from registers against every row of X: running dot products along k, summed
 * across lanes once per output by a shuffle tree (tools/bench/few_rows_bandwidth.c has the figures).
 * The same kernels serve products per batch (a decode step's attention over each sequence's cached
 * keys, Y_b = X_b·K_bᵀ), and a second tile, Y = X·W with W k × n, its other half (probabilities
 * times cached values) and the MoE combine: where a loop of sgemm calls paid ≈ 1.5 µs a call.
 *
 * One instantiation per instruction set (vector-kernels.c includes this once per set, after
 * defining VEC (LANES floats, 8 or 16), IVEC (LANES int32s), LANES, TILE_ROWS (rows of X per tile: 4
 * with 32 vector registers, 2 with 16), ISA_ATTR (the attribute selecting the set, may be empty) and
 * SUFFIX(name) (the instantiation's name for `name`). A tile is TILE_ROWS rows of X against 4 rows
 * of W: TILE_ROWS × 4 running dot products, each weight vector loaded once per step and used
 * TILE_ROWS times, each X vector 4 times.
 */

/* What every instantiation shares, defined once. */
#ifndef MOGE_FEW_ROWS_SHARED
#define MOGE_FEW_ROWS_SHARED

/* Weight rows asked for ahead of the 4-row block being read (tools/bench/few_rows_bandwidth.c). */
enum { PREFETCH_ROWS = 8 };

#if defined(__clang__) || __GNUC__ >= 12
#define SHUFFLE8(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define SHUFFLE8(a, b, ...) __builtin_shuffle(a, b, (i32x8){__VA_ARGS__})
#endif
/* Lanes {a0+a1, b0+b1, a2+a3, b2+b3, …}; then {Σa[0..3], Σb[0..3], Σc[0..3], Σd[0..3], Σa[4..7], …} from two of those. */
#define PAIRS8(a, b) (SHUFFLE8(a, b, 0, 8, 2, 10, 4, 12, 6, 14) + SHUFFLE8(a, b, 1, 9, 3, 11, 5, 13, 7, 15))
#define QUADS8(a, b) (SHUFFLE8(a, b, 0, 1, 8, 9, 4, 5, 12, 13) + SHUFFLE8(a, b, 2, 3, 10, 11, 6, 7, 14, 15))

INLINE f32x4 load4(const float *p) {
  f32x4 v;
  memcpy(&v, p, sizeof v);
  return v;
}

INLINE void store4(float *p, f32x4 v) { memcpy(p, &v, sizeof v); }

INLINE f32x4 low4(f32x8 v) {
  f32x4 h;
  memcpy(&h, &v, sizeof h);
  return h;
}

INLINE f32x4 high4(f32x8 v) {
  f32x4 h;
  memcpy(&h, (const char *)&v + sizeof h, sizeof h);
  return h;
}

/* Asks for lines first .. first + count - 1 (of 64 bytes) of the `total` lines at `block`. */
INLINE void prefetch_lines(const char *block, int first, int count, int total) {
  for (int line = first; line < first + count && line < total; line++) __builtin_prefetch(block + (size_t)64 * line, 0, 3);
}

/* Y[r, 0] = X[r]·w + bias for one row w of W (when n is not a multiple of 4): plain loops. */
static void single_row_of_w(int rows, int k, const float *w, const float *x, float *y, int ldy, float bias) {
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * k;
    float s = 0.0f;
    for (int o = 0; o < k; o++) s += xr[o] * w[o];
    y[(size_t)r * ldy] = s + bias;
  }
}

/* Y[r, 0] = X[r]·w for one column w of W (row stride ldw; when n is not a multiple of the lanes). */
static void single_column_of_w(int rows, int k, const float *w, int ldw, const float *x, float *y, int ldy) {
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * k;
    float s = 0.0f;
    for (int o = 0; o < k; o++) s += xr[o] * w[(size_t)o * ldw];
    y[(size_t)r * ldy] = s;
  }
}

#endif

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

/*
 * Y[i, c·LANES .. (c+1)·LANES) = X[i]·W[:, those columns] for R ≤ TILE_ROWS rows i of X (row stride
 * k) and C ≤ 4 vectors of columns from w (W's row stride ldw), Y's row stride ldy: each step down
 * W loads C vectors of one row and adds them, times X's value broadcast, to R × C sums. R and C are
 * constants at every call.
 */
ISA_ATTR INLINE void SUFFIX(tile_w)(const int R, const int C, int k, const float *w, int ldw, const float *x, float *y, int ldy) {
  VEC a[TILE_ROWS][4];
  for (int i = 0; i < R; i++)
    for (int c = 0; c < C; c++) a[i][c] = (VEC){0};
  for (int o = 0; o < k; o++) {
    const float *wo = w + (size_t)o * ldw;
    VEC q[4];
    for (int c = 0; c < C; c++) q[c] = SUFFIX(load)(wo + c * LANES);
    for (int i = 0; i < R; i++) {
      const float xi = x[(size_t)i * k + o];
      for (int c = 0; c < C; c++) a[i][c] += q[c] * xi;
    }
  }
  for (int i = 0; i < R; i++)
    for (int c = 0; c < C; c++) memcpy(y + (size_t)i * ldy + c * LANES, &a[i][c], sizeof a[i][c]);
}

/* The rows of X in tiles of TILE_ROWS (then 2, then 1) against C vectors of W's columns from w. */
ISA_ATTR INLINE void SUFFIX(row_tiles_w)(const int C, int rows, int k, const float *w, int ldw, const float *x, float *y, int ldy) {
  int r = 0;
  for (; r + TILE_ROWS <= rows; r += TILE_ROWS) SUFFIX(tile_w)(TILE_ROWS, C, k, w, ldw, x + (size_t)r * k, y + (size_t)r * ldy, ldy);
#if TILE_ROWS == 4
  if (r + 2 <= rows) {
    SUFFIX(tile_w)(2, C, k, w, ldw, x + (size_t)r * k, y + (size_t)r * ldy, ldy);
    r += 2;
  }
#endif
  if (r < rows) SUFFIX(tile_w)(1, C, k, w, ldw, x + (size_t)r * k, y + (size_t)r * ldy, ldy);
}

/*
 * Y (rows × n) = X (rows × k)·W (k × n, row-major): columns in blocks of 4 vectors, then single
 * vectors, then one at a time. Reads W row after row (the hardware's stream prefetch suffices).
 */
ISA_ATTR static void SUFFIX(rows_times_w)(int rows, int k, int n, const float *w, const float *x, float *y) {
  int j = 0;
  for (; j + 4 * LANES <= n; j += 4 * LANES) SUFFIX(row_tiles_w)(4, rows, k, w + j, n, x, y + j, n);
  for (; j + LANES <= n; j += LANES) SUFFIX(row_tiles_w)(1, rows, k, w + j, n, x, y + j, n);
  for (; j < n; j++) single_column_of_w(rows, k, w + j, n, x, y + j, n);
}
