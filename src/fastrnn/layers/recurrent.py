"""Recurrent layers: the RNN base, SimpleRNN, LSTM and GRU.

Inputs are batch-major as in Keras, x (B, T, I).  Inside, the kernels work
time-major: x is copied once to (T, B, I) (reversed in time for go_backwards), the
hidden states live in hs (T + 1, B, H) with hs[0] the initial state, and every
per-step block is contiguous.  Buffers are allocated once per (T, B) and reused.
"""
import threading
from collections import OrderedDict

import numpy as np

from fastrnn import _threads, activations, initializers, utils
from fastrnn.layers.base import Layer
from fastrnn._ext import _gru, _lstm, _simple_rnn

_MAX_WORKSPACES = 8
_MAX_PENDING = 64          # threads whose last forward awaits its backward


def _state_slots(layer, T):
    """Slots of a lean inference kernel's state buffer: every step's state (T + 1) when
    the layer returns sequences, else two used in turn (step t in slot t % 2)."""
    return T + 1 if layer.return_sequences else 2


def _last(states, T):
    """The state after step T of a (T + 1)- or 2-slot state buffer."""
    return states[T % states.shape[0]]


class RNN(Layer):
    """Shared machinery of SimpleRNN, LSTM and GRU.

    Subclasses set ``gates`` and ``state_names`` and implement ``_allocate(T, B,
    infer)`` (a dict of buffers with at least 'hs', 'dx' and one '<state>0' initial-state
    buffer per state; with infer, only what the inference kernel needs),
    ``_kernel_forward(ws)`` and ``_kernel_backward(ws, dyt, sequences, dstates)``
    returning dx (T, B, I) (None, not computed, where the workspace's 'dx' is None);
    and may implement ``_kernel_infer(ws)``, a lean forward pass for inference that
    keeps no gates (``has_infer_kernel``).  Inference calls (training=False) use their
    own workspaces and leave a pending training forward as it was.

    A workspace also carries its call's inputs: 'xt' (T, B, I), 'mask' (T, B) or None,
    'dropout' (B, I) or None, and with recurrent dropout 'imask' (G, B, I) or None and
    'rmask' (G, B, H) (one mask per gate, Keras's implementation 1; G = 1 for SimpleRNN).
    """

    gates = 1
    state_names = ("h",)
    accepts_mask = True
    has_infer_kernel = False

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, dropout=0.0, recurrent_dropout=0.0,
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"{type(self).__name__}: units must be a positive integer, "
                             f"got {units!r}.")
        for what, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"{type(self).__name__}: {what} must be in [0, 1), got {rate}.")
        self.stateful = bool(stateful)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self._carry = None
        self._seed_rng = None if seed is None else np.random.default_rng(seed)
        self.units = int(units)
        self.activation = activations.get(activation)
        self._act = activations.kernel_code(self.activation, type(self).__name__)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.seed = seed
        self._grads_ws = None      # workspace of the last backward (its d<state>0)
        self._workspaces = OrderedDict()
        self._pending = {}         # thread id -> workspace of its last forward

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
            self.bias = self.add_weight("bias", self._bias_shape(), self._bias_init())
        else:
            self.bias = np.zeros(self._bias_shape(), self.dtype)
        super().build(input_shape)

    def _bias_shape(self):
        return (self.gates * self.units,)

    def _bias_init(self):
        return self.bias_initializer

    def compute_output_shape(self, input_shape):
        if self.return_sequences:
            return (input_shape[0], self.units)
        return (self.units,)

    def _workspace(self, T, B, infer=False):
        # per thread: concurrent predicts never share
        key = (threading.get_ident(), T, B, infer, self.return_sequences)
        ws = self._workspaces.get(key)
        if ws is None:
            ws = self._allocate(T, B, infer)
            self._workspaces[key] = ws
            if len(self._workspaces) > _MAX_WORKSPACES:
                self._workspaces.popitem(last=False)
        return ws

    # ---------------------------------------------------------------- forward
    def compute_mask(self, x, mask):
        return mask if self.return_sequences else None

    def reset_states(self):
        """Forget the states a stateful layer carries from batch to batch."""
        self._carry = None

    def forward(self, x, training=False, initial_state=None, mask=None):
        """x (B, T, I) -> (B, T, H) with return_sequences, else (B, H).

        With return_state the result is [output, *final states] (LSTM: h and c).
        initial_state: a list of (B, H) arrays, one per state; zeros by default (a
        stateful layer starts from the states its previous batch ended with).
        mask: bool (B, T) or None; a masked step keeps the previous state and output.
        dropout (training only): one inverted mask (B, I) per batch, reused at every step.
        recurrent_dropout (training only): as Keras 3, one mask (B, H) per gate on the
        previous state of each gate's product (LSTM and GRU then also draw the input
        dropout mask per gate); the masks are drawn once per batch.
        """
        self._check_input(x, 3)
        if x.dtype != self.dtype:
            raise ValueError(f"Layer {self.name!r} expects {self.dtype} inputs, got {x.dtype}.")
        B, T = x.shape[0], x.shape[1]
        if B == 0 or T == 0:
            raise ValueError(f"Layer {self.name!r} got an empty batch or sequence: {x.shape}.")
        xt = x.transpose(1, 0, 2)
        mt = None
        if mask is not None:
            mask = np.asarray(mask)
            if mask.shape != (B, T):
                raise ValueError(f"Layer {self.name!r}: mask must have shape {(B, T)}, "
                                 f"got {mask.shape}.")
            mt = mask.T.astype(np.uint8)
        if self.go_backwards:
            xt = xt[::-1]
            mt = None if mt is None else mt[::-1]
        xt = np.ascontiguousarray(xt)
        dropout_mask = imask = rmask = None
        per_gate = training and self.recurrent_dropout > 0 and self._dropout_gates > 1
        if training and self.dropout > 0:
            shape = (self._dropout_gates, B, xt.shape[2]) if per_gate else (B, xt.shape[2])
            if per_gate:
                imask = self._dropout_mask(shape, self.dropout)
            else:
                dropout_mask = self._dropout_mask(shape, self.dropout)
                xt = xt * dropout_mask
        if training and self.recurrent_dropout > 0:
            rmask = self._dropout_mask((self._dropout_gates, B, self.units),
                                       self.recurrent_dropout)
        if initial_state is None and self.stateful and self._carry is not None:
            if self._carry[0].shape[0] != B:
                raise ValueError(f"Stateful layer {self.name!r} carries states for batches of "
                                 f"{self._carry[0].shape[0]}, got a batch of {B}; call "
                                 "reset_states() or use a fixed batch size.")
            initial_state = self._carry
        # Inference (training=False) keeps nothing for a backward pass and works in its
        # own workspace (a pending training forward stays valid); LSTM and GRU then take
        # their lean kernel.
        infer = not training
        ws = self._workspace(T, B, infer)
        self._set_initial_state(ws, initial_state, B)
        # What this call's backward needs lives in its workspace (one per thread).
        ws["xt"], ws["mask"], ws["dropout"] = xt, None if mt is None else \
            np.ascontiguousarray(mt), dropout_mask
        ws["imask"], ws["rmask"] = imask, rmask
        if rmask is not None and "hm" not in ws:
            ws["hm"] = np.empty((T * B, self.units), self.dtype)
            ws["xm"] = np.empty((T * B, xt.shape[2]), self.dtype)
            ws["tmp"] = np.empty((B, self.units), self.dtype)
        if infer:
            self._inference_kernel(ws)
        else:
            self._kernel_forward(ws)
            pending = self._pending             # what each thread's backward will use
            pending.pop(threading.get_ident(), None)
            pending[threading.get_ident()] = ws
            if len(pending) > _MAX_PENDING:     # threads that ended leave entries behind
                pending.pop(next(iter(pending)))
        if self.stateful:
            self._carry = self._final_states(ws)
        hs = ws["hs"]
        out = np.ascontiguousarray(hs[1:].transpose(1, 0, 2)) if self.return_sequences \
            else _last(hs, T).copy()
        if self.return_state:
            return [out] + self._final_states(ws)
        return out

    def step(self, x_t, states=None):
        """Streaming inference, one time step: x_t (B, I) and states (a list of (B, H)
        arrays, zeros when None) -> (output (B, H), new states).  The lean path for
        one sample at a time with carried state; no caches are kept."""
        x_t = np.asarray(x_t)
        if x_t.ndim != 2 or x_t.shape[1] != self.kernel.shape[0] or x_t.dtype != self.dtype:
            raise ValueError(f"Layer {self.name!r}: step expects x_t of shape (batch, "
                             f"{self.kernel.shape[0]}) and dtype {self.dtype}, got "
                             f"{x_t.shape} {x_t.dtype}.")
        B = x_t.shape[0]
        ws = self._workspace(1, B, True)
        self._set_initial_state(ws, states, B)
        ws["xt"], ws["mask"], ws["dropout"] = np.ascontiguousarray(x_t)[None], None, None
        ws["imask"] = ws["rmask"] = None
        self._inference_kernel(ws)
        finals = self._final_states(ws)
        return finals[0].copy(), finals

    def _set_initial_state(self, ws, initial_state, B):
        n = len(self.state_names)
        if initial_state is None:
            for name in self.state_names:
                ws[name + "0"].fill(0)
            return
        if not isinstance(initial_state, (list, tuple)):
            initial_state = [initial_state]
        if len(initial_state) != n:
            raise ValueError(f"Layer {self.name!r} expects {n} initial state(s) "
                             f"({', '.join(self.state_names)}), got {len(initial_state)}.")
        for name, value in zip(self.state_names, initial_state):
            value = np.asarray(value)
            if value.shape != (B, self.units):
                raise ValueError(f"Layer {self.name!r}: initial state {name!r} must have shape "
                                 f"{(B, self.units)}, got {value.shape}.")
            if not np.all(np.isfinite(value)):
                raise ValueError(f"Layer {self.name!r}: initial state {name!r} contains NaN "
                                 "or Inf.")
            ws[name + "0"][...] = value

    def _final_states(self, ws):
        return [_last(ws["hs"], ws["xt"].shape[0]).copy()]

    def _inference_kernel(self, ws):
        """The forward pass of an inference call: the lean kernel where the cell has one."""
        if self.has_infer_kernel:
            self._kernel_infer(ws)
        else:
            self._kernel_forward(ws)

    # --------------------------------------------------------------- backward
    def backward(self, dy):
        """dy like the forward output -> dx (B, T, I); fills self.grads and
        self.state_grads (the gradients of the initial states).  It follows the last
        forward with training=True of this thread (inference calls keep nothing)."""
        ws = self._pending.pop(threading.get_ident(), None)
        if ws is None:
            raise RuntimeError(f"Layer {self.name!r}: backward needs a forward pass with "
                               "training=True first (each forward serves one backward; "
                               "inference keeps nothing for it).")
        dstates = [None] * len(self.state_names)
        if self.return_state:
            dy, dstates = dy[0], list(dy[1:])
        if self.return_sequences:
            dyt = np.ascontiguousarray(np.asarray(dy, self.dtype).transpose(1, 0, 2))
        else:
            dyt = np.ascontiguousarray(dy, dtype=self.dtype)[None]
        if dstates[0] is not None:
            dyt = dyt.copy()                 # never change the caller's dy in place
            dyt[-1] += dstates[0]
        dxt = self._kernel_backward(ws, dyt, self.return_sequences, dstates)
        self._grads_ws = ws
        if ws["dropout"] is not None:
            dxt = dxt * ws["dropout"]
        if self.go_backwards:
            dxt = dxt[::-1]
        return np.ascontiguousarray(dxt.transpose(1, 0, 2))

    _plan_returns_views = True

    def _plain_calls(self, shape):
        """Whether a compiled train step or inference pass can serve this layer on
        inputs of ``shape``: no state carried, no extra outputs, time forwards, this
        class's own forward, backward and initial states."""
        return not (self.stateful or self.return_state or self.go_backwards
                    or len(shape) != 3 or 0 in shape or self._overrides_calls()
                    or type(self)._set_initial_state is not _RNN_INITIAL_STATE)

    def _plannable(self, shape, training):
        if training and (self.dropout or self.recurrent_dropout):
            return False
        return self._plain_calls(shape)

    def _plan_forward(self, shape, infer):
        """(workspace, forward function) of a compiled pass on inputs of exactly ``shape``
        (B, T, I): forward(x) runs the training (or, with infer, the inference) kernel
        over a workspace of its own, from zero initial states, and returns views of it
        (the outputs as forward gives them, valid until its next call)."""
        B, T = shape[0], shape[1]
        ws = self._allocate(T, B, infer)
        ws.update(mask=None, dropout=None, imask=None, rmask=None)
        starts = [ws[name + "0"] for name in self.state_names]
        sequences, hs = self.return_sequences, ws["hs"]
        kernel = self._inference_kernel if infer else self._kernel_forward
        # the lean inference kernels read time-major rows at any row stride: no copy
        strided = infer and self.has_infer_kernel

        def forward(x):
            xt = x.transpose(1, 0, 2)
            ws["xt"] = xt if strided and (xt.strides[2] == xt.itemsize or xt.shape[2] == 1) \
                else np.ascontiguousarray(xt)
            for start in starts:
                start.fill(0)
            kernel(ws)
            return hs[1:].transpose(1, 0, 2) if sequences else _last(hs, T)
        return ws, forward

    def _infer_function(self, shape):
        """The compiled inference pass's function for inputs of exactly ``shape`` (dropout
        does not apply at inference), or None (see _plan_forward)."""
        return self._plan_forward(shape, True)[1] if self._plannable(shape, False) else None

    def _train_pair_key(self):
        return (self.dropout, self.recurrent_dropout, self.stateful, self.return_state,
                self.go_backwards, self.return_sequences, self._overrides_calls())

    def _train_pair(self, shape, input_grad=True):
        """Sequential's compiled train step: lean (forward, backward) functions for
        inputs of exactly ``shape`` (B, T, I), or None where this layer needs the general
        path (dropout, stateful, return_state, go_backwards).  They run the kernels of
        ``forward(training=True)`` and ``backward`` over a workspace of their own and
        skip the per-call checks, which the model does once for the shape.  Without
        input_grad (the model's first layer) backward returns None and the kernels skip
        the product dL/dx = dz W^T."""
        if not self._plannable(shape, True):
            return None
        ws, forward = self._plan_forward(shape, False)
        if not input_grad:
            ws["dx"] = None
        no_states = [None] * len(self.state_names)
        sequences = self.return_sequences

        def backward(dy):
            dyt = np.ascontiguousarray(dy.transpose(1, 0, 2)) if sequences else \
                np.ascontiguousarray(dy)[None]
            dxt = self._kernel_backward(ws, dyt, sequences, no_states)
            self._grads_ws = ws
            return None if dxt is None else dxt.transpose(1, 0, 2)
        return forward, backward

    @property
    def _ws(self):
        """The workspace of this thread's last forward (for inspection in tests)."""
        return self._pending.get(threading.get_ident())

    @property
    def _dropout_gates(self):
        """How many dropout masks recurrent dropout draws: one per gate (Keras)."""
        return 1 if isinstance(self, SimpleRNN) else self.gates

    def _dropout_mask(self, shape, rate):
        """Inverted dropout mask: 0 with probability rate, else 1 / (1 - rate)."""
        rng = self._seed_rng if self._seed_rng is not None else utils.rng()
        keep = 1.0 - rate
        return ((rng.random(shape) < keep) / keep).astype(self.dtype)

    def _dropout_args(self, ws):
        """Keyword arguments of the kernels for recurrent dropout (empty without it)."""
        if ws["rmask"] is None:
            return {}
        args = {"rmask": ws["rmask"], "hm": ws["hm"]}
        if ws["imask"] is not None:
            args.update(imask=ws["imask"], xm=ws["xm"])
        return args

    @property
    def state_grads(self):
        """Gradients of the initial states from the last backward (copies), or None."""
        ws = self._grads_ws
        if ws is None:
            return None
        return [ws["d" + name + "0"].copy() for name in self.state_names]

    def _run(self, kernel, ws, args, kwargs, forward):
        """Call a kernel pass, its row blocks on several threads when that pays."""
        T, B = ws["xt"].shape[0], ws["xt"].shape[1]
        flops = 2.0 * T * B * self.units * self.gates * self.units
        if _threads.get_num_threads() == 1 or flops < 2 * _threads.MIN_BLOCK_FLOPS:
            kernel(*args, **kwargs)          # one block: no split (run_rows's rule)
            return
        _threads.run_rows(kernel, args, kwargs, B, flops, all_rows_first=forward)

    def _bias_grad(self, ws):
        return self.grads[2] if self.use_bias else ws["db"]

    # ----------------------------------------------------------------- config
    def get_config(self):
        cfg = super().get_config()
        cfg.update(units=self.units, activation=self.activation.name, use_bias=self.use_bias,
                   kernel_initializer=initializers.serialize(self.kernel_initializer),
                   recurrent_initializer=initializers.serialize(self.recurrent_initializer),
                   bias_initializer=initializers.serialize(self.bias_initializer),
                   return_sequences=self.return_sequences, return_state=self.return_state,
                   go_backwards=self.go_backwards, stateful=self.stateful,
                   dropout=self.dropout, recurrent_dropout=self.recurrent_dropout, seed=self.seed)
        return cfg


