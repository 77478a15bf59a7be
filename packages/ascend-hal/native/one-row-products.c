/*
 * One-row f32 products, y = alpha·op(W)·x + beta·y: what a batch-1 decode step does with every
 * weight matrix. Such a product reads each weight once and does 2 FLOPs per 4 bytes, so its speed is
 * how fast one core streams the weights from memory. OpenBLAS's sgemv streams them at 16–18 GB/s on
 * this project's Zen 5 host; a kernel that asks for the rows it will read 16 rows ahead (a software
 * prefetch) streams them at 24–27 GB/s (tools/bench/gemv_bandwidth.c), and a batch-1 decode step
 * of moge-small ran ≈ 1.3× as fast with these kernels (packages/model/bench/native-rows-ab.ts).
 * WebAssembly has no prefetch instruction, hence C.
 *
 * Portable C (GCC/Clang vector extensions, 4 floats wide: SSE on x86-64, NEON on arm64; 4 wide
 * streamed as fast as 16 wide), compiled at install by scripts/build-native.mjs without
 * -march=native so the library runs on any CPU of its architecture. Loaded through koffi by
 * src/backend/native/native-kernels.ts; without it the products stay on OpenBLAS.
 */
#include <stddef.h>
#include <string.h>

typedef float f32x4 __attribute__((vector_size(16)));

/* Rows asked for ahead of the ones being read (16 KB ahead on moge-small's 256-float rows): the
 * best of 4, 8, 16 and 32 rows in a moge-small decode step. */
enum { PREFETCH_ROWS = 16 };

static inline f32x4 load4(const float *p) {
  f32x4 v;
  memcpy(&v, p, sizeof v); /* an unaligned load (movups / ld1) */
  return v;
}

static inline void store4(float *p, f32x4 v) { memcpy(p, &v, sizeof v); }

static inline float lane_sum(f32x4 v) { return (v[0] + v[1]) + (v[2] + v[3]); }

/* Asks for the 4 cache lines (of 64 bytes) at block + at, 4 rows' worth of one 4-float step every 4 steps. */
static inline void prefetch_lines(const char *block, size_t at) {
  for (int line = 0; line < 4; line++) __builtin_prefetch(block + at + 64 * line, 0, 3);
}

static inline float scaled(float sum, float alpha, float beta, float y) {
  return beta == 0.0f ? alpha * sum : alpha * sum + beta * y;
}

/*
 * y = alpha·W·x + beta·y with W rows × k, row-major, ldw floats between row starts: four rows at a
 * time, each a running dot product with x. Four rows of k floats are 16·k bytes read in k/4 steps,
 * so 4 lines every 4 steps cover the block PREFETCH_ROWS rows ahead (exactly when ldw = k; a padded
 * ldw leaves the prefetch slightly short, never wrong). Rows past the last are asked for at `after`
 * (the matrix the caller reads next; a prefetch of any address is harmless).
 */
static void gemv_rows(int rows, int k, float alpha, const float *w, int ldw, const float *x, float beta, float *y, const float *after) {
  const int k4 = k & ~3;
  int r = 0;
  for (; r + 4 <= rows; r += 4) {
    const float *w0 = w + (size_t)r * ldw, *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;
    const int ahead_row = r + PREFETCH_ROWS;
    const char *ahead = (const char *)(ahead_row < rows ? w + (size_t)ahead_row * ldw : after + (size_t)(ahead_row - rows) * ldw);
    f32x4 a0 = {0, 0, 0, 0}, a1 = a0, a2 = a0, a3 = a0;
    int o = 0;
    for (; o < k4; o += 4) {
      if ((o & 15) == 0) prefetch_lines(ahead, (size_t)16 * o);
      const f32x4 xv = load4(x + o);
      a0 += load4(w0 + o) * xv;
      a1 += load4(w1 + o) * xv;
      a2 += load4(w2 + o) * xv;
      a3 += load4(w3 + o) * xv;
    }
    float s0 = lane_sum(a0), s1 = lane_sum(a1), s2 = lane_sum(a2), s3 = lane_sum(a3);
    for (; o < k; o++) s0 += w0[o] * x[o], s1 += w1[o] * x[o], s2 += w2[o] * x[o], s3 += w3[o] * x[o];
    y[r] = scaled(s0, alpha, beta, y[r]);
    y[r + 1] = scaled(s1, alpha, beta, y[r + 1]);
    y[r + 2] = scaled(s2, alpha, beta, y[r + 2]);
    y[r + 3] = scaled(s3, alpha, beta, y[r + 3]);
  }
  for (; r < rows; r++) {
    const float *w0 = w + (size_t)r * ldw;
    float s = 0.0f;
    for (int o = 0; o < k; o++) s += w0[o] * x[o];
    y[r] = scaled(s, alpha, beta, y[r]);
  }
}

