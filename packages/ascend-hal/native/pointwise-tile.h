/*
 * The memory-bound kernels over f32 arrays: SwiGLU and its backward (y = silu(g)·u; dG, dU from dy),
 * softmax over rows (causal or not) and its backward, RMSNorm and its backward, affine and axpy. One
 * instantiation per instruction set (vector-kernels.c includes this once per set; VEC, IVEC (LANES
 * int32s), DVEC (LANES doubles), LANES, ISA_ATTR and SUFFIX as for few-rows-tile.h). The experts'
 * activations of a moge-small training step are 1 M elements a call. In WebAssembly every operand is
 * copied into the module's memory and back
 * (src/backend/wasm/kernel-module.ts), and onnxruntime's outputs are fresh arrays; here the arrays
 * are read and written in place, LANES at a time.
 *
 * The arithmetic of the WebAssembly kernels (src/backend/wasm/pointwise-kernels.ts, whose comments
 * explain the groupings that keep fp32 from overflowing), with their exp: 2^n · p(r) on a clamped
 * argument, within ~3 fp32 ulps (fused multiply-adds, where the set has them, move the last bits).
 */

ISA_ATTR INLINE VEC SUFFIX(splat)(float x) { return (VEC){0} + x; }

/* Lane-wise select: where mask is all ones, a; elsewhere b. */
ISA_ATTR INLINE VEC SUFFIX(select)(IVEC mask, VEC a, VEC b) {
  IVEC ai, bi;
  memcpy(&ai, &a, sizeof ai);
  memcpy(&bi, &b, sizeof bi);
  const IVEC r = (ai & mask) | (bi & ~mask);
  VEC out;
  memcpy(&out, &r, sizeof out);
  return out;
}

/*
 * exp of each lane: x clamped to [−87, 88] (a NaN stays NaN) so that 2^n is a normal number built
 * from exponent bits, n = nearest(x / ln 2) by the 1.5·2^23 shifter, r = x − n·ln 2 with ln 2 split
 * in two (C1 exact in n·C1), exp(r) by a degree-5 polynomial; +∞ above 88. Constants as kernel-dsl.ts.
 */
ISA_ATTR INLINE VEC SUFFIX(exp)(VEC x) {
  const VEC shifter = SUFFIX(splat)(12582912.0f); /* 1.5 · 2^23 */
  VEC r = SUFFIX(select)(x < SUFFIX(splat)(-87.0f), SUFFIX(splat)(-87.0f), x);
  r = SUFFIX(select)(r > SUFFIX(splat)(88.0f), SUFFIX(splat)(88.0f), r);
  const VEC j = r * 1.44269504088896341f + shifter;
  const VEC n = j - shifter;
  r = r - n * 0.693359375f - n * -2.12194440e-4f;
  VEC p = SUFFIX(splat)(0.008297654793071f);
  p = p * r + 0.04191538197643546f;
  p = p * r + 0.16667574733013435f;
  p = p * r + 0.4999889485139918f;
  p = p * r + 0.9999996919902643f;
  p = p * r + 1.0000000716546544f;
  IVEC bits;
  memcpy(&bits, &j, sizeof bits);
  bits = (bits << 23) + (127 << 23);
  VEC scale;
  memcpy(&scale, &bits, sizeof scale);
  return SUFFIX(select)(x > SUFFIX(splat)(88.0f), SUFFIX(splat)(__builtin_inff()), p * scale);
}

/* y = g · (u / (1 + exp(−g))): u divided first, as in the WebAssembly kernel. */
ISA_ATTR INLINE VEC SUFFIX(swiglu1)(VEC g, VEC u) { return g * (u / (1.0f + SUFFIX(exp)(-g))); }

ISA_ATTR static void SUFFIX(swiglu)(const float *g, const float *u, float *y, int n) {
  int i = 0;
  for (; i + LANES <= n; i += LANES) {
    const VEC v = SUFFIX(swiglu1)(SUFFIX(load)(g + i), SUFFIX(load)(u + i));
    memcpy(y + i, &v, sizeof v);
  }
  if (i < n) {
    float gt[LANES] = {0}, ut[LANES] = {0}, yt[LANES];
    const size_t rest = (size_t)(n - i) * sizeof(float);
    memcpy(gt, g + i, rest);
    memcpy(ut, u + i, rest);
    const VEC v = SUFFIX(swiglu1)(SUFFIX(load)(gt), SUFFIX(load)(ut));
    memcpy(yt, &v, sizeof v);
    memcpy(y + i, yt, rest);
  }
}

/* With s = σ(g): dU = dy · (g · s), dG = dy · ((u · s) · (1 + g · (1 − s))). */
ISA_ATTR INLINE void SUFFIX(swiglu_backward1)(const float *g, const float *u, const float *dy, float *dg, float *du) {
  const VEC x = SUFFIX(load)(g);
  const VEC s = 1.0f / (1.0f + SUFFIX(exp)(-x));
  const VEC d = SUFFIX(load)(dy);
  const VEC vu = d * (x * s);
  const VEC vg = d * ((SUFFIX(load)(u) * s) * (1.0f + x * (1.0f - s)));
  memcpy(du, &vu, sizeof vu);
  memcpy(dg, &vg, sizeof vg);
}