RNN._planned_methods = (RNN.forward, RNN.backward)
_RNN_INITIAL_STATE = RNN._set_initial_state


class SimpleRNN(RNN):
    """Fully connected RNN: h_t = activation(x_t W + h_{t-1} U + b).

    Weights (Keras order): kernel (I, H), recurrent_kernel (H, H), bias (H,).
    Activations: 'tanh' (default), 'relu', 'sigmoid', 'linear' / None.
    """

    gates = 1

    def _allocate(self, T, B, infer=False):
        H, I, dt = self.units, self.kernel.shape[0], self.dtype
        hs = np.zeros((T + 1, B, H), dt)
        return {"hs": hs, "h0": hs[0], "dz": np.empty((T, B, H), dt),
                "dx": np.empty((T, B, I), dt), "dh0": np.empty((B, H), dt),
                "db": np.empty(H, dt)}

    def _kernel_forward(self, ws):
        self._run(_simple_rnn.forward, ws, (ws["xt"], self.kernel, self.recurrent_kernel,
                                            self.bias, ws["hs"], self._act, ws["mask"]),
                  self._dropout_args(ws), forward=True)

    def _kernel_backward(self, ws, dyt, sequences, dstates):
        self._run(_simple_rnn.backward, ws,
                  (ws["xt"], self.kernel, self.recurrent_kernel, ws["hs"], dyt, sequences,
                   self.grads[0], self.grads[1], self._bias_grad(ws), ws["dx"], ws["dh0"],
                   ws["dz"], self._act, ws["mask"]), self._dropout_args(ws), forward=False)
        return ws["dx"]


