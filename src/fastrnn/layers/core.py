"""Core layers: Input / InputLayer and Dense."""
import numpy as np

from fastrnn import activations, initializers
from fastrnn.layers.base import Layer, _check_shape


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
        self._lead = x.shape[:-1]
        self._x = x.reshape(-1, x.shape[-1])
        z = self._x @ self.kernel
        if self.use_bias:
            z += self.bias
        self._y = self.activation.forward(z)
        return self._y.reshape(self._lead + (self.units,))

    def backward(self, dy):
        dz = self.activation.backward(dy.reshape(self._y.shape), self._y)
        np.matmul(self._x.T, dz, out=self.grads[0])
        if self.use_bias:
            np.sum(dz, axis=0, out=self.grads[1])
        dx = dz @ self.kernel.T
        return dx.reshape(self._lead + (self.kernel.shape[0],))

    def get_config(self):
        cfg = super().get_config()
        cfg.update(units=self.units, activation=self.activation.name, use_bias=self.use_bias,
                   kernel_initializer=initializers.serialize(self.kernel_initializer),
                   bias_initializer=initializers.serialize(self.bias_initializer))
        return cfg
