#line 2 IMPL_NAME
/* One precision of the EvoNorm-S0 kernels; see evonorm_s0.c.
 * Expects SCALAR (element type), SIGMOID (function), SUFFIX (name suffix) and
 * IMPL_NAME, the file name the compiler's messages give this header (the line
 * above): "evonorm_s0_impl.h[f32]" or "[f64]", so that the vectorisation report
 * tells the precisions apart. Every `#pragma omp simd` loop is an element loop
 * that must vectorise (evonorm_cpu_kernel.py checks the report).
 *
 * Each (n, g) block is c channels of L contiguous elements:
 *
 *   x[n] = | g0: ch0[0..L) ch1[0..L) .. | g1: ... |     block = c * L elements
 *
 * Blocks are independent, so they are spread over OpenMP threads and the result
 * does not depend on the thread count. Large L (FPN maps) runs the element loops
 * channel by channel over L. Small L (RoI features, L = 49; a 2-D [N, C] input,
 * L = 1) runs them once over the whole block instead, reading each element's
 * channel parameters from a block-sized copy (FLAT_L, expand): 49-element loops
 * would spend a large part of their time in scalar remainders. */
#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, SUFFIX)
#ifndef FLAT_L
#define FLAT_L 128 /* L below which the element loops run over whole blocks */
#endif

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

/* out[j * l + i] = p[j] for the cpg channels of a block; with l == 1 the
 * parameters are already one per element and p itself is returned. */
static inline const SCALAR *FN(expand)(SCALAR *out, const SCALAR *p, int64_t cpg,
                                       int64_t l) {
  if (l == 1) return p;
  for (int64_t j = 0; j < cpg; ++j)
    for (int64_t i = 0; i < l; ++i) out[j * l + i] = p[j];
  return out;
}

/* Per-thread scratch of `count` block-sized arrays for the small-L path; NULL
 * for large L, or if it cannot be had (then the channel loops run). */
static inline SCALAR *FN(flat_scratch)(int64_t l, int64_t m, int count) {
  return l < FLAT_L ? (SCALAR *)malloc((size_t)(count * m) * sizeof(SCALAR)) : NULL;
}

void FN(evonorm_s0_forward)(const SCALAR *x, const SCALAR *w, const SCALAR *b,
                            const SCALAR *v, SCALAR *y, SCALAR *mean, SCALAR *rstd,
                            int64_t n, int64_t c, int64_t l, int64_t g, double eps,
                            int threads) {
  const int64_t cpg = c / g, m = cpg * l;
#pragma omp parallel num_threads(threads)
  {
    SCALAR *flat = FN(flat_scratch)(l, m, 3);
#pragma omp for schedule(static)
    for (int64_t blk = 0; blk < n * g; ++blk) {
      const SCALAR *xb = x + blk * m;
      SCALAR *yb = y + blk * m;
      const int64_t ch0 = (blk % g) * cpg;
      /* population variance in one pass, of d = x - x[0] (shifted data: no
       * cancellation unless |x[0] - mean| >> std), summed in double; simdlen
       * above the vector width gives several accumulators, so the sums are not
       * bound by the latency of one chain of additions */
      const double x0 = xb[0];
      double s1 = 0.0, s2 = 0.0;
#pragma omp simd simdlen(16) reduction(+ : s1, s2)
      for (int64_t i = 0; i < m; ++i) {
        const double d = xb[i] - x0;
        s1 += d;
        s2 += d * d;
      }
      const double dmean = s1 / (double)m, var = s2 / (double)m - dmean * dmean;
      const double mu = x0 + dmean, r = 1.0 / sqrt((var > 0 ? var : 0) + eps);
      const SCALAR rs = (SCALAR)r;
      mean[blk] = (SCALAR)mu;
      rstd[blk] = rs;
      if (flat) {
        const SCALAR *ve = FN(expand)(flat, v + ch0, cpg, l);
        const SCALAR *we = FN(expand)(flat + m, w + ch0, cpg, l);
        const SCALAR *be = FN(expand)(flat + 2 * m, b + ch0, cpg, l);
#pragma omp simd
        for (int64_t i = 0; i < m; ++i) yb[i] = FN(act)(xb[i], ve[i], we[i] * rs, be[i]);
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
    free(flat);
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
#pragma omp parallel num_threads(threads)
  {
    SCALAR *flat = FN(flat_scratch)(l, m, 2);
#pragma omp for schedule(static)
    for (int64_t blk = 0; blk < n * g; ++blk) {
      const SCALAR *xb = x + blk * m, *dyb = dy + blk * m;
      SCALAR *dxb = dx + blk * m, *pb = p + blk * cpg, *qb = q + blk * cpg;
      SCALAR *bb = bsum + blk * cpg;
      const SCALAR *wb = w + (blk % g) * cpg, *vb = v + (blk % g) * cpg;
      const SCALAR mu = mean[blk], r = rstd[blk];
      const SCALAR *ve = flat ? FN(expand)(flat, vb, cpg, l) : NULL;
      /* pass 1: s = sigmoid(v x), parked in dx, and the per-channel sums P, Q,
       * B and the group sum of w * P (with L == 1 the "sums" are one term) */
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
      } else if (flat) {
#pragma omp simd
        for (int64_t i = 0; i < m; ++i) dxb[i] = SIGMOID(ve[i] * xb[i]);
      }
      for (int64_t j = 0; j < cpg && l > 1; ++j) {
        const SCALAR vj = vb[j], *xc = xb + j * l, *dyc = dyb + j * l;
        SCALAR *sc = dxb + j * l;
        SCALAR pj = 0, qj = 0, bj = 0;
        if (flat) {
#pragma omp simd reduction(+ : pj, qj, bj)
          for (int64_t i = 0; i < l; ++i) {
            const SCALAR pi = dyc[i] * xc[i] * sc[i];
            pj += pi;
            qj += pi * xc[i] * (1 - sc[i]);
            bj += dyc[i];
          }
        } else {
#pragma omp simd reduction(+ : pj, qj, bj)
          for (int64_t i = 0; i < l; ++i) {
            const SCALAR s = SIGMOID(vj * xc[i]), pi = dyc[i] * xc[i] * s;
            sc[i] = s;
            pj += pi;
            qj += pi * xc[i] * (1 - s);
            bj += dyc[i];
          }
        }
        pb[j] = pj;
        qb[j] = qj;
        bb[j] = bj;
        wp += wb[j] * pj;
      }
      /* pass 2: dx from s */
      const SCALAR coef = (SCALAR)(wp * r * r * r / (double)m);
      if (flat) {
        const SCALAR *we = FN(expand)(flat + m, wb, cpg, l);
#pragma omp simd
        for (int64_t i = 0; i < m; ++i)
          dxb[i] = FN(input_grad)(xb[i], dxb[i], dyb[i], ve[i], we[i] * r, coef, mu);
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
    free(flat);
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
