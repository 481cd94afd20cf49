"""GRU forward pass and backpropagation through time (Keras 3 gates z, r, h).

Shapes (T steps, B batch, I inputs, H units), C-contiguous, time-major:
    x   (T, B, I)       W (I, 3H)   U (H, 3H)
    hs  (T + 1, B, H)   hs[0] = h0, hs[t + 1] = h_t
    xg  (T, B, 3H)      x_t W + input bias; the forward pass leaves the activated gates
                        [z, r, hh] there, the backward pass the gradients of x_t W + b
reset_after=True  (bias (2, 3H): input row, recurrent row):
    mh  (T, B, 3H)      h_{t-1} U + b_rec per step; backward: its gradient
    h_t = z h_{t-1} + (1 - z) act(xg_h + r mh_h)
reset_after=False (bias (3H,)):
    rh  (T, B, H)       r_t h_{t-1};  scratch (B, 3H) per step
    h_t = z h_{t-1} + (1 - z) act(xg_h + (r h_{t-1}) U_h)
Every argument is validated in Python first.
"""
from cython cimport floating
from libc.string cimport memcpy

from fastrnn._ext._blas cimport gemm, axpy
from fastrnn._ext._elementwise cimport (bias_act, sum_rows, gru_fwd, gru_bwd, gru1_fwd_zr,
                                        gru1_fwd_h, gru1_bwd_zh, gru1_bwd_r, keep_rows, mask_row)
from fastrnn._ext._dropout cimport (mask_rows, add_masked, masked_products,
                                   masked_products_grad, masked_weight_grads)

cdef enum:
    LINEAR = 0


