"""LSTM forward pass and backpropagation through time (Keras 3 gates i, f, c, o).

Shapes (T steps, B batch, I inputs, H units), C-contiguous, time-major:
    x   (T, B, I)       W (I, 4H)   U (H, 4H)   b (4H,)
    hs  (T + 1, B, H)   hs[0] = h0, hs[t + 1] = h_t
    cs  (T + 1, B, H)   cs[0] = c0, cs[t + 1] = c_t
    z   (T, B, 4H)      activated gates [i, f, g, o] per step; the backward pass
                        overwrites them with the pre-activation gradients
    ac  (T, B, H)       act(c_t)
Per step: z_t = x_t W + h_{t-1} U + b (x W hoisted out of the loop as one GEMM; in
float32 without dropout masks, [x_t, h_{t-1}] [W; U] as one packed product per step
instead, see infer), then the fused C gate kernel (csrc/gates.c).  Every argument is
validated in Python first.

Batch rows are independent in the recurrence, so both passes take a row range
[r0, r1) (all rows by default) and flags that skip the all-rows GEMMs: the layer runs
the input projection and the weight gradients once and the recurrences of disjoint row
blocks on several threads.
"""
from cython cimport floating
from libc.string cimport memcpy

from fastrnn._ext._blas cimport gemm, gemm_all, axpy, weight_grads
from libc.stdlib cimport free, malloc
from fastrnn._ext._csrc cimport fr_rgemm2

from fastrnn._ext._elementwise cimport (lstm_fwd, lstm_bwd, keep_rows, mask_row,
                                        packing_pays, step_row_stride,
                                        pack_recurrent, rec_gemm)
from fastrnn._ext._dropout cimport masked_products, masked_products_grad, masked_weight_grads


cdef inline void gates_step(floating *z, const floating *b, const floating *c_prev,
                            floating *c, floating *ac, const floating *h_prev, floating *h,
                            const unsigned char *m, int nb, int H, int act,
                            int ract) noexcept nogil:
    """The end of one forward step for nb rows: the gate kernel on z = x_t W + h_{t-1} U,
    then masked rows (m[r] == 0; m NULL: none) keep their previous h and c."""
    lstm_fwd(z, b, c_prev, c, ac, h, nb, H, act, ract)
    if m != NULL:
        keep_rows(h, h_prev, m, nb, H)
        keep_rows(c, c_prev, m, nb, H)


def forward(const floating[:, :, ::1] x, const floating[:, ::1] W,
            const floating[:, ::1] U, const floating[::1] b,
            floating[:, :, ::1] hs, floating[:, :, ::1] cs,
            floating[:, :, ::1] z, floating[:, :, ::1] ac, int act, int ract,
            const unsigned char[:, ::1] mask=None,
            const floating[:, :, ::1] imask=None, const floating[:, :, ::1] rmask=None,
            floating[:, ::1] xm=None, floating[:, ::1] hm=None, floating[:, ::1] xs=None,
            int r0=0, int r1=-1, bint project=True):
    """Fill hs[1:], cs[1:], z and ac; hs[0] and cs[0] must hold the initial states.

    mask (T, B) uint8 or None: a masked step (0) keeps the previous h and c.
    imask (4, B, I), rmask (4, B, H) or None: per-gate dropout masks on x_t and h_{t-1}
    (recurrent dropout); xm (T B, I) and hm (T B, H) are their scratch.
    project: compute z = x W for all rows first; then run the recurrence of rows
    [r0, r1) (r1 = -1: to the end; r1 = r0: none).
    xs (B, I) or None: scratch that lets float32 without dropout masks compute
    z_t = [x_t, h_{t-1}] [W; U] per step in one packed product instead (see infer);
    project then has no effect.
    """
    cdef int T = x.shape[0], B = x.shape[1], I = x.shape[2], H = U.shape[0]
    cdef int G = 4 * H
    cdef int t, nb = (B if r1 < 0 else r1) - r0
    cdef const unsigned char *m
    cdef float *P = NULL
    if (xs is not None and imask is None and rmask is None and floating is float
            and packing_pays(T, B)):
        if nb > 0:
            infer(x, W, U, b, hs, cs, z, ac, xs, act, ract, mask, r0, r1, every_step=True)
        return
    with nogil:
        if project:
            if imask is None:
                gemm_all(False, False, T * B, G, I, <floating> 1, &x[0, 0, 0], I,
                         &W[0, 0], G, <floating> 0, &z[0, 0, 0], G)
            else:
                masked_products(&x[0, 0, 0], &imask[0, 0, 0], <long> B * I, &xm[0, 0],
                                &W[0, 0], &z[0, 0, 0], <long> T * B, B, I, H, 4, G,
                                <floating> 0)
        if nb > 0 and rmask is None:
            P = pack_recurrent(&U[0, 0], H, G, G, False, T, nb)
        for t in range(T if nb > 0 else 0):
            if rmask is None:
                rec_gemm(False, nb, G, H, &hs[t, r0, 0], H, &U[0, 0], G, P, <floating> 1,
                         &z[t, r0, 0], G, t)
            else:
                masked_products(&hs[t, r0, 0], &rmask[0, r0, 0], <long> B * H, &hm[r0, 0],
                                &U[0, 0], &z[t, r0, 0], nb, nb, H, H, 4, G, <floating> 1)
            m = mask_row(mask, t)
            gates_step(&z[t, r0, 0], &b[0], &cs[t, r0, 0], &cs[t + 1, r0, 0], &ac[t, r0, 0],
                       &hs[t, r0, 0], &hs[t + 1, r0, 0], NULL if m == NULL else m + r0, nb, H,
                       act, ract)
        free(P)


