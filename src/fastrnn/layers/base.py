"""The Layer base class: weights, gradients, names, configs.

A layer owns its weights (C-contiguous arrays of the layer's dtype, updated in
place by the optimizer, never rebound) and one gradient buffer per weight, in the
same order.  ``forward(x, training)`` keeps what ``backward(dy)`` needs;
``backward`` fills ``grads`` and returns dL/dx.  Recurrent layers keep it only for a
training forward (training=True): their inference calls run a lean kernel that keeps
nothing, and a backward after one raises an error.

What a forward keeps for its backward lives in ``self._tls``, a per-thread
namespace: several threads may run inference on one layer at once (each call's
intermediates stay in its own thread), and a backward uses the forward of its thread.
"""
import re
import threading

import numpy as np

from fastrnn import config, initializers
from fastrnn.data import INT_MAX, check_index_range, to_float_array, to_int_array

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


def reserve_name(name):
    """Note an explicitly given name ('lstm_3'), so that automatic names made later
    in the session ('lstm_4', ...) do not repeat it (loaded models keep their names)."""
    match = re.fullmatch(r"(.+?)(?:_(\d+))?", name)
    base, k = match.group(1), int(match.group(2) or 0)
    _name_counts[base] = max(_name_counts.get(base, 0), k + 1)


class ThreadCaches:
    """Mixin: ``self._tls``, a per-thread namespace (``threading.local``) for what
    ``backward`` needs from ``forward``; ``_init_thread_caches()`` creates it.

    (No ``__getattr__`` fallback: a class with one makes every attribute lookup slower.)
    """

    def _init_thread_caches(self):
        self._tls = threading.local()

    @property
    def _calls(self):
        return self._tls

    def __getstate__(self):
        # copy.deepcopy / pickle: the per-thread caches are not part of the state.
        state = self.__dict__.copy()
        state.pop("_tls", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._init_thread_caches()


class PerThread:
    """A per-thread attribute of a layer (None until set): declare ``_y = PerThread()``
    in a class body and ``self._y`` is what this thread's last forward stored."""

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return getattr(obj._tls, self.name, None)

    def __set__(self, obj, value):
        setattr(obj._tls, self.name, value)


class Layer(ThreadCaches):
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
        self._init_thread_caches()
        if name is not None:
            reserve_name(str(name))
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
        """Copy new values into the weights (same count, same shapes, finite numbers).

        Everything is checked before any weight changes."""
        if weights is None or isinstance(weights, (str, bytes, dict)) or \
                not hasattr(weights, "__iter__"):
            raise TypeError(f"Layer {self.name!r}: set_weights expects a list of arrays, got "
                            f"{type(weights).__name__}.")
        weights = list(weights)
        if len(weights) != len(self.weights):
            if not self.built and not self.weights:
                raise ValueError(f"Layer {self.name!r} is not built yet, so it has no weights "
                                 f"to set: call it on data (or build it) first.")
            raise ValueError(f"Layer {self.name!r} expects {len(self.weights)} weight arrays "
                             f"({', '.join(self._weight_names)}), got {len(weights)}.")
        checked = []
        for name, old, new in zip(self._weight_names, self.weights, weights):
            what = f"Layer {self.name!r}: weight {name!r}"
            if new is None or isinstance(new, (str, bytes, dict)):
                raise TypeError(f"{what} must be an array of real numbers, got "
                                f"{type(new).__name__}.")
            try:
                new = np.asarray(new)
            except (ValueError, TypeError, OverflowError) as exc:
                raise ValueError(f"{what} could not be converted to an array: {exc}") from exc
            if new.shape != old.shape:
                raise ValueError(f"{what} has shape {old.shape}, got an array of shape "
                                 f"{new.shape}.")
            if new.dtype.kind not in "iuf":
                raise ValueError(f"{what} must be real numbers, got dtype {new.dtype}.")
            if not np.all(np.isfinite(new)):
                raise ValueError(f"{what} contains NaN or Inf.")
            with np.errstate(over="ignore"):
                cast = new.astype(old.dtype)
            if not np.all(np.isfinite(cast)):
                raise ValueError(f"{what} has values too large for {old.dtype.name} "
                                 f"(largest magnitude {np.abs(new).max():.6g}).")
            checked.append(cast)
        for old, new in zip(self.weights, checked):
            np.copyto(old, new)

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

    # Sequential's compiled train step (fastrnn/_plan.py).  _train_pair(shape,
    # input_grad): lean (forward, backward) functions for inputs of exactly ``shape``
    # (batch included), or None: this layer then takes the general path (the default).
    # input_grad is False for the model's first layer, whose backward may then skip dL/dx
    # and return None.  _train_pair_key():
    # the settings a pair was built for (the plan is rebuilt when they change).
    # _plan_returns_views: whether the pair's forward returns views of buffers
    # that its next call overwrites.
    # _infer_function(shape): the same for inference (training=False): one function
    # x -> y, or None.
    # _plannable(shape, training): whether the layer gives such functions for inputs of
    # ``shape`` (checked for every layer before any is built).  _planned_methods: the
    # (forward, backward) a plannable class's functions stand for.
    _plan_returns_views = False
    _planned_methods = None

    def _plannable(self, shape, training):
        # a class with _planned_methods, its calls not replaced (see _overrides_calls)
        return not self._overrides_calls()

    def _train_pair(self, shape, input_grad=True):
        return None

    def _infer_function(self, shape):
        return None

    def _train_pair_key(self):
        return self._overrides_calls()

    def _overrides_calls(self):
        """Whether forward or backward is not the one the layer's pair stands for (a
        subclass, the instance or a patch replaced it): the layer keeps the general path."""
        d, cls, planned = self.__dict__, type(self), self._planned_methods
        return ("forward" in d or "backward" in d or planned is None
                or cls.forward is not planned[0] or cls.backward is not planned[1])

    def _check_input(self, x, rank):
        """Cheap checks before unchecked kernels: rank, feature size, C-int sizes."""
        if not isinstance(x, np.ndarray):
            raise TypeError(f"Layer {self.name!r}: forward expects a NumPy array, got "
                            f"{type(x).__name__} (call the layer, layer(x), to convert).")
        if x.ndim != rank:
            raise ValueError(f"Layer {self.name!r} expects inputs of rank {rank} "
                             f"(batch included), got shape {x.shape}.")
        if x.shape[-1] != self.input_shape[-1]:
            raise ValueError(f"Layer {self.name!r} expects {self.input_shape[-1]} features on "
                             f"the last axis, got shape {x.shape}.")
        if x.size > INT_MAX:     # (rows and the last axis are then within C ints)
            check_index_range(x.shape, f"Layer {self.name!r}: input")

    def _convert_input(self, x):
        """A layer call's input, validated and converted like ``fit``'s x: a non-empty,
        finite, C-contiguous array of the layer's dtype (integer ids for 'int' layers)."""
        what = f"Input of layer {self.name!r}"
        if self.input_kind == "int":
            return to_int_array(x, what)
        return to_float_array(x, self.dtype, what)

    def __call__(self, x, training=False):
        """Apply the layer to a batch (builds it on first use)."""
        x = self._convert_input(x)
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
