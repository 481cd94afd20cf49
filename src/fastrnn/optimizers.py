"""Optimizers with Keras 3's names, defaults and update rules.

    opt = fastrnn.optimizers.RMSprop(learning_rate=1e-3)
    opt.apply(grads, variables)     # lists of NumPy arrays; variables updated IN PLACE

``apply`` takes the gradients first and the weights second, as Keras's
``Optimizer.apply``; ``apply_gradients(zip(grads, variables))`` works as in Keras.
Each variable must be
a writeable C-contiguous float32 or float64 ndarray; its gradient an ndarray of the
same shape and dtype.  The arrays are never rebound: the update runs in place in
``fastrnn._ext._optim``.

Optimizer state (Keras calls them optimizer variables, here "slots") is created on
the first ``apply`` (or ``build``), one set per position in the list, and later calls
must pass variables of the same shapes and dtypes in the same order.  ``iterations``
counts the applied steps; Adam's bias correction uses t = iterations + 1.

Gradient clipping follows Keras's ``BaseOptimizer._clip_gradients``: ``clipnorm``
rescales each gradient to an L2 norm of at most clipnorm, ``global_clipnorm`` rescales
all gradients by one factor so their joint L2 norm is at most global_clipnorm,
``clipvalue`` clips element-wise to [-clipvalue, clipvalue].  At most one may be set;
0 means off (as in Keras).  Clipping never modifies the caller's gradient arrays.
Norms are accumulated in double precision.  As in Keras, a non-finite global norm
makes every gradient NaN (so a blow-up is visible instead of silently clipped).
"""
import math
import numbers
import warnings

import numpy as np

from fastrnn._ext import _optim

__all__ = [
    "Optimizer",
    "SGD",
    "RMSprop",
    "Adam",
    "Adagrad",
    "get",
    "serialize",
    "deserialize",
]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

# Keras 3 constructor arguments that fastrnn does not implement: accepted only at a
# value for which they do nothing, so Keras code and Keras configs load unchanged.
_NOOP_KWARGS = {
    "weight_decay": (None, 0, 0.0),
    "use_ema": (False,),
    "loss_scale_factor": (None, 1, 1.0),
    "gradient_accumulation_steps": (None, 0),
}
# Only read by Keras when use_ema=True: accepted and ignored.
_IGNORED_KWARGS = ("ema_momentum", "ema_overwrite_frequency")


def _check_real(name, value, low=None, high=None, low_open=False, high_open=False):
    """Return ``value`` as a Python float after checking it is a finite real number
    inside the given interval; raise ValueError (Keras wording) otherwise."""
    ok = not isinstance(value, (bool, np.bool_))
    if ok and not isinstance(value, numbers.Real):
        ok = (isinstance(value, np.ndarray) and value.ndim == 0
              and value.dtype.kind in "iuf")
    if not ok:
        raise ValueError(
            f"Argument `{name}` must be a float. Received: {name}={value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(
            f"Argument `{name}` must be finite. Received: {name}={value!r}")
    bad = ((low is not None and (v < low or (low_open and v == low)))
           or (high is not None and (v > high or (high_open and v == high))))
    if bad:
        lo = "-inf" if low is None else repr(low)
        hi = "inf" if high is None else repr(high)
        interval = ("(" if low_open or low is None else "[") + f"{lo}, {hi}" + (
            ")" if high_open or high is None else "]")
        raise ValueError(
            f"Argument `{name}` must be in {interval}. Received: {name}={value!r}")
    return v


def _check_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(
            f"Argument `{name}` must be a bool. Received: {name}={value!r}")
    return bool(value)


def _describe(arr):
    return f"shape {tuple(arr.shape)} {arr.dtype}"


