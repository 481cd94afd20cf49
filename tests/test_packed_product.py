"""The packed per-step recurrent product (csrc/rgemm.c) against float64 NumPy, for every
remainder of its 8-row register tile and 32-column panels, both layouts of U and the
three kinds of beta the kernels use."""
import numpy as np
import pytest

from fastrnn._ext import _simple_rnn

if not _simple_rnn.packed_product(np.zeros((1, 1), np.float32), np.zeros((1, 1), np.float32),
                                  False, np.zeros((1, 1), np.float32), 0.0):
    pytest.skip("no packed kernel here (no AVX2/AVX-512, or FASTRNN_KERNEL=blas): BLAS is "
                "used instead, and the layer tests cover that path", allow_module_level=True)


@pytest.mark.parametrize("m", list(range(1, 18)) + [64])
@pytest.mark.parametrize("n", [1, 15, 16, 17, 31, 32, 33, 64, 70])
@pytest.mark.parametrize("trans_u", [False, True])
def test_every_tile_remainder(m, n, trans_u, rng):
    _check(m, 37, n, trans_u, rng)


@pytest.mark.parametrize("k", [1, 255, 256, 257, 600])
@pytest.mark.parametrize("trans_u", [False, True])
def test_deep_products_in_blocks(k, trans_u, rng):
    """K beyond one 256-deep block of the kernel: later blocks accumulate."""
    _check(13, k, 45, trans_u, rng)


def _check(m, k, n, trans_u, rng):
    a = rng.normal(size=(m, k)).astype(np.float32)
    u = rng.normal(size=(n, k) if trans_u else (k, n)).astype(np.float32)
    want = a.astype(np.float64) @ (u.T if trans_u else u).astype(np.float64)
    # beta = 0 overwrites: NaN in c must not survive
    c = np.full((m, n), np.nan, np.float32)
    assert _simple_rnn.packed_product(a, u, trans_u, c, 0.0)
    tol = dict(rtol=1e-5, atol=2e-5 * np.sqrt(k))
    np.testing.assert_allclose(c, want, **tol)
    for beta in (1.0, -0.5):
        c0 = rng.normal(size=(m, n)).astype(np.float32)
        c = c0.copy()
        assert _simple_rnn.packed_product(a, u, trans_u, c, beta)
        np.testing.assert_allclose(c, beta * c0.astype(np.float64) + want, **tol)


@pytest.mark.parametrize("m, k, n", [(13, 37, 45), (64, 600, 200), (7, 300, 32)])
@pytest.mark.parametrize("trans_u", [False, True])
def test_reverse_panel_order_gives_the_same_bits(m, k, n, trans_u, rng):
    """Odd steps run the panels last to first (so each step starts where the previous
    one left the cache): every column is computed exactly as in the forward order."""
    a = rng.normal(size=(m, k)).astype(np.float32)
    u = rng.normal(size=(n, k) if trans_u else (k, n)).astype(np.float32)
    for beta in (0.0, 1.0, -0.5):
        c0 = rng.normal(size=(m, n + 5)).astype(np.float32)
        ahead, back = c0.copy(), c0.copy()
        assert _simple_rnn.packed_product(a, u, trans_u, ahead, beta)
        assert _simple_rnn.packed_product(a, u, trans_u, back, beta, reverse=True)
        np.testing.assert_array_equal(back, ahead)
        np.testing.assert_array_equal(back[:, n:], c0[:, n:])
        want = beta * c0[:, :n].astype(np.float64) + a.astype(np.float64) @ (
            u.T if trans_u else u).astype(np.float64)
        np.testing.assert_allclose(back[:, :n], want, rtol=1e-5, atol=2e-5 * np.sqrt(k))


@pytest.mark.parametrize("k", [256, 512, 513])
@pytest.mark.parametrize("trans_u", [False, True])
def test_reverse_order_nan_in_c_and_whole_depth_blocks(k, trans_u, rng):
    """The reverse order on whole 256-deep blocks, with NaN in c: beta = 0 overwrites it
    in both orders, beta = 1 keeps it, bit for bit the same."""
    m, n = 9, 70
    a = rng.normal(size=(m, k)).astype(np.float32)
    u = rng.normal(size=(n, k) if trans_u else (k, n)).astype(np.float32)
    for beta in (0.0, 1.0):
        c0 = rng.normal(size=(m, n + 3)).astype(np.float32)
        c0[::2, ::3] = np.nan
        ahead, back = c0.copy(), c0.copy()
        assert _simple_rnn.packed_product(a, u, trans_u, ahead, beta)
        assert _simple_rnn.packed_product(a, u, trans_u, back, beta, reverse=True)
        np.testing.assert_array_equal(back.view(np.uint32), ahead.view(np.uint32))
        np.testing.assert_array_equal(back[:, n:], c0[:, n:])
        assert np.isnan(back[:, :n]).any() == (beta != 0.0)