cdef inline void input_projection(const floating[:, :, ::1] x, const floating[:, ::1] W,
                                  const floating *b, floating[:, :, ::1] xg,
                                  const floating *imask, floating *xm) noexcept nogil:
    """xg = x W + b for all steps: one GEMM ((T B) x I)(I x 3H) and one bias pass
    (one masked GEMM per gate with recurrent dropout's input masks imask (3, B, I))."""
    cdef int T = x.shape[0], B = x.shape[1], I = x.shape[2], G = W.shape[1]
    if imask == NULL:
        gemm(False, False, T * B, G, I, <floating> 1, &x[0, 0, 0], I,
             &W[0, 0], G, <floating> 0, &xg[0, 0, 0], G)
    else:
        masked_products(&x[0, 0, 0], imask, xm, &W[0, 0], &xg[0, 0, 0], <long> T * B, B, I,
                        G // 3, 3, G, <floating> 0)
    bias_act(&xg[0, 0, 0], b, T * B, G, LINEAR)


cdef inline void input_gradients(const floating[:, :, ::1] x, const floating[:, ::1] W,
                                 const floating[:, :, ::1] dxg, floating[:, ::1] dW,
                                 floating *db, floating[:, :, ::1] dx,
                                 const floating *imask, floating *xm) noexcept nogil:
    """dW = x^T dxg, db = sum dxg, dx = dxg W^T over all steps at once."""
    cdef int T = x.shape[0], B = x.shape[1], I = x.shape[2], G = W.shape[1]
    if imask == NULL:
        gemm(True, False, I, G, T * B, <floating> 1, &x[0, 0, 0], I,
             &dxg[0, 0, 0], G, <floating> 0, &dW[0, 0], G)
        gemm(False, True, T * B, I, G, <floating> 1, &dxg[0, 0, 0], G,
             &W[0, 0], G, <floating> 0, &dx[0, 0, 0], I)
    else:
        masked_weight_grads(&x[0, 0, 0], imask, xm, &dxg[0, 0, 0], &dW[0, 0],
                            <long> T * B, B, I, G // 3, 3, G)
        masked_products_grad(&dxg[0, 0, 0], imask, xm, &W[0, 0], &dx[0, 0, 0],
                             <long> T * B, B, I, G // 3, 3, G, True)
    sum_rows(&dxg[0, 0, 0], <long> T * B, G, db)


cdef inline const floating *ptr_or_null(const floating[:, :, ::1] a) noexcept nogil:
    return NULL if a is None else &a[0, 0, 0]


cdef inline floating *scratch_or_null(floating[:, ::1] a) noexcept nogil:
    return NULL if a is None else &a[0, 0]


def forward_reset_after(const floating[:, :, ::1] x, const floating[:, ::1] W,
                        const floating[:, ::1] U, const floating[:, ::1] b,
                        floating[:, :, ::1] hs, floating[:, :, ::1] xg,
                        floating[:, :, ::1] mh, int act, int ract,
                        const unsigned char[:, ::1] mask=None,
                        const floating[:, :, ::1] imask=None,
                        const floating[:, :, ::1] rmask=None,
                        floating[:, ::1] xm=None, floating[:, ::1] hm=None):
    """reset_after=True forward; hs[0] must hold the initial state; mask (T, B) or None;
    imask (3, B, I), rmask (3, B, H): recurrent dropout's per-gate masks (or None) with
    their scratch xm (T B, I) and hm (T B, H)."""
    cdef int T = x.shape[0], B = x.shape[1], H = U.shape[0], G = 3 * H
    cdef int t
    with nogil:
        input_projection(x, W, &b[0, 0], xg, ptr_or_null(imask), scratch_or_null(xm))
        for t in range(T):
            if rmask is None:
                gemm(False, False, B, G, H, <floating> 1, &hs[t, 0, 0], H,
                     &U[0, 0], G, <floating> 0, &mh[t, 0, 0], G)
            else:
                masked_products(&hs[t, 0, 0], &rmask[0, 0, 0], &hm[0, 0], &U[0, 0],
                                &mh[t, 0, 0], B, B, H, H, 3, G, <floating> 0)
            gru_fwd(&xg[t, 0, 0], &mh[t, 0, 0], &b[1, 0], &hs[t, 0, 0], &hs[t + 1, 0, 0],
                    B, H, act, ract)
            keep_rows(&hs[t + 1, 0, 0], &hs[t, 0, 0], mask_row(mask, t), B, H)


def backward_reset_after(const floating[:, :, ::1] x, const floating[:, ::1] W,
                         const floating[:, ::1] U, const floating[:, :, ::1] hs,
                         floating[:, :, ::1] xg, floating[:, :, ::1] mh,
                         const floating[:, :, ::1] dy, bint sequences,
                         floating[:, ::1] dW, floating[:, ::1] dU, floating[:, ::1] db,
                         floating[:, :, ::1] dx, floating[:, ::1] dh0, int act, int ract,
                         const unsigned char[:, ::1] mask=None,
                         const floating[:, :, ::1] imask=None,
                         const floating[:, :, ::1] rmask=None,
                         floating[:, ::1] xm=None, floating[:, ::1] hm=None):
    """reset_after=True BPTT; overwrites xg, mh, dW, dU, db, dx and dh0 (= dL/dh0).

    dy is (T, B, H) when sequences is true, else (1, B, H) (last output only).
    """
    cdef int T = x.shape[0], B = x.shape[1], H = U.shape[0], G = 3 * H
    cdef int t
    cdef long n = <long> B * H
    with nogil:
        memcpy(&dh0[0, 0], &dy[dy.shape[0] - 1, 0, 0], n * sizeof(floating))
        for t in range(T - 1, -1, -1):
            if sequences and t < T - 1:
                axpy(n, <floating> 1, &dy[t, 0, 0], &dh0[0, 0])
            gru_bwd(&xg[t, 0, 0], &mh[t, 0, 0], &hs[t, 0, 0], &dh0[0, 0], mask_row(mask, t),
                    B, H, act, ract)
            if rmask is None:
                gemm(False, True, B, H, G, <floating> 1, &mh[t, 0, 0], G,
                     &U[0, 0], G, <floating> 1, &dh0[0, 0], H)
            else:
                masked_products_grad(&mh[t, 0, 0], &rmask[0, 0, 0], &hm[0, 0], &U[0, 0],
                                     &dh0[0, 0], B, B, H, H, 3, G, False)
        input_gradients(x, W, xg, dW, &db[0, 0], dx, ptr_or_null(imask), scratch_or_null(xm))
        if rmask is None:
            gemm(True, False, H, G, T * B, <floating> 1, &hs[0, 0, 0], H,
                 &mh[0, 0, 0], G, <floating> 0, &dU[0, 0], G)
        else:
            masked_weight_grads(&hs[0, 0, 0], &rmask[0, 0, 0], &hm[0, 0], &mh[0, 0, 0],
                                &dU[0, 0], <long> T * B, B, H, H, 3, G)
        sum_rows(&mh[0, 0, 0], <long> T * B, G, &db[1, 0])


def forward_reset_before(const floating[:, :, ::1] x, const floating[:, ::1] W,
                         const floating[:, ::1] U, const floating[::1] b,
                         floating[:, :, ::1] hs, floating[:, :, ::1] xg,
                         floating[:, :, ::1] rh, floating[:, ::1] scratch,
                         int act, int ract, const unsigned char[:, ::1] mask=None,
                         const floating[:, :, ::1] imask=None,
                         const floating[:, :, ::1] rmask=None,
                         floating[:, ::1] xm=None, floating[:, ::1] hm=None):
    """reset_after=False forward; hs[0] must hold the initial state.  scratch (B, 3H);
    mask (T, B) or None; imask, rmask, xm, hm: recurrent dropout as in reset_after."""
    cdef int T = x.shape[0], B = x.shape[1], H = U.shape[0], G = 3 * H
    cdef int t
    with nogil:
        input_projection(x, W, &b[0], xg, ptr_or_null(imask), scratch_or_null(xm))
        for t in range(T):
            # scratch[:, :2H] = h_{t-1} U[:, :2H]
            if rmask is None:
                gemm(False, False, B, 2 * H, H, <floating> 1, &hs[t, 0, 0], H,
                     &U[0, 0], G, <floating> 0, &scratch[0, 0], G)
            else:
                masked_products(&hs[t, 0, 0], &rmask[0, 0, 0], &hm[0, 0], &U[0, 0],
                                &scratch[0, 0], B, B, H, H, 2, G, <floating> 0)
            gru1_fwd_zr(&xg[t, 0, 0], &scratch[0, 0], &hs[t, 0, 0], &rh[t, 0, 0], B, H, ract)
            if rmask is not None:             # rh = r (h_{t-1} * rmask_h)
                mask_rows(&rh[t, 0, 0], &rmask[2, 0, 0], &rh[t, 0, 0], B, B, H)
            # scratch[:, 2H:] = (r h_{t-1}) U[:, 2H:]
            gemm(False, False, B, H, H, <floating> 1, &rh[t, 0, 0], H,
                 &U[0, 2 * H], G, <floating> 0, &scratch[0, 2 * H], G)
            gru1_fwd_h(&xg[t, 0, 0], &scratch[0, 0], &hs[t, 0, 0], &hs[t + 1, 0, 0], B, H, act)
            keep_rows(&hs[t + 1, 0, 0], &hs[t, 0, 0], mask_row(mask, t), B, H)


def backward_reset_before(const floating[:, :, ::1] x, const floating[:, ::1] W,
                          const floating[:, ::1] U, const floating[:, :, ::1] hs,
                          floating[:, :, ::1] xg, const floating[:, :, ::1] rh,
                          const floating[:, :, ::1] dy, bint sequences,
                          floating[:, ::1] dW, floating[:, ::1] dU, floating[::1] db,
                          floating[:, :, ::1] dx, floating[:, ::1] dh0,
                          floating[:, ::1] drh, int act, int ract,
                          const unsigned char[:, ::1] mask=None,
                          const floating[:, :, ::1] imask=None,
                          const floating[:, :, ::1] rmask=None,
                          floating[:, ::1] xm=None, floating[:, ::1] hm=None,
                          floating[:, ::1] tmp=None):
    """reset_after=False BPTT; overwrites xg, dW, dU, db, dx, dh0 (= dL/dh0).  drh (B, H)."""
    cdef int T = x.shape[0], B = x.shape[1], H = U.shape[0], G = 3 * H
    cdef int t
    cdef long n = <long> B * H
    with nogil:
        memcpy(&dh0[0, 0], &dy[dy.shape[0] - 1, 0, 0], n * sizeof(floating))
        for t in range(T - 1, -1, -1):
            if sequences and t < T - 1:
                axpy(n, <floating> 1, &dy[t, 0, 0], &dh0[0, 0])
            gru1_bwd_zh(&xg[t, 0, 0], &hs[t, 0, 0], &dh0[0, 0], mask_row(mask, t), B, H, act,
                        ract)
            # drh = dpre_h U_h^T
            gemm(False, True, B, H, H, <floating> 1, &xg[t, 0, 2 * H], G,
                 &U[0, 2 * H], G, <floating> 0, &drh[0, 0], H)
            if rmask is None:
                gru1_bwd_r(&xg[t, 0, 0], &hs[t, 0, 0], &drh[0, 0], &dh0[0, 0], B, H, ract)
                # dh_{t-1} += [dpre_z, dpre_r] U[:, :2H]^T
                gemm(False, True, B, H, 2 * H, <floating> 1, &xg[t, 0, 0], G,
                     &U[0, 0], G, <floating> 1, &dh0[0, 0], H)
            else:
                # The reset gate saw h_{t-1} * rmask_h: dr uses it, and its path into
                # dh_{t-1} is masked again; the z and r products are masked per gate.
                mask_rows(&hs[t, 0, 0], &rmask[2, 0, 0], &hm[0, 0], B, B, H)
                tmp[:, :] = 0
                gru1_bwd_r(&xg[t, 0, 0], &hm[0, 0], &drh[0, 0], &tmp[0, 0], B, H, ract)
                add_masked(&dh0[0, 0], &tmp[0, 0], &rmask[2, 0, 0], B, B, H, False)
                masked_products_grad(&xg[t, 0, 0], &rmask[0, 0, 0], &hm[0, 0], &U[0, 0],
                                     &dh0[0, 0], B, B, H, H, 2, G, False)
        input_gradients(x, W, xg, dW, &db[0], dx, ptr_or_null(imask), scratch_or_null(xm))
        if rmask is None:
            gemm(True, False, H, 2 * H, T * B, <floating> 1, &hs[0, 0, 0], H,
                 &xg[0, 0, 0], G, <floating> 0, &dU[0, 0], G)
        else:
            masked_weight_grads(&hs[0, 0, 0], &rmask[0, 0, 0], &hm[0, 0], &xg[0, 0, 0],
                                &dU[0, 0], <long> T * B, B, H, H, 2, G)
        gemm(True, False, H, H, T * B, <floating> 1, &rh[0, 0, 0], H,
             &xg[0, 0, 2 * H], G, <floating> 0, &dU[0, 2 * H], G)
