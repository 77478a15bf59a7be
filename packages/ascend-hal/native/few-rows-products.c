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
 * Portable vector C, instantiated per instruction set from few-rows-tile.h: on x86-64 with GCC or
 * Clang an AVX-512 one (16 lanes, 4 × 4 tiles: 32 registers) and an AVX2 + FMA one (8 lanes, 2 × 4
 * tiles: 16 registers), picked at run time by what the CPU has, beside the baseline one (8 lanes,
 * 2 × 4), the only one elsewhere. So the library stays runnable on any CPU of its architecture
 * (scripts/build-native.mjs has no -march). With FMA the sums round once per multiply-add instead of
 * twice: results differ from other builds in the last bits, as any two BLAS builds do.
 */
#include <stddef.h>
#include <string.h>

#define INLINE static inline __attribute__((always_inline))

/* GCC notes that passing 32- and 64-byte vectors by value changed ABI in GCC 4.6: only between
 * these always-inlined static helpers, never across the library's interface (plain pointers and ints). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

typedef float f32x4 __attribute__((vector_size(16)));
typedef float f32x8 __attribute__((vector_size(32)));

/* Weight rows asked for ahead of the 4-row block being read (tools/bench/few_rows_bandwidth.c). */
enum { PREFETCH_ROWS = 8 };

#if defined(__clang__) || __GNUC__ >= 12
#define SHUFFLE8(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
typedef int i32x8 __attribute__((vector_size(32)));
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

/* The baseline instantiation: 8 lanes (SSE2 pairs on x86-64, NEON pairs on arm64), 2-row tiles. */
#define VEC f32x8
#define LANES 8
#define TILE_ROWS 2
#define ISA_ATTR
#define SUFFIX(name) name##_baseline
#include "few-rows-tile.h"
#undef VEC
#undef LANES
#undef TILE_ROWS
#undef ISA_ATTR
#undef SUFFIX

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_X86_INSTANTIATIONS 1
/* AVX2 + FMA (x86-64-v3): 16 vector registers, so 2-row tiles of 8 lanes. */
#define VEC f32x8
#define LANES 8
#define TILE_ROWS 2
#define ISA_ATTR __attribute__((target("avx2,fma")))
#define SUFFIX(name) name##_avx2
#include "few-rows-tile.h"
#undef VEC
#undef LANES
#undef TILE_ROWS
#undef ISA_ATTR
#undef SUFFIX

/* AVX-512: 32 vector registers, so 4-row tiles of 16 lanes (16 accumulators, 4 weights, 1 row). */
typedef float f32x16 __attribute__((vector_size(64)));
#define VEC f32x16
#define LANES 16
#define TILE_ROWS 4
#define ISA_ATTR __attribute__((target("avx512f,avx2,fma")))
#define SUFFIX(name) name##_avx512
#include "few-rows-tile.h"
#undef VEC
#undef LANES
#undef TILE_ROWS
#undef ISA_ATTR
#undef SUFFIX
#endif

typedef void RowsTimesWt(int rows, int n, int k, const float *w, const float *x, float *y, int ldy, const float *bias, const float *after);
typedef void RowsTimesW(int rows, int k, int n, const float *w, const float *x, float *y);

/* One instantiation's kernels. */
typedef struct {
  const char *name;
  RowsTimesWt *times_wt;
  RowsTimesW *times_w;
} Isa;

static const Isa BASELINE = {"baseline", rows_times_wt_baseline, rows_times_w_baseline};
#ifdef HAVE_X86_INSTANTIATIONS
static const Isa AVX2 = {"avx2", rows_times_wt_avx2, rows_times_w_avx2};
static const Isa AVX512 = {"avx512", rows_times_wt_avx512, rows_times_w_avx512};
#endif

static const Isa *chosen;

/* The best instantiation this CPU runs. */
static const Isa *best_for_cpu(void) {
#ifdef HAVE_X86_INSTANTIATIONS
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return &AVX512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &AVX2;
#endif
  return &BASELINE;
}

