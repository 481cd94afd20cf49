"""Core layers: Input / InputLayer, Dense, Embedding, Dropout, Activation, Flatten, Masking."""
import warnings

import numpy as np

from fastrnn import activations, initializers, utils
from fastrnn.layers.base import Layer, PerThread, _check_shape


class InputLayer(Layer):
    """Declares the input shape of a Sequential model (no weights, identity)."""

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, **kwargs):
        if shape is None and "input_shape" in kwargs:
            shape = kwargs.pop("input_shape")
        if shape is None:
            raise ValueError("Input needs a shape, e.g. Input(shape=(timesteps, features)).")
        super().__init__(name=name, dtype=dtype, input_shape=_check_shape(shape), **kwargs)
        self.batch_size = batch_size

    def forward(self, x, training=False):
        return x

    def backward(self, dy):
        return dy

    def get_config(self):
        return {"shape": list(self._input_shape_arg), "dtype": self.dtype.name, "name": self.name}


def Input(shape=None, batch_size=None, dtype=None, name=None):
    """Keras's ``Input(shape=...)``: use it as the first entry of ``Sequential([...])``."""
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name)


class Dense(Layer):
    """y = activation(x W + b) on the last axis.

    x (..., I) -> y (..., units); kernel W (I, units), bias b (units,).
    """

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"Dense: units must be a positive integer, got {units!r}.")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def build(self, input_shape):
        if len(input_shape) < 1 or input_shape[-1] is None:
            raise ValueError(f"Dense needs a known last input dimension, got {input_shape}.")
        self.kernel = self.add_weight("kernel", (input_shape[-1], self.units),
                                      self.kernel_initializer)
        self.bias = self.add_weight("bias", (self.units,), self.bias_initializer) \
            if self.use_bias else None
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def forward(self, x, training=False):
        if x.ndim < 2 or x.shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"Layer {self.name!r} expects inputs (batch, ..., "
                             f"{self.kernel.shape[0]}), got shape {x.shape}.")
        lead = x.shape[:-1]
        x2 = x.reshape(-1, x.shape[-1])
        y = self._forward_rows(x2)
        # for backward, per thread: (lead shape, x as (rows, I), y as (rows, units))
        self._tls.dense = (lead, x2, y)
        return y.reshape(lead + (self.units,))

    def backward(self, dy):
        cache = getattr(self._tls, "dense", None)
        if cache is None:
            raise RuntimeError(f"Layer {self.name!r}: backward needs a forward pass first.")
        lead, x2, y = cache
        dx = self._backward_rows(x2, y, dy.reshape(y.shape))
        return dx.reshape(lead + (self.kernel.shape[0],))

    def _forward_rows(self, x2):
        """x2 (rows, I) -> y (rows, units).  (np.dot: for 2-D operands it is matmul with
        less per-call overhead, which small models feel; it keeps matmul's dtype rules
        where it allocates the result.)"""
        z = np.dot(x2, self.kernel)
        if self.use_bias:
            z += self.bias
        return self.activation.forward(z)

    def _backward_rows(self, x2, y, dy2, input_grad=True):
        """Fill the gradients from x2 (rows, I), y and dy2 (rows, units); -> dx (rows, I),
        or None without input_grad."""
        dz = self.activation.backward(dy2, y)
        g = self.grads[0]
        if x2.dtype == dz.dtype == g.dtype:
            np.dot(x2.T, dz, out=g)
        else:                      # matmul's out casts (same kind); np.dot's would raise
            np.matmul(x2.T, dz, out=g)
        if self.use_bias:
            np.add.reduce(dz, axis=0, out=self.grads[1])     # = dz.sum(0), fewer layers
        return np.dot(dz, self.kernel.T) if input_grad else None

    def _infer_function(self, shape):
        # the general forward: it also keeps what a later backward needs, as without plans
        return self.forward if self._plannable(shape, False) else None

    def _train_pair(self, shape, input_grad=True):
        if not self._plannable(shape, True):
            return None
        lead, flat = tuple(shape[:-1]), len(shape) == 2
        saved = []

        def forward(x):
            x2 = x if flat else x.reshape(-1, x.shape[-1])
            y = self._forward_rows(x2)
            saved[:] = (x2, y)
            return y if flat else y.reshape(lead + (self.units,))

        def backward(dy):
            x2, y = saved
            dx = self._backward_rows(x2, y, dy if flat else dy.reshape(y.shape), input_grad)
            return dx if flat or dx is None else dx.reshape(lead + (x2.shape[1],))
        return forward, backward

    def get_config(self):
        cfg = super().get_config()
        cfg.update(units=self.units, activation=self.activation.name, use_bias=self.use_bias,
                   kernel_initializer=initializers.serialize(self.kernel_initializer),
                   bias_initializer=initializers.serialize(self.bias_initializer))
        return cfg


