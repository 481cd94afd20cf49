"""Metrics by Keras name.  A metric turns (y_true, y_pred) of one batch into
per-sample values; the training loop averages them over all samples of an epoch.
"""
import numpy as np

from fastrnn import losses


def binary_accuracy(y_true, y_pred, threshold=0.5):
    y_pred = np.asarray(y_pred)
    y_true = losses._match_rank(y_true, y_pred)
    return np.mean((y_pred > threshold) == (y_true > 0.5), axis=-1)


def categorical_accuracy(y_true, y_pred):
    y_pred = np.asarray(y_pred)
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(y_pred.dtype)


def sparse_categorical_accuracy(y_true, y_pred):
    y_pred = np.asarray(y_pred)
    y_true = np.asarray(y_true)
    if y_true.ndim == y_pred.ndim:
        y_true = y_true[..., 0]
    return (y_true.astype(np.int64) == np.argmax(y_pred, axis=-1)).astype(y_pred.dtype)


_FUNCTIONS = {
    "mse": losses.mean_squared_error, "mean_squared_error": losses.mean_squared_error,
    "mae": losses.mean_absolute_error, "mean_absolute_error": losses.mean_absolute_error,
    "binary_accuracy": binary_accuracy, "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
}


class Metric:
    """A named per-sample metric function."""

    def __init__(self, name, fn):
        self.name, self.fn = name, fn

    def __call__(self, y_true, y_pred):
        return self.fn(y_true, y_pred)


def _resolve_accuracy(loss, output_shape):
    """Keras's choice for 'accuracy': by the loss and the output width."""
    loss_name = getattr(loss, "name", "")
    if "sparse_categorical" in loss_name:
        return sparse_categorical_accuracy
    if "binary" in loss_name or (output_shape and output_shape[-1] == 1):
        return binary_accuracy
    return categorical_accuracy


def get(identifier, loss=None, output_shape=None):
    """Resolve a metric string ('mae', 'accuracy', ...) or function into a Metric."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in ("accuracy", "acc"):
            return Metric(identifier, _resolve_accuracy(loss, output_shape))
        if key in _FUNCTIONS:
            return Metric(identifier, _FUNCTIONS[key])
        raise ValueError(f"Unknown metric {identifier!r}. Valid names: "
                         f"accuracy, {', '.join(sorted(_FUNCTIONS))}.")
    if callable(identifier):
        return Metric(getattr(identifier, "__name__", "metric"), identifier)
    raise ValueError(f"Could not interpret metric {identifier!r}.")
