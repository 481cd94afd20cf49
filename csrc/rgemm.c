/* See rgemm.h.  The kernel is written with GCC vector types and compiled for
 * AVX-512F + FMA only (target attribute); fr_rgemm_supported() checks the CPU. */
#include <string.h>
#include "rgemm.h"

typedef float v16 __attribute__((vector_size(64)));

int fr_rgemm_supported(void) {
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
    static int answer = -1;
    if (answer < 0) {
        __builtin_cpu_init();
        answer = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
    }
    return answer;
#else
    return 0;
#endif
}

long fr_rgemm_packed_size(int K, int N) {
    return (long)K * ((N + FR_NR - 1) / FR_NR) * FR_NR;
}

void fr_rgemm_pack(const float *U, int K, int N, int ldu, int trans, float *P) {
    for (int p = 0; p * FR_NR < N; p++)
        for (int k = 0; k < K; k++) {
            float *row = P + ((long)p * K + k) * FR_NR;
            for (int j = 0; j < FR_NR; j++) {
                int c = p * FR_NR + j;
                row[j] = c >= N ? 0.0f : (trans ? U[(long)c * ldu + k] : U[(long)k * ldu + c]);
            }
        }
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define FR_RGEMM_TARGET __attribute__((target("avx512f,fma")))
#else
#define FR_RGEMM_TARGET
#endif

/* rows (1 to 4) x one panel (FR_NR columns), K long; out[r][j] = sum_k A[r][k] P[k][j] */
FR_RGEMM_TARGET static inline void panel(int rows, int K, const float *A, int lda,
                                         const float *Pp, float out[4][FR_NR]) {
    v16 c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0}, c30 = {0}, c31 = {0};
    const float *a0 = A, *a1 = A + (rows > 1 ? lda : 0);
    const float *a2 = A + (rows > 2 ? 2L * lda : 0), *a3 = A + (rows > 3 ? 3L * lda : 0);
    for (int k = 0; k < K; k++) {
        v16 b0, b1;
        memcpy(&b0, Pp + (long)k * FR_NR, sizeof b0);
        memcpy(&b1, Pp + (long)k * FR_NR + 16, sizeof b1);
        c00 += a0[k] * b0; c01 += a0[k] * b1;
        c10 += a1[k] * b0; c11 += a1[k] * b1;
        c20 += a2[k] * b0; c21 += a2[k] * b1;
        c30 += a3[k] * b0; c31 += a3[k] * b1;
    }
    memcpy(out[0], &c00, sizeof c00); memcpy(out[0] + 16, &c01, sizeof c01);
    memcpy(out[1], &c10, sizeof c10); memcpy(out[1] + 16, &c11, sizeof c11);
    memcpy(out[2], &c20, sizeof c20); memcpy(out[2] + 16, &c21, sizeof c21);
    memcpy(out[3], &c30, sizeof c30); memcpy(out[3] + 16, &c31, sizeof c31);
}

FR_RGEMM_TARGET void fr_rgemm(int M, int N, int K, const float *A, int lda, const float *P,
                              float beta, float *C, int ldc) {
    float out[4][FR_NR];
    for (int p = 0; p * FR_NR < N; p++) {
        const float *Pp = P + (long)p * K * FR_NR;
        int cols = N - p * FR_NR < FR_NR ? N - p * FR_NR : FR_NR;
        for (int i = 0; i < M; i += 4) {
            int rows = M - i < 4 ? M - i : 4;
            panel(rows, K, A + (long)i * lda, lda, Pp, out);
            for (int r = 0; r < rows; r++) {
                float *cr = C + (long)(i + r) * ldc + p * FR_NR;
                if (beta == 0.0f) {
                    for (int j = 0; j < cols; j++) cr[j] = out[r][j];
                } else {
                    for (int j = 0; j < cols; j++) cr[j] = beta * cr[j] + out[r][j];
                }
            }
        }
    }
}
