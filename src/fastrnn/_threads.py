"""Thread count of the BLAS library that fastrnn's kernels call (SciPy's OpenBLAS).

fastrnn's own loops are single-threaded; its GEMMs run in SciPy's bundled BLAS, whose
thread count is set here through the library's C API (located among the shared
libraries the process has loaded).  OpenBLAS reads OPENBLAS_NUM_THREADS or
OMP_NUM_THREADS when it loads, so those environment variables are respected as well.
"""
import ctypes
import glob
import os

_SETTERS = ("scipy_openblas_set_num_threads", "openblas_set_num_threads",
            "scipy_openblas_set_num_threads64_")
_GETTERS = ("scipy_openblas_get_num_threads", "openblas_get_num_threads",
            "scipy_openblas_get_num_threads64_")
_lib = None


def _candidates():
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                if "openblas" in os.path.basename(path).lower() and path.endswith(".so") \
                        or ".so." in path and "openblas" in path.lower():
                    yield path
    except OSError:
        pass
    import scipy
    base = os.path.dirname(os.path.dirname(scipy.__file__))
    yield from glob.glob(os.path.join(base, "scipy.libs", "*openblas*"))


def _blas_library():
    """The ctypes handle of SciPy's BLAS with its (setter, getter), or None."""
    global _lib
    if _lib is None:
        import scipy.linalg.cython_blas  # noqa: F401  (loads the library)
        _lib = False
        for path in _candidates():
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            setter = next((getattr(lib, n) for n in _SETTERS if hasattr(lib, n)), None)
            getter = next((getattr(lib, n) for n in _GETTERS if hasattr(lib, n)), None)
            if setter is not None and getter is not None:
                setter.argtypes, getter.restype = [ctypes.c_int], ctypes.c_int
                _lib = (setter, getter)
                break
    return _lib or None


def set_num_threads(n):
    lib = _blas_library()
    if lib is None:
        raise RuntimeError("Could not find the BLAS library's thread control; set "
                           "OMP_NUM_THREADS before starting Python instead.")
    lib[0](n)


def get_num_threads():
    lib = _blas_library()
    return lib[1]() if lib is not None else None
