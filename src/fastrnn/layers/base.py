"""The Layer base class: weights, gradients, names, configs.

A layer owns its weights (C-contiguous arrays of the layer's dtype, updated in
place by the optimizer, never rebound) and one gradient buffer per weight, in the
same order.  ``forward(x, training)`` keeps what ``backward(dy)`` needs;
``backward`` fills ``grads`` and returns dL/dx.
"""
import re

import numpy as np

from fastrnn import config, initializers

_name_counts = {}

# Keras arguments fastrnn accepts but does not implement: only their "off" value is allowed.
_UNSUPPORTED_OFF = {
    "kernel_regularizer": None, "recurrent_regularizer": None, "bias_regularizer": None,
    "activity_regularizer": None, "kernel_constraint": None, "recurrent_constraint": None,
    "bias_constraint": None, "unroll": False, "lora_rank": None,
}


def _snake(name):
    """'SimpleRNN' -> 'simple_rnn', 'TimeDistributed' -> 'time_distributed' (Keras names)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def unique_name(base):
    n = _name_counts.get(base, 0)
    _name_counts[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


class Layer:
    """Base of every layer.  Subclasses implement build, forward, backward, get_config.

    Masks (Keras semantics) are boolean arrays (B, T) marking the valid time steps.
    ``supports_masking``: the layer passes an incoming mask on unchanged.
    ``accepts_mask``: ``forward`` takes a ``mask=`` keyword (recurrent layers).
    ``compute_mask(x, mask)`` gives the mask of the output.
    ``input_kind``: 'float' (inputs converted to the layer dtype) or 'int' (Embedding).
    """

    supports_masking = False
    accepts_mask = False
    input_kind = "float"

    def __init__(self, name=None, dtype=None, input_shape=None, trainable=True,
                 input_dim=None, batch_input_shape=None, **kwargs):
        for key, value in kwargs.items():
            if key not in _UNSUPPORTED_OFF:
                raise TypeError(f"{type(self).__name__}: unrecognized keyword argument {key!r}.")
            if value != _UNSUPPORTED_OFF[key]:
                raise NotImplementedError(
                    f"{type(self).__name__}: {key}={value!r} is not supported by fastrnn.")
        self.name = name if name is not None else unique_name(_snake(type(self).__name__))
        self.dtype = config.standardize_dtype(dtype)
        if batch_input_shape is not None:
            input_shape = tuple(batch_input_shape)[1:]
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        self._input_shape_arg = _check_shape(input_shape) if input_shape is not None else None
        self.trainable = trainable
        self.built = False
        self.input_shape = None
        self.output_shape = None
        self.weights = []
        self.grads = []
        self._weight_names = []

    # ----------------------------------------------------------------- weights
    def add_weight(self, name, shape, initializer):
        value = initializers.get(initializer)(shape, self.dtype)
        self.weights.append(value)
        self.grads.append(np.zeros_like(value))
        self._weight_names.append(name)
        return value

    @property
    def trainable_weights(self):
        return self.weights if self.trainable else []

    def get_weights(self):
        """Copies of the weights, in Keras's order."""
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        """Copy new values into the weights (same count, same shapes, finite numbers)."""
        weights = list(weights)
        if len(weights) != len(self.weights):
            raise ValueError(f"Layer {self.name!r} expects {len(self.weights)} weight arrays "
                             f"({', '.join(self._weight_names)}), got {len(weights)}.")
        checked = []
        for name, old, new in zip(self._weight_names, self.weights, weights):
            new = np.asarray(new)
            if new.shape != old.shape:
                raise ValueError(f"Layer {self.name!r}: weight {name!r} has shape {old.shape}, "
                                 f"got an array of shape {new.shape}.")
            if not np.issubdtype(new.dtype, np.number) or np.issubdtype(new.dtype, np.complexfloating):
                raise ValueError(f"Layer {self.name!r}: weight {name!r} must be real numbers, "
                                 f"got dtype {new.dtype}.")
            if not np.all(np.isfinite(new)):
                raise ValueError(f"Layer {self.name!r}: weight {name!r} contains NaN or Inf.")
            checked.append(new)
        for old, new in zip(self.weights, checked):
            np.copyto(old, new, casting="unsafe")

    def count_params(self):
        return int(sum(w.size for w in self.weights))

    # ------------------------------------------------------------------ shapes
    def build(self, input_shape):
        """Create the weights for inputs of shape ``input_shape`` (no batch axis)."""
        self.input_shape = tuple(input_shape)
        self.output_shape = self.compute_output_shape(self.input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_mask(self, x, mask):
        """The mask (B, T) of this layer's output, given its input and the input's mask."""
        return mask if self.supports_masking else None

    def _check_input(self, x, rank):
        """Cheap checks before unchecked kernels: rank, dtype, feature size."""
        if x.ndim != rank:
            raise ValueError(f"Layer {self.name!r} expects inputs of rank {rank} "
                             f"(batch included), got shape {x.shape}.")
        if x.shape[-1] != self.input_shape[-1]:
            raise ValueError(f"Layer {self.name!r} expects {self.input_shape[-1]} features on "
                             f"the last axis, got shape {x.shape}.")

    def __call__(self, x, training=False):
        """Apply the layer to a batch (builds it on first use)."""
        x = np.asarray(x, dtype=self.dtype)
        if not self.built:
            self.build(x.shape[1:])
        return self.forward(x, training=training)

    # ------------------------------------------------------------------ config
    def get_config(self):
        cfg = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype.name}
        if self._input_shape_arg is not None:
            cfg["input_shape"] = list(self._input_shape_arg)
        return cfg

    @classmethod
    def from_config(cls, cfg):
        return cls(**cfg)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def _check_shape(shape):
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        shape = tuple(None if d is None else int(d) for d in shape)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Invalid input_shape {shape!r}: a tuple of positive integers "
                         f"(or None) is expected.") from exc
    if any(d is not None and d <= 0 for d in shape):
        raise ValueError(f"Invalid input_shape {shape!r}: dimensions must be positive.")
    return shape
