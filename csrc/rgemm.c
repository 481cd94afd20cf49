/* See rgemm.h.  The kernel uses AVX-512F + FMA intrinsics in functions compiled for
 * that target only (target attribute), so the rest of the build stays generic x86-64;
 * fr_rgemm_supported() checks the CPU at run time. */
#include <string.h>
#include "rgemm.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define FR_HAVE_AVX512_KERNEL 1
#include <immintrin.h>
#define FR_RGEMM_TARGET __attribute__((target("avx512f,fma")))
#define FR_INLINE static inline __attribute__((always_inline))
#endif

int fr_rgemm_supported(void) {
#ifdef FR_HAVE_AVX512_KERNEL
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

#ifdef FR_HAVE_AVX512_KERNEL
/* One tile: C[0:ROWS, 0:32] = beta C + A[0:ROWS, 0:K] Pp, Pp one packed panel (K x 32).
 * ROWS (1 to FR_MR) is a constant at each call site, so the row loops unroll and the
 * 2 ROWS accumulators live in registers.  m0, m1: the columns to store (a panel past
 * the last column of C is zero-padded in Pp and masked off here).  beta == 0 stores
 * without reading C (NaN or garbage there is overwritten, as BLAS does). */
FR_RGEMM_TARGET FR_INLINE void tile(const int ROWS, int K, const float *A, long lda,
                                    const float *Pp, float beta, float *C, long ldc,
                                    __mmask16 m0, __mmask16 m1) {
    __m512 c0[FR_MR], c1[FR_MR];
    const float *a[FR_MR];
    for (int r = 0; r < ROWS; r++) {
        c0[r] = _mm512_setzero_ps();
        c1[r] = _mm512_setzero_ps();
        a[r] = A + r * lda;
    }
    for (int k = 0; k < K; k++) {
        __m512 b0 = _mm512_loadu_ps(Pp + (long)k * FR_NR);
        __m512 b1 = _mm512_loadu_ps(Pp + (long)k * FR_NR + 16);
        for (int r = 0; r < ROWS; r++) {
            __m512 ar = _mm512_set1_ps(a[r][k]);
            c0[r] = _mm512_fmadd_ps(ar, b0, c0[r]);
            c1[r] = _mm512_fmadd_ps(ar, b1, c1[r]);
        }
    }
    __m512 vb = _mm512_set1_ps(beta);
    for (int r = 0; r < ROWS; r++) {
        float *cr = C + r * ldc;
        if (beta != 0.0f) {
            c0[r] = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, cr), c0[r]);
            c1[r] = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, cr + 16), c1[r]);
        }
        _mm512_mask_storeu_ps(cr, m0, c0[r]);
        _mm512_mask_storeu_ps(cr + 16, m1, c1[r]);
    }
}

FR_RGEMM_TARGET void fr_rgemm(int M, int N, int K, const float *A, int lda, const float *P,
                              float beta, float *C, int ldc) {
    /* Panels outer, row tiles inner: one panel (K x 32) stays in L1/L2 while every
     * row tile of A streams past it. */
    for (int p = 0; p * FR_NR < N; p++) {
        const float *Pp = P + (long)p * K * FR_NR;
        int cols = N - p * FR_NR < FR_NR ? N - p * FR_NR : FR_NR;
        __mmask16 m0 = cols >= 16 ? 0xFFFF : (__mmask16)((1u << cols) - 1);
        __mmask16 m1 = cols >= 32 ? 0xFFFF : cols <= 16 ? 0 : (__mmask16)((1u << (cols - 16)) - 1);
        float *Cp = C + p * FR_NR;
        int i = 0;
        for (; i + FR_MR <= M; i += FR_MR)
            tile(FR_MR, K, A + (long)i * lda, lda, Pp, beta, Cp + (long)i * ldc, ldc, m0, m1);
        switch (M - i) {    /* the last rows, with a constant count each */
        case 7: tile(7, K, A + (long)i * lda, lda, Pp, beta, Cp + (long)i * ldc, ldc, m0, m1); break;
        case 6: tile(6, K, A + (long)i * lda, lda, Pp, beta, Cp + (long)i * ldc, ldc, m0, m1); break;
        case 5: tile(5, K, A + (long)i * lda, lda, Pp, beta, Cp + (long)i * ldc, ldc, m0, m1); break;
        case 4: tile(4, K, A + (long)i * lda, lda, Pp, beta, Cp + (long)i * ldc, ldc, m0, m1); break;
        case 3: tile(3, K, A + (long)i * lda, lda, Pp, beta, Cp + (long)i * ldc, ldc, m0, m1); break;
        case 2: tile(2, K, A + (long)i * lda, lda, Pp, beta, Cp + (long)i * ldc, ldc, m0, m1); break;
        case 1: tile(1, K, A + (long)i * lda, lda, Pp, beta, Cp + (long)i * ldc, ldc, m0, m1); break;
        default: break;
        }
    }
}
#else
/* Portable version (callers use BLAS where fr_rgemm_supported() is 0; this keeps the
 * function correct anywhere it is called). */
void fr_rgemm(int M, int N, int K, const float *A, int lda, const float *P, float beta,
              float *C, int ldc) {
    for (int i = 0; i < M; i++)
        for (int c = 0; c < N; c++) {
            const float *Pp = P + (long)(c / FR_NR) * K * FR_NR + c % FR_NR;
            float s = 0.0f;
            for (int k = 0; k < K; k++) s += A[(long)i * lda + k] * Pp[(long)k * FR_NR];
            float *cc = C + (long)i * ldc + c;
            *cc = beta == 0.0f ? s : beta * *cc + s;
        }
}
#endif
