"""The all-rows products (_blas.gemm_all): csrc/rgemm.c's float32 kernel where the CPU
has it, BLAS otherwise, split over fastrnn's threads or not, against float64 NumPy."""
import numpy as np
import pytest

from fastrnn import config
from fastrnn._ext import _blas


@pytest.fixture(params=["own", "blas"])
def route(request):
    old = _blas.use_own_sgemm(request.param == "own")
    taken = _blas.use_own_sgemm(request.param == "own")     # what the first call set
    if request.param == "own" and not taken:
        _blas.use_own_sgemm(old)
        pytest.skip("this CPU has no AVX2 or AVX-512 kernel: gemm_all uses BLAS only")
    yield request.param
    _blas.use_own_sgemm(old)


@pytest.fixture(params=[1, 2])
def threads(request):
    old_threads = config.get_num_threads()
    old_flops = _blas.set_min_part_flops(0.0 if request.param > 1 else 1e30)
    config.set_num_threads(request.param)
    yield request.param
    config.set_num_threads(old_threads)
    _blas.set_min_part_flops(old_flops)


# (m, k, n): tile and panel remainders, K over several cache blocks (256), M over
# several row blocks (512), N over several column blocks (1024)
SHAPES = [(1, 1, 1), (7, 3, 5), (9, 33, 31), (64, 600, 70), (1100, 40, 33), (13, 257, 96),
          (40, 30, 1100)]


@pytest.mark.parametrize("m,k,n", SHAPES)
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_product_matches_numpy(m, k, n, trans_a, trans_b, route, threads, rng):
    a = rng.normal(size=(k, m) if trans_a else (m, k)).astype(np.float32)
    b = rng.normal(size=(n, k) if trans_b else (k, n)).astype(np.float32)
    want = (a.T if trans_a else a).astype(np.float64) @ (b.T if trans_b else b).astype(np.float64)
    tol = dict(rtol=1e-5, atol=1e-5 * np.sqrt(k))
    c = np.full((m, n), np.nan, np.float32)          # beta = 0 overwrites NaN
    _blas.product(a, trans_a, b, trans_b, c, np.float32(0))
    np.testing.assert_allclose(c, want, **tol)
    c0 = rng.normal(size=(m, n)).astype(np.float32)
    c = c0.copy()
    _blas.product(a, trans_a, b, trans_b, c, np.float32(0.5))
    np.testing.assert_allclose(c, 0.5 * c0 + want, **tol)


def test_float64_goes_through_blas_exactly(rng):
    a, b = rng.normal(size=(30, 20)), rng.normal(size=(20, 50))
    c = np.zeros((30, 50))
    _blas.product(a, False, b, False, c, 0.0)
    np.testing.assert_allclose(c, a @ b, rtol=1e-13)


def test_nan_and_inf_propagate(route, rng):
    a = rng.normal(size=(300, 40)).astype(np.float32)
    b = rng.normal(size=(40, 50)).astype(np.float32)
    a[7, 3], b[5, 44] = np.nan, np.inf
    c = np.zeros((300, 50), np.float32)
    _blas.product(a, False, b, False, c, np.float32(0))
    with np.errstate(invalid="ignore"):
        want = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_array_equal(np.isnan(c), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(c), np.isinf(want))


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shapes"):
        _blas.product(np.zeros((2, 3), np.float32), False, np.zeros((4, 5), np.float32),
                      False, np.zeros((2, 5), np.float32), np.float32(0))


@pytest.mark.parametrize("cap,most", [("blas", 0), ("avx2", 1)])
def test_fastrnn_kernel_caps_the_instruction_set(cap, most, tmp_path):
    """FASTRNN_KERNEL (read when the modules load) selects a lower kernel; the results
    stay those of NumPy.  .ci/run runs the kernel tests under each setting."""
    import os
    import subprocess
    import sys
    code = ("import numpy as np\n"
            "from fastrnn._ext import _blas, _simple_rnn\n"
            "rng = np.random.default_rng(0)\n"
            "a = rng.normal(size=(70, 50)).astype(np.float32)\n"
            "u = rng.normal(size=(50, 45)).astype(np.float32)\n"
            "c = np.zeros((70, 45), np.float32)\n"
            "packed = _simple_rnn.packed_product(a, u, False, c, 0.0)\n"
            "if not packed:\n"
            "    _blas.product(a, False, u, False, c, np.float32(0))\n"
            "err = np.max(np.abs(c - a.astype(np.float64) @ u.astype(np.float64)))\n"
            "print(_blas.kernel_level(), int(packed), err)\n")
    def run(**cap_env):
        env = {k: v for k, v in os.environ.items() if k != "FASTRNN_KERNEL"}
        return subprocess.run([sys.executable, "-c", code], env=dict(env, **cap_env),
                              capture_output=True, text=True, check=True,
                              cwd=tmp_path).stdout.split()
    detected = int(run()[0])                 # what this CPU has, uncapped
    out = run(FASTRNN_KERNEL=cap)
    assert int(out[0]) == min(most, detected)
    assert int(out[1]) == (min(most, detected) > 0)
    assert float(out[2]) < 1e-4