/* y = alpha·W·x + beta·y with W rows × k, row-major (row stride ldw). */
void moge_gemv_rows(int rows, int k, float alpha, const float *w, int ldw, const float *x, float beta, float *y) {
  gemv_rows(rows, k, alpha, w, ldw, x, beta, y, w + (size_t)rows * ldw);
}

/*
 * A grouped matmul whose groups each got at most one row (a batch-1 decode step's experts): for
 * each group g with a row i = offsets[g], y[i] (n) = W_g·x[i] (k), where W = [groups, n, k]. One call
 * for all groups, and the end of each group's matrix prefetches the start of the next group that
 * has a row (not the next in memory: 4 of 16 experts run), which moge_gemv_rows, called per group,
 * cannot know. Groups with more than one row are the caller's mistake and are left unwritten.
 */
void moge_gemv_rows_grouped(int groups, const int *offsets, int n, int k, const float *w, const float *x, float *y) {
  int g = 0;
  while (g < groups && offsets[g + 1] - offsets[g] != 1) g++;
  while (g < groups) {
    int next = g + 1;
    while (next < groups && offsets[next + 1] - offsets[next] != 1) next++;
    const float *wg = w + (size_t)g * n * k;
    const float *after = next < groups ? w + (size_t)next * n * k : wg + (size_t)n * k;
    const int row = offsets[g];
    gemv_rows(n, k, 1.0f, wg, k, x + (size_t)row * k, 0.0f, y + (size_t)row * n, after);
    g = next;
  }
}

/*
 * y = alpha·Wᵀ·x + beta·y with W k × n, row-major, ldw floats between row starts: y (n floats, in
 * L1 at decode widths) gathers four scaled rows of W at a time; the prefetch runs as in
 * moge_gemv_rows, over the 4-row block PREFETCH_ROWS rows ahead.
 */
void moge_gemv_columns(int k, int n, float alpha, const float *w, int ldw, const float *x, float beta, float *y) {
  if (beta == 0.0f) memset(y, 0, (size_t)n * sizeof *y);
  else if (beta != 1.0f)
    for (int j = 0; j < n; j++) y[j] *= beta;
  const int n4 = n & ~3;
  int r = 0;
  for (; r + 4 <= k; r += 4) {
    const float *w0 = w + (size_t)r * ldw, *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;
    const char *ahead = (const char *)(w0 + (size_t)PREFETCH_ROWS * ldw);
    const float c0 = alpha * x[r], c1 = alpha * x[r + 1], c2 = alpha * x[r + 2], c3 = alpha * x[r + 3];
    const f32x4 x0 = {c0, c0, c0, c0}, x1 = {c1, c1, c1, c1}, x2 = {c2, c2, c2, c2}, x3 = {c3, c3, c3, c3};
    int j = 0;
    for (; j < n4; j += 4) {
      if ((j & 15) == 0) prefetch_lines(ahead, (size_t)16 * j);
      store4(y + j, load4(y + j) + ((load4(w0 + j) * x0 + load4(w1 + j) * x1) + (load4(w2 + j) * x2 + load4(w3 + j) * x3)));
    }
    for (; j < n; j++) y[j] += (w0[j] * c0 + w1[j] * c1) + (w2[j] * c2 + w3[j] * c3);
  }
  for (; r < k; r++) {
    const float *w0 = w + (size_t)r * ldw;
    const float c = alpha * x[r];
    for (int j = 0; j < n; j++) y[j] += w0[j] * c;
  }
}
