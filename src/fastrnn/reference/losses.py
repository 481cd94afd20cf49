"""Reference losses, reduced exactly as Keras 3 does by default.

Keras 3 computes the per-sample loss as a mean over the last axis and then applies
the default reduction 'sum_over_batch_size', i.e. the mean over the remaining axes:

    per_sample = mean(f(y_true - y_pred), axis=-1)      shape y_pred.shape[:-1]
    loss       = mean(per_sample)                       scalar

Like Keras, y_true is cast to y_pred's dtype, and when the ranks differ by one
because of a trailing axis of size 1 (e.g. y_true (B,) against y_pred (B, 1)),
that axis is ignored.  The gradient has y_pred's shape and dtype.
"""
import numpy as np


def _align(y_true, y_pred):
    """Cast y_true to y_pred's dtype and give it y_pred's shape."""
    y_pred = np.asarray(y_pred)
    if y_pred.ndim == 0:
        raise ValueError("y_pred must have at least one axis")
    if not np.issubdtype(y_pred.dtype, np.floating):
        y_pred = y_pred.astype(np.float64)
    y_true = np.asarray(y_true).astype(y_pred.dtype)
    # Keras' squeeze_or_expand_to_same_rank: a trailing axis of size 1 on one side
    # only does not count.  Both ways of reconciling give the same overall mean.
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    elif y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        y_true = y_true[..., None]
    y_true = np.broadcast_to(y_true, y_pred.shape)
    return y_true, y_pred


def _reduce(values):
    """mean over the last axis, then mean over the remaining (batch) axes."""
    per_sample = values.mean(axis=-1)
    return per_sample.mean()


def mse(y_true, y_pred):
    """Mean squared error.  Returns (loss, dloss/dy_pred).

    y_true, y_pred: (..., D)  (same shape, up to a trailing axis of size 1)
        loss = mean_batch( mean_D( (y_pred - y_true)^2 ) )
        dloss/dy_pred = 2 (y_pred - y_true) / N      N = y_pred.size
    (each element has weight 1/D in its sample and 1/(N/D) in the batch mean)
    """
    y_true, y_pred = _align(y_true, y_pred)
    diff = y_pred - y_true
    loss = _reduce(diff * diff)
    n = y_pred.size
    grad = 2 * diff / n
    return y_pred.dtype.type(loss), grad.astype(y_pred.dtype, copy=False)


def mae(y_true, y_pred):
    """Mean absolute error.  Returns (loss, dloss/dy_pred).

    y_true, y_pred: (..., D)  (same shape, up to a trailing axis of size 1)
        loss = mean_batch( mean_D( |y_pred - y_true| ) )
        dloss/dy_pred = sign(y_pred - y_true) / N    (0 where y_pred == y_true)
    """
    y_true, y_pred = _align(y_true, y_pred)
    diff = y_pred - y_true
    loss = _reduce(np.abs(diff))
    n = y_pred.size
    grad = np.sign(diff) / n
    return y_pred.dtype.type(loss), grad.astype(y_pred.dtype, copy=False)
