/* See activations.h. One body per function, instantiated for float and double. */
#include <math.h>
#include "activations.h"

/* Overflow-free logistic function: exp is only taken of a non-positive number. */
#define DEFINE_SIGMOID(T, SUFFIX, EXP)                                        \
    T fr_sigmoid_##SUFFIX(T x) {                                              \
        if (x >= 0) {                                                         \
            return (T)1 / ((T)1 + EXP(-x));                                   \
        } else {                                                              \
            T e = EXP(x);                                                     \
            return e / ((T)1 + e);                                            \
        }                                                                     \
    }

#define DEFINE_BIAS_ACT(T, SUFFIX, TANH)                                      \
    void fr_bias_act_##SUFFIX(T *z, const T *b, int rows, int cols, int ld,   \
                              int act) {                                      \
        for (int r = 0; r < rows; r++) {                                      \
            T *zr = z + (long)r * ld;                                         \
            if (b != 0) {                                                     \
                for (int c = 0; c < cols; c++) zr[c] += b[c];                 \
            }                                                                 \
            switch (act) {                                                    \
            case FR_TANH:                                                     \
                for (int c = 0; c < cols; c++) zr[c] = TANH(zr[c]);           \
                break;                                                        \
            case FR_SIGMOID:                                                  \
                for (int c = 0; c < cols; c++)                                \
                    zr[c] = fr_sigmoid_##SUFFIX(zr[c]);                       \
                break;                                                        \
            case FR_RELU:                                                     \
                /* NaN stays NaN: (x > 0) ? x : 0 would turn NaN into 0. */   \
                for (int c = 0; c < cols; c++)                                \
                    zr[c] = (zr[c] < 0) ? (T)0 : zr[c];                       \
                break;                                                        \
            default: /* linear */                                             \
                break;                                                        \
            }                                                                 \
        }                                                                     \
    }

#define DEFINE_ACT_GRAD(T, SUFFIX)                                            \
    void fr_act_grad_##SUFFIX(T *dz, const T *dh, const T *h, long n,         \
                              int act) {                                      \
        switch (act) {                                                        \
        case FR_TANH:                                                         \
            for (long i = 0; i < n; i++) dz[i] = dh[i] * ((T)1 - h[i] * h[i]); \
            break;                                                            \
        case FR_SIGMOID:                                                      \
            for (long i = 0; i < n; i++) dz[i] = dh[i] * (h[i] * ((T)1 - h[i])); \
            break;                                                            \
        case FR_RELU:                                                         \
            for (long i = 0; i < n; i++) dz[i] = (h[i] > 0) ? dh[i] : (T)0;   \
            break;                                                            \
        default:                                                              \
            for (long i = 0; i < n; i++) dz[i] = dh[i];                       \
            break;                                                            \
        }                                                                     \
    }

DEFINE_SIGMOID(float, f, expf)
DEFINE_SIGMOID(double, d, exp)
DEFINE_BIAS_ACT(float, f, tanhf)
DEFINE_BIAS_ACT(double, d, tanh)
DEFINE_ACT_GRAD(float, f)
DEFINE_ACT_GRAD(double, d)
