"""Row-major BLAS for the kernels.

C (m x n) = alpha * op(A) (m x k) * op(B) (k x n) + beta * C, all row-major with
leading dimensions lda, ldb, ldc (elements between the starts of two rows).
Column-major BLAS sees a row-major matrix as its transpose, so
C^T = op(B)^T op(A)^T is computed by swapping the operands: no copies.
"""
from scipy.linalg.cython_blas cimport sgemm, dgemm, saxpy, daxpy


cdef void gemm(bint trans_a, bint trans_b, int m, int n, int k,
               floating alpha, const floating *a, int lda,
               const floating *b, int ldb,
               floating beta, floating *c, int ldc) noexcept nogil:
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    if m == 0 or n == 0:
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
