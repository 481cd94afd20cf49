"""Reference Dense layer: y = act(x W + b)."""
import numpy as np

from .activations import act, act_grad


def dense_forward(x, W, b, activation=None):
    """Forward pass of a Keras Dense layer.

    x: (..., I)   W: (I, U)   b: (U,) or None   activation: name or None (linear)
    Returns (y, cache) with y: (..., U).

        z = x W + b
        y = act(z)
    """
    x = np.asarray(x)
    W = np.asarray(W)
    z = x @ W
    if b is not None:
        b = np.asarray(b)
        z = z + b
    y = act(activation, z)
    cache = dict(x=x, W=W, b=b, z=z, activation=activation)
    return y, cache


def dense_backward(dy, cache):
    """Backward pass of dense_forward.

    dy: (..., U) = dL/dy.
    Returns dict(dx=(..., I), dW=(I, U), db=(U,) or None).

        dz = dy * act'(z)
        dx = dz W^T
        dW = sum over all leading positions of x^T dz
        db = sum over all leading positions of dz
    """
    x, W, b, z = cache["x"], cache["W"], cache["b"], cache["z"]
    dy = np.asarray(dy)
    dz = dy * act_grad(cache["activation"], z)
    dx = dz @ W.T
    I, U = W.shape
    x2 = x.reshape(-1, I)   # every leading position is one "sample"
    dz2 = dz.reshape(-1, U)
    dW = x2.T @ dz2
    db = dz2.sum(axis=0) if b is not None else None
    return dict(dx=dx, dW=dW, db=db)
