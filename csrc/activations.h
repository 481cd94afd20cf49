/* Element-wise activations of fastrnn's recurrent kernels, float and double.
 *
 * Activation codes (fastrnn/activations.py keeps the same table):
 *   0 linear, 1 tanh, 2 sigmoid, 3 relu.
 *
 * fr_bias_act_{f,d}(z, b, rows, cols, ld, act)
 *     z[r, c] = act(z[r, c] + b[c]) in place; z is rows x cols with row stride ld;
 *     b has cols entries, or is NULL for no bias.
 * fr_act_grad_{f,d}(dz, dh, h, n, act)
 *     dz[i] = dh[i] * act'(.) expressed through the activation's output h[i]
 *     (tanh: 1 - h^2, sigmoid: h (1 - h), relu: h > 0, linear: 1).
 *     dz may alias dh.
 * All functions are thread-safe and need no GIL.
 */
#ifndef FASTRNN_ACTIVATIONS_H
#define FASTRNN_ACTIVATIONS_H

/* On x86-64 with GCC each kernel is also compiled for AVX-512 and for x86-64-v3 (AVX2
 * with FMA: target "avx2" alone leaves FMA out, and its clone ran the LSTM forward
 * gates at W5's rows in 170 us a step against 123 with FMA on an AMD Zen 3) and the
 * best version is picked at load time (function multiversioning): the library still
 * runs on any x86-64.  Every version evaluates the same formulas; where the CPU has FMA the
 * compiler may fuse a multiply and an add, so the last bit can differ between CPUs (as
 * it does for the BLAS kernels OpenBLAS picks per CPU). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(FR_NO_CLONES)
#define FR_KERNEL __attribute__((target_clones("avx512f", "arch=x86-64-v3", "default")))
#else
#define FR_KERNEL
#endif

#define FR_LINEAR 0
#define FR_TANH 1
#define FR_SIGMOID 2
#define FR_RELU 3

void fr_bias_act_f(float *z, const float *b, int rows, int cols, int ld, int act);
void fr_bias_act_d(double *z, const double *b, int rows, int cols, int ld, int act);
void fr_act_grad_f(float *dz, const float *dh, const float *h, long n, int act);
void fr_act_grad_d(double *dz, const double *dh, const double *h, long n, int act);
/* Masks (one byte per row, 0 = masked step):
 * fr_keep_rows: cur[r] = prev[r] for the masked rows (a masked step keeps the state).
 * fr_mask_split: masked rows get dz[r] = 0 (their dh passes through); unmasked rows get
 *     dh[r] = 0, so that a following dz U^T GEMM with beta = 1 adds onto the carry. */
void fr_keep_rows_f(float *cur, const float *prev, const unsigned char *mask, int B, int H);
void fr_keep_rows_d(double *cur, const double *prev, const unsigned char *mask, int B, int H);
void fr_mask_split_f(float *dz, float *dh, const unsigned char *mask, int B, int H);
void fr_mask_split_d(double *dz, double *dh, const unsigned char *mask, int B, int H);
/* out[c] = sum over r of a[r * cols + c]: the bias gradient of a (rows, cols) block. */
void fr_sum_rows_f(const float *a, long rows, int cols, float *out);
void fr_sum_rows_d(const double *a, long rows, int cols, double *out);

/* Scalar activations by code, inline for the gate kernels:
 *   fr_sigmoid_{f,d}(x), fr_tanh_{f,d}(x)
 *   fr_act_{f,d}(x, act)   the activation of x
 *   fr_dact_{f,d}(y, act)  its derivative, from the output y = act(x)
 * float uses the vectorizable functions of fastmath.h; double uses libm (it serves
 * gradient checks, where accuracy matters more than speed); its logistic function
 * takes exp only of a non-positive number: no overflow. */
#include <math.h>
#include "fastmath.h"

static inline float fr_sigmoid_f(float x) { return fr_sigmoid_fast_f(x); }
static inline float fr_tanh_f(float x) { return fr_tanh_fast_f(x); }
static inline double fr_sigmoid_d(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}
static inline double fr_tanh_d(double x) { return tanh(x); }

#define FR_DEFINE_SCALAR_ACT(T, SUFFIX)                                       \
    static inline T fr_act_##SUFFIX(T x, int act) {                           \
        switch (act) {                                                        \
        case FR_TANH: return fr_tanh_##SUFFIX(x);                             \
        case FR_SIGMOID: return fr_sigmoid_##SUFFIX(x);                       \
        case FR_RELU: return (x < 0) ? (T)0 : x;                              \
        default: return x;                                                    \
        }                                                                     \
    }                                                                         \
    static inline T fr_dact_##SUFFIX(T y, int act) {                          \
        switch (act) {                                                        \
        case FR_TANH: return (T)1 - y * y;                                    \
        case FR_SIGMOID: return y * ((T)1 - y);                               \
        case FR_RELU: return (y > 0) ? (T)1 : (T)0;                           \
        default: return (T)1;                                                 \
        }                                                                     \
    }

FR_DEFINE_SCALAR_ACT(float, f)
FR_DEFINE_SCALAR_ACT(double, d)

#endif
