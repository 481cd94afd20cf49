# Fused-type dispatch to the float/double C helpers of csrc/ (activations.h, gates.h,
# rgemm.h).
from cython cimport floating
from fastrnn._ext._csrc cimport *
from fastrnn._ext._blas cimport gemm


cdef inline void bias_act(floating *z, const floating *b, int rows, int cols,
                          int act) noexcept nogil:
    """z (rows, cols) = act(z + b) in place; b (cols) or NULL."""
    if floating is float:
        fr_bias_act_f(z, b, rows, cols, cols, act)
    else:
        fr_bias_act_d(z, b, rows, cols, cols, act)


cdef inline void act_grad(floating *dz, const floating *dh, const floating *h, long n,
                          int act) noexcept nogil:
    """dz (n) = dh * act'(.) through the outputs h."""
    if floating is float:
        fr_act_grad_f(dz, dh, h, n, act)
    else:
        fr_act_grad_d(dz, dh, h, n, act)


cdef inline void sum_rows(const floating *a, long rows, int cols, floating *out) noexcept nogil:
    """out (cols) = column sums of a (rows, cols)."""
    if floating is float:
        fr_sum_rows_f(a, rows, cols, out)
    else:
        fr_sum_rows_d(a, rows, cols, out)


cdef inline void lstm_fwd(floating *z, const floating *b, const floating *c_prev,
                          floating *c, floating *ac, floating *h, int B, int H,
                          int act, int ract) noexcept nogil:
    if floating is float:
        fr_lstm_fwd_f(z, b, c_prev, c, ac, h, B, H, act, ract)
    else:
        fr_lstm_fwd_d(z, b, c_prev, c, ac, h, B, H, act, ract)


cdef inline void lstm_bwd(floating *z, const floating *c_prev, const floating *ac,
                          floating *dh, floating *dc, const unsigned char *mask, int B, int H,
                          int act, int ract) noexcept nogil:
    if floating is float:
        fr_lstm_bwd_f(z, c_prev, ac, dh, dc, mask, B, H, act, ract)
    else:
        fr_lstm_bwd_d(z, c_prev, ac, dh, dc, mask, B, H, act, ract)


cdef inline void gru_fwd(floating *xg, floating *mh, const floating *brec,
                         const floating *h_prev, floating *h, int B, int H,
                         int act, int ract) noexcept nogil:
    if floating is float:
        fr_gru_fwd_f(xg, mh, brec, h_prev, h, B, H, act, ract)
    else:
        fr_gru_fwd_d(xg, mh, brec, h_prev, h, B, H, act, ract)


cdef inline void gru_bwd(floating *xg, floating *mh, const floating *h_prev,
                         floating *dh, const unsigned char *mask, int B, int H, int act,
                         int ract) noexcept nogil:
    if floating is float:
        fr_gru_bwd_f(xg, mh, h_prev, dh, mask, B, H, act, ract)
    else:
        fr_gru_bwd_d(xg, mh, h_prev, dh, mask, B, H, act, ract)


cdef inline void gru1_fwd_zr(floating *xg, const floating *mzr, const floating *h_prev,
                             floating *rh, int B, int H, int ract) noexcept nogil:
    if floating is float:
        fr_gru1_fwd_zr_f(xg, mzr, h_prev, rh, B, H, ract)
    else:
        fr_gru1_fwd_zr_d(xg, mzr, h_prev, rh, B, H, ract)


cdef inline void gru1_fwd_h(floating *xg, const floating *mh, const floating *h_prev,
                            floating *h, int B, int H, int act) noexcept nogil:
    if floating is float:
        fr_gru1_fwd_h_f(xg, mh, h_prev, h, B, H, act)
    else:
        fr_gru1_fwd_h_d(xg, mh, h_prev, h, B, H, act)


cdef inline void gru1_bwd_zh(floating *xg, const floating *h_prev, floating *dh,
                             const unsigned char *mask, int B, int H, int act,
                             int ract) noexcept nogil:
    if floating is float:
        fr_gru1_bwd_zh_f(xg, h_prev, dh, mask, B, H, act, ract)
    else:
        fr_gru1_bwd_zh_d(xg, h_prev, dh, mask, B, H, act, ract)


