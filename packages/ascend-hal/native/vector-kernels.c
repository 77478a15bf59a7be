/*
 * moge's vector kernels, each written once in portable vector C (GCC/Clang vector extensions) and
 * instantiated per instruction set: on x86-64 with GCC or Clang an AVX-512 instantiation (16 lanes,
 * 32 vector registers), an AVX2 + FMA one (8 lanes, 16 registers) and the baseline one (8 lanes as
 * SSE2 pairs), picked at run time by what the CPU has; elsewhere the baseline one (NEON pairs on
 * arm64). So the library stays runnable on any CPU of its architecture (scripts/build-native.mjs
 * has no -march). With FMA the sums round once per multiply-add instead of twice: results differ
 * between instantiations in the last bits, as any two BLAS builds do.
 *
 *   few-rows-tile.h   products of a few rows against a weight: dense, grouped (the MoE experts) and
 *                     per batch (decode attention, the MoE combine)
 *   pointwise-tile.h  SwiGLU, softmax (causal or not), RMSNorm and their backwards; affine, axpy
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define INLINE static inline __attribute__((always_inline))

/* GCC notes that passing 32- and 64-byte vectors by value changed ABI in GCC 4.6: only between
 * these always-inlined static helpers, never across the library's interface (plain pointers and ints). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

typedef float f32x4 __attribute__((vector_size(16)));
typedef float f32x8 __attribute__((vector_size(32)));
typedef int32_t i32x8 __attribute__((vector_size(32)));
typedef double f64x8 __attribute__((vector_size(64)));

/* The baseline instantiation: 8 lanes (SSE2 pairs on x86-64, NEON pairs on arm64), 2-row tiles. */
#define VEC f32x8
#define IVEC i32x8
#define DVEC f64x8
#define LANES 8
#define TILE_ROWS 2
#define ISA_ATTR
#define SUFFIX(name) name##_baseline
#include "instantiate.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_X86_INSTANTIATIONS 1
/* AVX2 + FMA (x86-64-v3): 16 vector registers, so 2-row tiles of 8 lanes. */
#define VEC f32x8
#define IVEC i32x8
#define DVEC f64x8
#define LANES 8
#define TILE_ROWS 2
#define ISA_ATTR __attribute__((target("avx2,fma")))
#define SUFFIX(name) name##_avx2
#include "instantiate.h"

/* AVX-512: 32 vector registers, so 4-row tiles of 16 lanes (16 accumulators, 4 weights, 1 row). */
typedef float f32x16 __attribute__((vector_size(64)));
typedef int32_t i32x16 __attribute__((vector_size(64)));
typedef double f64x16 __attribute__((vector_size(128)));
#define VEC f32x16
#define IVEC i32x16
#define DVEC f64x16
#define LANES 16
#define TILE_ROWS 4
#define ISA_ATTR __attribute__((target("avx512f,avx2,fma")))
#define SUFFIX(name) name##_avx512
#include "instantiate.h"
#endif

typedef void RowsTimesWt(int rows, int n, int k, const float *w, const float *x, float *y, int ldy, const float *bias, const float *after);
typedef void RowsTimesW(int rows, int k, int n, const float *w, const float *x, float *y);
typedef void Swiglu(const float *g, const float *u, float *y, int n);
typedef void SwigluBackward(const float *g, const float *u, const float *dy, float *dg, float *du, int n);
typedef void SoftmaxRows(const float *x, float *y, int rows, int cols, int sq);
typedef void SoftmaxBackwardRows(const float *y, const float *dy, float *dx, int rows, int cols);
typedef void Affine(const float *x, float *y, int n, float scale, float shift);
typedef void Axpy(float *y, const float *x, int n, float alpha);
typedef void RmsNormRows(const float *x, const float *w, float *y, float *inv, int rows, int cols, float eps);
typedef void RmsNormBackwardRows(const float *x, const float *w, const float *inv, const float *dy, float *dx, double *dw, int rows, int cols);

