"""Utilities, as in ``keras.utils``: the global random seed."""
import numpy as np

_generator = np.random.default_rng()


def set_random_seed(seed):
    """Seed every random choice fastrnn makes (initializers, shuffling, dropout)."""
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    _generator = np.random.default_rng(int(seed))


def rng(seed=None):
    """The global generator, or a new one seeded with ``seed`` when given."""
    if seed is None:
        return _generator
    return np.random.default_rng(seed)
