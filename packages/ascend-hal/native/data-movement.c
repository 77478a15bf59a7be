/*
 * Moving tensor data without arithmetic, over 4-byte elements (f32 or i32 alike): the transposes of
 * attention (which keep the last axis in place, so data moves in runs of a head's D elements) and
 * row gathers (the MoE dispatch's expert-sorted copy of the tokens), and strided row copies (column
 * slices and concatenations). In JS each run or row costs a
 * subarray view plus TypedArray.set, ≈ 85 ns for a 64-float run, so a training step of moge-small
 * spent ≈ 30 ms in them; here a run is a memcpy.
 *
 * The caller (src/backend/native/native-data-movement.ts) validates shapes, permutations and
 * indices before calling: nothing here checks bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The most leading axes moge_copy_runs walks (the caller keeps larger ranks in JS). */
enum { COPY_RUNS_MAX_LEAD = 8 };

/*
 * dst = src permuted along its leading axes, the last axis in place: `runs` runs of `run` elements,
 * run r of dst read from src at the position an odometer over the `lead` leading axes of dst reaches
 * after r steps, with dst's leading shape `shape` and the matching src strides `strides` (elements).
 */
void moge_copy_runs(const void *src, void *dst, int runs, int run, int lead, const int *shape, const int *strides) {
  const uint32_t *from = (const uint32_t *)src;
  uint32_t *to = (uint32_t *)dst;
  int coord[COPY_RUNS_MAX_LEAD] = {0};
  ptrdiff_t at = 0;
  const size_t bytes = (size_t)run * sizeof(uint32_t);
  for (int r = 0; r < runs; r++) {
    memcpy(to + (size_t)r * run, from + at, bytes);
    for (int ax = lead - 1; ax >= 0; ax--) {
      coord[ax]++;
      at += strides[ax];
      if (coord[ax] < shape[ax]) break;
      at -= (ptrdiff_t)strides[ax] * coord[ax];
      coord[ax] = 0;
    }
  }
}

/* dst row i = table row index[i], rows of d elements. */
void moge_gather_rows(const void *table, void *dst, const int *index, int n, int d) {
  const uint32_t *from = (const uint32_t *)table;
  uint32_t *to = (uint32_t *)dst;
  const size_t bytes = (size_t)d * sizeof(uint32_t);
  for (int i = 0; i < n; i++) memcpy(to + (size_t)i * d, from + (size_t)index[i] * d, bytes);
}

/*
 * `rows` rows of `width` elements from src (row stride src_stride elements) to dst (row stride
 * dst_stride): the column slices, concatenations and in-place column writes of a decode step's
 * attention and KV cache (Backend.sliceColumns / concatColumns / writeColumns), a memcpy a row.
 */
void moge_copy_strided(const void *src, int src_stride, void *dst, int dst_stride, int rows, int width) {
  const uint32_t *from = (const uint32_t *)src;
  uint32_t *to = (uint32_t *)dst;
  const size_t bytes = (size_t)width * sizeof(uint32_t);
  for (int r = 0; r < rows; r++) memcpy(to + (size_t)r * dst_stride, from + (size_t)r * src_stride, bytes);
}

/*
 * dst row index[i] += src row i, rows of d floats, in order (a repeated index adds up): the
 * embedding's gradient and the MoE combine's backward (Backend.scatterAddRows), without copying the
 * whole table into WebAssembly memory and back. The caller checks the indices.
 */
void moge_scatter_add_rows(float *dst, const float *src, const int *index, int n, int d) {
  for (int i = 0; i < n; i++) {
    float *to = dst + (size_t)index[i] * d;
    const float *from = src + (size_t)i * d;
    for (int j = 0; j < d; j++) to[j] += from[j];
  }
}
