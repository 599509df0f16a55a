/* Fused CPU kernels of EvoNorm-S0 (Liu et al. 2020, arXiv:2004.02967).
 *
 * Built at first use by evonorm_cpu_kernel.py (plain C, no torch headers, so a
 * compile takes well under a second) and called through ctypes. The maths and
 * the memory contract are those of evonorm_function.py:
 *
 *   x: [N, C, L] contiguous, G groups of c = C / G channels, one block per (n, g)
 *   forward : mean, rstd per block;  y = x * sigmoid(v x) * (w rstd) + b
 *   backward: from x, dy and the saved (mean, rstd) only, recomputing sigmoid:
 *             per-(n, channel) sums P = sum dy x s,  Q = sum dy x^2 s (1 - s),
 *             B = sum dy, then dx and the parameter gradients from them.
 *
 * Each call is one OpenMP parallel region: on a CPU shared with other work, each
 * region can cost a scheduler time slice, so nothing is left to small PyTorch
 * ops around the call.
 *
 * evonorm_s0_impl.h is included once per precision (float32, float64).
 */
#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

/* Vectorisable sigmoids. With e = exp(-|z|) in (0, 1],
 *
 *   sigmoid(z) = (z < 0 ? e : 1) / (1 + e),
 *
 * which needs exp only on t = -|z| <= 0 and one clamp (t >= the smallest t
 * whose exp is a normal number; below it sigmoid is 0 or 1 to the precision).
 * exp(t) = 2^k * 2^f with u = t / ln 2, k = round(u), |f| = |u - k| <= 1/2;
 * 2^f = exp(f ln 2) by its Taylor series (float32: degree 6, truncation error
 * < 1.3e-7 relative; float64: degree 13 after a Cody-Waite reduction with ln 2
 * split in two, < 5e-18). k is rounded by adding and subtracting
 * 1.5 * 2^(mantissa bits), and 2^k is built from its exponent bits. Every step
 * is a plain arithmetic, compare-select or integer operation, so gcc
 * vectorises the loops that call these (the build checks that it did, see
 * evonorm_cpu_kernel.py); the comparisons need -fno-trapping-math to be
 * if-converted. float64 is the gradcheck path: the result is within a few ulp
 * of 1 / (1 + exp(-z)). */
static inline float sigmoid_f32(float z) {
  float t = -fabsf(z);
  t = t < -87.0f ? -87.0f : t;
  const float u = t * 1.44269504088896341f;
  const float k = (u + 12582912.0f) - 12582912.0f;
  const float f = u - k;
  /* (ln 2)^i / i!, i = 6 .. 0 */
  float e = 1.5403530393381609e-4f;
  e = e * f + 1.3333558146428443e-3f;
  e = e * f + 9.6181291076284772e-3f;
  e = e * f + 5.5504108664821580e-2f;
  e = e * f + 2.4022650695910071e-1f;
  e = e * f + 6.9314718055994531e-1f;
  e = e * f + 1.0f;
  const int32_t bits = ((int32_t)k + 127) << 23; /* 2^k, k in [-126, 0] */
  float two_k;
  memcpy(&two_k, &bits, sizeof(two_k));
  e *= two_k;
  return (z < 0 ? e : 1.0f) / (1.0f + e);
}

static inline double sigmoid_f64(double z) {
  static const double magic = 6755399441055744.0; /* 1.5 * 2^52 */
  double t = -fabs(z);
  t = t < -708.0 ? -708.0 : t;
  /* kd = magic + k exactly, so its low bits are k: no float-to-int64
   * conversion, which AVX2 lacks */
  const double kd = t * 1.4426950408889634074 + magic, k = kd - magic;
  const double f = (t - k * 6.93147180369123816490e-01) - k * 1.90821492927058770002e-10;
  double e = 1.0 / 6227020800.0;
  static const double inv_fact[13] = {
      1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0,
      1.0 / 5040.0,      1.0 / 720.0,      1.0 / 120.0,     1.0 / 24.0,     1.0 / 6.0,
      0.5,               1.0,              1.0};
  for (int i = 0; i < 13; ++i) e = e * f + inv_fact[i];
  int64_t kbits, magic_bits;
  memcpy(&kbits, &kd, sizeof(kbits));
  memcpy(&magic_bits, &magic, sizeof(magic_bits));
  const int64_t bits = (kbits - magic_bits + 1023) << 52; /* 2^k, k in [-1022, 0] */
  double two_k;
  memcpy(&two_k, &bits, sizeof(two_k));
  e *= two_k;
  return (z < 0 ? e : 1.0) / (1.0 + e);
}

#define SCALAR float
#define SIGMOID sigmoid_f32
#define SUFFIX f32
#define IMPL_NAME "evonorm_s0_impl.h[f32]"
#include "evonorm_s0_impl.h"
#undef SCALAR
#undef SIGMOID
#undef SUFFIX
#undef IMPL_NAME

#define SCALAR double
#define SIGMOID sigmoid_f64
#define SUFFIX f64
#define IMPL_NAME "evonorm_s0_impl.h[f64]"
#include "evonorm_s0_impl.h"
#undef SCALAR
#undef SIGMOID
#undef SUFFIX
#undef IMPL_NAME
