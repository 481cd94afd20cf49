"""The kernels' vectorized float32 activations (csrc/fastmath.h) against float64 NumPy:
accuracy over the whole range, exact limits at +-Inf, NaN propagation."""
import numpy as np
import pytest

from fastrnn._ext import _simple_rnn

CODES = {"tanh": 1, "sigmoid": 2}
EXACT = {"tanh": np.tanh,
         "sigmoid": lambda z: np.exp(-np.logaddexp(0.0, -z))}   # 1 / (1 + e^-z), stable


def activate(name, values, dtype=np.float32):
    z = np.array(values, dtype=dtype).reshape(1, -1).copy()
    _simple_rnn.activate(z, CODES[name])
    return z[0]


@pytest.mark.parametrize("name", list(CODES))
def test_accuracy_over_range(name):
    z = np.concatenate([np.linspace(-100, 100, 200001), np.logspace(-30, 2, 2000),
                        -np.logspace(-30, 2, 2000), [0.0, -0.0, 0.625, -0.625]])
    got = activate(name, z).astype(np.float64)
    want = EXACT[name](z.astype(np.float32).astype(np.float64))
    # a few float32 ulps of the result (relative accuracy near zero for tanh); below
    # FLT_MIN (~1.2e-38) the sigmoid goes subnormal, then 0 (fastmath.h)
    assert np.all(np.abs(got - want) <= 4 * np.spacing(np.abs(want).astype(np.float32)) + 2e-38)


@pytest.mark.parametrize("name", list(CODES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_limits_and_nan(name, dtype):
    got = activate(name, [np.inf, -np.inf, np.nan, 1e30, -1e30], dtype)
    lo = -1.0 if name == "tanh" else 0.0
    np.testing.assert_allclose(got[[0, 3]], 1.0)
    np.testing.assert_allclose(got[[1, 4]], lo, atol=1e-37)
    assert np.isnan(got[2])


SPECIALS = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 1e-45, -1e-45, 1e-40, -1e-40,
                     3.4e38, -3.4e38, 88.5, -88.5, 89.0, -89.0, 89.1, -89.1, 1e30, -1e30],
                    np.float32)


@pytest.mark.parametrize("length", [1, 5, 16, 17, 64, 100])
def test_special_values_exact_in_every_lane(length):
    """Each special value in the vector body and in the remainder: NaN stays NaN, the
    limits are exact (sigmoid 0 and 1, tanh -1 and 1), tiny inputs give 0.5 and x
    itself (tanh keeps the sign of -0)."""
    for i, v in enumerate(SPECIALS):
        row = np.full(length, 0.25, np.float32)
        row[i % length] = v
        s, t = activate("sigmoid", row)[i % length], activate("tanh", row)[i % length]
        if np.isnan(v):
            assert np.isnan(s) and np.isnan(t)
            continue
        if v < -88.38:
            assert s == 0.0
        elif v > 88:
            assert s == 1.0
        if abs(v) > 40:
            assert t == np.sign(v)
        if abs(v) < 1e-30:
            assert s == 0.5
            assert t == v and np.signbit(t) == np.signbit(v)


@pytest.mark.parametrize("lo, hi", [(-89.1, -86.9), (86.9, 89.1)])
def test_monotone_and_accurate_at_the_clamps(lo, hi):
    """Every float around the clamps of exp: no step down, 4 ulp where the result is a
    normal float, never above the true value (plus a subnormal ulp) below FLT_MIN."""
    a, b = np.array([lo, hi], np.float32)
    x = np.unique(np.arange(a, b, np.spacing(np.float32(90.0)) / 2,
                            dtype=np.float64).astype(np.float32))
    for name in CODES:
        got = activate(name, x).astype(np.float64)
        want = EXACT[name](x.astype(np.float64))
        assert np.all(np.diff(got) >= 0)
        normal = np.abs(want) >= np.finfo(np.float32).tiny
        ulp = np.spacing(np.abs(want[normal]).astype(np.float32)).astype(np.float64)
        assert np.all(np.abs(got[normal] - want[normal]) <= 4 * ulp)
        assert np.all(got[~normal] <= want[~normal] * (1 + 1e-6) + 1.5e-45)
