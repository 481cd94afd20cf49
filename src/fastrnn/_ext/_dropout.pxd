# Keras 3's recurrent dropout (implementation 1): one fixed mask per gate, drawn once
# per batch and reused at every step, on the inputs (imask (G, B, I)) and on the
# previous state (rmask (G, B, H)) of each gate's matrix product.  These helpers do the
# per-gate masked products of the forward pass and their gradients; they run only when
# a layer trains with recurrent_dropout > 0 (the default path never calls them).
# Matrices are row-major; "tiled" masks repeat their B rows over the T steps.  A mask
# argument points at row 0 of gate 0's block; gate blocks are gstride elements apart
# (B_full * K), so a caller can pass a block of rows of a larger batch.
from cython cimport floating
from fastrnn._ext._blas cimport gemm


cdef inline void mask_rows(const floating *a, const floating *mask, floating *out,
                           long rows, int B, int K) noexcept nogil:
    """out (rows, K) = a (rows, K) * mask (B, K) tiled over the rows."""
    cdef long r
    cdef int j
    cdef const floating *m
    for r in range(rows):
        m = mask + (r % B) * K
        for j in range(K):
            out[r * K + j] = a[r * K + j] * m[j]


cdef inline void add_masked(floating *acc, const floating *a, const floating *mask,
                            long rows, int B, int K, bint assign) noexcept nogil:
    """acc (rows, K) (+)= a * mask (B, K) tiled over the rows."""
    cdef long r
    cdef int j
    cdef const floating *m
    for r in range(rows):
        m = mask + (r % B) * K
        for j in range(K):
            if assign:
                acc[r * K + j] = a[r * K + j] * m[j]
            else:
                acc[r * K + j] += a[r * K + j] * m[j]


cdef inline void masked_products(const floating *a, const floating *mask, long gstride,
                                 floating *scratch, const floating *Wt, floating *z,
                                 long rows, int B, int K, int H, int gates, int ld,
                                 floating beta) noexcept nogil:
    """For each gate g < gates: z[:, gH:(g+1)H] = beta z + (a * mask[g]) Wt[:, gH:(g+1)H].

    a (rows, K), mask (gates, B, K), Wt (K, ld), z (rows, ld); scratch (rows, K)."""
    cdef int g
    for g in range(gates):
        mask_rows(a, mask + g * gstride, scratch, rows, B, K)
        gemm(False, False, <int> rows, H, K, <floating> 1, scratch, K, Wt + g * H, ld,
             beta, z + g * H, ld)


cdef inline void masked_products_grad(const floating *dz, const floating *mask, long gstride,
                                      floating *scratch, const floating *Wt, floating *da,
                                      long rows, int B, int K, int H, int gates, int ld,
                                      bint assign) noexcept nogil:
    """da (rows, K) (+)= sum over g of (dz[:, gH:(g+1)H] Wt[:, gH:(g+1)H]^T) * mask[g]."""
    cdef int g
    for g in range(gates):
        gemm(False, True, <int> rows, K, H, <floating> 1, dz + g * H, ld, Wt + g * H, ld,
             <floating> 0, scratch, K)
        add_masked(da, scratch, mask + g * gstride, rows, B, K, assign and g == 0)


cdef inline void masked_weight_grads(const floating *a, const floating *mask,
                                     floating *scratch, const floating *dz, floating *dWt,
                                     long rows, int B, int K, int H, int gates,
                                     int ld) noexcept nogil:
    """dWt[:, gH:(g+1)H] = (a * mask[g])^T dz[:, gH:(g+1)H] for each gate g."""
    cdef int g
    for g in range(gates):
        mask_rows(a, mask + <long> g * B * K, scratch, rows, B, K)    # full batch here
        gemm(True, False, K, H, <int> rows, <floating> 1, scratch, K, dz + g * H, ld,
             <floating> 0, dWt + g * H, ld)
