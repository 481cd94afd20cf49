/* The per-step recurrent product with the recurrent matrix packed once per pass.
 *
 * A recurrent layer multiplies by the same matrix U at every time step; a BLAS call
 * re-packs U each time.  Here op(U) (K x N) is packed once into panels of FR_NR
 * columns, and each step runs a register-blocked kernel over the panels:
 *
 *   fr_rgemm_packed_size(K, N)             floats needed for the packed copy
 *   fr_packed_alloc(floats, flops)         memory for it, in huge pages where the
 *                                          product's work (flops) repays them (see
 *                                          rgemm.c); release it with free()
 *   fr_packed_wants_huge(floats, flops)    1 where fr_packed_alloc takes huge pages
 *   fr_rgemm_pack(U, K, N, ldu, trans, P)  P = op(U) packed (op(U)[k][c] = U[k*ldu + c],
 *                                          or U[c*ldu + k] when trans)
 *   fr_rgemm(M, N, K, A, lda, P, beta, C, ldc, reverse)
 *                                          C (M x N, row-major) = beta C + A (M x K) op(U)
 *                                          (C must not overlap A);
 *                                          reverse runs the panels last to first (the
 *                                          same result): per-step callers alternate it
 *                                          so that a step starts in the panels the last
 *                                          one left in cache
 *   fr_rgemm2(M, N, K, A, lda, K1, A2, lda2, P, beta, C, ldc, reverse)
 *                                          the same product with A's columns from two
 *                                          sources side by side: [A (M x K1), A2
 *                                          (M x (K - K1))], e.g. [x_t, h_{t-1}] without
 *                                          copying them together (the same sums, in the
 *                                          same order, as one A of K columns)
 *   fr_rgemm_supported()                   1 where a fast kernel exists (AVX-512F or
 *                                          AVX2, with FMA, chosen when the module loads),
 *                                          else 0: then callers use BLAS.
 *   fr_rgemm_level()                       2 (AVX-512), 1 (AVX2) or 0; the environment
 *                                          variable FASTRNN_KERNEL=avx2 or =blas caps it.
 *
 * The same register tile serves the large all-rows products (input projection, weight
 * and input gradients), with cache blocking (op(B) packed into strips, a transposed A
 * packed into row tiles, a plain A read in place):
 *   fr_sgemm(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc)
 *                                          row-major C (M x N) = beta C + op(A) op(B)
 *   fr_sgemm_colmajor(...)                 the same with Fortran sgemm's arguments
 *                                          (alpha must be 1), for csrc/pool.c's split
 * float32 only (the training default); float64 goes through BLAS.  The AVX-512 kernel
 * holds an 8 x 32 tile of C in 16 registers (A broadcast from its rows, two panel
 * vectors per k), which keeps both FMA ports busy: about 160-170 GFLOP/s on one core
 * at 64 x 128 x 512, where a BLAS call that re-packs U reaches 80-110.  The AVX2
 * kernel computes the same tile as four 4 x 16 blocks of 8 accumulators.
 */
#ifndef FASTRNN_RGEMM_H
#define FASTRNN_RGEMM_H

#define FR_NR 32   /* columns of a packed panel (two AVX-512 or four AVX2 vectors) */
#define FR_MR 8    /* rows of a register tile: 2 x 8 accumulators */

int fr_rgemm_supported(void);
int fr_rgemm_level(void);
long fr_rgemm_packed_size(int K, int N);
int fr_packed_wants_huge(long floats, double flops);
float *fr_packed_alloc(long floats, double flops);
void fr_rgemm_pack(const float *U, int K, int N, int ldu, int trans, float *P);
void fr_rgemm(int M, int N, int K, const float *A, int lda, const float *P, float beta,
              float *C, int ldc, int reverse);
void fr_rgemm2(int M, int N, int K, const float *A, int lda, int K1, const float *A2,
               int lda2, const float *P, float beta, float *C, int ldc, int reverse);
void fr_sgemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
              int ldb, float beta, float *C, int ldc);
void fr_sgemm_colmajor(char *ta, char *tb, int *m, int *n, int *k, float *alpha, float *a,
                       int *lda, float *b, int *ldb, float *beta, float *c, int *ldc);

/* A layer's weight gradients in one pass over dz (K x N, row-major, row step ldz): for
 * each term i < n, C_i (M_i x N, row step ldc) = A_i^T dz, with A_i (K x M_i, row step
 * lda); and db (N) = the column sums of dz unless NULL.  The terms share each packed
 * block of dz and the sums are taken while it is packed (same values as fr_sgemm and
 * fr_sum_rows_f, in one read of dz instead of three). */
typedef struct {
    int M;
    const float *A;
    int lda;
    float *C;
    int ldc;
} fr_wgrad_term;
void fr_wgrad(int K, int N, const float *dz, int ldz, int n, const fr_wgrad_term *terms,
              float *db);

#endif
