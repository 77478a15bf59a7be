/*
 * How fast one core runs a batch-32 decode step's expert products of moge-small (the question behind
 * packages/ascend-hal/native/vector-kernels.c): per layer, 32 tokens each routed to one expert
 * in every group of 4 (MoGE top-4 of 16, at random), so ≈ 8 rows an expert, times each expert's
 * gate, up and down weights (256 × 256). Six layers' weights are one 75.5 MB block, so they come
 * from memory as in the model. Kernels, alternating within a round:
 *   openblas   cblas_sgemm per expert with rows (X·Wᵀ), what @moge/ascend-hal called through koffi;
 *   few-rows   moge_few_rows_grouped, one call per product (the instantiation the CPU picks: AVX-512, AVX2 or baseline).
 * onnxruntime's pre-packed session is measured in the model instead (packages/model/bench/op-profile.ts).
 *
 *   gcc -O3 tools/bench/few_rows_bandwidth.c -o /tmp/few_rows_bandwidth \
 *     /usr/lib/x86_64-linux-gnu/libopenblas.so.0 && /tmp/few_rows_bandwidth
 *
 * Prints, per kernel, the median over 7 rounds of a step's expert products and the weight bytes a
 * second, and the largest difference between the two kernels' outputs. On this project's host (AMD
 * Zen 5, 1 thread, 2026-12-02; the AVX-512 instantiation), four runs: openblas 7.6–8.3 ms a step
 * (9–10 GB/s), few-rows 4.1–4.4 ms (17–18 GB/s), outputs within 4e-6. The first versions of the
 * kernel, 8 lanes with scalar lane sums, ran 5.8 ms: on warm weights they computed at ≈ 57 GFLOP/s,
 * the shuffle-tree sums and 4 × 4 tiles of 16 lanes at ≈ 135.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../../packages/ascend-hal/native/vector-kernels.c"

void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                 int ldb, float beta, float *c, int ldc);
void openblas_set_num_threads(int);
enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };
enum { LAYERS = 6, MATS = 3, EXPERTS = 16, GROUPS = 4, TOP = 4, TOKENS = 32, D = 256, ROUNDS = 7, STEPS = 20 };

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static int by_value(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void openblas_grouped(const int *offsets, const float *w, const float *x, float *y) {
  for (int g = 0; g < EXPERTS; g++) {
    const int rows = offsets[g + 1] - offsets[g];
    if (rows == 0) continue;
    cblas_sgemm(ROW_MAJOR, NO_TRANS, TRANS, rows, D, D, 1.0f, x + (size_t)offsets[g] * D, D, w + (size_t)g * D * D, D, 0.0f,
                y + (size_t)offsets[g] * D, D);
  }
}

int main(void) {
  openblas_set_num_threads(1);
  const size_t per_matrix = (size_t)EXPERTS * D * D;
  float *w = malloc(sizeof(float) * per_matrix * LAYERS * MATS);
  for (size_t i = 0; i < per_matrix * LAYERS * MATS; i++) w[i] = (float)rand() / RAND_MAX - 0.5f;
  const int rows = TOKENS * TOP;
  float *x = malloc(sizeof(float) * rows * D), *y0 = malloc(sizeof(float) * rows * D), *y1 = malloc(sizeof(float) * rows * D);
  for (int i = 0; i < rows * D; i++) x[i] = (float)rand() / RAND_MAX - 0.5f;
  int offsets[LAYERS][EXPERTS + 1];
  for (int l = 0; l < LAYERS; l++) {
    int count[EXPERTS] = {0};
    for (int t = 0; t < TOKENS; t++)
      for (int g = 0; g < GROUPS; g++) count[g * (EXPERTS / GROUPS) + rand() % (EXPERTS / GROUPS)]++;
    offsets[l][0] = 0;
    for (int e = 0; e < EXPERTS; e++) offsets[l][e + 1] = offsets[l][e] + count[e];
  }
  double times[2][ROUNDS];
  float worst = 0.0f;
  for (int round = 0; round < ROUNDS; round++) {
    for (int kernel = 0; kernel < 2; kernel++) {
      const double start = now();
      for (int step = 0; step < STEPS; step++)
        for (int l = 0; l < LAYERS; l++)
          for (int m = 0; m < MATS; m++) {
            const float *wm = w + per_matrix * (l * MATS + m);
            if (kernel == 0) openblas_grouped(offsets[l], wm, x, y0);
            else moge_few_rows_grouped(EXPERTS, offsets[l], D, D, wm, x, y1);
          }
      times[kernel][round] = (now() - start) / STEPS;
    }
    for (int i = 0; i < rows * D; i++) worst = fmaxf(worst, fabsf(y0[i] - y1[i]));
  }
  const char *names[2] = {"openblas", "few-rows"};
  const double bytes = (double)sizeof(float) * per_matrix * LAYERS * MATS;
  for (int kernel = 0; kernel < 2; kernel++) {
    qsort(times[kernel], ROUNDS, sizeof(double), by_value);
    const double median = times[kernel][ROUNDS / 2];
    printf("%-9s %7.3f ms a step  %5.1f GB/s\n", names[kernel], median * 1e3, bytes / median / 1e9);
  }
  printf("largest |difference| %.3g\n", worst);
  return 0;
}
