"""Row-major BLAS for the kernels.

C (m x n) = alpha * op(A) (m x k) * op(B) (k x n) + beta * C, all row-major with
leading dimensions lda, ldb, ldc (elements between the starts of two rows).
Column-major BLAS sees a row-major matrix as its transpose, so
C^T = op(B)^T op(A)^T is computed by swapping the operands: no copies.
"""
from libc.string cimport memset
from scipy.linalg.cython_blas cimport sgemm, dgemm, sgemv, dgemv, saxpy, daxpy

cdef extern from "pool.h" nogil:
    ctypedef void (*fr_sgemm_t)(char *, char *, int *, int *, int *, float *, float *,
                                int *, float *, int *, float *, float *, int *)
    ctypedef void (*fr_dgemm_t)(char *, char *, int *, int *, int *, double *, double *,
                                int *, double *, int *, double *, double *, int *)
    void fr_pool_set_size(int n)
    int fr_pool_size()
    void fr_gemm_split_f(fr_sgemm_t gemm, char ta, char tb, int m, int n, int k,
                         float alpha, const float *a, int lda, const float *b, int ldb,
                         float beta, float *c, int ldc, int parts)
    void fr_gemm_split_d(fr_dgemm_t gemm, char ta, char tb, int m, int n, int k,
                         double alpha, const double *a, int lda, const double *b, int ldb,
                         double beta, double *c, int ldc, int parts)

# Work (flops) below which another thread costs more than it saves.
cdef double MIN_PART_FLOPS = 4e6


def set_threads(int n):
    """Threads (the caller included) that gemm_all may use."""
    fr_pool_set_size(n)


def get_threads():
    return fr_pool_size()


def set_min_part_flops(double flops):
    """Change the split threshold of gemm_all (tests use 0 to split tiny products);
    returns the previous value."""
    global MIN_PART_FLOPS
    old, MIN_PART_FLOPS = MIN_PART_FLOPS, flops
    return old


cdef void gemm(bint trans_a, bint trans_b, int m, int n, int k,
               floating alpha, const floating *a, int lda,
               const floating *b, int ldb,
               floating beta, floating *c, int ldc) noexcept nogil:
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    cdef int one = 1
    if m == 0 or n == 0:
        return
    if m == 1 and k > 0:
        # One row (a single sample or step): GEMV, c = op(B)^T a, costs less to call.
        # Column-major, B is seen transposed: op(B)^T is B as stored when not trans_b.
        # With beta = 0, c may hold garbage (even NaN) that a BLAS scaling by 0 would
        # keep: clear it first.
        if beta == 0:
            memset(c, 0, n * sizeof(floating))
        if floating is float:
            if trans_b:
                sgemv(b'T', &k, &n, &alpha, <float *> b, &ldb, <float *> a,
                      &one if not trans_a else &lda, &beta, c, &one)
            else:
                sgemv(b'N', &n, &k, &alpha, <float *> b, &ldb, <float *> a,
                      &one if not trans_a else &lda, &beta, c, &one)
        else:
            if trans_b:
                dgemv(b'T', &k, &n, &alpha, <double *> b, &ldb, <double *> a,
                      &one if not trans_a else &lda, &beta, c, &one)
            else:
                dgemv(b'N', &n, &k, &alpha, <double *> b, &ldb, <double *> a,
                      &one if not trans_a else &lda, &beta, c, &one)
        return
    if floating is float:
        sgemm(&tb, &ta, &n, &m, &k, &alpha, <float *> b, &ldb,
              <float *> a, &lda, &beta, c, &ldc)
    else:
        dgemm(&tb, &ta, &n, &m, &k, &alpha, <double *> b, &ldb,
              <double *> a, &lda, &beta, c, &ldc)


cdef void axpy(int n, floating alpha, const floating *x, floating *y) noexcept nogil:
    cdef int one = 1
    if floating is float:
        saxpy(&n, &alpha, <float *> x, &one, y, &one)
    else:
        daxpy(&n, &alpha, <double *> x, &one, y, &one)


cdef void gemm_all(bint trans_a, bint trans_b, int m, int n, int k,
                   floating alpha, const floating *a, int lda,
                   const floating *b, int ldb,
                   floating beta, floating *c, int ldc) noexcept nogil:
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    cdef int parts = fr_pool_size()
    cdef double flops = 2.0 * m * n * k
    if flops < parts * MIN_PART_FLOPS:
        parts = <int> (flops / MIN_PART_FLOPS)
    if parts <= 1 or m == 0 or n == 0:
        gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        return
    # Column-major view, as in gemm: C^T = op(B)^T op(A)^T.
    if floating is float:
        fr_gemm_split_f(<fr_sgemm_t> sgemm, tb, ta, n, m, k, alpha, b, ldb, a, lda,
                        beta, c, ldc, parts)
    else:
        fr_gemm_split_d(<fr_dgemm_t> dgemm, tb, ta, n, m, k, alpha, b, ldb, a, lda,
                        beta, c, ldc, parts)