Dense._planned_methods = (Dense.forward, Dense.backward)


def _positive_int(value, what, layer):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{layer}: {what} must be a positive integer, got {value!r}.")
    return int(value)


class Embedding(Layer):
    """Turns non-negative integer ids into dense vectors: y[..., :] = embeddings[x[...]].

    x (batch, ...) integer ids in [0, input_dim) -> y (batch, ..., output_dim).
    Weight (Keras order): embeddings (input_dim, output_dim), initialized by default
    with RandomUniform(-0.05, 0.05) (Keras's ``'uniform'``).  With ``mask_zero`` the
    id 0 is padding: the output mask is ``x != 0``.  The ids have no gradient:
    ``backward`` fills the embeddings gradient and returns None.
    """

    input_kind = "int"
    _ids = PerThread()

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 weights=None, lora_alpha=None, quantization_config=None, input_length=None,
                 **kwargs):
        super().__init__(**kwargs)
        for key, value in (("embeddings_regularizer", embeddings_regularizer),
                           ("embeddings_constraint", embeddings_constraint),
                           ("lora_alpha", lora_alpha),
                           ("quantization_config", quantization_config)):
            if value is not None:
                raise NotImplementedError(f"Embedding: {key}={value!r} is not supported "
                                          "by fastrnn.")
        if input_length is not None:
            warnings.warn("Argument `input_length` is deprecated. Just remove it.",
                          stacklevel=2)
        self.input_dim = _positive_int(input_dim, "input_dim", "Embedding")
        self.output_dim = _positive_int(output_dim, "output_dim", "Embedding")
        if isinstance(embeddings_initializer, str) and embeddings_initializer.lower() == "uniform":
            embeddings_initializer = initializers.RandomUniform()
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        if weights is not None:
            # Keras's initial matrix: the weight exists now; build() later only sets shapes.
            self._make_weights()
            if not (isinstance(weights, list) and len(weights) == 1):
                weights = [weights]
            self.set_weights(weights)

    def _make_weights(self):
        if not self.weights:
            self.embeddings = self.add_weight("embeddings", (self.input_dim, self.output_dim),
                                              self.embeddings_initializer)

    def build(self, input_shape):
        self._make_weights()
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def _check_ids(self, x):
        """Integer ids as an intp array; a clear ValueError for anything else."""
        if isinstance(x, (str, bytes)):
            raise ValueError(f"Layer {self.name!r} expects integer ids, got a string.")
        try:
            x = np.asarray(x)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"Layer {self.name!r} expects an array of integer ids: {exc}") \
                from exc
        if x.ndim == 0:
            raise ValueError(f"Layer {self.name!r} expects a batch of ids, got a scalar.")
        if x.size == 0:
            raise ValueError(f"Layer {self.name!r} got an empty batch: shape {x.shape}.")
        if np.issubdtype(x.dtype, np.integer) or x.dtype == np.bool_:
            ids = x
        elif np.issubdtype(x.dtype, np.floating):
            if not np.all(np.isfinite(x)):
                raise ValueError(f"Layer {self.name!r} expects integer ids, got NaN or Inf.")
            if not np.all(x == np.floor(x)):
                bad = x[x != np.floor(x)].flat[0]
                raise ValueError(f"Layer {self.name!r} expects integer ids, got non-integer "
                                 f"values such as {bad}.")
            ids = x
        else:
            raise ValueError(f"Layer {self.name!r} expects integer ids, got an array of "
                             f"dtype {x.dtype}.")
        lo, hi = ids.min(), ids.max()
        if lo < 0 or hi >= self.input_dim:
            bad = lo if lo < 0 else hi
            raise ValueError(f"Layer {self.name!r}: ids must be in [0, {self.input_dim}) "
                             f"(input_dim={self.input_dim}), got {bad}.")
        return ids.astype(np.intp, copy=False)

    def __call__(self, x, training=False):
        ids = self._check_ids(x)
        if not self.built:
            self.build(ids.shape[1:])
        return self.forward(ids, training=training)

    def forward(self, x, training=False):
        ids = self._check_ids(x)
        self._ids = ids
        return np.take(self.embeddings, ids, axis=0)

    def backward(self, dy):
        ids = self._ids
        if ids is None:
            raise RuntimeError(f"Layer {self.name!r}: backward needs a forward pass first.")
        ids = ids.reshape(-1)
        dy = np.asarray(dy, self.dtype).reshape(ids.size, self.output_dim)
        # Rows of repeated ids add up: sort the ids once, then one segmented sum
        # (a few times faster than np.add.at for batches of sequences).
        order = np.argsort(ids, kind="stable")
        sorted_ids = ids[order]
        starts = np.flatnonzero(np.concatenate(([True], sorted_ids[1:] != sorted_ids[:-1])))
        g = self.grads[0]
        g[...] = 0
        g[sorted_ids[starts]] = np.add.reduceat(dy[order], starts, axis=0)
        return None

    def compute_mask(self, x, mask):
        if not self.mask_zero:
            return None
        return np.asarray(x) != 0

    def get_config(self):
        cfg = super().get_config()
        cfg.update(input_dim=self.input_dim, output_dim=self.output_dim,
                   embeddings_initializer=initializers.serialize(self.embeddings_initializer),
                   mask_zero=self.mask_zero)
        return cfg


