/* Branch-free float exp, tanh and logistic functions that GCC vectorizes (plain
 * arithmetic and selects, no libm calls), without -ffast-math: IEEE semantics hold,
 * NaN propagates, +-Inf give the exact limits.  Accuracy: a few ulp (Cephes
 * polynomials; sigmoid 2.5, tanh 1.5 at most) where the result is a normal float,
 * checked against libm in tests/test_fastmath.py.  The sigmoid's results below
 * FLT_MIN are coarser: subnormal for x in [-88.38, -87.34], 0 below (the true value is
 * at most 4e-39 there).
 *
 * fr_exp_f(x)  exp(x) for x <= 89 (the activations' arguments): x below -87.3 is
 *              clamped, giving ~1e-38 instead of a subnormal; from 88.38 (2^128) it
 *              gives +Inf, slightly early (exp(88.7) is FLT_MAX), which the sigmoid
 *              turns into its limit 0.
 */
#ifndef FASTRNN_FASTMATH_H
#define FASTRNN_FASTMATH_H

#include <stdint.h>
#include <math.h>
#include <string.h>

static inline float fr_exp_f(float x) {
    /* NaN-preserving clamp: a comparison with NaN is false, so NaN passes through. */
    x = (x < -87.3365447504f) ? -87.3365447504f : x;
    /* n = round(x / ln 2) with the 1.5 * 2^23 trick (|x / ln 2| < 2^22 here): the sum
     * keeps n in its low mantissa bits. */
    float shifted = x * 1.44269504088896341f + 12582912.0f;
    float fn = shifted - 12582912.0f;
    /* r = x - n ln 2, with ln 2 split in two for precision (Cephes). */
    float r = x - fn * 0.693359375f;
    r = r + fn * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    /* 2^n built in the exponent field; n is in [-126, 128] (2^128: the bits of +Inf).
     * n comes from the bits of the sum, not a float-to-int conversion (undefined for
     * NaN in C); for NaN the bits are garbage, but p is NaN already. */
    uint32_t sbits;
    memcpy(&sbits, &shifted, sizeof sbits);
    uint32_t bits = (sbits - 0x4B400000u + 127u) << 23;     /* 0x4B400000: 1.5 * 2^23 */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float fr_sigmoid_fast_f(float x) {
    /* 1 / (1 + e^-x), with e^-x clamped to at most e^89 (n = 128: +Inf, so -Inf and
     * x below -88.38 give exactly 0); a NaN passes the clamps.  One exp, one division
     * and two selects (about 20 vector operations, against 33 for the symmetric form
     * through e^-|x|, which needs the sign twice). */
    float t = -x;
    t = (t > 89.0f) ? 89.0f : t;
    return 1.0f / (1.0f + fr_exp_f(t));
}

static inline float fr_tanh_fast_f(float x) {
    float ax = fabsf(x);                     /* fabsf, copysignf: bit operations */
    /* |x| >= 0.625: (1 - e) / (1 + e) with e = exp(-2|x|), no cancellation there. */
    float e = fr_exp_f(-2.0f * ax);
    float big = (1.0f - e) / (1.0f + e);
    /* |x| < 0.625: Cephes odd polynomial, accurate near zero. */
    float z = x * x;
    float q = -5.70498872745e-3f;
    q = q * z + 2.06390887954e-2f;
    q = q * z - 5.37397155531e-2f;
    q = q * z + 1.33314422036e-1f;
    q = q * z - 3.33332819422e-1f;
    float small = q * z * ax + ax;
    float r = (ax < 0.625f) ? small : big;
    return copysignf(r, x);
}

#endif
