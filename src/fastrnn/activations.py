"""Activation functions by Keras name, with the derivatives the layers need.

Each activation has ``forward(z) -> y`` and ``backward(dy, y) -> dz`` where y is the
forward output (every activation here has a derivative expressible through its output).
``KERNEL_CODES`` maps the names the compiled recurrent kernels implement to the codes
of ``csrc/activations.h``.
"""
import numpy as np

KERNEL_CODES = {"linear": 0, "tanh": 1, "sigmoid": 2, "relu": 3}


def _sigmoid(z):
    # exp only of non-positive numbers: no overflow warning for large |z|
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype, copy=False)


def _softmax(z):
    """Stable softmax on the last axis; a row with +inf logits shares its probability
    equally among them (the limit), instead of giving NaN."""
    top = z.max(axis=-1, keepdims=True)
    inf_rows = np.isposinf(top)
    if inf_rows.any():
        z = np.where(inf_rows, np.where(np.isposinf(z), 0.0, -np.inf), z).astype(z.dtype)
        top = np.where(inf_rows, 0.0, top).astype(z.dtype)
    with np.errstate(over="ignore"):
        e = np.exp(z - top)
    return e / e.sum(axis=-1, keepdims=True)


def _softmax_backward(dy, y):
    return y * (dy - (dy * y).sum(axis=-1, keepdims=True))


_TABLE = {
    "linear": (lambda z: z, lambda dy, y: dy),
    "tanh": (np.tanh, lambda dy, y: dy * (1 - y * y)),
    "sigmoid": (_sigmoid, lambda dy, y: dy * (y * (1 - y))),
    "relu": (lambda z: np.maximum(z, 0), lambda dy, y: dy * (y > 0)),
    "softmax": (_softmax, _softmax_backward),
}


class Activation:
    """A named activation: ``forward(z)`` and ``backward(dy, y)`` (y = forward(z))."""

    def __init__(self, name):
        self.name = name
        self.forward, self.backward = _TABLE[name]

    def __repr__(self):
        return f"<activation {self.name}>"


def get(identifier):
    """Resolve None (linear), a Keras name or an Activation; unknown names raise ValueError."""
    if identifier is None:
        return Activation("linear")
    if isinstance(identifier, Activation):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _TABLE:
        return Activation(identifier.lower())
    raise ValueError(
        f"Unknown activation {identifier!r}. Valid names: {', '.join(sorted(_TABLE))}.")


def kernel_code(activation, layer_name):
    """The csrc code of an activation a compiled recurrent kernel implements."""
    if activation.name not in KERNEL_CODES:
        raise ValueError(
            f"{layer_name} supports the activations {', '.join(KERNEL_CODES)}; "
            f"got {activation.name!r}.")
    return KERNEL_CODES[activation.name]