/* One instantiation's kernels. */
typedef struct {
  const char *name;
  RowsTimesWt *times_wt;
  RowsTimesW *times_w;
  Swiglu *swiglu;
  SwigluBackward *swiglu_backward;
  SoftmaxRows *softmax_rows;
  SoftmaxBackwardRows *softmax_backward_rows;
  Affine *affine;
  Axpy *axpy;
  RmsNormRows *rms_norm_rows;
  RmsNormBackwardRows *rms_norm_backward_rows;
} Isa;

#define ISA(label, suffix)                                                                                              \
  {label,                                                                                                                \
   rows_times_wt_##suffix,                                                                                               \
   rows_times_w_##suffix,                                                                                                \
   swiglu_##suffix,                                                                                                      \
   swiglu_backward_##suffix,                                                                                             \
   softmax_rows_##suffix,                                                                                                \
   softmax_backward_rows_##suffix,                                                                                       \
   affine_##suffix,                                                                                                      \
   axpy_##suffix,                                                                                                        \
   rms_norm_rows_##suffix,                                                                                               \
   rms_norm_backward_rows_##suffix}
static const Isa BASELINE = ISA("baseline", baseline);
#ifdef HAVE_X86_INSTANTIATIONS
static const Isa AVX2 = ISA("avx2", avx2);
static const Isa AVX512 = ISA("avx512", avx512);
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

/* The instantiation in use: the best for this CPU unless moge_vector_isa_select chose another. */
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

/* y = silu(g)·u over n floats. */
void moge_swiglu(const float *g, const float *u, float *y, int n) { isa()->swiglu(g, u, y, n); }

/* For y = silu(g)·u over n floats: dG and dU from dy. */
void moge_swiglu_backward(const float *g, const float *u, const float *dy, float *dg, float *du, int n) { isa()->swiglu_backward(g, u, dy, dg, du, n); }

/* Softmax of each row of x (rows × cols) into y; causal over [.., sq, cols] blocks when sq > 0. */
void moge_softmax_rows(const float *x, float *y, int rows, int cols, int sq) { isa()->softmax_rows(x, y, rows, cols, sq); }

/* dx = y · (dy − Σ dy·y) per row (rows × cols). */
void moge_softmax_backward_rows(const float *y, const float *dy, float *dx, int rows, int cols) {
  isa()->softmax_backward_rows(y, dy, dx, rows, cols);
}

/* y = x·scale + shift over n floats. */
void moge_affine(const float *x, float *y, int n, float scale, float shift) { isa()->affine(x, y, n, scale, shift); }

/* y += alpha·x over n floats, in place. */
void moge_axpy(float *y, const float *x, int n, float alpha) { isa()->axpy(y, x, n, alpha); }

/* RMSNorm of each row (rows × cols): y = w·(x·r), r = 1/√(mean(x²) + eps) into inv. */
void moge_rms_norm_rows(const float *x, const float *w, float *y, float *inv, int rows, int cols, float eps) {
  isa()->rms_norm_rows(x, w, y, inv, rows, cols, eps);
}

/* RMSNorm's backward: dx (rows × cols), and dW accumulated into dw (cols doubles, zeroed by the caller). */
void moge_rms_norm_backward_rows(const float *x, const float *w, const float *inv, const float *dy, float *dx, double *dw, int rows, int cols) {
  isa()->rms_norm_backward_rows(x, w, inv, dy, dx, dw, rows, cols);
}

/* Which instantiation runs ("avx512", "avx2" or "baseline"). */
const char *moge_vector_isa(void) { return isa()->name; }

/*
 * Runs the instantiation named `name` from now on, or the best for this CPU for "" — so that tests
 * cover every instantiation the CPU can run, not only the one it picks. Returns 0, changing
 * nothing, for a name unknown here or an instruction set the CPU lacks.
 */
int moge_vector_isa_select(const char *name) {
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
