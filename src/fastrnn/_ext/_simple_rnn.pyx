"""SimpleRNN forward pass and backpropagation through time.

Shapes (T steps, B batch, I input features, H units), all C-contiguous, time-major:
    x   (T, B, I)     inputs
    W   (I, H)        kernel
    U   (H, H)        recurrent kernel
    b   (H,)          bias (zeros when the layer has none)
    hs  (T + 1, B, H) hs[0] = initial state h0, hs[t + 1] = h_t (the step's output)

Forward:  h_t = act(x_t W + h_{t-1} U + b)
Backward, given dY = dL/dh_t for every step (T, B, H):
    dz_t      = (dY_t + dh_t) * act'(h_t),   dh_{t-1} = dz_t U^T
    dW = x^T dz,  dU = hs[:T]^T dz,  db = sum dz,  dx = dz W^T,  dh0 = dh_{-1}
Every argument is validated by the Python layer before these run.  As in _lstm, both
passes take a row range [r0, r1) and flags that skip the all-rows GEMMs, so that the
recurrences of disjoint row blocks can run on several threads.
"""
from cython cimport floating
from libc.string cimport memcpy

from fastrnn._ext._blas cimport gemm, gemm_all, axpy, weight_grads
from libc.stdlib cimport free

from fastrnn._ext._csrc cimport (fr_rgemm_supported, fr_rgemm_packed_size, fr_packed_alloc,
                                 fr_packed_wants_huge, fr_rgemm_pack, fr_rgemm2)

from fastrnn._ext._elementwise cimport (bias_act, act_grad, keep_rows, mask_split,
                                        mask_row, pack_recurrent, rec_gemm)
from fastrnn._ext._dropout cimport masked_products, masked_products_grad, masked_weight_grads


def forward(const floating[:, :, ::1] x, const floating[:, ::1] W,
            const floating[:, ::1] U, const floating[::1] b,
            floating[:, :, ::1] hs, int act, const unsigned char[:, ::1] mask=None,
            const floating[:, :, ::1] rmask=None, floating[:, ::1] hm=None,
            int r0=0, int r1=-1, bint project=True):
    """Fill hs (T + 1, B, H) from x (T, B, I); hs[0] must hold the initial state.

    mask (T, B) uint8 or None: a masked step (0) keeps the previous state.
    rmask (1, B, H) or None: recurrent dropout mask on h_{t-1}; hm (T B, H) scratch.
    project: compute hs[1:] = x W for all rows first; then run the recurrence of rows
    [r0, r1) (r1 = -1: to the end; r1 = r0: none).
    """
    cdef int T = x.shape[0], B = x.shape[1], I = x.shape[2], H = W.shape[1]
    cdef int t, nb = (B if r1 < 0 else r1) - r0
    cdef const unsigned char *m
    cdef float *P = NULL
    with nogil:
        if project:
            # Input projection of all steps at once: hs[1:] = x W   ((T B) x I) (I x H)
            gemm_all(False, False, T * B, H, I, <floating> 1, &x[0, 0, 0], I,
                     &W[0, 0], H, <floating> 0, &hs[1, 0, 0], H)
        if nb > 0 and rmask is None:
            P = pack_recurrent(&U[0, 0], H, H, H, False, T, nb)
        for t in range(T if nb > 0 else 0):
            # hs[t + 1] += hs[t] U, then act(. + b) in place
            if rmask is None:
                rec_gemm(False, nb, H, H, &hs[t, r0, 0], H, &U[0, 0], H, P, <floating> 1,
                         &hs[t + 1, r0, 0], H, t)
            else:
                masked_products(&hs[t, r0, 0], &rmask[0, r0, 0], <long> B * H, &hm[r0, 0],
                                &U[0, 0], &hs[t + 1, r0, 0], nb, nb, H, H, 1, H, <floating> 1)
            bias_act(&hs[t + 1, r0, 0], &b[0], nb, H, act)
            m = mask_row(mask, t)
            if m != NULL:
                keep_rows(&hs[t + 1, r0, 0], &hs[t, r0, 0], m + r0, nb, H)
        free(P)