class Dropout(Layer):
    """Inverted dropout: in training, each input unit is zeroed with probability ``rate``
    and the others are scaled by 1 / (1 - rate); at inference it is the identity.

    ``noise_shape`` (batch included, None = the input's size) shares one draw along
    the axes of size 1, e.g. (batch, 1, features) drops the same features at every
    time step.  ``seed`` gives the layer its own generator; otherwise the global one
    of ``fastrnn.utils.set_random_seed`` is used.
    """

    supports_masking = True
    _scale = PerThread()

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)) \
                or not 0 <= rate <= 1:
            raise ValueError("Invalid value received for argument `rate`. Expected a float "
                             f"value between 0 and 1. Received: rate={rate!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                                 or seed < 0):
            raise ValueError(f"Dropout: seed must be a non-negative integer or None, "
                             f"got {seed!r}.")
        self.rate = float(rate)
        self.seed = seed
        self.noise_shape = self._validate_noise_shape(noise_shape)
        self._generator = np.random.default_rng(seed) if seed is not None else None

    @staticmethod
    def _validate_noise_shape(noise_shape):
        if noise_shape is None:
            return None
        if isinstance(noise_shape, str):
            raise ValueError("Invalid value received for argument `noise_shape`. Expected a "
                             f"tuple or list of integers. Received: noise_shape={noise_shape}")
        try:
            noise_shape = tuple(noise_shape)
        except TypeError:
            raise ValueError("Invalid value received for argument `noise_shape`. Expected an "
                             "iterable of integers (e.g., a tuple or list). "
                             f"Received: noise_shape={noise_shape}") from None
        for i, dim in enumerate(noise_shape):
            if dim is None:
                continue
            if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim <= 0:
                raise ValueError("Invalid value received for argument `noise_shape`. Expected "
                                 "all elements to be positive integers or None. Received "
                                 f"element at index {i}: {dim!r}")
        return tuple(None if d is None else int(d) for d in noise_shape)

    def _rng(self):
        return self._generator if self._generator is not None else utils.rng()

    def _concrete_noise_shape(self, shape):
        if self.noise_shape is None:
            return shape
        if len(self.noise_shape) != len(shape):
            raise ValueError(f"Layer {self.name!r}: noise_shape {self.noise_shape} must have "
                             f"one entry per input axis (batch included), got inputs of "
                             f"shape {shape}.")
        out = tuple(n if d is None else d for d, n in zip(self.noise_shape, shape))
        for d, n in zip(out, shape):
            if d != n and d != 1:
                raise ValueError(f"Layer {self.name!r}: noise_shape {self.noise_shape} does "
                                 f"not broadcast to inputs of shape {shape}.")
        return out

    def forward(self, x, training=False):
        if not training or self.rate == 0:
            self._scale = None
            return x
        shape = self._concrete_noise_shape(x.shape)
        dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.dtype(np.float64)
        if self.rate == 1:
            scale = np.zeros(shape, dtype)
        else:
            keep = 1.0 - self.rate
            u = self._rng().random(shape, dtype=dtype)
            scale = (u < keep) * dtype.type(1.0 / keep)
        self._scale = scale
        return x * scale

    def backward(self, dy):
        scale = self._scale
        if scale is None:
            return dy
        return dy * scale

    # Compiled passes (fastrnn/_plan.py): the general methods themselves (draws from
    # the same generator in the same order); at inference the output is the input,
    # which may be a view of a recurrent layer's workspace.
    _plan_returns_views = True

    def _train_pair(self, shape, input_grad=True):
        if not self._plannable(shape, True):
            return None
        return (lambda x: self.forward(x, training=True)), self.backward

    def _infer_function(self, shape):
        return self.forward if self._plannable(shape, False) else None

    def get_config(self):
        cfg = super().get_config()
        cfg.update(rate=self.rate, seed=self.seed,
                   noise_shape=None if self.noise_shape is None else list(self.noise_shape))
        return cfg


Dropout._planned_methods = (Dropout.forward, Dropout.backward)


class Activation(Layer):
    """Applies an activation function element-wise (softmax: on the last axis)."""

    supports_masking = True

    _y = PerThread()

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def forward(self, x, training=False):
        y = self.activation.forward(x)
        self._y = y
        return y

    def backward(self, dy):
        y = self._y
        if y is None:
            raise RuntimeError(f"Layer {self.name!r}: backward needs a forward pass first.")
        return self.activation.backward(dy, y)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(activation=self.activation.name)
        return cfg


class Flatten(Layer):
    """Flattens every axis but the batch: (batch, d1, d2, ...) -> (batch, d1 * d2 * ...).

    Inputs of shape (batch,) become (batch, 1).  With data_format='channels_first'
    the channel axis (axis 1) is moved last before flattening, as in Keras.
    """

    _in_shape = PerThread()

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format is None:
            data_format = "channels_last"
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError("The `data_format` argument must be one of {'channels_first', "
                             f"'channels_last'}}. Received: data_format={data_format!r}")
        self.data_format = data_format

    def compute_output_shape(self, input_shape):
        dims = tuple(input_shape)
        if len(dims) == 0:
            return (1,)
        if any(d is None for d in dims):
            return (None,)
        return (int(np.prod(dims)),)

    def _moves_channels(self, x):
        return self.data_format == "channels_first" and x.ndim > 2

    def forward(self, x, training=False):
        if x.ndim < 1:
            raise ValueError(f"Layer {self.name!r} expects inputs with a batch axis, "
                             f"got a scalar.")
        self._in_shape = x.shape        # per thread
        if self._moves_channels(x):
            x = np.moveaxis(x, 1, -1)
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        if self._in_shape is None:
            raise RuntimeError(f"Layer {self.name!r}: backward needs a forward pass first.")
        shape = self._in_shape
        if self.data_format == "channels_first" and len(shape) > 2:
            moved = (shape[0],) + shape[2:] + (shape[1],)
            return np.ascontiguousarray(np.moveaxis(dy.reshape(moved), -1, 1))
        return dy.reshape(shape)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(data_format=self.data_format)
        return cfg


class Masking(Layer):
    """Masks the time steps whose features all equal ``mask_value``.

    Output: x with those steps set to zero (x * mask[..., None], as Keras);
    output mask: any(x != mask_value, axis=-1), passed to the following layers.
    The mask counts as a constant for the gradient (as in Keras): dL/dx = dy * mask.
    """

    supports_masking = True

    _keep = PerThread()

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = mask_value

    def _boolean_mask(self, x, keepdims):
        return np.any(np.not_equal(x, self.mask_value), axis=-1, keepdims=keepdims)

    def forward(self, x, training=False):
        if x.ndim < 2:
            raise ValueError(f"Layer {self.name!r} expects inputs (batch, ..., features), "
                             f"got shape {x.shape}.")
        keep = self._boolean_mask(x, True).astype(x.dtype)
        self._keep = keep
        return x * keep

    def backward(self, dy):
        keep = self._keep
        if keep is None:
            raise RuntimeError(f"Layer {self.name!r}: backward needs a forward pass first.")
        return dy * keep

    def compute_mask(self, x, mask):
        return self._boolean_mask(x, False)

    def get_config(self):
        cfg = super().get_config()
        cfg.update(mask_value=self.mask_value)
        return cfg
