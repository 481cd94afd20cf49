"""Validation and conversion of user arrays at the Python boundary.

Everything the compiled kernels receive passes through here first: numeric,
finite, non-empty, C-contiguous arrays of the model's float dtype.
"""
import numpy as np


def to_float_array(value, dtype, what):
    """Convert ``value`` (array, list, ...) to a C-contiguous finite float array."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{what} must be numeric array-like, got a string.")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{what} could not be converted to an array "
                         f"(ragged or mixed content?): {exc}") from exc
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number)
                                   or np.issubdtype(arr.dtype, np.bool_)):
        raise TypeError(f"{what} must hold numbers, got dtype {arr.dtype}.")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{what} must hold real numbers, got dtype {arr.dtype}.")
    if arr.ndim == 0:
        raise ValueError(f"{what} must have a batch axis, got a scalar.")
    if arr.size == 0:
        raise ValueError(f"{what} is empty (shape {arr.shape}).")
    arr = np.ascontiguousarray(arr, dtype=dtype)
    if not np.isfinite(arr).all():
        raise ValueError(f"{what} contains NaN or Inf.")
    return arr


def to_int_array(value, what):
    """Convert ``value`` to a C-contiguous array of integer ids (for Embedding inputs):
    integer and bool arrays as they are, float arrays only if they hold whole numbers."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{what} must hold integer ids, got a string.")
    arr = np.asarray(value)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number)
                                   or np.issubdtype(arr.dtype, np.bool_)):
        raise TypeError(f"{what} must hold integer ids, got dtype {arr.dtype}.")
    if arr.ndim == 0 or arr.size == 0:
        raise ValueError(f"{what} must be a non-empty array with a batch axis, "
                         f"got shape {arr.shape}.")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ValueError(f"{what} contains NaN or Inf where integer ids are expected.")
        if np.any(arr != np.round(arr)):
            raise ValueError(f"{what} must hold whole numbers (integer ids).")
    elif np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{what} must hold integer ids, got dtype {arr.dtype}.")
    return np.ascontiguousarray(arr, dtype=np.intp)


def adjust_rank(x, input_shape, what="x"):
    """Keras 3's rule: add a missing trailing axis of size 1, or drop an extra one,
    then check x against the model's input shape (no batch axis; None matches any size)."""
    want = len(input_shape) + 1
    if x.ndim == want - 1:
        x = x[..., None]
    elif x.ndim == want + 1 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != want:
        raise ValueError(f"{what} has shape {x.shape} but the model expects inputs of shape "
                         f"(batch, {', '.join(map(str, input_shape))}).")
    for got, expected in zip(x.shape[1:], input_shape):
        if expected is not None and got != expected:
            raise ValueError(f"{what} has shape {x.shape} but the model expects inputs of "
                             f"shape (batch, {', '.join(map(str, input_shape))}).")
    return x


def check_batch_size(batch_size):
    if batch_size is None:
        return 32
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    return int(batch_size)