ISA_ATTR static void SUFFIX(swiglu_backward)(const float *g, const float *u, const float *dy, float *dg, float *du, int n) {
  int i = 0;
  for (; i + LANES <= n; i += LANES) SUFFIX(swiglu_backward1)(g + i, u + i, dy + i, dg + i, du + i);
  if (i < n) {
    float gt[LANES] = {0}, ut[LANES] = {0}, dt[LANES] = {0}, dgt[LANES], dut[LANES];
    const size_t rest = (size_t)(n - i) * sizeof(float);
    memcpy(gt, g + i, rest);
    memcpy(ut, u + i, rest);
    memcpy(dt, dy + i, rest);
    SUFFIX(swiglu_backward1)(gt, ut, dt, dgt, dut);
    memcpy(dg + i, dgt, rest);
    memcpy(du + i, dut, rest);
  }
}

/* Σ lanes of v, lane 0 first. */
ISA_ATTR INLINE float SUFFIX(lane_sum)(VEC v) {
  float s = 0.0f;
  for (int i = 0; i < LANES; i++) s += v[i];
  return s;
}

/* The largest lane of v (NaN lanes ignored, as a select on v > m does). */
ISA_ATTR INLINE float SUFFIX(lane_max)(VEC v) {
  float m = v[0];
  for (int i = 1; i < LANES; i++) m = v[i] > m ? v[i] : m;
  return m;
}

/*
 * Softmax of each row of x (rows × cols) into y. With sq > 0 it is causal over [.., sq, cols]
 * blocks: row r sees its first (r mod sq) + cols − sq + 1 columns (clamped to [0, cols]) and the
 * rest are 0, as the reference kernel does — and only the visible columns are computed, so a causal
 * training softmax does half the work. Three passes over a row's visible columns: max, exp(x − max)
 * and its sum (a NaN's exp is NaN, so a row with a NaN gets NaN everywhere, as in the reference),
 * scaling by 1 / sum.
 */
ISA_ATTR static void SUFFIX(softmax_rows)(const float *x, float *y, int rows, int cols, int sq) {
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * cols;
    float *yr = y + (size_t)r * cols;
    int visible = cols;
    if (sq > 0) {
      visible = r % sq + cols - sq + 1;
      visible = visible < 0 ? 0 : visible > cols ? cols : visible;
    }
    const int vv = visible - visible % LANES;
    VEC mv = SUFFIX(splat)(-__builtin_inff());
    for (int j = 0; j < vv; j += LANES) {
      const VEC v = SUFFIX(load)(xr + j);
      mv = SUFFIX(select)(v > mv, v, mv);
    }
    float m = SUFFIX(lane_max)(mv);
    for (int j = vv; j < visible; j++) m = xr[j] > m ? xr[j] : m;
    VEC sv = {0};
    for (int j = 0; j < vv; j += LANES) {
      const VEC e = SUFFIX(exp)(SUFFIX(load)(xr + j) - m);
      memcpy(yr + j, &e, sizeof e);
      sv += e;
    }
    float sum = SUFFIX(lane_sum)(sv);
    if (vv < visible) {
      /* The tail through one vector: lanes past it hold the max (exp 1) and are not summed. */
      float t[LANES];
      for (int i = 0; i < LANES; i++) t[i] = vv + i < visible ? xr[vv + i] : m;
      const VEC e = SUFFIX(exp)(SUFFIX(load)(t) - m);
      for (int i = 0; vv + i < visible; i++) yr[vv + i] = e[i], sum += e[i];
    }
    const float inv = 1.0f / sum;
    for (int j = 0; j < vv; j += LANES) {
      const VEC v = SUFFIX(load)(yr + j) * inv;
      memcpy(yr + j, &v, sizeof v);
    }
    for (int j = vv; j < visible; j++) yr[j] *= inv;
    if (visible < cols) memset(yr + visible, 0, (size_t)(cols - visible) * sizeof(float));
  }
}

/* dx = y · (dy − Σ dy·y) per row of y, dy (rows × cols). */
ISA_ATTR static void SUFFIX(softmax_backward_rows)(const float *y, const float *dy, float *dx, int rows, int cols) {
  const int cv = cols - cols % LANES;
  for (int r = 0; r < rows; r++) {
    const float *yr = y + (size_t)r * cols, *dr = dy + (size_t)r * cols;
    float *xr = dx + (size_t)r * cols;
    VEC dv = {0};
    for (int j = 0; j < cv; j += LANES) dv += SUFFIX(load)(yr + j) * SUFFIX(load)(dr + j);
    float dot = SUFFIX(lane_sum)(dv);
    for (int j = cv; j < cols; j++) dot += yr[j] * dr[j];
    for (int j = 0; j < cv; j += LANES) {
      const VEC v = SUFFIX(load)(yr + j) * (SUFFIX(load)(dr + j) - dot);
      memcpy(xr + j, &v, sizeof v);
    }
    for (int j = cv; j < cols; j++) xr[j] = yr[j] * (dr[j] - dot);
  }
}

