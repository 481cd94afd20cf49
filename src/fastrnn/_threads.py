"""Threads: SciPy's OpenBLAS (which runs every GEMM) and fastrnn's own row blocks.

The thread count of SciPy's bundled BLAS is set through the library's C API (located
among the shared libraries the process has loaded).  OpenBLAS reads
OPENBLAS_NUM_THREADS or OMP_NUM_THREADS when it loads, so those are respected too.

The recurrences of a batch's rows are independent, so with n threads a recurrent layer
splits its rows into up to n blocks and runs each block's whole time loop on its own
thread (the kernels release the GIL), with BLAS single-threaded inside each block: no
synchronization per time step.  The all-rows GEMMs (input projection, weight
gradients) stay on the calling thread with multi-threaded BLAS.  Small problems, where
handing work to a thread costs more than it saves, run on the calling thread alone.
"""
import ctypes
import glob
import os
import threading
from concurrent.futures import ThreadPoolExecutor

MIN_BLOCK_FLOPS = 4e6     # below this much work per row block, splitting does not pay

_SETTERS = ("scipy_openblas_set_num_threads", "scipy_openblas_set_num_threads64_",
            "openblas_set_num_threads")
_GETTERS = ("scipy_openblas_get_num_threads", "scipy_openblas_get_num_threads64_",
            "openblas_get_num_threads")
_lib = None
_local = None             # openblas_set_num_threads_local, or None
_pool = None
_pool_size = 0
_pool_lock = threading.Lock()


def _loaded_openblas():
    """Paths of the OpenBLAS libraries loaded in this process (NumPy's and SciPy's each
    bundle one), SciPy's first: it runs the kernels' GEMMs."""
    import numpy  # noqa: F401
    import scipy.linalg.cython_blas  # noqa: F401  (loads SciPy's BLAS)
    paths = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                if "openblas" in os.path.basename(path).lower() and path not in paths:
                    paths.append(path)
    except OSError:
        import scipy
        base = os.path.dirname(os.path.dirname(scipy.__file__))
        paths = glob.glob(os.path.join(base, "scipy.libs", "*openblas*"))
    return sorted(paths, key=lambda p: "scipy.libs" not in p)


def _controls(lib):
    setter = next((getattr(lib, n) for n in _SETTERS if hasattr(lib, n)), None)
    getter = next((getattr(lib, n) for n in _GETTERS if hasattr(lib, n)), None)
    if setter is None or getter is None:
        return None
    setter.argtypes, getter.restype = [ctypes.c_int], ctypes.c_int
    return setter, getter


def _blas_library():
    """[(setter, getter)] of every loaded OpenBLAS, SciPy's first; [] if none found."""
    global _lib, _local
    if _lib is None:
        _lib = []
        for path in _loaded_openblas():
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            controls = _controls(lib)
            if controls is None:
                continue
            if not _lib:       # SciPy's: its per-thread setting serves the row blocks
                _local = getattr(lib, "openblas_set_num_threads_local", None)
                if _local is not None:
                    _local.argtypes, _local.restype = [ctypes.c_int], ctypes.c_int
            _lib.append(controls)
    return _lib


def set_num_threads(n):
    libs = _blas_library()
    if not libs:
        raise RuntimeError("Could not find the BLAS library's thread control; set "
                           "OMP_NUM_THREADS before starting Python instead.")
    for setter, _ in libs:          # NumPy's and SciPy's pools alike
        setter(n)
    global _count
    _count = n


_count = None


def get_num_threads():
    global _count
    if _count is None:
        libs = _blas_library()
        _count = libs[0][1]() if libs else 1
    return _count


def _single_threaded_blas():
    """Pool initializer: BLAS calls from a worker use one thread."""
    _local(1)


def _executor(workers):
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size < workers:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(workers, thread_name_prefix="fastrnn",
                                       initializer=_single_threaded_blas)
            _pool_size = workers
        return _pool


def run_rows(kernel, args, kwargs, batch, flops, all_rows_first):
    """Run ``kernel(*args, **kwargs)`` over the batch rows, split across threads.

    The kernel takes r0, r1 (its row block) and one flag naming its all-rows part:
    'project' (forward: done before the blocks) or 'weights' (backward: after them).
    flops: the work of the whole recurrence, to decide whether splitting pays.
    """
    threads = get_num_threads()
    blocks = min(threads, batch, max(1, int(flops / max(MIN_BLOCK_FLOPS, 1.0))))
    if _local is None:               # no per-thread BLAS control: let BLAS thread alone
        blocks = 1
    if blocks <= 1:
        if threads > 1 and _local is not None:
            # Too small to split: BLAS threads would only add hand-over costs (and spin
            # against each other on a busy machine), so run it all on this thread.
            _local(1)
            try:
                kernel(*args, **kwargs)
            finally:
                _local(0)
        else:
            kernel(*args, **kwargs)
        return
    flag = "project" if all_rows_first else "weights"
    if all_rows_first:
        kernel(*args, r0=0, r1=0, **{flag: True}, **kwargs)
    bounds = [batch * i // blocks for i in range(blocks + 1)]
    pool = _executor(blocks - 1)
    futures = [pool.submit(kernel, *args, r0=bounds[i], r1=bounds[i + 1], **{flag: False},
                           **kwargs) for i in range(1, blocks)]
    _local(1)
    try:
        kernel(*args, r0=bounds[0], r1=bounds[1], **{flag: False}, **kwargs)
    finally:
        _local(0)                    # back to the global BLAS thread count
        for f in futures:
            f.result()               # wait for every block; re-raise its error
    if not all_rows_first:
        kernel(*args, r0=0, r1=0, **{flag: True}, **kwargs)
