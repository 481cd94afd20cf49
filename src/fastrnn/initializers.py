"""Weight initializers with Keras 3's names and formulas.

Each initializer is called as ``init(shape, dtype) -> ndarray``; ``fan_in`` and
``fan_out`` follow Keras: for a 2-D shape (rows, cols) they are rows and cols.
"""
import numpy as np

from fastrnn import utils


def _fans(shape):
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    def __init__(self, seed=None):
        self.seed = seed

    def _rng(self):
        return utils.rng(self.seed)

    def get_config(self):
        return {"seed": self.seed}

    def __call__(self, shape, dtype):
        return np.ascontiguousarray(self.sample(tuple(shape)), dtype=dtype)


class Zeros(Initializer):
    def sample(self, shape):
        return np.zeros(shape)

    def get_config(self):
        return {}


class Ones(Initializer):
    def sample(self, shape):
        return np.ones(shape)

    def get_config(self):
        return {}


class Constant(Initializer):
    def __init__(self, value=0.0):
        super().__init__()
        self.value = float(value)

    def sample(self, shape):
        return np.full(shape, self.value)

    def get_config(self):
        return {"value": self.value}


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def sample(self, shape):
        return self._rng().uniform(self.minval, self.maxval, shape)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def sample(self, shape):
        return self._rng().normal(self.mean, self.stddev, shape)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class GlorotUniform(Initializer):
    """Uniform on [-limit, limit], limit = sqrt(6 / (fan_in + fan_out))."""

    def sample(self, shape):
        fan_in, fan_out = _fans(shape)
        limit = np.sqrt(6.0 / max(1.0, fan_in + fan_out))
        return self._rng().uniform(-limit, limit, shape)


class GlorotNormal(Initializer):
    """Truncated normal (2 sd), stddev = sqrt(2 / (fan_in + fan_out)) / .87962566."""

    def sample(self, shape):
        fan_in, fan_out = _fans(shape)
        stddev = np.sqrt(2.0 / max(1.0, fan_in + fan_out)) / 0.87962566103423978
        return _truncated_normal(self._rng(), stddev, shape)


class HeUniform(Initializer):
    def sample(self, shape):
        fan_in, _ = _fans(shape)
        limit = np.sqrt(6.0 / max(1.0, fan_in))
        return self._rng().uniform(-limit, limit, shape)


class Orthogonal(Initializer):
    """Keras 3 Orthogonal: QR of a normal (max(r, c), min(r, c)) matrix, signs fixed by diag(R)."""

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = gain

    def sample(self, shape):
        if len(shape) < 2:
            raise ValueError(f"The Orthogonal initializer needs a shape of rank >= 2, got {shape}.")
        rows = int(np.prod(shape[:-1]))
        cols = shape[-1]
        a = self._rng().normal(0.0, 1.0, (max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


def _truncated_normal(rng, stddev, shape):
    out = rng.normal(0.0, 1.0, shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.normal(0.0, 1.0, int(bad.sum()))
        bad = np.abs(out) > 2
    return out * stddev


_ALIASES = {
    "zeros": Zeros, "ones": Ones, "constant": Constant,
    "random_uniform": RandomUniform, "random_normal": RandomNormal,
    "uniform": RandomUniform, "normal": RandomNormal,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform, "orthogonal": Orthogonal,
}
_CLASSES = {cls.__name__: cls for cls in _ALIASES.values()}


def get(identifier):
    """Resolve a Keras name ('glorot_uniform'), a class name, a config dict or an instance."""
    if isinstance(identifier, Initializer) or callable(identifier):
        return identifier
    if isinstance(identifier, str):
        key = identifier if identifier in _CLASSES else identifier.lower()
        cls = _CLASSES.get(key) or _ALIASES.get(key)
        if cls is None:
            raise ValueError(f"Unknown initializer {identifier!r}. "
                             f"Valid names: {', '.join(sorted(_ALIASES))}.")
        return cls()
    if isinstance(identifier, dict) and identifier.get("class_name") in _CLASSES:
        return _CLASSES[identifier["class_name"]](**identifier.get("config", {}))
    raise ValueError(f"Could not interpret initializer {identifier!r}.")


def serialize(initializer):
    return {"class_name": type(initializer).__name__, "config": initializer.get_config()}
