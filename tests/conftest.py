"""Make sure the tests exercise the installed, compiled fastrnn, not the source tree.

The package lives in src/, so the source tree is never importable by accident; an
editable or in-place build (``pip install -e .``) would still put it on the path.
Run ``pytest`` from the virtual environment the README installs into; set
FASTRNN_ALLOW_INPLACE=1 to test an editable/in-place build on purpose.
"""
import os
import pathlib
import threading

import numpy as np
import pytest

import fastrnn

_REPO = pathlib.Path(__file__).resolve().parent.parent
_PKG = pathlib.Path(fastrnn.__file__).resolve().parent
if (_REPO / "src") in _PKG.parents and not os.environ.get("FASTRNN_ALLOW_INPLACE"):
    raise RuntimeError(
        f"tests imported fastrnn from the source tree ({_PKG}) instead of the installed "
        "package: run the README's test command (pytest from the virtual environment), "
        "or set FASTRNN_ALLOW_INPLACE=1 after an in-place build.")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def in_threads():
    """in_threads(work, n): work(i) for i in range(n), each on its own thread, all at
    once; returns their results in order (an error in a thread is raised here)."""
    def run(work, n):
        results, errors = [None] * n, []

        def one(i):
            try:
                results[i] = work(i)
            except BaseException as exc:        # raised in the test below
                errors.append(exc)
        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        return results
    return run


@pytest.fixture(autouse=True)
def _default_floatx():
    """Every test starts and ends with float32 as the default float type, and with
    fastrnn's random generator seeded, so that the suite is deterministic."""
    fastrnn.config.set_floatx("float32")
    fastrnn.utils.set_random_seed(20261128)
    yield
    fastrnn.config.set_floatx("float32")
