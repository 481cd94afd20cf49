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
    void fr_wgrad_split(int K, int N, const float *dz, int ldz, int n,
                        const fr_wgrad_term *terms, float *db, int parts)
    void fr_gemm_split_d(fr_dgemm_t gemm, char ta, char tb, int m, int n, int k,
                         double alpha, const double *a, int lda, const double *b, int ldb,
                         double beta, double *c, int ldc, int parts)

cdef extern from "activations.h" nogil:
    void fr_sum_rows_f(const float *a, long rows, int cols, float *out)
    void fr_sum_rows_d(const double *a, long rows, int cols, double *out)

cdef extern from "rgemm.h" nogil:
    ctypedef struct fr_wgrad_term:
        int M
        const float *A
        int lda
        float *C
        int ldc
    void fr_wgrad(int K, int N, const float *dz, int ldz, int n, const fr_wgrad_term *terms,
                  float *db)
    int fr_rgemm_supported()
    int fr_rgemm_level()
    void fr_sgemm(int ta, int tb, int M, int N, int K, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc)
    void fr_sgemm_colmajor(char *ta, char *tb, int *m, int *n, int *k, float *alpha,
                           float *a, int *lda, float *b, int *ldb, float *beta, float *c,
                           int *ldc)

# float32 all-rows products go to csrc/rgemm.c's kernel where the CPU has it and it pays
# (see gemm_all); tests may turn it off.  With AVX-512 it measured faster than OpenBLAS
# at every width it takes; its AVX2 kernel (AMD Zen 3, one core) only up to outputs and
# depths of 512: the products of W1-W3 1.1-1.5x faster (weight gradients x^T dz most),
# W4's (N 2048) level or 10% slower, so wider ones stay with BLAS there.
cdef bint OWN_SGEMM = fr_rgemm_level() >= 1
cdef int OWN_MAX_WIDTH = 0 if fr_rgemm_level() >= 2 else 512     # 0: no limit

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


def own_max_width():
    """The widest float32 product (columns of C) gemm_all and weight_gradients give
    csrc/rgemm.c's kernel when use_own_sgemm is on; 0 means no limit.  For tests."""
    return OWN_MAX_WIDTH


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


cdef inline int split_parts(double flops) noexcept nogil:
    """Threads for an all-rows product of this much work: the pool's size, fewer where a
    part would get less than MIN_PART_FLOPS (0 or 1: on the calling thread)."""
    cdef int parts = fr_pool_size()
    if flops < parts * MIN_PART_FLOPS:
        parts = <int> (flops / MIN_PART_FLOPS)
    return parts


cdef void gemm_all(bint trans_a, bint trans_b, int m, int n, int k,
                   floating alpha, const floating *a, int lda,
                   const floating *b, int ldb,
                   floating beta, floating *c, int ldc) noexcept nogil:
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    cdef double flops = 2.0 * m * n * k
    cdef int parts = split_parts(flops)
    # csrc/rgemm.c's product where it measured faster than OpenBLAS (one core, AVX-512):
    # op(A) transposed (weight gradients X^T dZ: 1.0-1.5x) and outputs up to 512 wide
    # with K up to 512 (projections, input gradients of the layers: 1.1-1.3x).  Wider
    # products are bound by writing C, which OpenBLAS's blocking does better.  With
    # AVX2 only, transposed ones also only up to OWN_MAX_WIDTH.
    cdef bint own = (floating is float and OWN_SGEMM and alpha == 1
                     and ((trans_a and (OWN_MAX_WIDTH == 0 or n <= OWN_MAX_WIDTH))
                          or (n <= 512 and k <= 512)))
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


cdef void weight_grads(int K, int N, const floating *dz, int ldz,
                       int m1, const floating *a1, int lda1, floating *c1, int ldc1,
                       int m2, const floating *a2, int lda2, floating *c2, int ldc2,
                       floating *db) noexcept nogil:
    """A layer's weight gradients from dz (K, N), row-major with row step ldz:
    c1 (m1, N) = a1^T dz and c2 (m2, N) = a2^T dz (a_i (K, m_i) with row steps lda_i,
    c_i with ldc_i; m_i = 0: that one is not wanted), and db (N) = the column sums of dz
    (NULL: not wanted; with db, ldz must be N).  float32 with csrc/rgemm.c's kernel:
    fr_wgrad, which packs each block of dz once for both products and sums it on the
    way (split by columns over the threads); else gemm_all for each and a sum.  Both
    give gemm_all's values and a row-by-row sum (fr_sum_rows's)."""
    cdef fr_wgrad_term terms[2]
    cdef int n = 0, parts
    if N <= 0:
        return
    if floating is float:
        if OWN_SGEMM and (OWN_MAX_WIDTH == 0 or N <= OWN_MAX_WIDTH):
            if m1 > 0:
                terms[n].M, terms[n].A, terms[n].lda, terms[n].C, terms[n].ldc = \
                    m1, a1, lda1, c1, ldc1
                n += 1
            if m2 > 0:
                terms[n].M, terms[n].A, terms[n].lda, terms[n].C, terms[n].ldc = \
                    m2, a2, lda2, c2, ldc2
                n += 1
            parts = split_parts(2.0 * (m1 + m2) * N * K)
            if parts <= 1:
                fr_wgrad(K, N, dz, ldz, n, terms, db)
            else:
                fr_wgrad_split(K, N, dz, ldz, n, terms, db, parts)
            return
    if m1 > 0:
        gemm_all(True, False, m1, N, K, <floating> 1, a1, lda1, dz, ldz, <floating> 0, c1,
                 ldc1)
    if m2 > 0:
        gemm_all(True, False, m2, N, K, <floating> 1, a2, lda2, dz, ldz, <floating> 0, c2,
                 ldc2)
    if db != NULL:
        if floating is float:
            fr_sum_rows_f(dz, K, N, db)
        else:
            fr_sum_rows_d(dz, K, N, db)


def weight_gradients(const floating[:, ::1] dz, const floating[:, ::1] a1=None,
                     floating[:, ::1] c1=None, const floating[:, ::1] a2=None,
                     floating[:, ::1] c2=None, floating[::1] db=None):
    """c1 = a1^T dz, c2 = a2^T dz and db = dz.sum(0), each where given, through
    weight_grads (for tests); shapes are checked here."""
    cdef int K = dz.shape[0], N = dz.shape[1]
    cdef int m1 = 0 if a1 is None else a1.shape[1]
    cdef int m2 = 0 if a2 is None else a2.shape[1]
    if ((a1 is None) != (c1 is None) or (a2 is None) != (c2 is None)
            or (a1 is not None and (a1.shape[0] != K or c1.shape[0] != m1
                                    or c1.shape[1] != N))
            or (a2 is not None and (a2.shape[0] != K or c2.shape[0] != m2
                                    or c2.shape[1] != N))
            or (db is not None and db.shape[0] != N)):
        raise ValueError("weight_gradients: shapes do not agree")
    if min(K, N) < 1 or (a1 is not None and m1 < 1) or (a2 is not None and m2 < 1):
        raise ValueError("weight_gradients: empty operands")
    with nogil:
        weight_grads(K, N, &dz[0, 0], N, m1, NULL if m1 == 0 else &a1[0, 0], m1,
                     NULL if m1 == 0 else &c1[0, 0], N, m2, NULL if m2 == 0 else &a2[0, 0],
                     m2, NULL if m2 == 0 else &c2[0, 0], N, NULL if db is None else &db[0])


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