def backward(const floating[:, :, ::1] x, const floating[:, ::1] W,
             const floating[:, ::1] U, const floating[:, :, ::1] hs,
             const floating[:, :, ::1] dy, bint sequences,
             floating[:, ::1] dW, floating[:, ::1] dU, floating[::1] db,
             floating[:, :, ::1] dx, floating[:, ::1] dh0,
             floating[:, :, ::1] dz, int act, const unsigned char[:, ::1] mask=None,
             const floating[:, :, ::1] rmask=None, floating[:, ::1] hm=None,
             int r0=0, int r1=-1, bint weights=True):
    """Backpropagation through time; overwrites dW, dU, db, dx, dh0.

    dy is (T, B, H) when sequences is true, else (1, B, H): the gradient of the
    last output only.  dz (T, B, H) is workspace; dh0 (B, H) also carries the
    running state gradient during the loop.  The recurrence runs for rows [r0, r1);
    weights: then compute dW, dU, db and dx from all rows.  dx None: the input gradient
    is not wanted (the first layer of a train step) and not computed.
    """
    cdef int T = x.shape[0], B = x.shape[1], I = x.shape[2], H = W.shape[1]
    cdef int t, nb = (B if r1 < 0 else r1) - r0
    cdef long n = <long> nb * H
    cdef floating beta = 0 if mask is None else 1
    cdef const unsigned char *m
    cdef float *P = NULL
    with nogil:
        # dh0 holds dL/dh_t as t runs down to 0; it ends as dL/dh0.
        if nb > 0:
            memcpy(&dh0[r0, 0], &dy[dy.shape[0] - 1, r0, 0], n * sizeof(floating))
            if rmask is None:
                P = pack_recurrent(&U[0, 0], H, H, H, True, T, nb)
        for t in range(T - 1 if nb > 0 else -1, -1, -1):
            if sequences and t < T - 1:
                axpy(n, <floating> 1, &dy[t, r0, 0], &dh0[r0, 0])
            act_grad(&dz[t, r0, 0], &dh0[r0, 0], &hs[t + 1, r0, 0], n, act)
            m = mask_row(mask, t)
            if m != NULL:
                mask_split(&dz[t, r0, 0], &dh0[r0, 0], m + r0, nb, H)
            if rmask is None:
                rec_gemm(True, nb, H, H, &dz[t, r0, 0], H, &U[0, 0], H, P, beta,
                         &dh0[r0, 0], H, t)
            else:
                masked_products_grad(&dz[t, r0, 0], &rmask[0, r0, 0], <long> B * H,
                                     &hm[r0, 0], &U[0, 0], &dh0[r0, 0], nb, nb, H, H, 1, H,
                                     mask is None)
        free(P)
        if weights:
            # dW = x^T dz, dU = hs[:T]^T dz and db = sum dz over all steps, in one pass
            # over dz (dU taken apart below where h_{t-1} had a dropout mask)
            weight_grads(T * B, H, &dz[0, 0, 0], H, I, &x[0, 0, 0], I, &dW[0, 0], H,
                         H if rmask is None else 0, &hs[0, 0, 0], H, &dU[0, 0], H, &db[0])
            if rmask is not None:
                masked_weight_grads(&hs[0, 0, 0], &rmask[0, 0, 0], &hm[0, 0], &dz[0, 0, 0],
                                    &dU[0, 0], <long> T * B, B, H, H, 1, H)
            if dx is not None:
                gemm_all(False, True, T * B, I, H, <floating> 1, &dz[0, 0, 0], H,
                         &W[0, 0], H, <floating> 0, &dx[0, 0, 0], I)


def activate(floating[:, ::1] z, int act):
    """z (rows, cols) = act(z) in place with the kernels' element-wise code (for tests)."""
    with nogil:
        bias_act(&z[0, 0], NULL, z.shape[0], z.shape[1], act)


def packed_in_huge_pages(long floats, double flops):
    """Whether csrc/rgemm.c puts a packed copy of this many floats, streamed by a
    product of this many flops, in huge pages (for tests)."""
    return bool(fr_packed_wants_huge(floats, flops))


def packed_product(const float[:, ::1] a, const float[:, ::1] U, bint trans_u,
                   float[:, ::1] c, float beta, bint reverse=False,
                   const float[:, ::1] a2=None):
    """c[:, :n] = beta c[:, :n] + a (m, k) op(U) through the packed kernel of
    csrc/rgemm.c (for tests); op(U) (k, n) is U, or U^T when trans_u; c (m, ldc >= n);
    reverse: the panels in reverse order, as odd steps run them.  a2 (m, k2) or None:
    the product of [a, a2] (m, k + k2) instead, its two parts read where they are
    (fr_rgemm2; a may then have no columns).
    Returns False, leaving c untouched, where the CPU lacks the kernel."""
    cdef int m = a.shape[0], k1 = a.shape[1], k2 = 0 if a2 is None else a2.shape[1]
    cdef int k = k1 + k2
    cdef int n = U.shape[0] if trans_u else U.shape[1]
    cdef float *P
    cdef const float *pa
    cdef const float *pa2
    if c.shape[0] != m or (U.shape[1] if trans_u else U.shape[0]) != k or c.shape[1] < n \
            or min(m, n, k) < 1 or (a2 is not None and a2.shape[0] != m) \
            or (a2 is None and k1 < 1):
        raise ValueError("packed_product: shapes do not agree")
    if not fr_rgemm_supported():
        return False
    pa = &a[0, 0] if k1 > 0 else &a2[0, 0]     # a part without columns is never read
    pa2 = &a2[0, 0] if k2 > 0 else pa
    P = fr_packed_alloc(fr_rgemm_packed_size(k, n), 2.0 * m * n * k)
    if P == NULL:
        raise MemoryError()
    with nogil:
        fr_rgemm_pack(&U[0, 0], k, n, U.shape[1], trans_u, P)
        fr_rgemm2(m, n, k, pa, k1, k1, pa2, k2, P, beta, &c[0, 0], c.shape[1], reverse)
    free(P)
    return True