class Optimizer:
    """Base class.  Subclasses define ``_slot_specs`` and ``_update``.

    Attributes: ``learning_rate`` (settable float), ``iterations`` (int, number of
    applied steps), ``name``, ``clipnorm``, ``clipvalue``, ``global_clipnorm``.
    """

    def __init__(self, learning_rate, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name=None, **kwargs):
        if kwargs.pop("decay", None) is not None:
            warnings.warn(
                "Argument `decay` is no longer supported and will be ignored.",
                stacklevel=3)
        for key, allowed in _NOOP_KWARGS.items():
            if key in kwargs:
                value = kwargs.pop(key)
                if not any(value is a or (type(value) is type(a) and value == a)
                           for a in allowed):
                    raise ValueError(
                        f"Argument `{key}` is not supported by fastrnn optimizers "
                        f"(only {allowed[0]!r}). Received: {key}={value!r}")
        for key in _IGNORED_KWARGS:
            kwargs.pop(key, None)
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")

        clip = {"clipnorm": clipnorm, "clipvalue": clipvalue,
                "global_clipnorm": global_clipnorm}
        if sum(v is not None for v in clip.values()) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can "
                f"be set. Received: clipnorm={clipnorm}, "
                f"clipvalue={clipvalue}, global_clipnorm={global_clipnorm}")
        for key, value in clip.items():
            if value is not None:
                clip[key] = _check_real(key, value, low=0.0)
        self.clipnorm = clip["clipnorm"]
        self.clipvalue = clip["clipvalue"]
        self.global_clipnorm = clip["global_clipnorm"]

        if name is None:
            name = type(self).__name__.lower()
        if not isinstance(name, str):
            raise ValueError(
                f"Argument `name` must be a string. Received: name={name!r}")
        self.name = name
        self.learning_rate = learning_rate
        self._iterations = 0
        # Built state: one (shape, dtype) per variable position, and for every
        # slot name a list of flat (n,) C-contiguous arrays, one per position.
        self._specs = None
        self._validated = None   # (ids, work, variables, grads) of the last checked call
        self._table = None       # (work, slot names, address table, float64?) for step_table
        self._slots = {}

    # ------------------------------------------------------------------ attributes
    @property
    def learning_rate(self):
        """The learning rate, a float; settable (callbacks change it)."""
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self._learning_rate = _check_real("learning_rate", value, low=0.0)

    @property
    def iterations(self):
        """Number of steps applied so far (an int)."""
        return self._iterations

    @iterations.setter
    def iterations(self, value):
        if (isinstance(value, (bool, np.bool_))
                or not isinstance(value, (numbers.Integral, np.integer))
                or value < 0):
            raise ValueError(
                "`iterations` must be a non-negative integer. "
                f"Received: iterations={value!r}")
        self._iterations = int(value)

    @property
    def built(self):
        return self._specs is not None

    # ---------------------------------------------------------- subclass interface
    def _slot_specs(self):
        """Tuple of (slot name, initial value) that the current options need."""
        return ()

    def _step_scalars(self):
        """Scalars shared by all variables of one step (computed once per apply)."""
        return self._learning_rate

    def _update(self, i, var, grad, scalars):
        """Update flat ``var`` (position i) in place from flat ``grad``."""
        raise NotImplementedError

    # ------------------------------------------------------------------ building
    def build(self, variables):
        """Create the slots for ``variables`` (a list of arrays) if not built yet."""
        if self.built:
            return
        variables = list(variables)
        for i, var in enumerate(variables):
            self._check_variable(i, var)
        self._specs = [(tuple(v.shape), v.dtype) for v in variables]
        self._slots = {}
        self._table = None
        self._ensure_slots()

    def _ensure_slots(self):
        for slot, init in self._slot_specs():
            if slot not in self._slots:
                self._table = None
                self._slots[slot] = [
                    np.full(int(np.prod(shape, dtype=np.int64)), init, dtype=dtype)
                    for shape, dtype in self._specs]

    @staticmethod
    def _check_variable(i, var):
        if not isinstance(var, np.ndarray):
            raise ValueError(
                f"Variable {i} must be a NumPy array. Received: {type(var).__name__}")
        if var.dtype not in _FLOAT_DTYPES:
            raise ValueError(
                f"Variable {i} must be float32 or float64. Received: {var.dtype}")
        if not var.flags.c_contiguous:
            raise ValueError(
                f"Variable {i} must be C-contiguous to be updated in place.")
        if not var.flags.writeable:
            raise ValueError(f"Variable {i} is read-only: it cannot be updated.")

    # ------------------------------------------------------------------ stepping
    def apply(self, grads, variables):
        """Update ``variables`` in place with ``grads`` (two lists, paired by
        position; Keras's argument order) and increment ``iterations``.

        A ``None`` gradient skips its variable (with a warning, as in Keras).
        Everything is validated before anything is updated.
        """
        variables = list(variables)
        grads = list(grads)
        # The training loop passes the same arrays every step: validate them once and
        # reuse the flat views (the cache keeps the arrays alive, so ids stay unique).
        key = tuple(map(id, variables)) + tuple(map(id, grads))
        if self._validated is not None and self._validated[0] == key and self.built:
            self._ensure_slots()
            self._step(self._validated[1])
            return
        if len(variables) != len(grads):
            raise ValueError(
                f"Got {len(variables)} variables but {len(grads)} gradients.")
        if not variables:
            return
        work = []  # (position, flat variable, flat gradient)
        missing = []
        for i, (var, grad) in enumerate(zip(variables, grads)):
            self._check_variable(i, var)
            if grad is None:
                missing.append(i)
                continue
            if isinstance(grad, np.generic):      # a NumPy scalar
                grad = np.asarray(grad)
            if not isinstance(grad, np.ndarray):
                raise ValueError(
                    f"Gradient {i} must be a NumPy array. "
                    f"Received: {type(grad).__name__}")
            if grad.shape != var.shape or grad.dtype != var.dtype:
                raise ValueError(
                    f"Gradient {i} has {_describe(grad)} but its variable has "
                    f"{_describe(var)}.")
            work.append((i, var.reshape(-1),
                         np.ascontiguousarray(grad).reshape(-1)))
        if self.built:
            if len(variables) != len(self._specs):
                raise ValueError(
                    f"Optimizer '{self.name}' was built for {len(self._specs)} "
                    f"variables but received {len(variables)}. An optimizer "
                    "updates one fixed list of variables: create a new optimizer "
                    "for a new set of variables.")
            for i, var in enumerate(variables):
                shape, dtype = self._specs[i]
                if var.shape != shape or var.dtype != dtype:
                    raise ValueError(
                        f"Variable {i} has {_describe(var)} but optimizer "
                        f"'{self.name}' was built with shape {shape} {dtype} at "
                        "this position. Pass the variables in the same order on "
                        "every call, or create a new optimizer.")
        if not work:
            raise ValueError("No gradients provided for any variable.")
        if missing:
            warnings.warn(
                f"Gradients do not exist for variables at positions {missing}.",
                stacklevel=2)
        self.build(variables)      # no-op once built
        self._ensure_slots()       # an option toggled since may need a new slot
        # Reuse only views of the callers' own buffers: a gradient that had to be copied
        # (not C-contiguous) would go stale.
        views = all(np.shares_memory(flat, g) for (_, _, flat), g in
                    zip(work, (g for g in grads if g is not None)))
        self._validated = None if missing or not views else (key, work, variables, grads)
        self._step(work)

    def _apply_again(self, validated):
        """Repeat the last ``apply`` over the same lists of the same arrays (the compiled
        train step owns its lists and passes them unchanged): ``validated`` is the
        ``_validated`` entry that apply left.  Returns False and does nothing when that
        entry is no longer current; the caller then calls apply."""
        if validated is None or self._validated is not validated or not self.built:
            return False
        self._ensure_slots()
        self._step(validated[1])
        return True

    def _table_rule(self, scalars):
        """(kind, three slot names or None, four parameters, flag) for _optim.step_table."""
        raise NotImplementedError

    def _address_table(self, work, slots):
        """The table of buffer addresses step_table reads, built once for this list of
        (position, variable, gradient) and these slots; None if dtypes are mixed.  The
        cache keeps every array alive, and any change to the slots drops it."""
        cached = self._table
        if cached is not None and cached[0] is work and cached[1] == slots:
            return cached[2], cached[3]
        dtypes = {var.dtype for _, var, _ in work}
        if len(dtypes) != 1:
            return None, None
        rows = []
        for i, var, grad in work:
            row = [var.size, var.ctypes.data, grad.ctypes.data]
            row += [self._slots[name][i].ctypes.data if name else 0 for name in slots]
            rows.append(row)
        table = np.array(rows, dtype=np.int64).reshape(len(rows), 6)
        double = dtypes.pop() == np.float64
        self._table = (work, slots, table, double)
        return table, double

    def _step(self, work):
        """Clip, then update every (position, flat variable, flat gradient) in place."""
        if not (self.clipnorm or self.global_clipnorm or self.clipvalue):
            # All variables in one call (see _optim.step_table).
            kind, slots, params, flag = self._table_rule(self._step_scalars())
            table, double = self._address_table(work, tuple(slots))
            if table is not None:
                _optim.step_table(kind, table, double, *params, flag)
                self._iterations += 1
                return
        work = self._clip(work)
        scalars = self._step_scalars()
        for i, var, grad in work:
            self._update(i, var, grad, scalars)
        self._iterations += 1

    def apply_gradients(self, grads_and_vars):
        """Keras-style: ``grads_and_vars`` is an iterable of (grad, variable)."""
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [v for _, v in pairs])
        return self._iterations

    def _clip(self, work):
        """Return ``work`` with clipped gradients (new arrays; inputs untouched)."""
        if self.clipnorm:
            c = self.clipnorm
            out = []
            for i, var, grad in work:
                norm = math.sqrt(_optim.sum_squares(grad))
                if not norm <= c:  # also taken when the norm is NaN
                    # Keras: g * c / maximum(norm, c); NaN norm gives NaN.
                    grad = grad * grad.dtype.type(c / norm)
                out.append((i, var, grad))
            return out
        if self.global_clipnorm:
            c = self.global_clipnorm
            norm = math.sqrt(math.fsum(_optim.sum_squares(g) for _, _, g in work))
            if norm <= c:
                return work
            scale = c / norm if math.isfinite(norm) else math.nan
            return [(i, var, grad * grad.dtype.type(scale))
                    for i, var, grad in work]
        if self.clipvalue:
            v = self.clipvalue
            return [(i, var, np.clip(grad, -v, v)) for i, var, grad in work]
        return work

    # ------------------------------------------------------------------ state
    def get_state(self):
        """Return {name: ndarray}: ``iterations`` (int64 scalar) and every slot, as
        ``{slot}_{position}`` (e.g. ``velocity_0``) in its variable's shape.
        The arrays are copies."""
        state = {"iterations": np.array(self._iterations, dtype=np.int64)}
        if self.built:
            for slot, _ in self._slot_specs():
                for i, (shape, _dtype) in enumerate(self._specs):
                    state[f"{slot}_{i}"] = self._slots[slot][i].reshape(shape).copy()
        return state

    def set_state(self, state):
        """Restore a dict made by ``get_state`` (values are copied).

        On an optimizer not built yet, the slots are created from the state (their
        shapes then fix the variables ``apply`` accepts).  On a built one the state
        must match its variables' shapes and dtypes.  Nothing changes on error.
        """
        if not hasattr(state, "keys"):
            raise ValueError(
                f"`state` must be a dict of arrays. Received: {type(state).__name__}")
        state = dict(state)
        if "iterations" not in state:
            raise ValueError("Optimizer state has no 'iterations' entry.")
        it = np.asarray(state.pop("iterations"))
        if (it.size != 1 or it.dtype.kind not in "iuf"
                or not float(it.reshape(-1)[0]).is_integer()
                or it.reshape(-1)[0] < 0):
            raise ValueError(
                "Optimizer state 'iterations' must be one non-negative integer. "
                f"Received: {it!r}")
        iterations = int(it.reshape(-1)[0])

        slot_names = [slot for slot, _ in self._slot_specs()]
        found = {}
        for key, value in state.items():
            slot, _, idx = str(key).rpartition("_")
            if slot not in slot_names or not idx.isdigit():
                expected = ", ".join(f"'{s}_<i>'" for s in slot_names) or "none"
                raise ValueError(
                    f"Unexpected key {key!r} in the state of optimizer "
                    f"'{self.name}' ({type(self).__name__} with "
                    f"{self._options_text()}); expected 'iterations' and slot "
                    f"keys: {expected}.")
            found[(slot, int(idx))] = np.asarray(value)

        n = (1 + max(i for _, i in found)) if found else 0
        if slot_names and self.built and n != len(self._specs):
            raise ValueError(
                f"Optimizer state holds slots for {n} variables but optimizer "
                f"'{self.name}' was built for {len(self._specs)}.")
        specs = []
        for i in range(n):
            spec = None
            for slot in slot_names:
                if (slot, i) not in found:
                    raise ValueError(
                        f"Optimizer state is missing key '{slot}_{i}'.")
                arr = found[(slot, i)]
                if arr.dtype not in _FLOAT_DTYPES:
                    raise ValueError(
                        f"Optimizer state '{slot}_{i}' must be float32 or "
                        f"float64. Received: {arr.dtype}")
                if spec is None:
                    spec = (tuple(arr.shape), arr.dtype)
                elif (tuple(arr.shape), arr.dtype) != spec:
                    raise ValueError(
                        f"Optimizer state '{slot}_{i}' has {_describe(arr)} but "
                        f"the other slots of variable {i} have shape {spec[0]} "
                        f"{spec[1]}.")
            if self.built and spec != self._specs[i]:
                raise ValueError(
                    f"Optimizer state for variable {i} has shape {spec[0]} "
                    f"{spec[1]} but optimizer '{self.name}' was built with shape "
                    f"{self._specs[i][0]} {self._specs[i][1]}.")
            specs.append(spec)

        if n:
            if not self.built:
                self._specs = specs
            self._table = None
            self._slots = {
                slot: [np.array(found[(slot, i)], dtype=specs[i][1], order="C",
                                copy=True).reshape(-1) for i in range(n)]
                for slot in slot_names}
        self._iterations = iterations

    def _options_text(self):
        return ", ".join(f"{k}={v!r}" for k, v in self._own_config().items())

    # ------------------------------------------------------------------ config
    def _own_config(self):
        return {}

    def get_config(self):
        """The constructor arguments, with Keras's names."""
        config = {
            "name": self.name,
            "learning_rate": self._learning_rate,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
        }
        config.update(self._own_config())
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Create an optimizer (without state) from ``get_config()``'s output.
        Keras 3 configs load too (their unsupported entries must be at no-op
        values: weight_decay None, use_ema False, ...)."""
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Gradient descent (with momentum), Keras 3 rule.

    momentum == 0:  w = w - lr * g
    momentum > 0:   m = momentum * m - lr * g;  w = w + m
    nesterov:       m = momentum * m - lr * g;  w = w + momentum * m - lr * g
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name="SGD",
                 **kwargs):
        super().__init__(learning_rate=learning_rate, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm,
                         name=name, **kwargs)
        self.momentum = _check_real("momentum", momentum, 0.0, 1.0)
        self.nesterov = _check_bool("nesterov", nesterov)

    def _slot_specs(self):
        return (("momentum", 0.0),) if self.momentum != 0 else ()

    def _table_rule(self, lr):
        slot = "momentum" if self.momentum != 0 else None
        return 0, (slot, None, None), (lr, self.momentum, 0.0, 0.0), self.nesterov

    def _update(self, i, var, grad, lr):
        if self.momentum != 0:
            _optim.sgd(var, grad, self._slots["momentum"][i], lr,
                       self.momentum, self.nesterov)
        else:
            _optim.sgd(var, grad, None, lr, 0.0, False)

    def _own_config(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """RMSprop, Keras 3 rule (plain momentum; epsilon inside the square root).

    v = rho v + (1 - rho) g^2
    centered: a = rho a + (1 - rho) g;  denom = v - a^2 + epsilon
    else:     denom = v + epsilon
    inc = lr g / sqrt(denom)
    momentum > 0: m = momentum m + inc;  w = w - m
    else:         w = w - inc
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-07,
                 centered=False, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name="rmsprop", **kwargs):
        super().__init__(learning_rate=learning_rate, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm,
                         name=name, **kwargs)
        self.rho = _check_real("rho", rho, 0.0, 1.0, high_open=True)
        self.momentum = _check_real("momentum", momentum, 0.0, 1.0)
        self.epsilon = _check_real("epsilon", epsilon, low=0.0)
        self.centered = _check_bool("centered", centered)

    def _slot_specs(self):
        specs = [("velocity", 0.0)]
        if self.momentum > 0:
            specs.append(("momentum", 0.0))
        if self.centered:
            specs.append(("average_gradient", 0.0))
        return tuple(specs)

    def _table_rule(self, lr):
        slots = ("velocity", "momentum" if self.momentum > 0 else None,
                 "average_gradient" if self.centered else None)
        return 1, slots, (lr, self.rho, self.momentum, self.epsilon), False

    def _update(self, i, var, grad, lr):
        slots = self._slots
        _optim.rmsprop(
            var, grad, slots["velocity"][i],
            slots["momentum"][i] if self.momentum > 0 else None,
            slots["average_gradient"][i] if self.centered else None,
            lr, self.rho, self.momentum, self.epsilon)

    def _own_config(self):
        return {"rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


class Adam(Optimizer):
    """Adam, Keras 3 rule, with t = iterations + 1:

    alpha = lr sqrt(1 - beta_2^t) / (1 - beta_1^t)
    m = m + (g - m)(1 - beta_1);  v = v + (g^2 - v)(1 - beta_2)
    amsgrad: v_hat = max(v_hat, v) and v_hat replaces v below
    w = w - alpha m / (sqrt(v) + epsilon)
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-07, amsgrad=False, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name="adam", **kwargs):
        super().__init__(learning_rate=learning_rate, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm,
                         name=name, **kwargs)
        self.beta_1 = _check_real("beta_1", beta_1, 0.0, 1.0, high_open=True)
        self.beta_2 = _check_real("beta_2", beta_2, 0.0, 1.0, high_open=True)
        self.epsilon = _check_real("epsilon", epsilon, low=0.0)
        self.amsgrad = _check_bool("amsgrad", amsgrad)

    def _slot_specs(self):
        specs = [("momentum", 0.0), ("velocity", 0.0)]
        if self.amsgrad:
            specs.append(("velocity_hat", 0.0))
        return tuple(specs)

    def _step_scalars(self):
        t = self._iterations + 1
        return (self._learning_rate * math.sqrt(1.0 - self.beta_2 ** t)
                / (1.0 - self.beta_1 ** t))

    def _table_rule(self, alpha):
        slots = ("momentum", "velocity", "velocity_hat" if self.amsgrad else None)
        return 2, slots, (alpha, self.beta_1, self.beta_2, self.epsilon), False

    def _update(self, i, var, grad, alpha):
        slots = self._slots
        _optim.adam(var, grad, slots["momentum"][i], slots["velocity"][i],
                    slots["velocity_hat"][i] if self.amsgrad else None,
                    alpha, self.beta_1, self.beta_2, self.epsilon)

    def _own_config(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class Adagrad(Optimizer):
    """Adagrad, Keras 3 rule: the accumulator starts at initial_accumulator_value;
    acc = acc + g^2;  w = w - lr g / sqrt(acc + epsilon)."""

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1,
                 epsilon=1e-07, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name="adagrad", **kwargs):
        super().__init__(learning_rate=learning_rate, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm,
                         name=name, **kwargs)
        self.initial_accumulator_value = _check_real(
            "initial_accumulator_value", initial_accumulator_value, low=0.0)
        self.epsilon = _check_real("epsilon", epsilon, low=0.0)

    def _slot_specs(self):
        return (("accumulator", self.initial_accumulator_value),)

    def _table_rule(self, lr):
        return 3, ("accumulator", None, None), (lr, self.epsilon, 0.0, 0.0), False

    def _update(self, i, var, grad, lr):
        _optim.adagrad(var, grad, self._slots["accumulator"][i], lr,
                       self.epsilon)

    def _own_config(self):
        return {"initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


# Keras looks names up as the lower-cased class name.
_BY_NAME = {cls.__name__.lower(): cls for cls in (SGD, RMSprop, Adam, Adagrad)}


def serialize(optimizer):
    """Keras-3-shaped dict: {"module", "class_name", "config", "registered_name"}."""
    if not isinstance(optimizer, Optimizer):
        raise ValueError(
            f"Could not serialize optimizer: {optimizer!r} is not an Optimizer.")
    return {"module": "keras.optimizers", "class_name": type(optimizer).__name__,
            "config": optimizer.get_config(), "registered_name": None}


def _lookup(name):
    cls = _BY_NAME.get(name.lower()) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(
            f"Unknown optimizer: {name!r}. Valid names (case-insensitive) are: "
            + ", ".join(repr(n) for n in _BY_NAME) + ".")
    return cls


def deserialize(config, custom_objects=None):
    """Inverse of ``serialize``: {"class_name": ..., "config": {...}}."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            "An optimizer config must be a dict with a 'class_name' (and "
            f"optionally a 'config' dict). Received: {config!r}")
    cls = _lookup(config["class_name"])
    inner = config.get("config") or {}
    if not isinstance(inner, dict):
        raise ValueError(
            f"The 'config' of an optimizer config must be a dict. Received: {inner!r}")
    return cls.from_config(dict(inner), custom_objects=custom_objects)


def get(identifier):
    """Return an Optimizer from an instance (returned unchanged), a name
    ('sgd', 'rmsprop', 'adam', 'adagrad', case-insensitive; default
    hyperparameters) or a config dict {"class_name": ..., "config": {...}}.
    ``None`` gives ``None``, as in Keras."""
    if identifier is None or isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        return _lookup(identifier)()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")