/* The instantiation in use: the best for this CPU unless moge_few_rows_select chose another. */
static const Isa *isa(void) {
  if (!chosen) chosen = best_for_cpu();
  return chosen;
}

/* Y (rows × n) = X (rows × k)·Wᵀ + bias, W n × k row-major; bias (n floats) may be NULL. */
void moge_few_rows_times_wt(int rows, int n, int k, const float *w, const float *x, const float *bias, float *y) {
  isa()->times_wt(rows, n, k, w, x, y, n, bias, w + (size_t)n * k);
}

/*
 * A grouped matmul, W = [groups, n, k]: rows offsets[g] .. offsets[g + 1] of X (k floats each) times
 * W_gᵀ into the same rows of Y (n floats each). One call for all groups, and the end of each group's
 * matrix prefetches the start of the next group that has rows (not the next in memory when experts
 * got no tokens), which a call per group cannot know.
 */
void moge_few_rows_grouped(int groups, const int *offsets, int n, int k, const float *w, const float *x, float *y) {
  RowsTimesWt *kernel = isa()->times_wt;
  int g = 0;
  while (g < groups && offsets[g + 1] == offsets[g]) g++;
  while (g < groups) {
    int next = g + 1;
    while (next < groups && offsets[next + 1] == offsets[next]) next++;
    const float *wg = w + (size_t)g * n * k;
    const float *after = next < groups ? w + (size_t)next * n * k : wg + (size_t)n * k;
    const int start = offsets[g];
    kernel(offsets[g + 1] - start, n, k, wg, x + (size_t)start * k, y + (size_t)start * n, n, NULL, after);
    g = next;
  }
}

/*
 * Products per batch, each of a few rows: Y_b (rows × n) = X_b (rows × k)·W_bᵀ, W_b n × k — a
 * decode step's attention scores, a query block against its cached keys. X, W and Y hold `batch`
 * such matrices back to back; each batch's keys prefetch the next batch's.
 */
void moge_batched_times_wt(int batch, int rows, int n, int k, const float *w, const float *x, float *y) {
  RowsTimesWt *kernel = isa()->times_wt;
  const size_t wb = (size_t)n * k, xb = (size_t)rows * k, yb = (size_t)rows * n;
  for (int b = 0; b < batch; b++) kernel(rows, n, k, w + b * wb, x + b * xb, y + b * yb, n, NULL, w + (b + 1) * wb);
}

/*
 * Products per batch, each of a few rows: Y_b (rows × n) = X_b (rows × k)·W_b, W_b k × n — a
 * decode step's attention output (probabilities times cached values) and the MoE combine (each
 * token's k expert outputs weighted by its routing scores).
 */
void moge_batched_times_w(int batch, int rows, int k, int n, const float *w, const float *x, float *y) {
  RowsTimesW *kernel = isa()->times_w;
  const size_t wb = (size_t)k * n, xb = (size_t)rows * k, yb = (size_t)rows * n;
  for (int b = 0; b < batch; b++) kernel(rows, k, n, w + b * wb, x + b * xb, y + b * yb);
}

/* Which instantiation runs ("avx512", "avx2" or "baseline"). */
const char *moge_few_rows_isa(void) { return isa()->name; }

/*
 * Runs the instantiation named `name` from now on, or the best for this CPU for "" — so that tests
 * cover every instantiation the CPU can run, not only the one it picks. Returns 0, changing
 * nothing, for a name unknown here or an instruction set the CPU lacks.
 */
int moge_few_rows_select(const char *name) {
  const Isa *best = best_for_cpu();
  const Isa *wanted = NULL;
  if (strcmp(name, "") == 0) wanted = best;
  else if (strcmp(name, "baseline") == 0) wanted = &BASELINE;
#ifdef HAVE_X86_INSTANTIATIONS
  else if (strcmp(name, "avx2") == 0 && best != &BASELINE) wanted = &AVX2;
  else if (strcmp(name, "avx512") == 0 && best == &AVX512) wanted = &AVX512;
#endif
  if (!wanted) return 0;
  chosen = wanted;
  return 1;
}
