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
Every argument is validated in Python first.  As in _lstm, both passes take a row
range [r0, r1) and flags that skip the all-rows GEMMs, so that the recurrences of
disjoint row blocks can run on several threads.
"""
from cython cimport floating
from libc.string cimport memcpy

from fastrnn._ext._blas cimport gemm, gemm_all, axpy, weight_grads
from libc.stdlib cimport free

from fastrnn._ext._elementwise cimport (bias_act, gru_fwd, gru_bwd, gru1_fwd_zr,
                                        gru1_fwd_h, gru1_bwd_zh, gru1_bwd_r, keep_rows, mask_row,
                                        pack_recurrent, rec_gemm, step_row_stride)
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
        gemm_all(False, False, T * B, G, I, <floating> 1, &x[0, 0, 0], I,
                 &W[0, 0], G, <floating> 0, &xg[0, 0, 0], G)
    else:
        masked_products(&x[0, 0, 0], imask, <long> B * I, xm, &W[0, 0], &xg[0, 0, 0],
                        <long> T * B, B, I, G // 3, 3, G, <floating> 0)
    bias_act(&xg[0, 0, 0], b, T * B, G, LINEAR)


cdef inline void input_gradients(const floating[:, :, ::1] x, const floating[:, ::1] W,
                                 const floating[:, :, ::1] dxg, floating[:, ::1] dW,
                                 floating *db, floating[:, :, ::1] dx,
                                 const floating *imask, floating *xm) noexcept nogil:
    """dW = x^T dxg, db = sum dxg, dx = dxg W^T over all steps at once (dx None: not
    wanted, not computed)."""
    cdef int T = x.shape[0], B = x.shape[1], I = x.shape[2], G = W.shape[1]
    # dW (unless x had a dropout mask: taken apart below) and db in one pass over dxg
    weight_grads(T * B, G, &dxg[0, 0, 0], G, I if imask == NULL else 0, &x[0, 0, 0], I,
                 &dW[0, 0], G, 0, NULL, 0, NULL, 0, db)
    if imask != NULL:
        masked_weight_grads(&x[0, 0, 0], imask, xm, &dxg[0, 0, 0], &dW[0, 0],
                            <long> T * B, B, I, G // 3, 3, G)
    if dx is not None:
        if imask == NULL:
            gemm_all(False, True, T * B, I, G, <floating> 1, &dxg[0, 0, 0], G,
                     &W[0, 0], G, <floating> 0, &dx[0, 0, 0], I)
        else:
            masked_products_grad(&dxg[0, 0, 0], imask, <long> B * I, xm, &W[0, 0],
                                 &dx[0, 0, 0], <long> T * B, B, I, G // 3, 3, G, True)


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
                        floating[:, ::1] xm=None, floating[:, ::1] hm=None,
                        int r0=0, int r1=-1, bint project=True):
    """reset_after=True forward; hs[0] must hold the initial state; mask (T, B) or None;
    imask (3, B, I), rmask (3, B, H): recurrent dropout's per-gate masks (or None) with
    their scratch xm (T B, I) and hm (T B, H).  project: the input projection of all
    rows first; then the recurrence of rows [r0, r1)."""
    cdef int T = x.shape[0], B = x.shape[1], H = U.shape[0], G = 3 * H
    cdef int t, nb = (B if r1 < 0 else r1) - r0
    cdef const unsigned char *m
    cdef float *P = NULL
    with nogil:
        if project:
            input_projection(x, W, &b[0, 0], xg, ptr_or_null(imask), scratch_or_null(xm))
        if nb > 0 and rmask is None:
            P = pack_recurrent(&U[0, 0], H, G, G, False, T, nb)
        for t in range(T if nb > 0 else 0):
            if rmask is None:
                rec_gemm(False, nb, G, H, &hs[t, r0, 0], H, &U[0, 0], G, P, <floating> 0,
                         &mh[t, r0, 0], G, t)
            else:
                masked_products(&hs[t, r0, 0], &rmask[0, r0, 0], <long> B * H, &hm[r0, 0],
                                &U[0, 0], &mh[t, r0, 0], nb, nb, H, H, 3, G, <floating> 0)
            gru_fwd(&xg[t, r0, 0], &mh[t, r0, 0], &b[1, 0], &hs[t, r0, 0], &hs[t + 1, r0, 0],
                    nb, H, act, ract)
            m = mask_row(mask, t)
            if m != NULL:
                keep_rows(&hs[t + 1, r0, 0], &hs[t, r0, 0], m + r0, nb, H)
        free(P)


def infer_reset_after(const floating[:, :, :] x, const floating[:, ::1] W,
                      const floating[:, ::1] U, const floating[:, ::1] b,
                      floating[:, :, ::1] hs, floating[:, :, ::1] xg,
                      floating[:, :, ::1] mh, int act, int ract,
                      const unsigned char[:, ::1] mask=None,
                      int r0=0, int r1=-1, bint project=True):
    """reset_after=True forward for inference: fills hs[1:] as forward_reset_after does,
    but keeps no gates for a backward pass.  xg and mh (1, B, 3H) are one step's
    scratch: per step xg = x_t W + b_in and mh = h_{t-1} U (W and U packed once per
    call), so the gates of all steps never go through memory.  Rows [r0, r1) as in
    forward_reset_after; project is accepted for the row-block driver and has no effect
    (every block projects its own rows step by step).  hs may have 2 slots instead of
    T + 1: the state of step t then lives in slot t % 2 (the final one in slot T % 2).
    x may be a strided view (only its last axis contiguous), read at its row stride."""
    cdef int T = x.shape[0], I = x.shape[2], H = U.shape[0], G = 3 * H
    cdef int t, nb = (x.shape[1] if r1 < 0 else r1) - r0
    cdef int nh = hs.shape[0]                       # T + 1 slots, or 2 (t % 2)
    cdef int ldx                                    # step t's rows of x
    cdef floating *h_prev
    cdef floating *h_next
    cdef const unsigned char *m
    cdef float *PW = NULL
    cdef float *PU = NULL
    if nb <= 0:
        return
    if (xg.shape[1] < r0 + nb or mh.shape[1] < r0 + nb or xg.shape[2] != G
            or mh.shape[2] != G or (nh != T + 1 and nh != 2)):
        raise ValueError("_gru.infer_reset_after: buffer shapes do not match the inputs")
    ldx = step_row_stride(x, "_gru.infer_reset_after")
    with nogil:
        PW = pack_recurrent(&W[0, 0], I, G, G, False, T, nb)
        PU = pack_recurrent(&U[0, 0], H, G, G, False, T, nb)
        for t in range(T):
            rec_gemm(False, nb, G, I, &x[t, r0, 0], ldx, &W[0, 0], G, PW, <floating> 0,
                     &xg[0, r0, 0], G, t)
            bias_act(&xg[0, r0, 0], &b[0, 0], nb, G, LINEAR)
            h_prev, h_next = &hs[t % nh, r0, 0], &hs[(t + 1) % nh, r0, 0]
            rec_gemm(False, nb, G, H, h_prev, H, &U[0, 0], G, PU, <floating> 0,
                     &mh[0, r0, 0], G, t)
            gru_fwd(&xg[0, r0, 0], &mh[0, r0, 0], &b[1, 0], h_prev, h_next, nb, H, act, ract)
            m = mask_row(mask, t)
            if m != NULL:
                keep_rows(h_next, h_prev, m + r0, nb, H)
        free(PW)
        free(PU)


def backward_reset_after(const floating[:, :, ::1] x, const floating[:, ::1] W,
                         const floating[:, ::1] U, const floating[:, :, ::1] hs,
                         floating[:, :, ::1] xg, floating[:, :, ::1] mh,
                         const floating[:, :, ::1] dy, bint sequences,
                         floating[:, ::1] dW, floating[:, ::1] dU, floating[:, ::1] db,
                         floating[:, :, ::1] dx, floating[:, ::1] dh0, int act, int ract,
                         const unsigned char[:, ::1] mask=None,
                         const floating[:, :, ::1] imask=None,
                         const floating[:, :, ::1] rmask=None,
                         floating[:, ::1] xm=None, floating[:, ::1] hm=None,
                         int r0=0, int r1=-1, bint weights=True):
    """reset_after=True BPTT; overwrites xg, mh, dW, dU, db, dx and dh0 (= dL/dh0).

    dy is (T, B, H) when sequences is true, else (1, B, H) (last output only).  The
    recurrence runs for rows [r0, r1); weights: then the gradients from all rows.  dx
    None: the input gradient is not wanted (the first layer of a train step).
    """
    cdef int T = x.shape[0], B = x.shape[1], H = U.shape[0], G = 3 * H
    cdef int t, nb = (B if r1 < 0 else r1) - r0
    cdef long n = <long> nb * H
    cdef const unsigned char *m
    cdef float *P = NULL
    with nogil:
        if nb > 0:
            memcpy(&dh0[r0, 0], &dy[dy.shape[0] - 1, r0, 0], n * sizeof(floating))
            if rmask is None:
                P = pack_recurrent(&U[0, 0], G, H, G, True, T, nb)
        for t in range(T - 1 if nb > 0 else -1, -1, -1):
            if sequences and t < T - 1:
                axpy(n, <floating> 1, &dy[t, r0, 0], &dh0[r0, 0])
            m = mask_row(mask, t)
            gru_bwd(&xg[t, r0, 0], &mh[t, r0, 0], &hs[t, r0, 0], &dh0[r0, 0],
                    NULL if m == NULL else m + r0, nb, H, act, ract)
            if rmask is None:
                rec_gemm(True, nb, H, G, &mh[t, r0, 0], G, &U[0, 0], G, P, <floating> 1,
                         &dh0[r0, 0], H, t)
            else:
                masked_products_grad(&mh[t, r0, 0], &rmask[0, r0, 0], <long> B * H,
                                     &hm[r0, 0], &U[0, 0], &dh0[r0, 0], nb, nb, H, H, 3, G,
                                     False)
        free(P)
        if weights:
            input_gradients(x, W, xg, dW, &db[0, 0], dx, ptr_or_null(imask),
                            scratch_or_null(xm))
            # dU = hs[:T]^T mh and the recurrent bias's db[1] = sum mh in one pass
            weight_grads(T * B, G, &mh[0, 0, 0], G, H if rmask is None else 0,
                         &hs[0, 0, 0], H, &dU[0, 0], G, 0, NULL, 0, NULL, 0, &db[1, 0])
            if rmask is not None:
                masked_weight_grads(&hs[0, 0, 0], &rmask[0, 0, 0], &hm[0, 0], &mh[0, 0, 0],
                                    &dU[0, 0], <long> T * B, B, H, H, 3, G)


def forward_reset_before(const floating[:, :, ::1] x, const floating[:, ::1] W,
                         const floating[:, ::1] U, const floating[::1] b,
                         floating[:, :, ::1] hs, floating[:, :, ::1] xg,
                         floating[:, :, ::1] rh, floating[:, ::1] scratch,
                         int act, int ract, const unsigned char[:, ::1] mask=None,
                         const floating[:, :, ::1] imask=None,
                         const floating[:, :, ::1] rmask=None,
                         floating[:, ::1] xm=None, floating[:, ::1] hm=None,
                         int r0=0, int r1=-1, bint project=True):
    """reset_after=False forward; hs[0] must hold the initial state.  scratch (B, 3H);
    mask (T, B) or None; imask, rmask, xm, hm: recurrent dropout as in reset_after;
    project, r0, r1: as in reset_after."""
    cdef int T = x.shape[0], B = x.shape[1], H = U.shape[0], G = 3 * H
    cdef int t, nb = (B if r1 < 0 else r1) - r0
    cdef const unsigned char *m
    with nogil:
        if project:
            input_projection(x, W, &b[0], xg, ptr_or_null(imask), scratch_or_null(xm))
        for t in range(T if nb > 0 else 0):
            # scratch[:, :2H] = h_{t-1} U[:, :2H]
            if rmask is None:
                gemm(False, False, nb, 2 * H, H, <floating> 1, &hs[t, r0, 0], H,
                     &U[0, 0], G, <floating> 0, &scratch[r0, 0], G)
            else:
                masked_products(&hs[t, r0, 0], &rmask[0, r0, 0], <long> B * H, &hm[r0, 0],
                                &U[0, 0], &scratch[r0, 0], nb, nb, H, H, 2, G, <floating> 0)
            gru1_fwd_zr(&xg[t, r0, 0], &scratch[r0, 0], &hs[t, r0, 0], &rh[t, r0, 0], nb, H,
                        ract)
            if rmask is not None:             # rh = r (h_{t-1} * rmask_h)
                mask_rows(&rh[t, r0, 0], &rmask[2, r0, 0], &rh[t, r0, 0], nb, nb, H)
            # scratch[:, 2H:] = (r h_{t-1}) U[:, 2H:]
            gemm(False, False, nb, H, H, <floating> 1, &rh[t, r0, 0], H,
                 &U[0, 2 * H], G, <floating> 0, &scratch[r0, 2 * H], G)
            gru1_fwd_h(&xg[t, r0, 0], &scratch[r0, 0], &hs[t, r0, 0], &hs[t + 1, r0, 0], nb, H,
                       act)
            m = mask_row(mask, t)
            if m != NULL:
                keep_rows(&hs[t + 1, r0, 0], &hs[t, r0, 0], m + r0, nb, H)


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
                          floating[:, ::1] tmp=None, int r0=0, int r1=-1,
                          bint weights=True):
    """reset_after=False BPTT; overwrites xg, dW, dU, db, dx, dh0 (= dL/dh0).  drh and
    tmp (B, H) are scratch; r0, r1, weights as in reset_after."""
    cdef int T = x.shape[0], B = x.shape[1], H = U.shape[0], G = 3 * H
    cdef int t, nb = (B if r1 < 0 else r1) - r0
    cdef long n = <long> nb * H
    cdef const unsigned char *m
    with nogil:
        if nb > 0:
            memcpy(&dh0[r0, 0], &dy[dy.shape[0] - 1, r0, 0], n * sizeof(floating))
        for t in range(T - 1 if nb > 0 else -1, -1, -1):
            if sequences and t < T - 1:
                axpy(n, <floating> 1, &dy[t, r0, 0], &dh0[r0, 0])
            m = mask_row(mask, t)
            gru1_bwd_zh(&xg[t, r0, 0], &hs[t, r0, 0], &dh0[r0, 0],
                        NULL if m == NULL else m + r0, nb, H, act, ract)
            # drh = dpre_h U_h^T
            gemm(False, True, nb, H, H, <floating> 1, &xg[t, r0, 2 * H], G,
                 &U[0, 2 * H], G, <floating> 0, &drh[r0, 0], H)
            if rmask is None:
                gru1_bwd_r(&xg[t, r0, 0], &hs[t, r0, 0], &drh[r0, 0], &dh0[r0, 0], nb, H,
                           ract)
                # dh_{t-1} += [dpre_z, dpre_r] U[:, :2H]^T
                gemm(False, True, nb, H, 2 * H, <floating> 1, &xg[t, r0, 0], G,
                     &U[0, 0], G, <floating> 1, &dh0[r0, 0], H)
            else:
                # The reset gate saw h_{t-1} * rmask_h: dr uses it, and its path into
                # dh_{t-1} is masked again; the z and r products are masked per gate.
                mask_rows(&hs[t, r0, 0], &rmask[2, r0, 0], &hm[r0, 0], nb, nb, H)
                tmp[r0:r0 + nb, :] = 0
                gru1_bwd_r(&xg[t, r0, 0], &hm[r0, 0], &drh[r0, 0], &tmp[r0, 0], nb, H, ract)
                add_masked(&dh0[r0, 0], &tmp[r0, 0], &rmask[2, r0, 0], nb, nb, H, False)
                masked_products_grad(&xg[t, r0, 0], &rmask[0, r0, 0], <long> B * H,
                                     &hm[r0, 0], &U[0, 0], &dh0[r0, 0], nb, nb, H, H, 2, G,
                                     False)
        if weights:
            input_gradients(x, W, xg, dW, &db[0], dx, ptr_or_null(imask),
                            scratch_or_null(xm))
            if rmask is None:
                gemm_all(True, False, H, 2 * H, T * B, <floating> 1, &hs[0, 0, 0], H,
                         &xg[0, 0, 0], G, <floating> 0, &dU[0, 0], G)
            else:
                masked_weight_grads(&hs[0, 0, 0], &rmask[0, 0, 0], &hm[0, 0], &xg[0, 0, 0],
                                    &dU[0, 0], <long> T * B, B, H, H, 2, G)
            gemm_all(True, False, H, H, T * B, <floating> 1, &rh[0, 0, 0], H,
                     &xg[0, 0, 2 * H], G, <floating> 0, &dU[0, 2 * H], G)
