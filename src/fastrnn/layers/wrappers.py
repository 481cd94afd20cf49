"""Layer wrappers with Keras 3's names and semantics: TimeDistributed and Bidirectional.

A wrapper owns no weights of its own: its ``weights`` and ``grads`` are the very
arrays of the wrapped layer(s), in Keras's order, so the optimizer's in-place
updates reach the inner layers and the inner ``backward`` fills the wrapper's grads.
"""
import copy

import numpy as np

from fastrnn.layers.base import Layer, PerThread

_MERGE_MODES = ("sum", "mul", "ave", "concat", None)


def serialize_layer(layer):
    """``{"class_name", "config"}`` of a wrapped layer (``fastrnn.saving``'s format)."""
    from fastrnn import saving
    return saving.serialize_layer(layer)


def deserialize_layer(config, custom_objects=None):
    """A new layer from ``serialize_layer``'s dict: classes come from ``fastrnn.layers``,
    ``custom_objects`` or the active ``custom_object_scope`` (``fastrnn.saving``)."""
    if isinstance(config, Layer):
        return config
    from fastrnn import saving
    return saving.deserialize_layer(config, custom_objects)


def _removeprefix(text, prefix):
    return text[len(prefix):] if text.startswith(prefix) else text


class Wrapper(Layer):
    """Base of the wrappers: dtype, trainable flag and calls follow the wrapped layer(s)."""

    supports_masking = True
    accepts_mask = True

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"Please initialize `{type(self).__name__}` layer with a "
                             f"`fastrnn.layers.Layer` instance. Received: {layer!r}")
        dtype = kwargs.pop("dtype", None)
        if dtype is not None and np.dtype(dtype) != layer.dtype:
            raise ValueError(f"{type(self).__name__}: dtype {np.dtype(dtype).name!r} differs "
                             f"from the wrapped layer's dtype {layer.dtype.name!r}.")
        super().__init__(dtype=layer.dtype, **kwargs)

    def _sublayers(self):
        return []

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        for layer in self._sublayers():
            layer.trainable = self._trainable

    def _sync_trainable(self):
        """A frozen inner layer freezes the wrapper (its weights are one list)."""
        self.trainable = self._trainable and all(l.trainable for l in self._sublayers())

    @staticmethod
    def _check_mask(mask, x):
        mask = np.asarray(mask)
        if mask.dtype != np.bool_:
            mask = mask.astype(bool)
        if mask.shape[:2] != x.shape[:2]:
            raise ValueError(f"The mask must have shape (batch, timesteps) = {x.shape[:2]}, "
                             f"got {mask.shape}.")
        return mask

    @classmethod
    def from_config(cls, cfg, custom_objects=None):
        cfg = copy.deepcopy(cfg)
        layer = deserialize_layer(cfg.pop("layer"), custom_objects)
        return cls(layer, **cfg)