class LSTM(RNN):
    """Long short-term memory, Keras 3 formulas, gates i, f, c, o:

        z = x_t W + h_{t-1} U + b;  i, f, o = ract(z_i), ract(z_f), ract(z_o)
        c_t = f c_{t-1} + i act(z_c);  h_t = o act(c_t)

    Weights: kernel (I, 4H), recurrent_kernel (H, 4H), bias (4H,).  With
    unit_forget_bias (default) the forget-gate bias starts at one.
    """

    gates = 4
    state_names = ("h", "c")
    has_infer_kernel = True

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 unit_forget_bias=True, **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self._ract = activations.kernel_code(self.recurrent_activation, "LSTM")
        self.unit_forget_bias = bool(unit_forget_bias)

    def _bias_init(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        H, base = self.units, self.bias_initializer

        def init(shape, dtype):
            return np.concatenate([base((H,), dtype), np.ones(H, dtype), base((2 * H,), dtype)])
        return init

    def _allocate(self, T, B, infer=False):
        H, I, dt = self.units, self.kernel.shape[0], self.dtype
        if infer:       # one step's gates: _lstm.infer keeps none for a backward
            hs, cs = np.zeros((_state_slots(self, T), B, H), dt), np.zeros((2, B, H), dt)
            return {"hs": hs, "cs": cs, "h0": hs[0], "c0": cs[0],
                    "z": np.empty((1, B, 4 * H), dt), "ac": np.empty((1, B, H), dt),
                    "xs": np.empty((B, I), dt)}
        hs, cs = np.zeros((T + 1, B, H), dt), np.zeros((T + 1, B, H), dt)
        return {"hs": hs, "cs": cs, "h0": hs[0], "c0": cs[0], "xs": np.empty((B, I), dt),
                "z": np.empty((T, B, 4 * H), dt), "ac": np.empty((T, B, H), dt),
                "dx": np.empty((T, B, I), dt), "dh0": np.empty((B, H), dt),
                "dc0": np.empty((B, H), dt), "db": np.empty(4 * H, dt)}

    def _final_states(self, ws):
        T = ws["xt"].shape[0]
        return [_last(ws["hs"], T).copy(), _last(ws["cs"], T).copy()]

    def _kernel_forward(self, ws):
        self._run(_lstm.forward, ws, (ws["xt"], self.kernel, self.recurrent_kernel, self.bias,
                                      ws["hs"], ws["cs"], ws["z"], ws["ac"], self._act,
                                      self._ract, ws["mask"]),
                  dict(self._dropout_args(ws), xs=ws["xs"]), forward=True)

    def _kernel_infer(self, ws):
        self._run(_lstm.infer, ws, (ws["xt"], self.kernel, self.recurrent_kernel, self.bias,
                                    ws["hs"], ws["cs"], ws["z"], ws["ac"], ws["xs"],
                                    self._act, self._ract, ws["mask"]), {}, forward=True)

    def _kernel_backward(self, ws, dyt, sequences, dstates):
        ws["dc0"][...] = 0 if dstates[1] is None else dstates[1]
        self._run(_lstm.backward, ws,
                  (ws["xt"], self.kernel, self.recurrent_kernel, ws["hs"], ws["cs"], ws["z"],
                   ws["ac"], dyt, sequences, self.grads[0], self.grads[1],
                   self._bias_grad(ws), ws["dx"], ws["dh0"], ws["dc0"], self._act,
                   self._ract, ws["mask"]), self._dropout_args(ws), forward=False)
        return ws["dx"]

    def get_config(self):
        cfg = super().get_config()
        cfg.update(recurrent_activation=self.recurrent_activation.name,
                   unit_forget_bias=self.unit_forget_bias)
        return cfg


class GRU(RNN):
    """Gated recurrent unit, Keras 3 formulas, gates z, r, h.

    reset_after=True (default): bias (2, 3H) = [input bias, recurrent bias] and
        hh = act(x_t W_h + b_h + r (h_{t-1} U_h + b_rec_h)).
    reset_after=False: bias (3H,) and hh = act(x_t W_h + b_h + (r h_{t-1}) U_h).
    Then z = ract(.), r = ract(.) and h_t = z h_{t-1} + (1 - z) hh.
    Weights: kernel (I, 3H), recurrent_kernel (H, 3H), bias.
    """

    gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid",
                 reset_after=True, **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self._ract = activations.kernel_code(self.recurrent_activation, "GRU")
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    @property
    def has_infer_kernel(self):
        """reset_after=True (Keras's default) has the lean inference kernel."""
        return self.reset_after

    def _allocate(self, T, B, infer=False):
        H, I, dt = self.units, self.kernel.shape[0], self.dtype
        if infer and self.reset_after:   # one step's gates: kept for no backward
            hs = np.zeros((_state_slots(self, T), B, H), dt)
            return {"hs": hs, "h0": hs[0], "xg": np.empty((1, B, 3 * H), dt),
                    "mh": np.empty((1, B, 3 * H), dt)}
        hs = np.zeros((T + 1, B, H), dt)
        ws = {"hs": hs, "h0": hs[0], "xg": np.empty((T, B, 3 * H), dt),
              "dx": np.empty((T, B, I), dt), "dh0": np.empty((B, H), dt),
              "db": np.empty(self._bias_shape(), dt)}
        if self.reset_after:
            ws["mh"] = np.empty((T, B, 3 * H), dt)
        else:
            ws["rh"] = np.empty((T, B, H), dt)
            ws["scratch"] = np.empty((B, 3 * H), dt)
            ws["drh"] = np.empty((B, H), dt)
        return ws

    def _kernel_forward(self, ws):
        xt, W, U, b = ws["xt"], self.kernel, self.recurrent_kernel, self.bias
        if self.reset_after:
            self._run(_gru.forward_reset_after, ws,
                      (xt, W, U, b, ws["hs"], ws["xg"], ws["mh"], self._act, self._ract,
                       ws["mask"]), self._dropout_args(ws), forward=True)
        else:
            self._run(_gru.forward_reset_before, ws,
                      (xt, W, U, b, ws["hs"], ws["xg"], ws["rh"], ws["scratch"], self._act,
                       self._ract, ws["mask"]), self._dropout_args(ws), forward=True)

    def _kernel_infer(self, ws):
        self._run(_gru.infer_reset_after, ws,
                  (ws["xt"], self.kernel, self.recurrent_kernel, self.bias, ws["hs"], ws["xg"],
                   ws["mh"], self._act, self._ract, ws["mask"]), {}, forward=True)

    def _kernel_backward(self, ws, dyt, sequences, dstates):
        xt, W, U = ws["xt"], self.kernel, self.recurrent_kernel
        dW, dU, db = self.grads[0], self.grads[1], self._bias_grad(ws)
        if self.reset_after:
            self._run(_gru.backward_reset_after, ws,
                      (xt, W, U, ws["hs"], ws["xg"], ws["mh"], dyt, sequences, dW, dU, db,
                       ws["dx"], ws["dh0"], self._act, self._ract, ws["mask"]),
                      self._dropout_args(ws), forward=False)
        else:
            extra = self._dropout_args(ws)
            if extra:
                extra["tmp"] = ws["tmp"]
            self._run(_gru.backward_reset_before, ws,
                      (xt, W, U, ws["hs"], ws["xg"], ws["rh"], dyt, sequences, dW, dU, db,
                       ws["dx"], ws["dh0"], ws["drh"], self._act, self._ract, ws["mask"]),
                      extra, forward=False)
        return ws["dx"]

    def get_config(self):
        cfg = super().get_config()
        cfg.update(recurrent_activation=self.recurrent_activation.name,
                   reset_after=self.reset_after)
        return cfg
