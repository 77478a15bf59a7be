/*
 * How fast one core can stream moge-small's f32 weights through batch-1 products (y = W·x), by
 * kernel: the question behind batch-1 f32 decode (packages/model/README.md). It replays a decode
 * token's products — per layer q, k, v, o, the shared expert's gate, up and down, and 4 of 16
 * experts' gate, up and down (one per group of 4, at random); then the head — over one 93.8 MB block
 * laid out like the model's weights, 37.2 MB read a token, and times them with
 *   openblas    cblas_sgemv on row-major W, what @moge/ascend-hal calls through koffi;
 *   openblas-t  cblas_sgemv on W stored transposed (OpenBLAS's other kernel);
 *   avx512      a plain 4-row AVX-512 kernel;
 *   avx512-pf   the same with a software prefetch PF rows ahead;
 *   sse128-pf   the same in 128-bit vectors, the width WebAssembly SIMD has.
 * The lever it measured is now @moge/ascend-hal's own one-row kernel
 * (packages/ascend-hal/native/one-row-products.c: the sse128-pf kernel in portable vector C, 16 rows
 * ahead), compiled at install; this harness stays the measurement behind it.
 *
 *   gcc -O3 -march=native tools/bench/gemv_bandwidth.c -o /tmp/gemv_bandwidth \
 *     /usr/lib/x86_64-linux-gnu/libopenblas.so.0 && /tmp/gemv_bandwidth [PF rows, default 8]
 *
 * Needs an AVX-512 CPU. Prints the median over 5 rounds (kernels alternating within a round) of the
 * time of a token and the bytes a second it reads.
 */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void cblas_sgemv(int order, int trans, int m, int n, float alpha, const float *a, int lda, const float *x,
                 int incx, float beta, float *y, int incy);
void openblas_set_num_threads(int);
enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

static int prefetch_rows = 8;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

/* rows is a multiple of 4, k of 16 (true of every moge-small matrix). */
static void gemv_avx512(const float *w, int rows, int k, const float *x, float *y, int prefetch) {
  for (int r = 0; r < rows; r += 4) {
    const float *w0 = w + (size_t)r * k, *w1 = w0 + k, *w2 = w1 + k, *w3 = w2 + k;
    const char *ahead = (const char *)(w0 + (size_t)prefetch_rows * k);
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int o = 0; o < k; o += 16) {
      __m512 xv = _mm512_loadu_ps(x + o);
      /* A 4-row block is 16·k bytes read in k/16 steps: 4 cache lines a step cover it. */
      if (prefetch)
        for (int line = 0; line < 4; line++) _mm_prefetch(ahead + 16 * o + 64 * line, _MM_HINT_T0);
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + o), xv, a0);
      a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w1 + o), xv, a1);
      a2 = _mm512_fmadd_ps(_mm512_loadu_ps(w2 + o), xv, a2);
      a3 = _mm512_fmadd_ps(_mm512_loadu_ps(w3 + o), xv, a3);
    }
    y[r] = _mm512_reduce_add_ps(a0);
    y[r + 1] = _mm512_reduce_add_ps(a1);
    y[r + 2] = _mm512_reduce_add_ps(a2);
    y[r + 3] = _mm512_reduce_add_ps(a3);
  }
}

static float lanes(__m128 v) {
  float t[4];
  _mm_storeu_ps(t, v);
  return t[0] + t[1] + t[2] + t[3];
}

static void gemv_sse128_pf(const float *w, int rows, int k, const float *x, float *y) {
  for (int r = 0; r < rows; r += 4) {
    const float *w0 = w + (size_t)r * k, *w1 = w0 + k, *w2 = w1 + k, *w3 = w2 + k;
    const char *ahead = (const char *)(w0 + (size_t)prefetch_rows * k);
    __m128 a0 = _mm_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int o = 0; o < k; o += 4) {
      __m128 xv = _mm_loadu_ps(x + o);
      if ((o & 15) == 0)
        for (int line = 0; line < 4; line++) _mm_prefetch(ahead + 16 * o + 64 * line, _MM_HINT_T0);
      a0 = _mm_add_ps(a0, _mm_mul_ps(_mm_loadu_ps(w0 + o), xv));
      a1 = _mm_add_ps(a1, _mm_mul_ps(_mm_loadu_ps(w1 + o), xv));
      a2 = _mm_add_ps(a2, _mm_mul_ps(_mm_loadu_ps(w2 + o), xv));
      a3 = _mm_add_ps(a3, _mm_mul_ps(_mm_loadu_ps(w3 + o), xv));
    }
    y[r] = lanes(a0);
    y[r + 1] = lanes(a1);
    y[r + 2] = lanes(a2);
    y[r + 3] = lanes(a3);
  }
}

