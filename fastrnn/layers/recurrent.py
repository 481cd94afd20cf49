"""Recurrent layers: the RNN base and SimpleRNN.

Inputs are batch-major as in Keras, x (B, T, I).  Inside, the kernels work
time-major: x is copied once to (T, B, I) (reversed in time for go_backwards), the
states live in hs (T + 1, B, H) with hs[0] the initial state, and every per-step
block is contiguous.  Buffers are allocated once per (T, B) and reused.
"""
from collections import OrderedDict

import numpy as np

from fastrnn import activations, initializers
from fastrnn.layers.base import Layer
from fastrnn._ext import _simple_rnn

_MAX_WORKSPACES = 4


class RNN(Layer):
    """Shared machinery of SimpleRNN, LSTM and GRU.

    Subclasses set ``gates`` and implement ``_allocate(T, B)``,
    ``_kernel_forward(xt, ws)`` and ``_kernel_backward(xt, ws, dy, sequences)``.
    """

    gates = 1

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, dropout=0.0, recurrent_dropout=0.0,
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"{type(self).__name__}: units must be a positive integer, "
                             f"got {units!r}.")
        for flag, value in (("return_state", return_state), ("stateful", stateful)):
            if value:
                raise NotImplementedError(f"{type(self).__name__}: {flag}=True is not "
                                          "supported yet.")
        if dropout or recurrent_dropout:
            raise NotImplementedError(f"{type(self).__name__}: dropout and recurrent_dropout "
                                      "are not supported yet.")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.seed = seed
        self._workspaces = OrderedDict()

    # ------------------------------------------------------------------ build
    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(f"{type(self).__name__} expects inputs of shape (timesteps, "
                             f"features), got {tuple(input_shape)}.")
        gh = self.gates * self.units
        self.kernel = self.add_weight("kernel", (input_shape[-1], gh), self.kernel_initializer)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", (self.units, gh),
                                                self.recurrent_initializer)
        if self.use_bias:
            self.bias = self.add_weight("bias", self._bias_shape(), self.bias_initializer)
        else:
            self.bias = np.zeros(self._bias_shape(), self.dtype)
        super().build(input_shape)

    def _bias_shape(self):
        return (self.gates * self.units,)

    def compute_output_shape(self, input_shape):
        if self.return_sequences:
            return (input_shape[0], self.units)
        return (self.units,)

    def _workspace(self, T, B):
        key = (T, B)
        ws = self._workspaces.get(key)
        if ws is None:
            ws = self._allocate(T, B)
            self._workspaces[key] = ws
            if len(self._workspaces) > _MAX_WORKSPACES:
                self._workspaces.popitem(last=False)
        return ws

    # ---------------------------------------------------------------- forward
    def forward(self, x, training=False):
        """x (B, T, I) -> (B, T, H) with return_sequences, else (B, H)."""
        self._check_input(x, 3)
        if x.dtype != self.dtype:
            raise ValueError(f"Layer {self.name!r} expects {self.dtype} inputs, got {x.dtype}.")
        B, T = x.shape[0], x.shape[1]
        if B == 0 or T == 0:
            raise ValueError(f"Layer {self.name!r} got an empty batch or sequence: {x.shape}.")
        xt = x.transpose(1, 0, 2)
        if self.go_backwards:
            xt = xt[::-1]
        xt = np.ascontiguousarray(xt)
        ws = self._workspace(T, B)
        ws["hs"][0] = 0
        self._kernel_forward(xt, ws)
        self._xt, self._ws = xt, ws
        hs = ws["hs"]
        if self.return_sequences:
            return np.ascontiguousarray(hs[1:].transpose(1, 0, 2))
        return hs[T].copy()

    # --------------------------------------------------------------- backward
    def backward(self, dy):
        """dy like the forward output -> dx (B, T, I); fills self.grads."""
        if self.return_sequences:
            dyt = np.ascontiguousarray(dy.transpose(1, 0, 2), dtype=self.dtype)
        else:
            dyt = np.ascontiguousarray(dy, dtype=self.dtype)[None]
        dxt = self._kernel_backward(self._xt, self._ws, dyt, self.return_sequences)
        if self.go_backwards:
            dxt = dxt[::-1]
        return np.ascontiguousarray(dxt.transpose(1, 0, 2))

    def _bias_grad(self):
        return self.grads[2] if self.use_bias else self._ws["db"]

    # ----------------------------------------------------------------- config
    def get_config(self):
        cfg = super().get_config()
        cfg.update(units=self.units, activation=self.activation.name, use_bias=self.use_bias,
                   kernel_initializer=initializers.serialize(self.kernel_initializer),
                   recurrent_initializer=initializers.serialize(self.recurrent_initializer),
                   bias_initializer=initializers.serialize(self.bias_initializer),
                   return_sequences=self.return_sequences, return_state=self.return_state,
                   go_backwards=self.go_backwards, seed=self.seed)
        return cfg


class SimpleRNN(RNN):
    """Fully connected RNN: h_t = activation(x_t W + h_{t-1} U + b).

    Weights (Keras order): kernel (I, H), recurrent_kernel (H, H), bias (H,).
    Activations: 'tanh' (default), 'relu', 'sigmoid', 'linear' / None.
    """

    gates = 1

    def __init__(self, units, activation="tanh", **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self._act_code = activations.kernel_code(self.activation, "SimpleRNN")

    def _allocate(self, T, B):
        H, I, dt = self.units, self.kernel.shape[0], self.dtype
        return {"hs": np.zeros((T + 1, B, H), dt), "dz": np.empty((T, B, H), dt),
                "dx": np.empty((T, B, I), dt), "dh0": np.empty((B, H), dt),
                "db": np.empty(H, dt)}

    def _kernel_forward(self, xt, ws):
        _simple_rnn.forward(xt, self.kernel, self.recurrent_kernel, self.bias, ws["hs"],
                            self._act_code)

    def _kernel_backward(self, xt, ws, dyt, sequences):
        _simple_rnn.backward(xt, self.kernel, self.recurrent_kernel, ws["hs"], dyt, sequences,
                             self.grads[0], self.grads[1], self._bias_grad(), ws["dx"],
                             ws["dh0"], ws["dz"], self._act_code)
        return ws["dx"]
