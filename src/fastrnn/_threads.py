"""fastrnn's threads.

fastrnn runs its own threads and keeps SciPy's BLAS (which only its kernels use)
single-threaded: BLAS worker threads spin after each call and would compete for the
cores with fastrnn's threads.  With n threads:

- a recurrent layer splits its batch rows into up to n blocks and runs each block's
  whole time loop on its own thread (the kernels release the GIL): batch rows are
  independent, so there is no synchronization per time step;
- the large all-rows GEMMs (input projection, weight gradients) are split across a
  pool of sleeping C threads (csrc/pool.c, through ``_blas.gemm_all``).

Small problems, where handing work to a thread costs more than it saves, stay on the
calling thread.  The thread count starts from OMP_NUM_THREADS or OPENBLAS_NUM_THREADS
when set, else the number of cores this process may use.
"""
import ctypes
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from fastrnn._ext import _blas

MIN_BLOCK_FLOPS = 4e6     # below this much recurrent work per row block, don't split
_SETTERS = ("scipy_openblas_set_num_threads", "openblas_set_num_threads")
_pool = None
_pool_size = 0
_pool_lock = threading.Lock()
_count = 1


def _scipy_blas_single_threaded():
    """Set the OpenBLAS that SciPy bundles (used by fastrnn's kernels) to one thread."""
    import scipy.linalg.cython_blas  # noqa: F401  (loads it)
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:
        return
    for path in sorted(paths):
        if "scipy.libs" not in path and "scipy" not in os.path.basename(path):
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in _SETTERS:
            setter = getattr(lib, name, None)
            if setter is not None:
                setter.argtypes = [ctypes.c_int]
                setter(1)
                break


def _initial_count():
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        value = os.environ.get(var, "").split(",")[0].strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def set_num_threads(n):
    global _count
    _count = int(n)
    _blas.set_threads(_count)


def get_num_threads():
    return _count


def _executor(workers):
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size < workers:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(workers, thread_name_prefix="fastrnn")
            _pool_size = workers
        return _pool


def run_rows(kernel, args, kwargs, batch, flops, all_rows_first):
    """Run ``kernel(*args, **kwargs)`` over the batch rows, split across threads.

    The kernel takes r0, r1 (its row block) and one flag naming its all-rows part:
    'project' (forward: done before the blocks) or 'weights' (backward: after them).
    flops: the work of the whole recurrence, to decide whether splitting pays.
    """
    blocks = min(_count, batch, max(1, int(flops / max(MIN_BLOCK_FLOPS, 1.0))))
    if blocks <= 1:
        kernel(*args, **kwargs)
        return
    flag = "project" if all_rows_first else "weights"
    if all_rows_first:
        kernel(*args, r0=0, r1=0, **{flag: True}, **kwargs)
    bounds = [batch * i // blocks for i in range(blocks + 1)]
    pool = _executor(blocks - 1)
    futures = [pool.submit(kernel, *args, r0=bounds[i], r1=bounds[i + 1], **{flag: False},
                           **kwargs) for i in range(1, blocks)]
    try:
        kernel(*args, r0=bounds[0], r1=bounds[1], **{flag: False}, **kwargs)
    finally:
        for f in futures:
            f.result()               # wait for every block; re-raise its error
    if not all_rows_first:
        kernel(*args, r0=0, r1=0, **{flag: True}, **kwargs)


_scipy_blas_single_threaded()
set_num_threads(_initial_count())