cdef inline void gru1_bwd_r(floating *xg, const floating *h_prev, const floating *drh,
                            floating *dh, int B, int H, int ract) noexcept nogil:
    if floating is float:
        fr_gru1_bwd_r_f(xg, h_prev, drh, dh, B, H, ract)
    else:
        fr_gru1_bwd_r_d(xg, h_prev, drh, dh, B, H, ract)


cdef inline void keep_rows(floating *cur, const floating *prev, const unsigned char *mask,
                           int B, int H) noexcept nogil:
    """Masked rows (mask[r] == 0) keep the previous state: cur[r] = prev[r]."""
    if mask == NULL:
        return
    if floating is float:
        fr_keep_rows_f(cur, prev, mask, B, H)
    else:
        fr_keep_rows_d(cur, prev, mask, B, H)


cdef inline void mask_split(floating *dz, floating *dh, const unsigned char *mask,
                            int B, int H) noexcept nogil:
    """Masked rows: dz[r] = 0 (dh passes through); unmasked rows: dh[r] = 0."""
    if floating is float:
        fr_mask_split_f(dz, dh, mask, B, H)
    else:
        fr_mask_split_d(dz, dh, mask, B, H)


cdef inline const unsigned char *mask_row(const unsigned char[:, ::1] mask, int t) noexcept nogil:
    """Pointer to the mask of step t (B bytes), or NULL without a mask."""
    if mask is None:
        return NULL
    return &mask[t, 0]


cdef inline bint packing_pays(int steps, int rows) noexcept nogil:
    """Whether packing a recurrent matrix once repays itself over steps x rows (and the
    CPU has the packed kernel at all): from 4 steps and 64 rows in all."""
    return steps >= 4 and <long> steps * rows >= 64 and fr_rgemm_supported()


cdef inline float *pack_recurrent(const floating *U, int K, int N, int ldu, bint trans,
                                  int steps, int rows) noexcept nogil:
    """A packed copy of op(U) (K x N) for rec_gemm, or NULL (float64, a CPU without the
    fast kernel, too few steps or rows to repay the packing, or no memory): rec_gemm
    then calls BLAS.  The caller frees it."""
    cdef float *P
    if floating is double:
        return NULL
    else:
        if not packing_pays(steps, rows):
            return NULL
        # every step reads it once per row: 2 K N flops per row and step
        P = fr_packed_alloc(fr_rgemm_packed_size(K, N), 2.0 * K * N * steps * rows)
        if P != NULL:
            fr_rgemm_pack(U, K, N, ldu, trans, P)
        return P


cdef inline void rec_gemm(bint trans_u, int m, int n, int k, const floating *a, int lda,
                          const floating *U, int ldu, const float *packed, floating beta,
                          floating *c, int ldc, int t) noexcept nogil:
    """The per-step recurrent product c (m x n) = beta c + a (m x k) op(U), with op(U)
    packed once by pack_recurrent when available, else one BLAS call.  t: the step;
    odd steps run the packed panels in reverse order (same result), so each step
    starts in the part of op(U) the previous one left in cache."""
    if floating is float:
        if packed != NULL:
            fr_rgemm(m, n, k, a, lda, packed, beta, c, ldc, t & 1)
            return
    gemm(False, trans_u, m, n, k, <floating> 1, a, lda, U, ldu, beta, c, ldc)


cdef inline int step_row_stride(const floating[:, :, :] x, str kernel) except -1:
    """The stride, in elements, between the rows of one step of x (T, B, I), a strided
    view whose last axis is contiguous (e.g. of batch-major data); checked at the entry
    of the lean inference kernels, before their nogil loops (one row: I)."""
    cdef Py_ssize_t ld = x.strides[1] // <Py_ssize_t> sizeof(floating)
    if x.shape[1] == 1:
        ld = x.shape[2]                 # one row: its stride is never used
    if ((x.shape[2] > 1 and x.strides[2] != sizeof(floating))
            or x.strides[1] % <Py_ssize_t> sizeof(floating) != 0 or ld < x.shape[2]):
        raise ValueError(f"{kernel}: x must have a contiguous last axis and rows at "
                         "least I apart")
    return <int> ld