class TimeDistributed(Wrapper):
    """Applies ``layer`` to every time step: x (batch, T, ...) -> (batch, T, ...).

    The time axis is folded into the batch, so one call of the inner layer serves
    every step (the same weights at each step, as in Keras).  The weights are the
    inner layer's.  The incoming mask passes through unchanged.
    """

    _lead = PerThread()

    def __init__(self, layer, **kwargs):
        super().__init__(layer, **kwargs)
        if getattr(layer, "return_state", False):
            raise ValueError("TimeDistributed cannot wrap a layer with return_state=True.")
        self.layer = layer
        # The same list objects: the inner build appends to them.
        self.weights = layer.weights
        self.grads = layer.grads
        self._weight_names = layer._weight_names
        self._sync_trainable()

    def _sublayers(self):
        layer = getattr(self, "layer", None)
        return [layer] if layer is not None else []

    @property
    def input_kind(self):
        return self.layer.input_kind

    def _child_shape(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError("`TimeDistributed` Layer should be passed an `input_shape` with at "
                             f"least 3 dimensions (batch included), received: "
                             f"{(None,) + tuple(input_shape)}")
        return tuple(input_shape[1:])

    def build(self, input_shape):
        child = self._child_shape(input_shape)
        if not self.layer.built:
            self.layer.build(child)
        elif tuple(self.layer.input_shape) != child:
            raise ValueError(f"Layer {self.layer.name!r} was built for inputs "
                             f"{self.layer.input_shape}, but TimeDistributed gives it {child}.")
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        child = self._child_shape(input_shape)
        return (input_shape[0],) + tuple(self.layer.compute_output_shape(child))

    def forward(self, x, training=False, mask=None):
        if x.ndim < 3:
            raise ValueError(f"Layer {self.name!r} expects inputs (batch, timesteps, ...), "
                             f"got shape {x.shape}.")
        B, T = x.shape[0], x.shape[1]
        kwargs = {}
        if mask is not None:
            mask = self._check_mask(mask, x)
            if self.layer.accepts_mask and mask.ndim > 2:
                kwargs["mask"] = mask.reshape((B * T,) + mask.shape[2:])
        y = self.layer.forward(x.reshape((B * T,) + x.shape[2:]), training=training, **kwargs)
        self._lead = (B, T)     # per thread
        return y.reshape((B, T) + y.shape[1:])

    def backward(self, dy):
        lead = self._lead
        if lead is None:
            raise RuntimeError(f"Layer {self.name!r}: backward needs a forward pass first.")
        B, T = lead
        dy = np.asarray(dy)
        dx = self.layer.backward(dy.reshape((B * T,) + dy.shape[2:]))
        if dx is None:
            return None
        return dx.reshape((B, T) + dx.shape[1:])

    def get_config(self):
        cfg = super().get_config()
        cfg["layer"] = serialize_layer(self.layer)
        return cfg


class Bidirectional(Wrapper):
    """Runs a recurrent layer forward and a copy of it backward in time, then merges.

    The forward layer is re-created from ``layer``'s config (name 'forward_<name>'),
    the backward layer likewise with go_backwards toggled (name 'backward_<name>'),
    both with fresh weights, as in Keras; or ``backward_layer`` is used as given.
    With return_sequences the backward outputs are flipped back in time so that
    step t of both halves sees the same input step.  merge_mode: 'concat' (default),
    'sum', 'mul', 'ave', or None for a list [forward, backward] (last layer only).
    Weights: the forward layer's, then the backward layer's.  A mask (batch, T) goes
    to both inner layers (original time order); with return_sequences masked steps
    output zeros (Keras forces zero_output_for_mask).  With return_state the result is
    [output(s), *forward states, *backward states].
    """

    _cache = PerThread()     # what backward needs from this thread's forward

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None,
                 **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError("Please initialize `Bidirectional` layer with a "
                             f"`fastrnn.layers.Layer` instance. Received: {layer!r}")
        if backward_layer is not None and not isinstance(backward_layer, Layer):
            raise ValueError("`backward_layer` need to be a `fastrnn.layers.Layer` instance. "
                             f"Received: {backward_layer!r}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Invalid merge mode. Received: {merge_mode}. Merge mode should "
                             'be one of {"sum", "mul", "ave", "concat", None}')
        for attr in ("go_backwards", "return_sequences", "return_state"):
            if not hasattr(layer, attr):
                raise ValueError(f"Bidirectional needs a recurrent layer (with a {attr!r} "
                                 f"attribute), got {layer!r}.")
        if "input_shape" not in kwargs and "batch_input_shape" not in kwargs \
                and "input_dim" not in kwargs and layer._input_shape_arg is not None:
            kwargs["input_shape"] = layer._input_shape_arg
        super().__init__(layer, **kwargs)

        cfg = copy.deepcopy(layer.get_config())
        cfg["name"] = "forward_" + _removeprefix(layer.name, "forward_")
        self.forward_layer = type(layer).from_config(cfg)
        if backward_layer is None:
            cfg = copy.deepcopy(layer.get_config())
            cfg["go_backwards"] = not layer.go_backwards
            cfg["name"] = "backward_" + _removeprefix(layer.name, "backward_")
            self.backward_layer = type(layer).from_config(cfg)
        else:
            self.backward_layer = backward_layer
        self._verify_layer_config()
        for sub in self._sublayers():
            if hasattr(sub, "zero_output_for_mask"):
                sub.zero_output_for_mask = sub.return_sequences
        self.merge_mode = merge_mode
        self.return_sequences = bool(layer.return_sequences)
        self.return_state = bool(layer.return_state)
        self._initial_weights = list(weights) if weights else None
        self._sync_trainable()
        self.state_grads = None

    def _sublayers(self):
        return [l for l in (getattr(self, "forward_layer", None),
                            getattr(self, "backward_layer", None)) if l is not None]

    def _verify_layer_config(self):
        fwd, bwd = self.forward_layer, self.backward_layer
        if fwd.dtype != bwd.dtype:
            raise ValueError(f"Forward layer and backward layer must have the same dtype, got "
                             f"{fwd.dtype.name} and {bwd.dtype.name}.")
        if getattr(fwd, "go_backwards", None) == getattr(bwd, "go_backwards", None):
            raise ValueError("Forward layer and backward layer should have different "
                             "`go_backwards` value. Received: forward_layer.go_backwards "
                             f"{fwd.go_backwards}, backward_layer.go_backwards="
                             f"{getattr(bwd, 'go_backwards', None)}")
        for attr in ("stateful", "return_sequences", "return_state"):
            f, b = getattr(fwd, attr, False), getattr(bwd, attr, False)
            if f != b:
                raise ValueError("Forward layer and backward layer are expected to have the "
                                 f'same value for attribute "{attr}", got "{f}" for forward '
                                 f'layer and "{b}" for backward layer')

    def reset_states(self):
        """Forget the carried states of stateful inner layers (Keras's reset_states)."""
        if not getattr(self.forward_layer, "stateful", False):
            raise AttributeError("Layer must be stateful.")
        for sub in self._sublayers():
            sub.reset_states()

    reset_state = reset_states

    # ------------------------------------------------------------------ shapes
    def build(self, input_shape):
        input_shape = tuple(input_shape)
        for sub in self._sublayers():
            if not sub.built:
                sub.build(input_shape)
            elif tuple(sub.input_shape) != input_shape:
                raise ValueError(f"Layer {sub.name!r} was built for inputs {sub.input_shape}, "
                                 f"but Bidirectional gives it {input_shape}.")
        fwd, bwd = self.forward_layer, self.backward_layer
        self.weights = fwd.weights + bwd.weights
        self.grads = fwd.grads + bwd.grads
        self._weight_names = ([f"{fwd.name}/{n}" for n in fwd._weight_names]
                              + [f"{bwd.name}/{n}" for n in bwd._weight_names])
        super().build(input_shape)
        if self._initial_weights is not None:
            weights, self._initial_weights = self._initial_weights, None
            self.set_weights(weights)

    def compute_output_shape(self, input_shape):
        shape = tuple(self.forward_layer.compute_output_shape(tuple(input_shape)))
        if self.merge_mode == "concat":
            return shape[:-1] + (shape[-1] * 2,)
        if self.merge_mode is None:
            return (shape, shape)
        return shape

    def compute_mask(self, x, mask):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        return mask if self.return_sequences else None

    # ---------------------------------------------------------------- forward
    def forward(self, x, training=False, mask=None, initial_state=None):
        """x (B, T, I) -> the merged outputs (see the class docstring)."""
        fwd, bwd = self.forward_layer, self.backward_layer
        kwargs = {}
        if mask is not None:
            mask = self._check_mask(mask, x)
            for sub in (fwd, bwd):
                if not sub.accepts_mask:
                    raise ValueError(f"Layer {sub.name!r} inside {self.name!r} does not "
                                     "accept a mask.")
            kwargs["mask"] = mask
        if initial_state is not None:
            if not isinstance(initial_state, (list, tuple)):
                initial_state = [initial_state]
            half = len(initial_state) // 2
            fstate, bstate = list(initial_state[:half]), list(initial_state[half:])
        else:
            fstate = bstate = None
        y = fwd.forward(x, training=training, initial_state=fstate, **kwargs)
        y_rev = bwd.forward(x, training=training, initial_state=bstate, **kwargs)
        nf = nb = 0
        if self.return_state:
            states = list(y[1:]) + list(y_rev[1:])
            nf, nb = len(y) - 1, len(y_rev) - 1
            y, y_rev = y[0], y_rev[0]
        seq_mask = None
        if self.return_sequences:
            y_rev = y_rev[:, ::-1]
            if mask is not None:
                seq_mask = mask[:, :, None].astype(y.dtype)
                y = y * seq_mask
                y_rev = y_rev * seq_mask
        self._cache = (y, y_rev, seq_mask, nf, nb)
        mode = self.merge_mode
        if mode == "concat":
            out = np.concatenate([y, y_rev], axis=-1)
        elif mode == "sum":
            out = y + y_rev
        elif mode == "ave":
            out = (y + y_rev) * y.dtype.type(0.5)
        elif mode == "mul":
            out = y * y_rev
        else:
            out = [y, np.ascontiguousarray(y_rev)]
        if self.return_state:
            return (out if mode is None else [out]) + states
        return out

    # --------------------------------------------------------------- backward
    def backward(self, dy):
        """dy like the forward output -> dx (B, T, I); fills the inner layers' grads
        (which are this layer's grads) and state_grads (forward's, then backward's)."""
        cache = self._cache
        if cache is None:
            raise RuntimeError(f"Layer {self.name!r}: backward needs a forward pass first "
                               "(each forward serves one backward).")
        y, y_rev, seq_mask, nf, nb = cache
        self._cache = None
        mode = self.merge_mode
        n_out = 2 if mode is None else 1
        dstates = []
        if self.return_state and isinstance(dy, (list, tuple)):
            dy = list(dy)
            dy, dstates = (dy[:2] if mode is None else dy[0]), dy[n_out:]
        dstates = list(dstates) + [None] * (nf + nb - len(dstates))
        if mode is None:
            dyf, dyb = (np.asarray(d, y.dtype) for d in dy)
        else:
            dy = np.asarray(dy, y.dtype)
            if mode == "concat":
                h = y.shape[-1]
                dyf, dyb = dy[..., :h], dy[..., h:]
            elif mode == "sum":
                dyf = dyb = dy
            elif mode == "ave":
                dyf = dyb = dy * y.dtype.type(0.5)
            else:  # mul
                dyf, dyb = dy * y_rev, dy * y
        if seq_mask is not None:
            dyf, dyb = dyf * seq_mask, dyb * seq_mask
        if self.return_sequences:
            dyb = dyb[:, ::-1]
        if self.return_state:
            # the inner backward may add a state gradient into its dy in place
            dyf, dyb = np.array(dyf), np.array(dyb)
            dyf = [dyf] + dstates[:nf]
            dyb = [dyb] + dstates[nf:]
        dx = self.forward_layer.backward(dyf)
        dxb = self.backward_layer.backward(dyb)
        fsg = getattr(self.forward_layer, "state_grads", None)
        bsg = getattr(self.backward_layer, "state_grads", None)
        self.state_grads = (list(fsg) + list(bsg)) if fsg is not None and bsg is not None \
            else None
        return dx + dxb

    # ----------------------------------------------------------------- config
    def get_config(self):
        cfg = super().get_config()
        cfg.update(merge_mode=self.merge_mode, layer=serialize_layer(self.forward_layer),
                   backward_layer=serialize_layer(self.backward_layer))
        return cfg

    @classmethod
    def from_config(cls, cfg, custom_objects=None):
        cfg = copy.deepcopy(cfg)
        layer = deserialize_layer(cfg.pop("layer"), custom_objects)
        backward = cfg.pop("backward_layer", None)
        if backward is not None:
            backward = deserialize_layer(backward, custom_objects)
        return cls(layer, backward_layer=backward, **cfg)
