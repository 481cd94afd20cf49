/* fr_lstm_fwd512_f: the LSTM forward gate kernel of gates.h (fr_lstm_fwd_f) for tanh
 * and the logistic sigmoid, written with AVX-512F intrinsics.  It does what the C
 * kernel does in fewer instructions: exp rebuilds 2^n with vscalefps (which over- and
 * underflows as IEEE arithmetic does, so n needs no range checks), the sigmoid needs
 * one clamp instead of two selects, and tanh comes from expm1 over the whole range,
 * without the C kernel's second polynomial for small arguments.  One thread, W5's rows
 * (B 256, H 128): 52-56 us a step for the C kernel, 43-45 here.  (A reciprocal
 * estimate with a Newton step instead of vdivps measured slower on this machine.)
 *
 * Same contract as fr_lstm_fwd_f: z (B, 4H) = x_t W + h_{t-1} U in, the activated gates
 * [i, f, g, o] out; c = f c_prev + i g, ac = tanh(c), h = o ac, each (B, H); b (4H).
 * Accuracy (tests/test_lstm_gate_kernel.py, against float64): within 4 ulp where the
 * result is a normal float (measured: sigmoid 2.5, tanh 2.6); NaN stays NaN; the
 * limits are exact (sigmoid 0 from -88.38 down and 1 at the top, tanh +-1 from
 * |x| = 9.1); tanh keeps the sign of -0 and gives x itself for tiny x, the sigmoid 0.5.
 * Returns 1 when it ran, 0 when the CPU (or FASTRNN_KERNEL) leaves AVX-512 out: the
 * caller then runs the C kernel. */
#include "gates.h"
#include "rgemm.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#include <immintrin.h>
#define T512 __attribute__((target("avx512f")))
#define INL static inline __attribute__((always_inline))
#define C(v) _mm512_set1_ps(v)

/* n = round(x c) as a float, for |x c| < 2^22 (the 1.5 * 2^23 trick: the sum keeps n
 * in its low mantissa bits; two operations, where vrndscaleps is slower here). */
T512 INL __m512 round_times512(__m512 x, float c) {
    return _mm512_sub_ps(_mm512_fmadd_ps(x, C(c), C(12582912.0f)), C(12582912.0f));
}

T512 INL __m512 sigmoid512(__m512 x) {
    /* 1 / (1 + e^-x).  e^-x = 2^n e^-u with n = round(-x / ln 2), u = x + n ln 2 in
     * [-ln 2 / 2, ln 2 / 2] (ln 2 in two parts; each FMA rounds once, so n ln2_hi is
     * exact); e^-u: a degree-6 polynomial fitted to the relative error of e^u (under
     * 2e-8 with float coefficients), signs alternated; 2^n by vscalefps, which
     * overflows to +Inf and underflows gradually to 0 as IEEE arithmetic does.
     * x is clamped to 104 (above, e^-x is 0 anyway; the constant first: vminps returns
     * its second operand when either is NaN, so a NaN passes).  At and below -88.38 the
     * result is 0 (as in fastmath.h; the range reduction is meaningless from -2.9e6
     * and at -Inf): the division is masked to those lanes that are not "<= -88.38",
     * which a NaN is not, so a NaN stays NaN. */
    x = _mm512_min_ps(C(104.0f), x);
    __m512 n = round_times512(x, -1.44269504088896341f);
    __m512 u = _mm512_fmadd_ps(n, C(0.693147182464599609f), x);
    u = _mm512_fmadd_ps(n, C(-1.90465429995e-09f), u);
    __m512 p = C(0.001382942427881062f);
    p = _mm512_fmadd_ps(p, u, C(-0.0083747748285532f));
    p = _mm512_fmadd_ps(p, u, C(0.0416683591902256f));
    p = _mm512_fmadd_ps(p, u, C(-0.1666642129421234f));
    p = _mm512_fmadd_ps(p, u, C(0.49999991059303284f));
    p = _mm512_fmadd_ps(p, u, C(-1.0f));
    p = _mm512_fmadd_ps(p, u, C(1.0f));
    __m512 d = _mm512_add_ps(_mm512_scalef_ps(p, n), C(1.0f));
    __mmask16 keep = _mm512_cmp_ps_mask(x, C(-88.3762626647949f), _CMP_NLE_UQ);
    return _mm512_maskz_div_ps(keep, C(1.0f), d);
}