enum { OPENBLAS, OPENBLAS_T, AVX512, AVX512_PF, SSE128_PF, KERNELS };
static const char *names[KERNELS] = {"openblas", "openblas-t", "avx512", "avx512-pf", "sse128-pf"};

typedef struct {
  float *w;
  int rows, k;
} Matrix;

static void product(int kernel, const Matrix *m, const float *x, float *y) {
  switch (kernel) {
    case OPENBLAS: cblas_sgemv(ROW_MAJOR, NO_TRANS, m->rows, m->k, 1.f, m->w, m->k, x, 1, 0.f, y, 1); break;
    /* The same bytes read as W stored k × rows: OpenBLAS's axpy-style kernel instead of its dot-style one. */
    case OPENBLAS_T: cblas_sgemv(ROW_MAJOR, TRANS, m->k, m->rows, 1.f, m->w, m->rows, x, 1, 0.f, y, 1); break;
    case AVX512: gemv_avx512(m->w, m->rows, m->k, x, y, 0); break;
    case AVX512_PF: gemv_avx512(m->w, m->rows, m->k, x, y, 1); break;
    default: gemv_sse128_pf(m->w, m->rows, m->k, x, y);
  }
}

enum { LAYERS = 6, EXPERTS = 16, GROUPS = 4, PER_LAYER = 7 + 3 * EXPERTS, TOKENS = 200, ROUNDS = 5 };

static int by_value(const void *a, const void *b) {
  double d = *(const double *)a - *(const double *)b;
  return (d > 0) - (d < 0);
}

int main(int argc, char **argv) {
  openblas_set_num_threads(1);
  if (argc > 1) prefetch_rows = atoi(argv[1]);
  Matrix m[LAYERS * PER_LAYER + 1];
  int n = 0;
  size_t total = 0;
#define ADD(R, K) (m[n].rows = (R), m[n].k = (K), total += (size_t)(R) * (K), n++)
  for (int l = 0; l < LAYERS; l++) {
    ADD(256, 256), ADD(128, 256), ADD(128, 256), ADD(256, 256); /* q, k, v, o */
    ADD(512, 256), ADD(512, 256), ADD(256, 512);                /* shared expert gate, up, down */
    for (int e = 0; e < EXPERTS; e++) ADD(256, 256), ADD(256, 256), ADD(256, 256); /* expert gate, up, down */
  }
  ADD(4096, 256); /* head */
  float *block = aligned_alloc(64, total * 4 + 64 * 1024); /* prefetches may run past the last matrix */
  for (size_t i = 0; i < total; i++) block[i] = (float)(i % 97) * 1e-3f;
  size_t at = 0;
  for (int i = 0; i < n; i++) m[i].w = block + at, at += (size_t)m[i].rows * m[i].k;
  static float x[4096], y[4096];
  for (int i = 0; i < 4096; i++) x[i] = 1.f;

  double ms[KERNELS][ROUNDS], bytes = 0;
  srand(1);
  for (int round = 0; round < ROUNDS; round++) {
    for (int kernel = 0; kernel < KERNELS; kernel++) {
      bytes = 0;
      double t0 = now();
      for (int token = 0; token < TOKENS; token++) {
        for (int l = 0; l < LAYERS; l++) {
          const Matrix *layer = m + l * PER_LAYER;
          for (int j = 0; j < 7; j++) product(kernel, &layer[j], x, y), bytes += layer[j].rows * layer[j].k * 4.0;
          for (int g = 0; g < GROUPS; g++) {
            const Matrix *expert = layer + 7 + 3 * (g * (EXPERTS / GROUPS) + rand() % (EXPERTS / GROUPS));
            for (int j = 0; j < 3; j++) product(kernel, &expert[j], x, y), bytes += expert[j].rows * expert[j].k * 4.0;
          }
        }
        product(kernel, &m[n - 1], x, y), bytes += m[n - 1].rows * m[n - 1].k * 4.0;
      }
      ms[kernel][round] = (now() - t0) / TOKENS * 1e3;
    }
  }
  printf("%.1f MB of weights, %.1f MB read a token, prefetch %d rows ahead; median of %d rounds\n", total * 4 / 1e6,
         bytes / TOKENS / 1e6, prefetch_rows, ROUNDS);
  for (int kernel = 0; kernel < KERNELS; kernel++) {
    qsort(ms[kernel], ROUNDS, sizeof(double), by_value);
    double median = ms[kernel][ROUNDS / 2];
    printf("%-11s %.3f ms a token  %5.1f GB/s\n", names[kernel], median, bytes / TOKENS / median / 1e6);
  }
  return 0;
}