def backward(const floating[:, :, ::1] x, const floating[:, ::1] W,
             const floating[:, ::1] U, const floating[:, :, ::1] hs,
             const floating[:, :, ::1] cs, floating[:, :, ::1] z,
             const floating[:, :, ::1] ac, const floating[:, :, ::1] dy, bint sequences,
             floating[:, ::1] dW, floating[:, ::1] dU, floating[::1] db,
             floating[:, :, ::1] dx, floating[:, ::1] dh0, floating[:, ::1] dc0,
             int act, int ract, const unsigned char[:, ::1] mask=None,
             const floating[:, :, ::1] imask=None, const floating[:, :, ::1] rmask=None,
             floating[:, ::1] xm=None, floating[:, ::1] hm=None,
             int r0=0, int r1=-1, bint weights=True):
    """Backpropagation through time; overwrites z, dW, dU, db, dx, dh0 and dc0.

    dy is (T, B, H) when sequences is true, else (1, B, H) (last output only).
    On entry dc0 holds dL/dc_T (zeros unless the final cell state is used); on
    exit dh0 and dc0 hold dL/dh0 and dL/dc0.  The recurrence runs for rows [r0, r1)
    (as in forward); weights: then compute dW, dU, db and dx from all rows.  dx None:
    the input gradient is not wanted (the first layer of a train step) and not computed.
    """
    cdef int T = x.shape[0], B = x.shape[1], I = x.shape[2], H = U.shape[0]
    cdef int G = 4 * H
    cdef int t, nb = (B if r1 < 0 else r1) - r0
    cdef long n = <long> nb * H
    cdef floating beta = 0 if mask is None else 1
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
            lstm_bwd(&z[t, r0, 0], &cs[t, r0, 0], &ac[t, r0, 0], &dh0[r0, 0], &dc0[r0, 0],
                     NULL if m == NULL else m + r0, nb, H, act, ract)
            if rmask is None:
                rec_gemm(True, nb, H, G, &z[t, r0, 0], G, &U[0, 0], G, P, beta,
                         &dh0[r0, 0], H, t)
            else:
                masked_products_grad(&z[t, r0, 0], &rmask[0, r0, 0], <long> B * H,
                                     &hm[r0, 0], &U[0, 0], &dh0[r0, 0], nb, nb, H, H, 4, G,
                                     mask is None)
        free(P)
        if weights:
            # dW = x^T dz, dU = hs[:T]^T dz and db = sum dz in one pass over dz; a
            # gradient whose input had a dropout mask is taken apart below
            weight_grads(T * B, G, &z[0, 0, 0], G,
                         I if imask is None else 0, &x[0, 0, 0], I, &dW[0, 0], G,
                         H if rmask is None else 0, &hs[0, 0, 0], H, &dU[0, 0], G, &db[0])
            if imask is not None:
                masked_weight_grads(&x[0, 0, 0], &imask[0, 0, 0], &xm[0, 0], &z[0, 0, 0],
                                    &dW[0, 0], <long> T * B, B, I, H, 4, G)
            if rmask is not None:
                masked_weight_grads(&hs[0, 0, 0], &rmask[0, 0, 0], &hm[0, 0], &z[0, 0, 0],
                                    &dU[0, 0], <long> T * B, B, H, H, 4, G)
            if dx is not None:
                if imask is None:
                    gemm_all(False, True, T * B, I, G, <floating> 1, &z[0, 0, 0], G,
                             &W[0, 0], G, <floating> 0, &dx[0, 0, 0], I)
                else:
                    masked_products_grad(&z[0, 0, 0], &imask[0, 0, 0], <long> B * I,
                                         &xm[0, 0], &W[0, 0], &dx[0, 0, 0], <long> T * B,
                                         B, I, H, 4, G, True)


