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
    # ~1e-38 the exp is clamped instead of going subnormal (fastmath.h)
    assert np.all(np.abs(got - want) <= 4 * np.spacing(np.abs(want).astype(np.float32)) + 2e-38)


@pytest.mark.parametrize("name", list(CODES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_limits_and_nan(name, dtype):
    got = activate(name, [np.inf, -np.inf, np.nan, 1e30, -1e30], dtype)
    lo = -1.0 if name == "tanh" else 0.0
    np.testing.assert_allclose(got[[0, 3]], 1.0)
    np.testing.assert_allclose(got[[1, 4]], lo, atol=1e-37)
    assert np.isnan(got[2])