/* y = x·scale + shift over n floats (y may be x). */
ISA_ATTR static void SUFFIX(affine)(const float *x, float *y, int n, float scale, float shift) {
  int i = 0;
  for (; i + LANES <= n; i += LANES) {
    const VEC v = SUFFIX(load)(x + i) * scale + shift;
    memcpy(y + i, &v, sizeof v);
  }
  for (; i < n; i++) y[i] = x[i] * scale + shift;
}

/* y += alpha·x over n floats, in place. */
ISA_ATTR static void SUFFIX(axpy)(float *y, const float *x, int n, float alpha) {
  int i = 0;
  for (; i + LANES <= n; i += LANES) {
    const VEC v = SUFFIX(load)(y + i) + alpha * SUFFIX(load)(x + i);
    memcpy(y + i, &v, sizeof v);
  }
  for (; i < n; i++) y[i] = y[i] + alpha * x[i];
}

/* Σ lanes of v, in double. */
ISA_ATTR INLINE double SUFFIX(lane_sum_wide)(VEC v) {
  double s = 0.0;
  for (int i = 0; i < LANES; i++) s += v[i];
  return s;
}

/*
 * RMSNorm of each row of x (rows × cols): y = w·(x·r), r = 1/√(mean(x²) + eps), r kept in inv[row]
 * for the backward. The squares are summed in double, as the reference does: a float square of
 * |x| > 1.8e19 would overflow.
 */
ISA_ATTR static void SUFFIX(rms_norm_rows)(const float *x, const float *w, float *y, float *inv, int rows, int cols, float eps) {
  const int cv = cols - cols % LANES;
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * cols;
    float *yr = y + (size_t)r * cols;
    DVEC acc = {0};
    for (int j = 0; j < cv; j += LANES) {
      const DVEC v = __builtin_convertvector(SUFFIX(load)(xr + j), DVEC);
      acc += v * v;
    }
    double ss = 0.0;
    for (int i = 0; i < LANES; i++) ss += acc[i];
    for (int j = cv; j < cols; j++) ss += (double)xr[j] * xr[j];
    const float rr = (float)(1.0 / __builtin_sqrt(ss / cols + eps));
    inv[r] = rr;
    for (int j = 0; j < cv; j += LANES) {
      const VEC v = SUFFIX(load)(w + j) * (SUFFIX(load)(xr + j) * rr);
      memcpy(yr + j, &v, sizeof v);
    }
    for (int j = cv; j < cols; j++) yr[j] = w[j] * (xr[j] * rr);
  }
}

/*
 * RMSNorm's backward with x̂ = x·r and g = dy·w: dx = r·(g − x̂·mean(g·x̂)) per row, and
 * dW = Σ_rows dy·x̂ accumulated in double (dw, cols doubles, zeroed by the caller), as the reference.
 */
ISA_ATTR static void SUFFIX(rms_norm_backward_rows)(const float *x, const float *w, const float *inv, const float *dy, float *dx, double *dw, int rows, int cols) {
  const int cv = cols - cols % LANES;
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * cols, *dr = dy + (size_t)r * cols;
    float *out = dx + (size_t)r * cols;
    const float rr = inv[r];
    VEC dotv = {0};
    for (int j = 0; j < cv; j += LANES) {
      const VEC xhat = SUFFIX(load)(xr + j) * rr, d = SUFFIX(load)(dr + j);
      dotv += d * SUFFIX(load)(w + j) * xhat;
      const DVEC add = __builtin_convertvector(d * xhat, DVEC);
      DVEC acc;
      memcpy(&acc, dw + j, sizeof acc);
      acc += add;
      memcpy(dw + j, &acc, sizeof acc);
    }
    double dot = SUFFIX(lane_sum_wide)(dotv);
    for (int j = cv; j < cols; j++) {
      const float xhat = xr[j] * rr;
      dot += (double)(dr[j] * w[j] * xhat);
      dw[j] += (double)(dr[j] * xhat);
    }
    const float mean = (float)(dot / cols);
    for (int j = 0; j < cv; j += LANES) {
      const VEC v = rr * (SUFFIX(load)(dr + j) * SUFFIX(load)(w + j) - SUFFIX(load)(xr + j) * rr * mean);
      memcpy(out + j, &v, sizeof v);
    }
    for (int j = cv; j < cols; j++) out[j] = rr * (dr[j] * w[j] - xr[j] * rr * mean);
  }
}
