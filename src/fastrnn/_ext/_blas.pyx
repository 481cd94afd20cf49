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

cdef extern from "rgemm.h" nogil:
    int fr_rgemm_supported()
    int fr_rgemm_level()
    void fr_sgemm(int ta, int tb, int M, int N, int K, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc)
    void fr_sgemm_colmajor(char *ta, char *tb, int *m, int *n, int *k, float *alpha,
                           float *a, int *lda, float *b, int *ldb, float *beta, float *c,
                           int *ldc)

# float32 all-rows products go to csrc/rgemm.c's AVX-512 kernel where the CPU has it
# and it pays (see gemm_all); tests may turn it off.  Its AVX2 kernel measured level
# with OpenBLAS's own AVX2 kernels on these products, so they stay with BLAS there
# (the per-step products, where BLAS re-packs the recurrent matrix, use it).
cdef bint OWN_SGEMM = fr_rgemm_level() >= 2

# Work (flops) below which another thread costs more than it saves.
cdef double MIN_PART_FLOPS = 4e6


def set_threads(int n):
    """Threads (the caller included) that gemm_all may use."""
    fr_pool_set_size(n)


def get_threads():
    return fr_pool_size()


def kernel_level():
    """The instruction set of csrc/rgemm.c's kernels in use: 2 (AVX-512), 1 (AVX2) or 0
    (none: BLAS for everything); FASTRNN_KERNEL=avx2 or =blas at start-up caps it."""
    return fr_rgemm_level()


def use_own_sgemm(bint on):
    """Route gemm_all's float32 products to csrc/rgemm.c (True, where the CPU has the
    kernel) or to BLAS (False); returns the previous setting.  For tests."""
    global OWN_SGEMM
    old, OWN_SGEMM = OWN_SGEMM, bool(on and fr_rgemm_supported())   # any level: tests
    return old


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
    # csrc/rgemm.c's product where it measured faster than OpenBLAS (one core, AVX-512):
    # op(A) transposed (weight gradients X^T dZ: 1.0-1.5x) and outputs up to 512 wide
    # with K up to 512 (projections, input gradients of the layers: 1.1-1.3x).  Wider
    # products are bound by writing C, which OpenBLAS's blocking does better.
    cdef bint own = (floating is float and OWN_SGEMM and alpha == 1
                     and (trans_a or (n <= 512 and k <= 512)))
    if m == 0 or n == 0:
        return
    if parts <= 1:
        if floating is float:
            if own:
                fr_sgemm(trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc)
                return
        gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        return
    # Column-major view, as in gemm: C^T = op(B)^T op(A)^T.
    if floating is float:
        fr_gemm_split_f(<fr_sgemm_t> fr_sgemm_colmajor if own else <fr_sgemm_t> sgemm,
                        tb, ta, n, m, k, alpha, b, ldb, a, lda, beta, c, ldc, parts)
    else:
        fr_gemm_split_d(<fr_dgemm_t> dgemm, tb, ta, n, m, k, alpha, b, ldb, a, lda,
                        beta, c, ldc, parts)


def product(const floating[:, ::1] a, bint trans_a, const floating[:, ::1] b, bint trans_b,
            floating[:, ::1] c, floating beta):
    """c = beta c + op(a) op(b) through gemm_all (for tests); shapes are checked here."""
    cdef int m = a.shape[1] if trans_a else a.shape[0]
    cdef int k = a.shape[0] if trans_a else a.shape[1]
    cdef int n = b.shape[0] if trans_b else b.shape[1]
    if (b.shape[1] if trans_b else b.shape[0]) != k or c.shape[0] != m or c.shape[1] != n:
        raise ValueError("product: shapes do not agree")
    if min(m, n, k) < 1:
        raise ValueError("product: empty operands")
    with nogil:
        gemm_all(trans_a, trans_b, m, n, k, <floating> 1, &a[0, 0], a.shape[1],
                 &b[0, 0], b.shape[1], beta, &c[0, 0], n)
