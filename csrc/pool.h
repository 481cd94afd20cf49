/* A small pool of worker threads for fastrnn's large all-rows GEMMs.
 *
 * fr_pool_run(fn, arg, parts) runs fn(arg, i) for i in [0, parts): part 0 on the
 * calling thread, the others on the pool's workers; it returns when all are done.
 * Workers sleep on a condition variable between jobs (they never spin, so they do
 * not compete with other threads for the cores).  One job runs at a time: a caller
 * that finds the pool busy runs all parts itself.  After fork() the child starts with
 * an empty pool.  fr_pool_set_size(n) sets the number of threads, caller included.
 *
 * fr_gemm_split_{f,d}(gemm, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, parts)
 *     column-major BLAS sgemm/dgemm called as parts sub-products, split along the
 *     larger of m and n (same arguments as the Fortran BLAS, by value).
 * fr_wgrad_split(K, N, dz, ldz, n, terms, db, parts)
 *     rgemm.h's fr_wgrad (n <= FR_WGRAD_MAX_TERMS) as parts column ranges of whole
 *     32-column panels (the same values as one call).
 */
#ifndef FASTRNN_POOL_H
#define FASTRNN_POOL_H

#include "rgemm.h"

typedef void (*fr_sgemm_t)(char *, char *, int *, int *, int *, float *, float *, int *,
                           float *, int *, float *, float *, int *);
typedef void (*fr_dgemm_t)(char *, char *, int *, int *, int *, double *, double *, int *,
                           double *, int *, double *, double *, int *);

void fr_pool_set_size(int n);
int fr_pool_size(void);
void fr_pool_run(void (*fn)(void *, int), void *arg, int parts);

void fr_gemm_split_f(fr_sgemm_t gemm, char ta, char tb, int m, int n, int k, float alpha,
                     const float *a, int lda, const float *b, int ldb, float beta, float *c,
                     int ldc, int parts);
#define FR_WGRAD_MAX_TERMS 4
void fr_wgrad_split(int K, int N, const float *dz, int ldz, int n, const fr_wgrad_term *terms,
                    float *db, int parts);
void fr_gemm_split_d(fr_dgemm_t gemm, char ta, char tb, int m, int n, int k, double alpha,
                     const double *a, int lda, const double *b, int ldb, double beta,
                     double *c, int ldc, int parts);

#endif