def infer(const floating[:, :, :] x, const floating[:, ::1] W,
          const floating[:, ::1] U, const floating[::1] b,
          floating[:, :, ::1] hs, floating[:, :, ::1] cs,
          floating[:, :, ::1] z, floating[:, :, ::1] ac, floating[:, ::1] xs,
          int act, int ract, const unsigned char[:, ::1] mask=None,
          int r0=0, int r1=-1, bint project=True, bint every_step=False):
    """Forward pass for inference: fills hs[1:] and cs[1:] as forward does, but keeps no
    gates for a backward pass.  z (1, B, 4H), ac (1, B, H) and xs (B, I) are one
    step's scratch.  Each step computes z = x_t W + h_{t-1} U in place, so the gates of
    all steps (T B 4H floats) never go through memory; with the packed kernel it is one
    product [x_t, h_{t-1}] (B, I + H) times [W; U] (I + H, 4H), packed once per call,
    whose two parts are read from xs (x_t's rows, gathered) and h_{t-1} in place.
    Rows [r0, r1) as in forward; project is accepted for the row-block driver and has
    no effect (every block projects its own rows step by step).  every_step: z and ac
    are (T, B, .) and keep every step's gates, as forward leaves them for backward.
    hs and cs may each have 2 slots instead of T + 1: the state of step t then lives in
    slot t % 2 (the final state in slot T % 2), for inference that needs only the last.
    x may be a strided view (e.g. of batch-major data: only its last axis must be
    contiguous); the rows of a step are read at its stride."""
    cdef int T = x.shape[0], I = x.shape[2], H = U.shape[0]
    cdef int G = 4 * H, K = I + H
    cdef int t, r, s, nb = (x.shape[1] if r1 < 0 else r1) - r0
    cdef int nh = hs.shape[0], nc = cs.shape[0]     # T + 1 slots, or 2 (t % 2)
    cdef int ldx                                    # step t's rows of x
    cdef const unsigned char *m
    cdef float *P = NULL
    cdef floating *WU
    cdef floating *h_prev
    cdef floating *h_next
    cdef floating *c_prev
    cdef floating *c_next
    # training (every_step) packs by all B rows, as forward decided: its projection is
    # not done elsewhere, so a small row block must not fall back to two products
    cdef int rows = x.shape[1] if every_step else nb
    if nb <= 0:
        return
    if (z.shape[0] < (T if every_step else 1) or ac.shape[0] < z.shape[0]
            or z.shape[1] < r0 + nb or ac.shape[1] < r0 + nb or xs.shape[0] < r0 + nb
            or z.shape[2] != G or ac.shape[2] != H or xs.shape[1] != I
            or (nh != T + 1 and nh != 2) or (nc != T + 1 and nc != 2)
            or (every_step and (nh != T + 1 or nc != T + 1))):
        raise ValueError("_lstm.infer: buffer shapes do not match the inputs")
    ldx = step_row_stride(x, "_lstm.infer")
    with nogil:
        if floating is float and packing_pays(T, rows):
            # [W; U] is W's rows then U's (both (., 4H), C order): one copy, then packed
            WU = <floating *> malloc(<long> K * G * sizeof(floating))
            if WU != NULL:
                memcpy(WU, &W[0, 0], <long> I * G * sizeof(floating))
                memcpy(WU + <long> I * G, &U[0, 0], <long> H * G * sizeof(floating))
                P = pack_recurrent(WU, K, G, G, False, T, rows)
                free(WU)
        for t in range(T):
            s = t if every_step else 0          # the slot of this step's gates
            h_prev, h_next = &hs[t % nh, r0, 0], &hs[(t + 1) % nh, r0, 0]
            c_prev, c_next = &cs[t % nc, r0, 0], &cs[(t + 1) % nc, r0, 0]
            if floating is float and P != NULL:
                # [x_t, h_{t-1}] without joining them: x_t's rows gathered into xs
                # (their stride in batch-major data would scatter the tile's reads),
                # h_{t-1} read where the last step left it
                for r in range(r0, r0 + nb):
                    memcpy(&xs[r, 0], &x[t, r, 0], I * sizeof(floating))
                fr_rgemm2(nb, G, K, &xs[r0, 0], I, I, h_prev, H, P, 0,
                          &z[s, r0, 0], G, t & 1)
            else:
                gemm(False, False, nb, G, I, <floating> 1, &x[t, r0, 0], ldx, &W[0, 0], G,
                     <floating> 0, &z[s, r0, 0], G)
                gemm(False, False, nb, G, H, <floating> 1, h_prev, H, &U[0, 0], G,
                     <floating> 1, &z[s, r0, 0], G)
            m = mask_row(mask, t)
            gates_step(&z[s, r0, 0], &b[0], c_prev, c_next, &ac[s, r0, 0], h_prev, h_next,
                       NULL if m == NULL else m + r0, nb, H, act, ract)
        free(P)
