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


def to_categorical(x, num_classes=None):
    """One-hot encode integer class ids, as ``keras.utils.to_categorical``: x (...,) or
    (..., 1) of ids in [0, num_classes) -> float array (..., num_classes)."""
    x = np.asarray(x)
    if x.size and not np.all(np.isfinite(x.astype(np.float64))):
        raise ValueError("to_categorical: the ids contain NaN or Inf.")
    if x.size and np.any(x.astype(np.float64) != np.round(x.astype(np.float64))):
        raise ValueError("to_categorical: the ids must be whole numbers.")
    x = x.astype(np.int64)
    shape = x.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    x = x.reshape(-1)
    if num_classes is None:
        num_classes = int(x.max()) + 1 if x.size else 0
    if x.size and (x.min() < 0 or x.max() >= num_classes):
        raise ValueError(f"to_categorical: ids must be in [0, {num_classes}), got "
                         f"[{x.min()}, {x.max()}].")
    out = np.zeros((x.size, num_classes))
    out[np.arange(x.size), x] = 1
    return out.reshape(shape + (num_classes,))


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre",
                  value=0.0):
    """Pad (and cut) sequences to one length, as ``keras.utils.pad_sequences``:
    a list of N sequences -> array (N, maxlen, *entry_shape); 'pre' pads or cuts at
    the start, 'post' at the end."""
    if padding not in ("pre", "post"):
        raise ValueError(f"padding must be 'pre' or 'post', got {padding!r}.")
    if truncating not in ("pre", "post"):
        raise ValueError(f"truncating must be 'pre' or 'post', got {truncating!r}.")
    if not hasattr(sequences, "__len__"):
        raise ValueError("pad_sequences expects a list of sequences.")
    seqs = [np.asarray(s) for s in sequences]
    if any(s.ndim == 0 for s in seqs):
        raise ValueError("pad_sequences: every sequence must be iterable (got a scalar).")
    lengths = [len(s) for s in seqs]
    if maxlen is None:
        maxlen = max(lengths, default=0)
    if maxlen < 0:
        raise ValueError(f"maxlen must be >= 0, got {maxlen}.")
    entry = next((s.shape[1:] for s in seqs if len(s)), ())
    out = np.full((len(seqs), maxlen) + tuple(entry), value, dtype=dtype)
    for i, s in enumerate(seqs):
        if not len(s) or not maxlen:
            continue
        s = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        if s.shape[1:] != tuple(entry):
            raise ValueError(f"pad_sequences: sequence {i} has entries of shape "
                             f"{s.shape[1:]}, expected {tuple(entry)}.")
        if padding == "post":
            out[i, :len(s)] = s
        else:
            out[i, -len(s):] = s
    return out
