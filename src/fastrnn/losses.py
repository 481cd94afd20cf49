"""Losses with Keras 3's names, formulas and reduction.

A loss object computes per-sample values by reducing over the last axis, then
averages them over all remaining axes ('sum_over_batch_size').  Besides
``loss(y_true, y_pred) -> float`` the training loop uses
``loss.value_and_grad(y_true, y_pred) -> (float, dL/dy_pred)``.
"""
import numpy as np


def _match_rank(y_true, y_pred):
    """Keras's squeeze_or_expand_to_same_rank: fix a rank difference of one."""
    y_true = np.asarray(y_true, dtype=y_pred.dtype)
    if y_true.ndim == y_pred.ndim - 1:
        y_true = y_true[..., None]
    elif y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    if y_true.shape != y_pred.shape:
        raise ValueError(f"Targets of shape {y_true.shape} do not match predictions of "
                         f"shape {y_pred.shape}.")
    return y_true


def mean_squared_error(y_true, y_pred):
    """Per-sample MSE: mean((y_pred - y_true)^2, axis=-1)."""
    y_pred = np.asarray(y_pred)
    return np.mean(np.square(y_pred - _match_rank(y_true, y_pred)), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """Per-sample MAE: mean(|y_pred - y_true|, axis=-1)."""
    y_pred = np.asarray(y_pred)
    return np.mean(np.abs(y_pred - _match_rank(y_true, y_pred)), axis=-1)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error


class Loss:
    """Base class: subclasses give ``fn`` (per-sample values) and ``_grad``."""

    fn = None

    def __init__(self, name=None, reduction="sum_over_batch_size"):
        if reduction not in ("sum_over_batch_size", "sum", "mean", "none", None):
            raise ValueError(f"Unknown reduction {reduction!r}.")
        self.name = name or self.default_name
        self.reduction = reduction

    def __call__(self, y_true, y_pred):
        values = type(self).fn(y_true, y_pred)
        if self.reduction in ("none", None):
            return values
        if self.reduction == "sum":
            return float(np.sum(values))
        return float(np.mean(values))

    def value_and_grad(self, y_true, y_pred):
        """(reduced loss, dL/dy_pred of the same shape and dtype as y_pred)."""
        y_pred = np.asarray(y_pred)
        y_true = _match_rank(y_true, y_pred)
        diff = y_pred - y_true
        scale = 1.0 / y_pred.size if self.reduction != "sum" else 1.0 / y_pred.shape[-1]
        value, grad = self._value_and_grad(diff, scale)
        return value, grad.astype(y_pred.dtype, copy=False)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}


class MeanSquaredError(Loss):
    default_name = "mean_squared_error"
    fn = staticmethod(mean_squared_error)

    def _value_and_grad(self, diff, scale):
        return float(np.sum(diff * diff) * scale), diff * (2.0 * scale)


class MeanAbsoluteError(Loss):
    default_name = "mean_absolute_error"
    fn = staticmethod(mean_absolute_error)

    def _value_and_grad(self, diff, scale):
        return float(np.sum(np.abs(diff)) * scale), np.sign(diff) * scale


_BY_NAME = {
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "meansquarederror": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "meanabsoluteerror": MeanAbsoluteError,
}
_BY_FUNCTION = {mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError}


def get(identifier):
    """Resolve a loss given as a string, a loss function, a Loss class or an instance."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier) and identifier in _BY_FUNCTION:
        return _BY_FUNCTION[identifier]()
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(f"Unknown loss {identifier!r}. Valid names: "
                     "mse, mean_squared_error, mae, mean_absolute_error.")
