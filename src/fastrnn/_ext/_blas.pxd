# The one BLAS wrapper of fastrnn: row-major GEMM and AXPY over the fused
# `floating` type, on top of scipy.linalg.cython_blas (column-major Fortran BLAS).
# gemm: one BLAS call on the calling thread.  gemm_all: for the large products over all
# rows and steps; split across fastrnn's worker threads (csrc/pool.c) when that pays.
# weight_grads: a layer's weight gradients a_i^T dz and bias gradient in one pass over dz.
from cython cimport floating

cdef void gemm(bint trans_a, bint trans_b, int m, int n, int k,
               floating alpha, const floating *a, int lda,
               const floating *b, int ldb,
               floating beta, floating *c, int ldc) noexcept nogil

cdef void gemm_all(bint trans_a, bint trans_b, int m, int n, int k,
                   floating alpha, const floating *a, int lda,
                   const floating *b, int ldb,
                   floating beta, floating *c, int ldc) noexcept nogil

cdef void axpy(int n, floating alpha, const floating *x, floating *y) noexcept nogil

cdef void weight_grads(int K, int N, const floating *dz, int ldz,
                       int m1, const floating *a1, int lda1, floating *c1, int ldc1,
                       int m2, const floating *a2, int lda2, floating *c2, int ldc2,
                       floating *db) noexcept nogil
