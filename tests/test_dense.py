"""Dense against the NumPy reference."""
import numpy as np
import pytest

from fastrnn import reference
from fastrnn.layers import Dense


@pytest.mark.parametrize("activation", [None, "tanh", "relu", "sigmoid", "linear"])
@pytest.mark.parametrize("lead", [(5,), (3, 4), (1,)])
def test_dense_matches_reference(activation, lead, rng):
    layer = Dense(6, activation=activation, dtype="float64")
    layer.build((3,))
    layer.set_weights([rng.normal(size=(3, 6)), rng.normal(size=6)])
    x = rng.normal(size=lead + (3,))
    y = layer.forward(x, training=True)
    dy = rng.normal(size=y.shape)
    dx = layer.backward(dy)
    y_ref, cache = reference.dense_forward(x, layer.kernel, layer.bias, activation)
    g = reference.dense_backward(dy, cache)
    np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, g["dx"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads[0], g["dW"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads[1], g["db"], rtol=1e-10, atol=1e-12)


def test_dense_softmax_gradient_by_finite_differences(rng):
    layer = Dense(4, activation="softmax", dtype="float64")
    layer.build((3,))
    x = rng.normal(size=(2, 3))
    r = rng.normal(size=(2, 4))
    layer.forward(x, training=True)
    dx = layer.backward(r)
    eps = 1e-6
    num = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        num[i] = (np.sum(r * layer.forward(xp)) - np.sum(r * layer.forward(xm))) / (2 * eps)
    np.testing.assert_allclose(dx, num, rtol=1e-6, atol=1e-8)


def test_dense_bad_arguments():
    with pytest.raises(ValueError, match="units"):
        Dense(0)
    with pytest.raises(ValueError, match="Unknown activation"):
        Dense(3, activation="nope")
    with pytest.raises(TypeError, match="unrecognized keyword"):
        Dense(3, kernel_initialiser="zeros")


def test_softmax_with_infinite_logits_is_the_limit_not_nan():
    layer = Dense(3, activation="softmax", kernel_initializer="ones")
    with np.errstate(over="ignore"):                     # every logit overflows to +inf
        y = layer(np.full((1, 4), 3e38, np.float32))
    np.testing.assert_allclose(y, [[1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)
    z = np.array([[np.inf, 1.0, np.inf], [1.0, 2.0, 3.0]])
    from fastrnn.activations import get
    out = get("softmax").forward(z)
    np.testing.assert_allclose(out[0], [0.5, 0.0, 0.5])
    np.testing.assert_allclose(out[1], np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum())
