"""Validation and conversion of user arrays at the Python boundary.

Everything the compiled kernels receive passes through here first: numeric,
finite, non-empty, C-contiguous arrays of the model's float dtype.  Accepted and
converted: lists and tuples of numbers, booleans, integers, float16/32/64 (and longer
floats), non-contiguous and Fortran-ordered arrays.  Refused with a TypeError: strings,
bytes, None, dicts, sets, Python objects, complex numbers, dates and times.  Refused
with a ValueError: scalars, empty arrays, ragged nested lists, NaN or Inf, finite
values that overflow the model's float type.

The argument checks of ``fit`` / ``evaluate`` / ``predict`` (batch_size, epochs, ...)
live here as well, so that every public entry point refuses bad values the same way.
"""
import numbers

import numpy as np

# The compiled kernels and SciPy's BLAS index with C ints.
INT_MAX = 2 ** 31 - 1

_KIND_NAMES = {"c": "complex numbers", "U": "strings", "S": "bytes", "O": "Python objects",
               "m": "time deltas", "M": "dates", "V": "raw bytes (void)"}


def _as_array(value, what):
    """``np.asarray(value)`` with TypeErrors for what can never be numbers."""
    if value is None:
        raise TypeError(f"{what} must be an array of numbers, got None.")
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{what} must be numeric array-like, got a string.")
    if isinstance(value, (dict, set, frozenset)):
        raise TypeError(f"{what} must be one array of numbers (a Sequential model has one "
                        f"input and one output), got a {type(value).__name__}.")
    try:
        return np.asarray(value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValueError(f"{what} could not be converted to an array "
                         f"(ragged or mixed content?): {exc}") from exc


def _check_kind(arr, what, allowed="biuf", expected="real numbers"):
    kind = arr.dtype.kind
    if kind not in allowed:
        got = _KIND_NAMES.get(kind, f"dtype {arr.dtype}")
        hint = " (None, or integers too large for 64 bits?)" if kind == "O" else ""
        raise TypeError(f"{what} must hold {expected}, got {got}{hint} "
                        f"(dtype {arr.dtype}).")


def _first_bad(arr):
    """Index and value of the first non-finite entry of ``arr`` (for messages)."""
    idx = np.unravel_index(int(np.argmin(np.isfinite(arr).reshape(-1))), arr.shape)
    return tuple(int(i) for i in idx), arr[idx]


def to_float_array(value, dtype, what):
    """Convert ``value`` (array, list, ...) to a C-contiguous finite float array."""
    dtype = np.dtype(dtype)
    arr = value if type(value) is np.ndarray else _as_array(value, what)
    _check_kind(arr, what)
    if arr.ndim == 0:
        raise ValueError(f"{what} must have a batch axis, got a scalar.")
    if arr.size == 0:
        raise ValueError(f"{what} is empty (shape {arr.shape}).")
    if arr.dtype == dtype:
        out = np.ascontiguousarray(arr)
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            out = np.ascontiguousarray(arr, dtype=dtype)
    if not np.isfinite(out).all():
        source = arr if arr.dtype.kind == "f" else out
        if source is not out and np.isfinite(source).all():
            big = np.abs(arr).max()
            raise ValueError(f"{what} has values too large for {dtype.name} (largest "
                             f"magnitude {big:.6g}; {dtype.name} holds up to "
                             f"{np.finfo(dtype).max:.6g}).")
        idx, bad = _first_bad(source)
        count = int(np.size(source) - np.count_nonzero(np.isfinite(source)))
        raise ValueError(f"{what} contains NaN or Inf ({count} value(s), the first {bad} "
                         f"at index {idx}).")
    return out


def to_int_array(value, what):
    """Convert ``value`` to a C-contiguous array of integer ids (for Embedding inputs):
    integer and bool arrays as they are, float arrays only if they hold whole numbers."""
    arr = value if type(value) is np.ndarray else _as_array(value, what)
    _check_kind(arr, what, expected="integer ids")
    if arr.ndim == 0 or arr.size == 0:
        raise ValueError(f"{what} must be a non-empty array with a batch axis, "
                         f"got shape {arr.shape}.")
    info = np.iinfo(np.intp)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ValueError(f"{what} contains NaN or Inf where integer ids are expected.")
        if np.any(arr != np.round(arr)):
            raise ValueError(f"{what} must hold whole numbers (integer ids).")
        if arr.max() > 2.0 ** 62 or arr.min() < -2.0 ** 62:
            raise ValueError(f"{what} holds ids too large to index with "
                             f"(largest magnitude {np.abs(arr).max():.6g}).")
    elif arr.dtype.kind == "u" and arr.dtype.itemsize >= np.dtype(np.intp).itemsize:
        if arr.max() > info.max:
            raise ValueError(f"{what} holds ids too large to index with ({arr.max()}).")
    return np.ascontiguousarray(arr, dtype=np.intp)


def adjust_rank(x, input_shape, what="x"):
    """Keras 3's rule: add a missing trailing axis of size 1, or drop an extra one,
    then check x against the model's input shape (no batch axis; None matches any size)."""
    if x.ndim == len(input_shape) + 1:      # the common case, without building messages
        for got, wanted in zip(x.shape[1:], input_shape):
            if wanted is not None and got != wanted:
                break
        else:
            return x
    original = x.shape
    want = len(input_shape) + 1
    expected = f"(batch, {', '.join(map(str, input_shape))})"
    adjusted = x
    if x.ndim == want - 1:
        adjusted = x[..., None]
    elif x.ndim == want + 1 and x.shape[-1] == 1:
        adjusted = x[..., 0]
    mismatch = None
    if adjusted.ndim == want:
        mismatch = next(((axis, got, wanted) for axis, (got, wanted)
                         in enumerate(zip(adjusted.shape[1:], input_shape), start=1)
                         if wanted is not None and got != wanted), None)
    if adjusted.ndim != want or (mismatch is not None and adjusted is not x):
        # (when adding or dropping the trailing axis does not fit either, the rank is wrong)
        raise ValueError(f"{what} has shape {original} ({len(original)} dimensions) but the "
                         f"model expects inputs of shape {expected} ({want} dimensions).")
    if mismatch is not None:
        axis, got, wanted = mismatch
        which = "features on the last axis" if axis == want - 1 else f"entries on axis {axis}"
        raise ValueError(f"{what} has shape {original} but the model expects inputs of "
                         f"shape {expected}: {got} {which} instead of {wanted}.")
    return adjusted


def check_index_range(shape, what):
    """Refuse arrays whose rows (all axes but the last) or last axis do not fit the C ints
    the compiled kernels and BLAS index with."""
    rows = 1
    for d in shape[:-1]:
        rows *= int(d)
    if rows > INT_MAX or (shape and shape[-1] > INT_MAX):
        raise ValueError(f"{what} of shape {tuple(shape)} is too large for the compiled "
                         f"kernels (at most {INT_MAX} rows of at most {INT_MAX} values).")


def _is_int(value):
    return isinstance(value, (numbers.Integral, np.integer)) \
        and not isinstance(value, (bool, np.bool_))


def check_batch_size(batch_size):
    if batch_size is None:
        return 32
    if not _is_int(batch_size) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    return int(batch_size)


def check_epochs(epochs, initial_epoch):
    """fit's epochs and initial_epoch: non-negative integers (numbers of passes)."""
    for name, value in (("epochs", epochs), ("initial_epoch", initial_epoch)):
        if not _is_int(value):
            raise TypeError(f"{name} must be an integer, got {value!r} "
                            f"({type(value).__name__}).")
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}.")
    return int(epochs), int(initial_epoch)


def check_verbose(verbose):
    """'auto', 0 (silent), 1 (progress bar) or 2 (one line per epoch), as in Keras."""
    if isinstance(verbose, str):
        if verbose != "auto":
            raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}.")
        return verbose
    if not isinstance(verbose, (numbers.Integral, np.integer)) or not 0 <= verbose <= 2:
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}.")
    return int(verbose)


def check_flag(value, name):
    """A boolean argument (bool, NumPy bool or the integers 0 and 1)."""
    if isinstance(value, (bool, np.bool_)) or (_is_int(value) and value in (0, 1)):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {value!r}.")


def check_fraction(value, name):
    """A real number in [0, 1)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.number)) \
            or isinstance(value, np.complexfloating):
        raise TypeError(f"{name} must be a number in [0, 1), got {value!r}.")
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}.")
    return float(value)