# ------------------------------------------------- weight gradients (weight_grads)
# (K, N, m1, m2): K over several blocks, N within one column block (the two products
# share each packed block of dz) and over two (one product at a time), tile remainders,
# no second product (m2 0)
WGRAD_SHAPES = [(1, 1, 1, 0), (600, 96, 13, 40), (6400 // 10, 512, 32, 128),
                (300, 1100, 9, 17), (257, 33, 8, 0)]


def _sequential_sum(dz):
    """Column sums of dz added row by row in float32 (the kernels' order)."""
    return np.cumsum(dz, axis=0, dtype=dz.dtype)[-1]


@pytest.mark.parametrize("K,N,m1,m2", WGRAD_SHAPES)
def test_weight_gradients_match_products_and_sums(K, N, m1, m2, route, threads, rng):
    """a1^T dz, a2^T dz and the column sums of dz in one pass: the values of two
    gemm_all products and a row-by-row sum, bit for bit, on every route and thread
    count; and close to float64 NumPy."""
    dz = rng.normal(size=(K, N)).astype(np.float32)
    a1 = rng.normal(size=(K, m1)).astype(np.float32)
    a2 = rng.normal(size=(K, m2)).astype(np.float32) if m2 else None
    c1 = np.full((m1, N), np.nan, np.float32)            # overwritten, NaN or not
    c2 = np.full((m2, N), np.nan, np.float32) if m2 else None
    db = np.full(N, np.nan, np.float32)
    _blas.weight_gradients(dz, a1, c1, a2, c2, db)
    want1 = np.empty_like(c1)
    _blas.product(a1, True, dz, False, want1, np.float32(0))
    np.testing.assert_array_equal(c1, want1)
    np.testing.assert_allclose(c1, a1.T.astype(np.float64) @ dz, rtol=1e-5,
                               atol=1e-5 * np.sqrt(K))
    if m2:
        want2 = np.empty_like(c2)
        _blas.product(a2, True, dz, False, want2, np.float32(0))
        np.testing.assert_array_equal(c2, want2)
    np.testing.assert_array_equal(db, _sequential_sum(dz))


def test_weight_gradients_without_sums_or_second_product(rng):
    dz = rng.normal(size=(300, 64)).astype(np.float32)
    a1 = rng.normal(size=(300, 5)).astype(np.float32)
    c1 = np.zeros((5, 64), np.float32)
    _blas.weight_gradients(dz, a1, c1)
    want = np.empty_like(c1)
    _blas.product(a1, True, dz, False, want, np.float32(0))
    np.testing.assert_array_equal(c1, want)


def test_weight_gradients_nan_and_inf_propagate(route, rng):
    dz = rng.normal(size=(400, 64)).astype(np.float32)
    a1 = rng.normal(size=(400, 16)).astype(np.float32)
    dz[300, 5], a1[7, 3] = np.nan, np.inf
    c1, db = np.zeros((16, 64), np.float32), np.zeros(64, np.float32)
    _blas.weight_gradients(dz, a1, c1, db=db)
    with np.errstate(invalid="ignore"):
        want = a1.T.astype(np.float64) @ dz.astype(np.float64)
    np.testing.assert_array_equal(np.isnan(c1), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(c1), np.isinf(want))
    assert np.isnan(db[5]) and np.isfinite(np.delete(db, 5)).all()


def test_weight_gradients_float64_and_bad_shapes(rng):
    dz, a1 = rng.normal(size=(50, 20)), rng.normal(size=(50, 7))
    c1, db = np.zeros((7, 20)), np.zeros(20)
    _blas.weight_gradients(dz, a1, c1, db=db)
    np.testing.assert_allclose(c1, a1.T @ dz, rtol=1e-13)
    np.testing.assert_allclose(db, dz.sum(0), rtol=1e-12)
    with pytest.raises(ValueError, match="shapes"):
        _blas.weight_gradients(dz, a1, np.zeros((7, 21)))
    with pytest.raises(ValueError, match="shapes"):
        _blas.weight_gradients(dz, a1, c1, a2=a1)          # c2 missing


@pytest.mark.parametrize("N", [40, 1100])
def test_weight_gradients_sums_alone(N, route, threads, rng):
    """No product wanted (both inputs had dropout masks): db is still every column's
    sum, within one column block and beyond it."""
    dz = rng.normal(size=(300, N)).astype(np.float32)
    db = np.full(N, np.nan, np.float32)
    _blas.weight_gradients(dz, db=db)
    np.testing.assert_array_equal(db, _sequential_sum(dz))


@pytest.mark.parametrize("K,N", [(70, 5), (70, 33), (300, 2100)])
def test_weight_gradients_with_more_threads_than_panels(K, N, route, rng):
    """Eight threads over a few 32-column panels (some parts empty) or over parts still
    wider than one column block: the values of one thread (bit for bit where the own
    kernel takes the product; BLAS's own kernels may round a narrower part differently)."""
    dz = rng.normal(size=(K, N)).astype(np.float32)
    a1 = rng.normal(size=(K, 9)).astype(np.float32)
    a2 = rng.normal(size=(K, 3)).astype(np.float32)
    results = []
    old_threads, old_flops = config.get_num_threads(), _blas.set_min_part_flops(0.0)
    try:
        for n in (1, 8):
            config.set_num_threads(n)
            c1, c2 = np.zeros((9, N), np.float32), np.zeros((3, N), np.float32)
            db = np.zeros(N, np.float32)
            _blas.weight_gradients(dz, a1, c1, a2, c2, db)
            results.append((c1, c2, db))
    finally:
        config.set_num_threads(old_threads)
        _blas.set_min_part_flops(old_flops)
    widest = _blas.own_max_width()
    own = route == "own" and (widest == 0 or N <= widest)
    for one, eight in zip(*results):
        if own:
            np.testing.assert_array_equal(one, eight)
        else:
            np.testing.assert_allclose(one, eight, rtol=1e-5, atol=1e-5 * np.sqrt(K))