T512 INL __m512 tanh512(__m512 x) {
    /* tanh a = m / (-2 - m) for a = |x|, m = expm1(-2a) in (-1, 0]: no cancellation
     * anywhere, so one formula serves the whole range (fastmath.h needs a second
     * polynomial below 0.625).  expm1(-2a) = 2^n (e^r - 1) + (2^n - 1) with
     * n = round(-2a / ln 2) and r = -2v, v = a + n ln 2 / 2 in [-ln 2 / 4, ln 2 / 4];
     * e^r - 1 = r + r^2 Q(r) (Q of degree 5, fitted to the relative error of e^r - 1:
     * under 4e-9), written in v as v (-2 + v Q2(v)), Q2(v) = 4 Q(-2v) (the same
     * coefficients times powers of 2, exactly).  For n = 0 this is e^r - 1 itself,
     * accurate near 0 (tiny x gives x).  a is clamped to 44 (tanh is 1 in float from
     * 9.1 on; a NaN passes, see sigmoid512); the sign of x is put back last, so
     * tanh(-0) = -0. */
    __m512 a = _mm512_min_ps(C(44.0f), _mm512_abs_ps(x));
    __m512 n = round_times512(a, -2.88539008177792682f);
    __m512 v = _mm512_fmadd_ps(n, C(0.346573591232299805f), a);
    v = _mm512_fmadd_ps(n, C(-9.52327161574e-10f), v);
    __m512 q = C(-0.025410043075680733f);
    q = _mm512_fmadd_ps(q, v, C(0.08922229707241058f));
    q = _mm512_fmadd_ps(q, v, C(-0.26666811108589172f));
    q = _mm512_fmadd_ps(q, v, C(0.66666167974472046f));
    q = _mm512_fmadd_ps(q, v, C(-1.3333333730697632f));
    q = _mm512_fmadd_ps(q, v, C(2.0f));
    __m512 em1r = _mm512_mul_ps(v, _mm512_fmadd_ps(q, v, C(-2.0f)));
    __m512 s = _mm512_scalef_ps(C(1.0f), n);
    __m512 m = _mm512_fmadd_ps(em1r, s, _mm512_sub_ps(s, C(1.0f)));
    __m512 t = _mm512_div_ps(m, _mm512_sub_ps(C(-2.0f), m));
    /* copysign(t, x): the magnitude bits of t, the sign bit of x (t >= 0 or NaN) */
    return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(
        _mm512_castps_si512(t), _mm512_castps_si512(x), _mm512_set1_epi32(0x7fffffff),
        0xe4));
}

/* The lanes of a 16-unit block holding one of the n units left (masked loads read 0
 * there, masked stores leave the rest untouched). */
INL __mmask16 lanes16(int n) {
    return n >= 16 ? 0xFFFF : (__mmask16)((1u << n) - 1);
}

/* One row.  Two passes as in gates_impl.h: the gates, then the cell, so that the
 * iterations of each pass are independent. */
T512 static void row512(float *zr, const float *b, const float *cp, float *cr, float *ar,
                        float *hr, int H) {
    for (int j = 0; j < H; j += 16) {
        __mmask16 lanes = lanes16(H - j);
        for (int g = 0; g < 4; g++) {
            float *zg = zr + g * H + j;
            __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(lanes, zg),
                                     _mm512_maskz_loadu_ps(lanes, b + g * H + j));
            _mm512_mask_storeu_ps(zg, lanes, g == 2 ? tanh512(v) : sigmoid512(v));
        }
    }
    for (int j = 0; j < H; j += 16) {
        __mmask16 lanes = lanes16(H - j);
        __m512 i = _mm512_maskz_loadu_ps(lanes, zr + j);
        __m512 f = _mm512_maskz_loadu_ps(lanes, zr + H + j);
        __m512 g = _mm512_maskz_loadu_ps(lanes, zr + 2 * H + j);
        __m512 o = _mm512_maskz_loadu_ps(lanes, zr + 3 * H + j);
        __m512 cn = _mm512_fmadd_ps(f, _mm512_maskz_loadu_ps(lanes, cp + j),
                                    _mm512_mul_ps(i, g));
        __m512 a = tanh512(cn);
        _mm512_mask_storeu_ps(cr + j, lanes, cn);
        _mm512_mask_storeu_ps(ar + j, lanes, a);
        _mm512_mask_storeu_ps(hr + j, lanes, _mm512_mul_ps(o, a));
    }
}

int fr_lstm_fwd512_f(float *z, const float *b, const float *c_prev, float *c, float *ac,
                     float *h, int B, int H) {
    if (fr_rgemm_level() < 2)
        return 0;
    for (int r = 0; r < B; r++) {
        long o1 = (long)r * H;
        row512(z + 4 * o1, b, c_prev + o1, c + o1, ac + o1, h + o1, H);
    }
    return 1;
}
#else
int fr_lstm_fwd512_f(float *z, const float *b, const float *c_prev, float *c, float *ac,
                     float *h, int B, int H) {
    (void)z; (void)b; (void)c_prev; (void)c; (void)ac; (void)h; (void)B; (void)H;
    return 0;
}
#endif
