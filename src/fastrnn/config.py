"""Global settings, as in ``keras.config``: the default float type, the thread count."""
import numpy as np

_VALID_FLOATX = ("float32", "float64")
_floatx = "float32"


def floatx():
    """Return the default float type as a string: 'float32' (default) or 'float64'."""
    return _floatx


def set_floatx(value):
    """Set the default float type of new layers and models ('float32' or 'float64')."""
    global _floatx
    value = str(np.dtype(value)) if not isinstance(value, str) else value
    if value not in _VALID_FLOATX:
        raise ValueError(
            f"Unknown floatx {value!r}: fastrnn supports {', '.join(_VALID_FLOATX)}.")
    _floatx = value


def standardize_dtype(dtype):
    """Return a float NumPy dtype from None (floatx), a string or a dtype; refuse others."""
    if dtype is None:
        dtype = _floatx
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise ValueError(f"Unknown dtype {dtype!r}: use 'float32' or 'float64'.") from exc
    if dt.name not in _VALID_FLOATX:
        raise ValueError(f"Unsupported dtype {dt.name!r}: use 'float32' or 'float64'.")
    return dt


def set_num_threads(n):
    """Use ``n`` threads in fastrnn's kernels (row blocks of the recurrences and the
    large GEMMs).  The initial value comes from OMP_NUM_THREADS / OPENBLAS_NUM_THREADS,
    else the number of cores.  NumPy's own BLAS threads are left as they are."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"set_num_threads expects a positive integer, got {n!r}.")
    from fastrnn import _threads
    _threads.set_num_threads(int(n))


def get_num_threads():
    """The number of threads fastrnn's kernels use."""
    from fastrnn import _threads
    return _threads.get_num_threads()
