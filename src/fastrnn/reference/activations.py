"""Element-wise activations and their derivatives, for the reference only.

Supported names: 'linear' (also None), 'tanh', 'sigmoid', 'relu'.
Every function keeps the dtype of its input.
"""
import numpy as np

NAMES = ("linear", "tanh", "sigmoid", "relu")


def _check(name):
    if name is None:
        return "linear"
    if name not in NAMES:
        raise ValueError(f"unknown activation {name!r}; expected one of {NAMES}")
    return name


def _sigmoid(z):
    """1 / (1 + exp(-z)), without overflow for large |z|.

    For z >= 0 use 1 / (1 + exp(-z)); for z < 0 use exp(z) / (1 + exp(z)).
    Each exp() argument is <= 0, so it never overflows.
    """
    z = np.asarray(z)
    e = np.exp(-np.abs(z))  # in (0, 1]
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(z.dtype, copy=False)


def act(name, z):
    """Return act(z) for the activation `name` (same shape and dtype as z)."""
    name = _check(name)
    z = np.asarray(z)
    if name == "linear":
        return z.copy()
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        return _sigmoid(z)
    # relu
    return np.maximum(z, 0).astype(z.dtype, copy=False)


def act_grad(name, z):
    """Return d act(z) / dz, element-wise, evaluated at the pre-activation z.

    linear: 1
    tanh:   1 - tanh(z)^2
    sigmoid: s (1 - s) with s = sigmoid(z)
    relu:   1 where z > 0, else 0 (0 at z == 0, as in TensorFlow/JAX)
    """
    name = _check(name)
    z = np.asarray(z)
    if name == "linear":
        return np.ones_like(z)
    if name == "tanh":
        t = np.tanh(z)
        return 1 - t * t
    if name == "sigmoid":
        s = _sigmoid(z)
        return s * (1 - s)
    # relu
    return (z > 0).astype(z.dtype)
