/* One precision of the EvoNorm-S0 kernels; see evonorm_s0.c.
 * Expects SCALAR (element type), SIGMOID (function) and SUFFIX (name suffix).
 *
 * Each (n, g) block is c channels of L contiguous elements:
 *
 *   x[n] = | g0: ch0[0..L) ch1[0..L) .. | g1: ... |     block = c * L elements
 *
 * Blocks are independent, so they are spread over OpenMP threads and the result
 * does not depend on the thread count. L == 1 (a 2-D [N, C] input) runs loops
 * over the channels of a block instead of over L, so they vectorise too. */
#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, SUFFIX)

/* x * sigmoid(v x) * a + b, with a = w * rstd */
static inline SCALAR FN(act)(SCALAR x, SCALAR v, SCALAR a, SCALAR b) {
  return x * SIGMOID(v * x) * a + b;
}

/* dL/dx for one element, given s = sigmoid(v x): the direct path through
 * x * s scaled by a = w * rstd, minus the path through the group variance
 * (coef = rstd^3 / M * sum over the group of w * dy * x * s). */
static inline SCALAR FN(input_grad)(SCALAR x, SCALAR s, SCALAR dy, SCALAR v, SCALAR a,
                                   SCALAR coef, SCALAR mean) {
  return dy * a * s * (1 + v * x * (1 - s)) - coef * (x - mean);
}

void FN(evonorm_s0_forward)(const SCALAR *x, const SCALAR *w, const SCALAR *b,
                            const SCALAR *v, SCALAR *y, SCALAR *mean, SCALAR *rstd,
                            int64_t n, int64_t c, int64_t l, int64_t g, double eps,
                            int threads) {
  const int64_t cpg = c / g, m = cpg * l;
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t blk = 0; blk < n * g; ++blk) {
    const SCALAR *xb = x + blk * m;
    SCALAR *yb = y + blk * m;
    const int64_t ch0 = (blk % g) * cpg;
    /* two-pass population variance, accumulated in double */
    double sum = 0.0, sq = 0.0;
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < m; ++i) sum += xb[i];
    const double mu = sum / (double)m;
#pragma omp simd reduction(+ : sq)
    for (int64_t i = 0; i < m; ++i) sq += (xb[i] - mu) * (xb[i] - mu);
    const double r = 1.0 / sqrt(sq / (double)m + eps);
    mean[blk] = (SCALAR)mu;
    rstd[blk] = (SCALAR)r;
    if (l == 1) {
#pragma omp simd
      for (int64_t j = 0; j < cpg; ++j)
        yb[j] = FN(act)(xb[j], v[ch0 + j], (SCALAR)(w[ch0 + j] * r), b[ch0 + j]);
      continue;
    }
    for (int64_t j = 0; j < cpg; ++j) {
      const SCALAR vj = v[ch0 + j], aj = (SCALAR)(w[ch0 + j] * r), bj = b[ch0 + j];
      const SCALAR *xc = xb + j * l;
      SCALAR *yc = yb + j * l;
#pragma omp simd
      for (int64_t i = 0; i < l; ++i) yc[i] = FN(act)(xc[i], vj, aj, bj);
    }
  }
}

/* scratch holds 3 * N * C values: the per-(n, channel) sums P, Q and B, reduced
 * over the batch into dw, dv, db at the end through acc (3 * C zeros). */
void FN(evonorm_s0_backward)(const SCALAR *x, const SCALAR *dy, const SCALAR *w,
                             const SCALAR *v, const SCALAR *mean, const SCALAR *rstd,
                             SCALAR *dx, SCALAR *dw, SCALAR *db, SCALAR *dv,
                             SCALAR *scratch, double *acc, int64_t n, int64_t c,
                             int64_t l, int64_t g, int threads) {
  const int64_t cpg = c / g, m = cpg * l;
  SCALAR *p = scratch, *q = scratch + n * c, *bsum = scratch + 2 * n * c;
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t blk = 0; blk < n * g; ++blk) {
    const SCALAR *xb = x + blk * m, *dyb = dy + blk * m;
    SCALAR *dxb = dx + blk * m, *pb = p + blk * cpg, *qb = q + blk * cpg;
    SCALAR *bb = bsum + blk * cpg;
    const SCALAR *wb = w + (blk % g) * cpg, *vb = v + (blk % g) * cpg;
    const SCALAR mu = mean[blk], r = rstd[blk];
    /* pass 1: per-channel sums P, Q, B, the group sum of w * P, and s = sigmoid(v x)
     * parked in dx */
    double wp = 0.0;
    if (l == 1) {
#pragma omp simd reduction(+ : wp)
      for (int64_t j = 0; j < cpg; ++j) {
        const SCALAR s = SIGMOID(vb[j] * xb[j]), pj = dyb[j] * xb[j] * s;
        dxb[j] = s;
        pb[j] = pj;
        qb[j] = pj * xb[j] * (1 - s);
        bb[j] = dyb[j];
        wp += wb[j] * pj;
      }
    } else {
      for (int64_t j = 0; j < cpg; ++j) {
        const SCALAR vj = vb[j], *xc = xb + j * l, *dyc = dyb + j * l;
        SCALAR *sc = dxb + j * l;
        SCALAR pj = 0, qj = 0, bj = 0;
#pragma omp simd reduction(+ : pj, qj, bj)
        for (int64_t i = 0; i < l; ++i) {
          const SCALAR s = SIGMOID(vj * xc[i]), pi = dyc[i] * xc[i] * s;
          sc[i] = s;
          pj += pi;
          qj += pi * xc[i] * (1 - s);
          bj += dyc[i];
        }
        pb[j] = pj;
        qb[j] = qj;
        bb[j] = bj;
        wp += wb[j] * pj;
      }
    }
    /* pass 2: dx from s */
    const SCALAR coef = (SCALAR)(wp * r * r * r / (double)m);
    if (l == 1) {
#pragma omp simd
      for (int64_t j = 0; j < cpg; ++j)
        dxb[j] = FN(input_grad)(xb[j], dxb[j], dyb[j], vb[j], wb[j] * r, coef, mu);
      continue;
    }
    for (int64_t j = 0; j < cpg; ++j) {
      const SCALAR vj = vb[j], aj = wb[j] * r, *xc = xb + j * l, *dyc = dyb + j * l;
      SCALAR *dxc = dxb + j * l;
#pragma omp simd
      for (int64_t i = 0; i < l; ++i)
        dxc[i] = FN(input_grad)(xc[i], dxc[i], dyc[i], vj, aj, coef, mu);
    }
  }
  /* dw = sum_n P rstd, dv = w sum_n Q rstd, db = sum_n B: N * C terms, on one
   * thread (no second parallel region), row by row so memory is read in order,
   * summed in double (acc: 3 * C zeros) in batch order: deterministic. */
  for (int64_t i = 0; i < n; ++i)
    for (int64_t gg = 0; gg < g; ++gg) {
      const double r = rstd[i * g + gg];
      for (int64_t ch = gg * cpg; ch < (gg + 1) * cpg; ++ch) {
        acc[ch] += p[i * c + ch] * r;
        acc[c + ch] += q[i * c + ch] * r;
        acc[2 * c + ch] += bsum[i * c + ch];
      }
    }
  for (int64_t ch = 0; ch < c; ++ch) {
    dw[ch] = (SCALAR)acc[ch];
    dv[ch] = (SCALAR)(acc[c + ch] * w[ch]);
    db[ch] = (SCALAR)acc[2 * c + ch];
  }
}

#undef FN
#undef CAT
#undef CAT_
