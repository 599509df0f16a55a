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
#include <stdint.h>
#include <string.h>

/* sigmoid(z) = 1 / (1 + exp(-z)) with exp written so that the compiler can
 * vectorise it: exp(t) = 2^k * exp(f), k = round(t / ln 2), |f| <= ln(2) / 2,
 * exp(f) by its Taylor series to degree 7 (truncation error < 6e-9, below
 * float32 rounding). t is clamped to the float32 range of exp, where sigmoid is
 * already 0 or 1 to float32 precision. */
static inline float sigmoid_f32(float z) {
  float t = -z;
  t = t < -87.0f ? -87.0f : t;
  t = t > 88.0f ? 88.0f : t;
  /* round to nearest by the 1.5 * 2^23 trick (valid for |k| < 2^22) */
  const float k = (t * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  /* f = t - k ln2, ln2 split in a part exact in float32 and a remainder */
  const float f = (t - k * 0.693145751953125f) - k * 1.42860682030941723e-06f;
  float e = 1.0f / 5040.0f;
  e = e * f + 1.0f / 720.0f;
  e = e * f + 1.0f / 120.0f;
  e = e * f + 1.0f / 24.0f;
  e = e * f + 1.0f / 6.0f;
  e = e * f + 0.5f;
  e = e * f + 1.0f;
  e = e * f + 1.0f;
  const int32_t bits = ((int32_t)k + 127) << 23; /* 2^k, k in [-126, 127] */
  float two_k;
  memcpy(&two_k, &bits, sizeof(two_k));
  return 1.0f / (1.0f + e * two_k);
}

/* float64 is the gradcheck path: exactness over speed. */
static inline double sigmoid_f64(double z) { return 1.0 / (1.0 + exp(-z)); }

#define SCALAR float
#define SIGMOID sigmoid_f32
#define SUFFIX f32
#include "evonorm_s0_impl.h"
#undef SCALAR
#undef SIGMOID
#undef SUFFIX

#define SCALAR double
#define SIGMOID sigmoid_f64
#define SUFFIX f64
#include "evonorm_s0_impl.h"
#undef SCALAR
#undef SIGMOID
#undef SUFFIX