def test_packed_operand_over_several_huge_pages(rng):
    """A packed copy of 2.6 MB whose product repays huge pages (4 GFLOP): two 2 MB
    blocks."""
    m, k, n = 3300, 4100, 160
    assert _simple_rnn.packed_in_huge_pages(k * n, 2.0 * m * k * n)
    a = rng.normal(size=(m, k)).astype(np.float32)
    u = rng.normal(size=(k, n)).astype(np.float32)
    want = a.astype(np.float64) @ u.astype(np.float64)
    for reverse in (False, True):
        c = np.full((m, n), np.nan, np.float32)
        assert _simple_rnn.packed_product(a, u, False, c, 0.0, reverse=reverse)
        np.testing.assert_allclose(c, want, rtol=1e-5, atol=2e-5 * np.sqrt(k))


def test_huge_pages_only_where_the_work_repays_them():
    """Each huge-page allocation is a fresh mapping whose 2 MB pages are zeroed: a
    packed copy goes there only from 256 KB and 1000 flops per byte (W4's panel, not a
    short sequence's or a small product's)."""
    huge = _simple_rnn.packed_in_huge_pages
    K, N = 640, 2048                                        # W4's [W; U]
    assert huge(K * N, 2.0 * K * N * 100 * 64)              # 100 steps of 64 rows
    assert not huge(160 * 512, 2.0 * 160 * 512 * 10 * 32)   # 10 steps of 32 rows
    assert not huge(256 * 512, 2.0 * 64 * 256 * 512)        # one 64 x 256 x 512 product
    assert not huge(1000, 1e15)                             # small: plain malloc


@pytest.mark.parametrize("beta", [0.0, 1.0])
def test_writes_nothing_outside_c(beta, rng):
    """c is the first n columns of wider rows: the masked stores of the last panel stay
    inside them."""
    m, k, n = 11, 9, 45
    a = rng.normal(size=(m, k)).astype(np.float32)
    u = rng.normal(size=(k, n)).astype(np.float32)
    c = np.full((m, n + 19), 7.0, np.float32)
    assert _simple_rnn.packed_product(a, u, False, c, beta)
    want = beta * 7.0 + a.astype(np.float64) @ u.astype(np.float64)
    np.testing.assert_allclose(c[:, :n], want, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(c[:, n:], 7.0)


def test_nan_and_inf_propagate(rng):
    a = rng.normal(size=(9, 20)).astype(np.float32)
    u = rng.normal(size=(20, 40)).astype(np.float32)
    a[3, 5] = np.nan
    u[2, 33] = np.inf
    c = np.zeros((9, 40), np.float32)
    assert _simple_rnn.packed_product(a, u, False, c, 0.0)
    with np.errstate(invalid="ignore"):
        want = a.astype(np.float64) @ u.astype(np.float64)
    np.testing.assert_array_equal(np.isnan(c), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(c), np.isinf(want))


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shapes"):
        _simple_rnn.packed_product(np.zeros((2, 3), np.float32), np.zeros((4, 5), np.float32),
                                   False, np.zeros((2, 5), np.float32), 0.0)


@pytest.mark.parametrize("m", [1, 7, 8, 13, 64])
@pytest.mark.parametrize("k, k1", [(37, 0), (37, 1), (37, 32), (37, 36), (160, 32),
                                   (600, 255), (600, 256), (600, 257), (600, 400)])
@pytest.mark.parametrize("reverse", [False, True])
def test_two_sources_give_the_bits_of_one(m, k, k1, reverse, rng):
    """[a, a2] read from two places (the LSTM's x_t and h_{t-1}, fr_rgemm2) gives every
    bit of the joined operand's product, also where the split falls inside or at the
    edge of a 256-deep block, and with no columns in the first part."""
    n = 45
    a = rng.normal(size=(m, k)).astype(np.float32)
    u = rng.normal(size=(k, n)).astype(np.float32)
    first, second = np.ascontiguousarray(a[:, :k1]), np.ascontiguousarray(a[:, k1:])
    for beta in (0.0, 1.0, -0.5):
        c0 = rng.normal(size=(m, n + 3)).astype(np.float32)
        joined, split = c0.copy(), c0.copy()
        if beta == 0.0:
            split[:, :n] = np.nan           # overwritten, never read
        assert _simple_rnn.packed_product(a, u, False, joined, beta, reverse)
        assert _simple_rnn.packed_product(first, u, False, split, beta, reverse, a2=second)
        np.testing.assert_array_equal(split, joined)
    np.testing.assert_allclose(joined[:, :n], beta * c0[:, :n].astype(np.float64)
                               + a.astype(np.float64) @ u.astype(np.float64),
                               rtol=1e-5, atol=2e-5 * np.sqrt(k))
