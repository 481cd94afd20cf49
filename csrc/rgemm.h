/* The per-step recurrent product with the recurrent matrix packed once per pass.
 *
 * A recurrent layer multiplies by the same matrix U at every time step; a BLAS call
 * re-packs U each time.  Here op(U) (K x N) is packed once into panels of FR_NR
 * columns, and each step runs a register-blocked kernel over the panels:
 *
 *   fr_rgemm_packed_size(K, N)             floats needed for the packed copy
 *   fr_rgemm_pack(U, K, N, ldu, trans, P)  P = op(U) packed (op(U)[k][c] = U[k*ldu + c],
 *                                          or U[c*ldu + k] when trans)
 *   fr_rgemm(M, N, K, A, lda, P, beta, C, ldc)
 *                                          C (M x N, row-major) = beta C + A (M x K) op(U)
 *   fr_rgemm_supported()                   1 where the fast kernel exists (AVX-512F with
 *                                          FMA, chosen at run time), else 0: then callers
 *                                          use BLAS.
 * float32 only (the training default); float64 goes through BLAS.
 */
#ifndef FASTRNN_RGEMM_H
#define FASTRNN_RGEMM_H

#define FR_NR 32

int fr_rgemm_supported(void);
long fr_rgemm_packed_size(int K, int N);
void fr_rgemm_pack(const float *U, int K, int N, int ldu, int trans, float *P);
void fr_rgemm(int M, int N, int K, const float *A, int lda, const float *P, float beta,
              float *C, int ldc);

#endif
