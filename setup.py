"""Build the Cython kernels of fastrnn.

Compiler directives are set once here.  FASTRNN_BOUNDSCHECK=1 in the environment
turns bounds checking (and wraparound) back on for a debugging build.
No CPU-specific tuning and no fast-math flags: the build must run on any x86-64 and
keep IEEE NaN/Inf semantics (csrc/ picks AVX2/AVX-512 versions at load time).
"""
import glob
import os

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG_CHECKS = os.environ.get("FASTRNN_BOUNDSCHECK", "0") not in ("", "0")

DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG_CHECKS,
    "wraparound": DEBUG_CHECKS,
    "initializedcheck": DEBUG_CHECKS,
    "cdivision": True,
    "embedsignature": True,
}

GATES = ["csrc/activations.c", "csrc/gates.c", "csrc/lstm512.c", "csrc/rgemm.c"]
C_HEADERS = sorted(glob.glob("csrc/*.h"))   # rebuild when a header changes
COMMON = dict(
    include_dirs=["csrc", np.get_include()],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    # -fno-math-errno lets sqrt vectorize and -fno-trapping-math lets the compiler turn
    # the selects of csrc/fastmath.h into vector blends.  Neither changes a computed
    # value (NaN and Inf included); unlike the fast-math flags they keep IEEE semantics.
    extra_compile_args=["-O3", "-fno-math-errno", "-fno-trapping-math"],
)

# (module, the C helpers compiled into it); the thread pool lives in _blas alone.
MODULES = [
    ("fastrnn._ext._blas", ["csrc/pool.c", "csrc/rgemm.c", "csrc/activations.c"]),
    ("fastrnn._ext._simple_rnn", GATES),
    ("fastrnn._ext._lstm", GATES),
    ("fastrnn._ext._gru", GATES),
    ("fastrnn._ext._optim", []),
]


def extension(name, c_sources):
    source = "src/" + name.replace(".", "/") + ".pyx"
    return Extension(name, [source] + c_sources, depends=C_HEADERS if c_sources else [],
                     extra_link_args=["-pthread"], **COMMON)


setup(
    ext_modules=cythonize(
        [extension(name, c_sources) for name, c_sources in MODULES],
        compiler_directives=DIRECTIVES,
    ),
)
