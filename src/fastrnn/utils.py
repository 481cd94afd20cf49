"""Utilities, as in ``keras.utils``: the global random seed."""
import random

import numpy as np

_generator = np.random.default_rng()


def set_random_seed(seed):
    """Seed every random choice fastrnn makes (initializers, shuffling, dropout).

    As ``keras.utils.set_random_seed``, it also seeds Python's ``random`` and NumPy's
    global generator (``np.random.seed``), so that a program's own random draws repeat
    too.  After the same seed, the same program gives bit-identical weights, in one
    process or in another (same fastrnn, NumPy and thread count).
    """
    global _generator
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) \
            or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    _generator = np.random.default_rng(seed)


def rng(seed=None):
    """The global generator, or a new one seeded with ``seed`` when given."""
    if seed is None:
        return _generator
    return np.random.default_rng(seed)
