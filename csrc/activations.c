/* See activations.h. One body per function, instantiated for float and double. */
#include <math.h>
#include "activations.h"

#define DEFINE_BIAS_ACT(T, SUFFIX, TANH)                                      \
    FR_KERNEL void fr_bias_act_##SUFFIX(T *z, const T *b, int rows, int cols, int ld,   \
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
    FR_KERNEL void fr_act_grad_##SUFFIX(T *dz, const T *dh, const T *h, long n,         \
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

DEFINE_BIAS_ACT(float, f, fr_tanh_f)
DEFINE_BIAS_ACT(double, d, fr_tanh_d)
#define DEFINE_SUM_ROWS(T, SUFFIX)                                            \
    void fr_sum_rows_##SUFFIX(const T *a, long rows, int cols, T *out) {      \
        for (int c = 0; c < cols; c++) out[c] = 0;                            \
        for (long r = 0; r < rows; r++) {                                     \
            const T *ar = a + r * cols;                                       \
            for (int c = 0; c < cols; c++) out[c] += ar[c];                   \
        }                                                                     \
    }

#define DEFINE_MASK_HELPERS(T, SUFFIX)                                        \
    void fr_keep_rows_##SUFFIX(T *cur, const T *prev, const unsigned char *mask, \
                               int B, int H) {                                \
        for (int r = 0; r < B; r++) {                                         \
            if (mask[r]) continue;                                            \
            for (int j = 0; j < H; j++) cur[(long)r * H + j] = prev[(long)r * H + j]; \
        }                                                                     \
    }                                                                         \
    void fr_mask_split_##SUFFIX(T *dz, T *dh, const unsigned char *mask,      \
                                int B, int H) {                               \
        for (int r = 0; r < B; r++) {                                         \
            T *target = mask[r] ? dh + (long)r * H : dz + (long)r * H;        \
            for (int j = 0; j < H; j++) target[j] = 0;                        \
        }                                                                     \
    }

DEFINE_MASK_HELPERS(float, f)
DEFINE_MASK_HELPERS(double, d)
DEFINE_SUM_ROWS(float, f)
DEFINE_SUM_ROWS(double, d)
DEFINE_ACT_GRAD(float, f)
DEFINE_ACT_GRAD(double, d)
