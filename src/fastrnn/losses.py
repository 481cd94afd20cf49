"""Losses with Keras 3's names, formulas, defaults and reductions, plus exact gradients.

A loss turns ``(y_true, y_pred)`` into *per-sample values* (for most losses: a mean or
sum over the last axis of ``y_pred``, so they have ``y_pred.shape[:-1]``; for sparse
categorical crossentropy they have the shape of the integer labels), weights them by
``sample_weight`` and ``mask`` as Keras's ``reduce_weighted_values`` does, and reduces
them to one number:

==========================  ===========================================================
``"sum_over_batch_size"``   sum(values * w) / values.size        (the default)
``"mean"``                  the same as ``"sum_over_batch_size"``
``"sum"``                   sum(values * w)
``"mean_with_sample_weight"``  sum(values * w) / sum(w)            (0 if sum(w) == 0)
``"none"`` / ``None``       no reduction: the weighted values
==========================  ===========================================================

A mask (booleans with the per-sample values' shape, e.g. ``(B, T)`` for sequence
outputs) is merged into the weights like Keras's ``apply_mask``: for ``"mean"`` and
``"sum_over_batch_size"`` valid entries weigh ``total / valid`` and masked ones 0, so the
loss is the mean over the valid entries; for the other reductions the mask is a 0/1
weight.  ``sample_weight`` may have shape ``(B,)`` (one weight per sample, broadcast over
the remaining axes) or any shape broadcastable to the per-sample values.

The training loop uses::

    value, grad = loss.value_and_grad(y_true, y_pred, sample_weight=None, mask=None)

``grad`` is exactly d(value)/d(y_pred), with ``y_pred``'s shape and dtype (for
``"none"`` it is the gradient of the sum of the weighted values, as a gradient tape
would give).  Computations run in ``y_pred``'s float dtype (float32 or float64).

Probabilities are clipped to ``[EPSILON, 1 - EPSILON]`` (EPSILON = 1e-7) exactly as
Keras does; a clipped entry has zero gradient (TensorFlow's ``clip_by_value``).  With
``from_logits=True`` the crossentropies use the log-sum-exp / log-sigmoid forms (no
clipping), which stay finite for any finite logits, with finite gradients.
"""
import numpy as np

from fastrnn import config

EPSILON = 1e-7
REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


# --------------------------------------------------------------------------- helpers
def _as_pred(y_pred, dtype=None):
    """y_pred as a float array (float32/float64 kept; other types become floatx)."""
    p = np.asarray(y_pred)
    if dtype is not None:
        return p.astype(dtype, copy=False)
    if p.dtype not in (np.float32, np.float64):
        _check_numeric(p, "y_pred")
        p = p.astype(config.floatx())
    return p


def _check_numeric(arr, what):
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{what} must hold real numbers, got dtype {arr.dtype}.")


def _align_true(y_true, p, fn_name):
    """y_true cast to p's dtype with p's shape.

    Keras's squeeze_or_expand_to_same_rank: a trailing axis of size 1 present on one
    side only does not count (y_true (B,) against y_pred (B, 1); (B, T) against
    (B, T, 1)).  The per-sample values then keep y_pred.shape[:-1].
    """
    t = np.asarray(y_true)
    _check_numeric(t, "y_true")
    if t.ndim == p.ndim - 1 and p.shape[-1] == 1:
        t = t[..., None]
    elif t.ndim == p.ndim + 1 and t.shape[-1] == 1:
        t = t[..., 0]
    if t.shape != p.shape:
        raise ValueError(f"{fn_name}: targets of shape {t.shape} do not match predictions "
                         f"of shape {p.shape}.")
    return t.astype(p.dtype, copy=False)


def _align_weights(w, shape, what):
    """Broadcast a weight/mask array to ``shape`` (the per-sample values' shape).

    A trailing axis of size 1 in excess is dropped; a lower-rank array is aligned on the
    leading (batch) axes, e.g. (B,) against (B, T)."""
    w = np.asarray(w)
    _check_numeric(w, what)
    orig = w.shape
    if w.ndim == len(shape) + 1 and w.shape[-1] == 1:
        w = w[..., 0]
    if w.ndim < len(shape):
        w = w.reshape(w.shape + (1,) * (len(shape) - w.ndim))
    try:
        return np.broadcast_to(w, shape)
    except ValueError:
        raise ValueError(f"{what} of shape {orig} does not match the per-sample loss values "
                         f"of shape {tuple(shape)} (give one weight per sample, shape "
                         f"({shape[0] if shape else 1},), or the values' shape).") from None


def _merge_weights(shape, dtype, sample_weight, mask, reduction):
    """Keras's apply_mask + sample-weight merge: the weight array (or None)."""
    w = None
    if mask is not None:
        m = _align_weights(mask, shape, "mask").astype(dtype)
        if reduction in ("mean", "sum_over_batch_size"):
            valid = m.sum()
            m = m * (m.size / valid if valid else 0.0)
        w = m
    if sample_weight is not None:
        sw = _align_weights(sample_weight, shape, "sample_weight").astype(dtype)
        if not np.isfinite(sw).all():
            raise ValueError("sample_weight contains NaN or Inf.")
        w = sw if w is None else sw * w
    return w


def reduce_values(values, sample_weight=None, mask=None, reduction="sum_over_batch_size"):
    """Weight and reduce per-sample values as Keras does.

    Returns ``(loss, coef)``: the reduced loss (a float, or the weighted values for
    ``"none"``) and ``coef = d loss / d values`` (for ``"none"``: of their sum), an
    array of the values' shape, or a 0-d array when every value has the same one."""
    values = np.asarray(values)
    dtype = values.dtype
    if sample_weight is None and mask is None:
        w = None
        coef = np.asarray(1, dtype)
    else:
        w = _merge_weights(values.shape, dtype, sample_weight, mask, reduction)
        coef = w
    if reduction in ("none", None):
        return (values if w is None else values * w), coef
    total = float(np.add.reduce((values if w is None else values * w), axis=None,
                                dtype=np.float64))
    if reduction == "sum":
        return total, coef
    if reduction == "mean_with_sample_weight" and w is not None:
        divisor = float(np.sum(w, dtype=np.float64))
    else:
        divisor = float(values.size)
    if divisor == 0.0:
        return 0.0, np.zeros(np.shape(coef), dtype)
    return total / divisor, (coef / np.asarray(divisor, dtype)).astype(dtype, copy=False)


def _mean_last(x):
    """mean over the last axis in x's dtype (np.add.reduce: no wrapper overhead)."""
    return np.add.reduce(x, axis=-1) / x.dtype.type(x.shape[-1])


def _clip_bounds(dtype):
    lo = np.asarray(EPSILON, dtype)
    return lo, np.asarray(1.0, dtype) - lo


def _sigmoid(x):
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z)).astype(x.dtype, copy=False)


def _log_softmax_parts(x, axis=-1):
    """(log_softmax(x), softmax(x)) without overflow."""
    z = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(z)
    s = np.sum(e, axis=axis, keepdims=True)
    return z - np.log(s), e / s


def _check_smoothing(label_smoothing):
    ls = float(label_smoothing)
    if not 0.0 <= ls <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing!r}.")
    return ls


def _check_axis(axis):
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"axis must be an int, got {axis!r}.")
    return int(axis)


# ----------------------------------------------- per-sample values and their jacobian
# Each _xxx_vj(t, p, ...) returns (values, jac) where values are the per-sample values
# and jac[..., k] = d values[...] / d p[..., k] along the reduced axis (each value
# depends only on its own row), so d(sum c * values)/dp = expand_dims(c, axis) * jac.

def _mse_vj(t, p, need_jac=True):
    d = p - t
    values = _mean_last(d * d)
    return values, (d * (2.0 / p.shape[-1])).astype(p.dtype, copy=False) if need_jac else None


def _mae_vj(t, p, need_jac=True):
    d = p - t
    values = _mean_last(np.abs(d))
    return values, (np.sign(d) / p.shape[-1]).astype(p.dtype, copy=False) if need_jac else None


def _huber_vj(t, p, delta=1.0, need_jac=True):
    d = p - t
    a = np.abs(d)
    delta = np.asarray(delta, p.dtype)
    half = np.asarray(0.5, p.dtype)
    quad = a <= delta
    values = _mean_last(np.where(quad, half * d * d, delta * a - half * delta * delta))
    if not need_jac:
        return values, None
    jac = np.where(quad, d, delta * np.sign(d)) / np.asarray(p.shape[-1], p.dtype)
    return values, jac.astype(p.dtype, copy=False)


def _bce_vj(t, p, from_logits=False, label_smoothing=0.0, need_jac=True):
    """binary crossentropy, mean over the last axis."""
    n = np.asarray(p.shape[-1], p.dtype)
    if label_smoothing:
        t = (t * (1.0 - label_smoothing) + 0.5 * label_smoothing).astype(p.dtype)
    if from_logits:
        # max(x, 0) - x t + log(1 + exp(-|x|)) = -[t log s(x) + (1-t) log(1-s(x))]
        elem = np.maximum(p, 0) - p * t + np.log1p(np.exp(-np.abs(p)))
        values = _mean_last(elem)
        return values, ((_sigmoid(p) - t) / n) if need_jac else None
    lo, hi = _clip_bounds(p.dtype)
    o = np.clip(p, lo, hi)
    elem = -(t * np.log(o) + (1.0 - t) * np.log(1.0 - o))
    values = _mean_last(elem)
    if not need_jac:
        return values, None
    inside = (p >= lo) & (p <= hi)
    jac = np.where(inside, (o - t) / (o * (1.0 - o)), 0) / n
    return values, jac.astype(p.dtype, copy=False)


def _cce_vj(t, p, from_logits=False, label_smoothing=0.0, need_jac=True):
    """categorical crossentropy along the last axis."""
    if label_smoothing:
        t = (t * (1.0 - label_smoothing) + label_smoothing / p.shape[-1]).astype(p.dtype)
    if from_logits:
        logp, sm = _log_softmax_parts(p)
        values = -np.sum(t * logp, axis=-1)
        if not need_jac:
            return values, None
        return values, sm * np.sum(t, axis=-1, keepdims=True) - t
    # Keras: normalize so that each row sums to one, clip, log.
    s = np.sum(p, axis=-1, keepdims=True)
    q = p / s
    lo, hi = _clip_bounds(p.dtype)
    o = np.clip(q, lo, hi)
    values = -np.sum(t * np.log(o), axis=-1)
    if not need_jac:
        return values, None
    g = np.where((q >= lo) & (q <= hi), -t / o, 0).astype(p.dtype, copy=False)
    jac = (g - np.sum(g * q, axis=-1, keepdims=True)) / s
    return values, jac.astype(p.dtype, copy=False)


def _sparse_labels(y_true, p, ignore_class=None):
    """Validated integer labels of shape p.shape[:-1] and the valid mask (or None)."""
    t = np.asarray(y_true)
    _check_numeric(t, "y_true")
    if t.ndim == p.ndim and t.shape[-1] == 1:
        t = t[..., 0]
    elif t.ndim == p.ndim + 1 and t.shape[-1] == 1 and t.shape[-2] == 1:
        t = t[..., 0, 0]
    if t.shape != p.shape[:-1]:
        raise ValueError(
            f"sparse_categorical_crossentropy: expected integer class ids of shape "
            f"{p.shape[:-1]} (or {p.shape[:-1] + (1,)}) for predictions of shape {p.shape}, "
            f"got labels of shape {t.shape}. For one-hot targets use "
            f"categorical_crossentropy.")
    num_classes = p.shape[-1]
    if np.issubdtype(t.dtype, np.integer) or t.dtype == np.bool_:
        ti = t.astype(np.int64)
    else:
        finite = np.isfinite(t)
        if not finite.all():
            raise ValueError("sparse_categorical_crossentropy: labels contain NaN or Inf.")
        ti = np.rint(t).astype(np.int64)
        bad = ti != t
        if bad.any():
            raise ValueError(
                "sparse_categorical_crossentropy: labels must be integer class ids, got "
                f"non-integer values such as {np.unique(t[bad])[:5].tolist()}.")
    valid = None if ignore_class is None else ti != int(ignore_class)
    out = (ti < 0) | (ti >= num_classes)
    if valid is not None:
        out &= valid
    if out.any():
        raise ValueError(
            f"sparse_categorical_crossentropy: labels must be in [0, {num_classes}) for "
            f"{num_classes} classes, got {np.unique(ti[out])[:5].tolist()}.")
    if valid is not None:
        ti = np.where(valid, ti, 0)
    return ti, valid


def _scce_vj(ti, valid, p, from_logits=False, need_jac=True):
    idx = ti[..., None]
    if from_logits:
        logp, sm = _log_softmax_parts(p)
        values = -np.take_along_axis(logp, idx, axis=-1)[..., 0]
        jac = None
        if need_jac:
            jac = sm
            np.put_along_axis(jac, idx, np.take_along_axis(jac, idx, axis=-1) - 1, axis=-1)
    else:
        s = np.sum(p, axis=-1, keepdims=True)
        ql = np.take_along_axis(p, idx, axis=-1) / s            # (..., 1)
        lo, hi = _clip_bounds(p.dtype)
        o = np.clip(ql, lo, hi)
        values = -np.log(o)[..., 0]
        jac = None
        if need_jac:
            g = np.where((ql >= lo) & (ql <= hi), -1.0 / o, 0)  # d value / d q_label
            onehot = np.zeros(p.shape, p.dtype)
            np.put_along_axis(onehot, idx, 1, axis=-1)
            jac = (g / s) * (onehot - ql)
    if valid is not None:
        values = np.where(valid, values, 0)
        if jac is not None:
            jac = np.where(valid[..., None], jac, 0)
    values = values.astype(p.dtype, copy=False)
    return values, (jac.astype(p.dtype, copy=False) if jac is not None else None)


def _move_last(arr, axis):
    return arr if axis in (-1, arr.ndim - 1) else np.moveaxis(arr, axis, -1)


# ------------------------------------------------------------------ loss functions
def mean_squared_error(y_true, y_pred):
    """Per-sample MSE: mean((y_pred - y_true)^2, axis=-1)."""
    p = _as_pred(y_pred)
    return _mse_vj(_align_true(y_true, p, "mean_squared_error"), p, need_jac=False)[0]


def mean_absolute_error(y_true, y_pred):
    """Per-sample MAE: mean(|y_pred - y_true|, axis=-1)."""
    p = _as_pred(y_pred)
    return _mae_vj(_align_true(y_true, p, "mean_absolute_error"), p, need_jac=False)[0]


def huber(y_true, y_pred, delta=1.0):
    """Per-sample Huber loss: mean over the last axis of 0.5 e^2 where |e| <= delta and
    delta |e| - 0.5 delta^2 elsewhere (e = y_pred - y_true)."""
    p = _as_pred(y_pred)
    return _huber_vj(_align_true(y_true, p, "huber"), p, delta, need_jac=False)[0]


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample binary crossentropy, the mean over ``axis``."""
    p = _as_pred(y_pred)
    t = _align_true(y_true, p, "binary_crossentropy")
    axis = _check_axis(axis)
    return _bce_vj(_move_last(t, axis), _move_last(p, axis), bool(from_logits),
                   _check_smoothing(label_smoothing), need_jac=False)[0]


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample categorical crossentropy of one-hot (or soft) targets along ``axis``."""
    p = _as_pred(y_pred)
    t = _check_cce_true(y_true, p)
    axis = _check_axis(axis)
    return _cce_vj(_move_last(t, axis), _move_last(p, axis), bool(from_logits),
                   _check_smoothing(label_smoothing), need_jac=False)[0]


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None,
                                    axis=-1):
    """Per-sample crossentropy of integer class ids (entries equal to ``ignore_class``
    give 0)."""
    if _check_axis(axis) not in (-1, np.ndim(y_pred) - 1):
        raise ValueError("sparse_categorical_crossentropy supports only axis=-1.")
    p = _as_pred(y_pred)
    ti, valid = _sparse_labels(y_true, p, ignore_class)
    return _scce_vj(ti, valid, p, bool(from_logits), need_jac=False)[0]


def _check_cce_true(y_true, p):
    t = np.asarray(y_true)
    _check_numeric(t, "y_true")
    if t.shape != p.shape:
        hint = ""
        if t.ndim == p.ndim - 1 or (t.ndim == p.ndim and t.shape[-1] == 1):
            hint = " Integer class ids need sparse_categorical_crossentropy."
        raise ValueError(f"categorical_crossentropy: one-hot targets of shape {t.shape} do "
                         f"not match predictions of shape {p.shape}.{hint}")
    return t.astype(p.dtype, copy=False)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
bce = BCE = binary_crossentropy


# -------------------------------------------------------------------------- classes
class Loss:
    """Base class, as ``keras.losses.Loss``.

    A subclass gives ``call(y_true, y_pred)`` (per-sample values, as in Keras) and, for
    training, ``_values_and_jac(y_true, y_pred, need_jac)``.  A subclass that only
    defines ``call`` still trains: its gradient is then taken by central finite
    differences (see ``LossFunctionWrapper``).
    """

    _axis = -1

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in REDUCTIONS:
            raise ValueError(f"Invalid reduction {reduction!r}: expected one of "
                             f"{', '.join(map(repr, REDUCTIONS))}.")
        self.name = name or getattr(self, "default_name", None) or _snake(type(self).__name__)
        self.reduction = reduction
        self.dtype = None if dtype is None else np.dtype(dtype)

    # The Keras API -------------------------------------------------------------------
    def call(self, y_true, y_pred):
        """Per-sample loss values (unweighted, unreduced)."""
        return self._full(y_true, _as_pred(y_pred, self.dtype), False)[0]

    def __call__(self, y_true, y_pred, sample_weight=None, mask=None):
        """The reduced loss: a float (an array of weighted values for ``"none"``)."""
        p = _as_pred(y_pred, self.dtype)
        values, _, own_mask, _ = self._full(y_true, p, need_jac=False)
        loss, _ = reduce_values(values, sample_weight, _and_masks(mask, own_mask),
                                self.reduction)
        return loss

    def value_and_grad(self, y_true, y_pred, sample_weight=None, mask=None):
        """(reduced loss as a float, d loss / d y_pred with y_pred's shape and dtype).

        For ``reduction="none"`` the value is the sum of the weighted per-sample values
        and the gradient is that sum's gradient."""
        y_pred = np.asarray(y_pred)
        p = _as_pred(y_pred, self.dtype)
        values, jac, own_mask, elementwise = self._full(y_true, p, need_jac=True)
        loss, coef = reduce_values(values, sample_weight, _and_masks(mask, own_mask),
                                   self.reduction)
        if self.reduction in ("none", None):
            loss = float(np.sum(loss, dtype=np.float64))
        if elementwise or coef.ndim == 0:
            grad = coef * jac
        else:
            grad = np.expand_dims(coef, self._axis) * jac
        out_dtype = y_pred.dtype if y_pred.dtype in (np.float32, np.float64) else p.dtype
        return loss, np.ascontiguousarray(grad.reshape(y_pred.shape), dtype=out_dtype)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    # Internals -----------------------------------------------------------------------
    def _full(self, y_true, p, need_jac):
        """(values, jac, own mask or None, elementwise?)"""
        if _call_overrides_jac(type(self)):
            # call() is defined below the class giving the gradient (a user subclass
            # that only defines call()): differentiate call() by finite differences.
            t = np.asarray(y_true)
            _check_numeric(t, "y_true")
            values, jac, elementwise = _numeric_values_and_jac(
                self.call, t.astype(p.dtype, copy=False), p, need_jac)
            return values, jac, None, elementwise
        out = self._values_and_jac(y_true, p, need_jac)
        values, jac = out[0], out[1]
        own_mask = out[2] if len(out) > 2 else None
        return values, jac, own_mask, False

    def _values_and_jac(self, y_true, p, need_jac):
        """(per-sample values, jacobian along self._axis[, own mask]): see the module."""
        raise NotImplementedError


def _definer(cls, attr):
    return next(k for k in cls.__mro__ if attr in vars(k))


def _call_overrides_jac(cls):
    """True when cls's call() is more derived than its _values_and_jac()."""
    cached = cls.__dict__.get("_fastrnn_numeric")
    if cached is None:
        by_call, by_jac = _definer(cls, "call"), _definer(cls, "_values_and_jac")
        if by_call is Loss:
            if by_jac is Loss:
                raise NotImplementedError(f"{cls.__name__} must implement call().")
            cached = False
        else:
            cached = by_call is not by_jac and issubclass(by_call, by_jac)
        cls._fastrnn_numeric = cached
    return cached


def _and_masks(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return np.logical_and(_align_weights(a, b.shape, "mask").astype(bool), b)


def _snake(name):
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and not name[i - 1].isupper():
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


class MeanSquaredError(Loss):
    """mean((y_true - y_pred)^2, axis=-1) per sample."""
    default_name = "mean_squared_error"

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def _values_and_jac(self, y_true, p, need_jac):
        return _mse_vj(_align_true(y_true, p, self.name), p, need_jac)

    def value_and_grad(self, y_true, y_pred, sample_weight=None, mask=None):
        # The training loop's common case in a few NumPy calls (small models spend
        # their time in per-step overhead): same shapes and float dtype, no weights,
        # the default reduction.  sum(d^2) / size equals the mean of per-sample means.
        if (type(self) is MeanSquaredError and sample_weight is None and mask is None
                and self.reduction == "sum_over_batch_size"
                and type(y_true) is np.ndarray and type(y_pred) is np.ndarray
                and y_true.shape == y_pred.shape and y_true.dtype == y_pred.dtype
                and y_pred.dtype in (np.float32, np.float64) and y_pred.size):
            d = y_pred - y_true
            loss = float(np.dot(d.ravel(), d.ravel())) / d.size
            d *= d.dtype.type(2.0 / d.size)
            return loss, d
        return super().value_and_grad(y_true, y_pred, sample_weight, mask)


class MeanAbsoluteError(Loss):
    """mean(|y_true - y_pred|, axis=-1) per sample (gradient sign(y_pred - y_true))."""
    default_name = "mean_absolute_error"

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def _values_and_jac(self, y_true, p, need_jac):
        return _mae_vj(_align_true(y_true, p, self.name), p, need_jac)


class Huber(Loss):
    """Huber loss: quadratic for |error| <= delta, linear beyond; mean over the last axis."""
    default_name = "huber_loss"

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss",
                 dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.delta = float(delta)

    def _values_and_jac(self, y_true, p, need_jac):
        return _huber_vj(_align_true(y_true, p, self.name), p, self.delta, need_jac)

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}


class _AxisCrossentropy(Loss):
    """Shared by the binary and categorical crossentropies: from_logits, label smoothing
    and the class axis (moved last for ``_vj``, the per-sample values and gradient)."""

    def __init__(self, from_logits, label_smoothing, axis, reduction, name, dtype):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = bool(from_logits)
        self.label_smoothing = _check_smoothing(label_smoothing)
        self.axis = self._axis = _check_axis(axis)

    def _values_and_jac(self, y_true, p, need_jac):
        t = self._targets(y_true, p)
        values, jac = self._vj(_move_last(t, self.axis), _move_last(p, self.axis),
                               self.from_logits, self.label_smoothing, need_jac)
        if jac is not None and self.axis not in (-1, p.ndim - 1):
            jac = np.moveaxis(jac, -1, self.axis)
        return values, jac

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


class BinaryCrossentropy(_AxisCrossentropy):
    """Binary crossentropy, mean over ``axis`` (the last by default).

    ``from_logits=True`` uses max(x, 0) - x t + log(1 + exp(-|x|)) and the gradient
    sigmoid(x) - t, finite for any logits; otherwise probabilities are clipped to
    [1e-7, 1 - 1e-7].  ``label_smoothing`` moves targets to t (1 - s) + s / 2."""
    default_name = "binary_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        super().__init__(from_logits, label_smoothing, axis, reduction, name, dtype)

    def _targets(self, y_true, p):
        return _align_true(y_true, p, self.name)

    _vj = staticmethod(_bce_vj)


class CategoricalCrossentropy(_AxisCrossentropy):
    """Crossentropy of one-hot (or soft) targets along ``axis``.

    Probabilities are normalized to sum to one, then clipped to [1e-7, 1 - 1e-7];
    ``from_logits=True`` uses a stable log-softmax.  ``label_smoothing`` moves targets
    to t (1 - s) + s / num_classes."""
    default_name = "categorical_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy", dtype=None):
        super().__init__(from_logits, label_smoothing, axis, reduction, name, dtype)

    def _targets(self, y_true, p):
        return _check_cce_true(y_true, p)

    _vj = staticmethod(_cce_vj)


class SparseCategoricalCrossentropy(Loss):
    """Crossentropy of integer class ids: y_true of shape y_pred.shape[:-1] (or with a
    trailing axis of 1), holding integers in [0, num_classes) (floats such as 2.0 are
    accepted).  Entries equal to ``ignore_class`` are masked out: they add nothing and
    the mean runs over the other entries (Keras's behaviour)."""
    default_name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = bool(from_logits)
        if ignore_class is not None and (isinstance(ignore_class, bool)
                                         or int(ignore_class) != ignore_class):
            raise ValueError(f"ignore_class must be an integer or None, got {ignore_class!r}.")
        self.ignore_class = None if ignore_class is None else int(ignore_class)

    def _values_and_jac(self, y_true, p, need_jac):
        ti, valid = _sparse_labels(y_true, p, self.ignore_class)
        values, jac = _scce_vj(ti, valid, p, self.from_logits, need_jac)
        return values, jac, valid

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "ignore_class": self.ignore_class}


class Crossentropy(Loss):
    """``loss="crossentropy"`` (or ``"ce"``): Keras's compile-time choice, made here on
    every call from the shapes: binary if y_pred.shape[-1] == 1, sparse categorical if
    y_true has a lower rank or a last axis of 1, categorical otherwise."""
    default_name = "crossentropy"

    def __init__(self, reduction="sum_over_batch_size", name="crossentropy", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self._losses = {"binary": BinaryCrossentropy(), "sparse": SparseCategoricalCrossentropy(),
                        "categorical": CategoricalCrossentropy()}

    def _values_and_jac(self, y_true, p, need_jac):
        kind = crossentropy_kind(np.shape(y_true), p.shape)
        return self._losses[kind]._values_and_jac(y_true, p, need_jac)


def crossentropy_kind(y_true_shape, y_pred_shape):
    """'binary', 'sparse' or 'categorical', as Keras's compile_utils decides."""
    if y_pred_shape[-1] == 1:
        return "binary"
    if len(y_true_shape) < len(y_pred_shape) or (y_true_shape[-1] == 1 and y_pred_shape[-1] > 1):
        return "sparse"
    return "categorical"


class LossFunctionWrapper(Loss):
    """Wrap a per-sample loss function ``fn(y_true, y_pred, **kwargs)`` (NumPy in, NumPy
    out) as a Loss.  The built-in functions get their exact gradient; any other function
    is differentiated by central finite differences in float64, assuming, as for every
    Keras loss, that each per-sample value depends only on its own row of y_pred (the
    function may also return one value per element, or a single scalar)."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", "loss"), reduction=reduction,
                         dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs
        self._elementwise = False

    def call(self, y_true, y_pred):
        return np.asarray(self.fn(y_true, y_pred, **self._fn_kwargs))

    def _full(self, y_true, p, need_jac):
        cls = _CLASS_BY_FUNCTION.get(self.fn)
        if cls is not None:
            inner = cls(**self._fn_kwargs)
            out = inner._full(y_true, p, need_jac)
            self._axis = inner._axis
            return out
        t = np.asarray(y_true)
        t, pp = _squeeze_or_expand(t.astype(p.dtype) if t.dtype != p.dtype else t, p)
        fn = lambda a, b: np.asarray(self.fn(a, b, **self._fn_kwargs))  # noqa: E731
        values, jac, elementwise = _numeric_values_and_jac(fn, t, pp, need_jac)
        self._axis = -1
        values = np.asarray(values).astype(p.dtype, copy=False)
        return values, jac, None, elementwise

    def get_config(self):
        return {**super().get_config(), "fn": getattr(self.fn, "__name__", None),
                **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        fn = config.pop("fn")
        if isinstance(fn, str):      # only the built-in functions, never any global
            fn = {f.__name__: f for f in _CLASS_BY_FUNCTION}.get(fn)
        if not callable(fn):
            raise ValueError(f"Cannot rebuild LossFunctionWrapper: unknown function {fn!r}.")
        return cls(fn, **config)


def _squeeze_or_expand(x1, x2):
    """Keras's squeeze_or_expand_to_same_rank (expand_rank_1=True)."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1:
            x2 = x2[..., None]
        else:
            x1 = x1[..., 0]
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1:
            x1 = x1[..., None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def _numeric_values_and_jac(fn, t, p, need_jac):
    """(values, jacobian, elementwise?) of ``fn`` by central differences in float64."""
    p64 = p.astype(np.float64)
    values = np.asarray(fn(t, p64), dtype=np.float64)
    if values.shape == p.shape[:-1] and p.ndim >= 1:
        mode = "row"
    elif values.shape == p.shape or values.ndim == 0:
        mode = "elem"
    else:
        raise ValueError(f"A loss function must return one value per sample (shape "
                         f"{p.shape[:-1]}), one per element {p.shape} or a scalar; got shape "
                         f"{values.shape}.")
    jac = None
    if need_jac:
        jac = np.empty(p.shape, np.float64)
        if mode == "row" or values.ndim > 0:
            for k in range(p.shape[-1]):
                h = 1e-6 * np.maximum(1.0, np.abs(p64[..., k]))
                pp = p64.copy()
                pp[..., k] += h
                vp = np.asarray(fn(t, pp), dtype=np.float64)
                pp[..., k] -= 2 * h
                vm = np.asarray(fn(t, pp), dtype=np.float64)
                if mode == "row":
                    jac[..., k] = (vp - vm) / (2 * h)
                else:
                    jac[..., k] = (vp[..., k] - vm[..., k]) / (2 * h)
        else:                               # a scalar: one element at a time
            flat = p64.reshape(-1)
            jflat = jac.reshape(-1)
            for i in range(flat.size):
                h = 1e-6 * max(1.0, abs(flat[i]))
                old = flat[i]
                flat[i] = old + h
                vp = float(fn(t, p64))
                flat[i] = old - h
                vm = float(fn(t, p64))
                flat[i] = old
                jflat[i] = (vp - vm) / (2 * h)
    return values.astype(p.dtype, copy=False), jac, mode == "elem"


# ------------------------------------------------------------------- lookup by name
_CLASSES = (MeanSquaredError, MeanAbsoluteError, Huber, BinaryCrossentropy,
            CategoricalCrossentropy, SparseCategoricalCrossentropy)
_CLASS_BY_FUNCTION = {
    mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError,
    huber: Huber, binary_crossentropy: BinaryCrossentropy,
    categorical_crossentropy: CategoricalCrossentropy,
    sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
}
# Keras 3's ALL_OBJECTS_DICT (class names and function names) and its aliases.
_BY_NAME = {cls.__name__: cls for cls in _CLASSES}
_BY_NAME.update({fn.__name__: fn for fn in _CLASS_BY_FUNCTION})
_BY_NAME.update({"mse": mean_squared_error, "MSE": mean_squared_error,
                 "mae": mean_absolute_error, "MAE": mean_absolute_error,
                 "bce": binary_crossentropy, "BCE": binary_crossentropy})
_AUTO_CE = ("crossentropy", "ce")
_BY_CLASS_NAME = {cls.__name__: cls for cls in _CLASSES + (Crossentropy, LossFunctionWrapper)}


def _valid_names():
    return sorted(set(_BY_NAME) | set(_AUTO_CE), key=str.lower)


def serialize(loss):
    """A JSON-able description of a Loss: {"class_name": ..., "config": {...}}."""
    loss = get(loss)
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize(config):
    """The Loss described by ``serialize``'s output."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Cannot deserialize a loss from {config!r}.")
    cls = _BY_CLASS_NAME.get(config["class_name"])
    if cls is None:
        raise ValueError(f"Unknown loss class {config['class_name']!r}. Valid classes: "
                         f"{', '.join(sorted(_BY_CLASS_NAME))}.")
    return cls.from_config(dict(config.get("config") or {}))


def get(identifier):
    """Resolve a loss given as a string, a function, a Loss class or instance, or a config
    dict, into a Loss instance (None stays None).

    Strings are Keras's: function names ('mean_squared_error', 'binary_crossentropy',
    ...), class names ('MeanSquaredError', ...), the aliases 'mse', 'mae', 'bce' (and
    upper case), and 'crossentropy' / 'ce' (chosen from the data's shapes)."""
    if identifier is None:
        return None
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier.lower() in _AUTO_CE:
            return Crossentropy(name=identifier)
        obj = _BY_NAME.get(identifier)
        if obj is None:        # be lenient about case: 'Mse', 'meansquarederror'
            folded = {k.lower().replace("_", ""): v for k, v in _BY_NAME.items()}
            obj = folded.get(identifier.lower().replace("_", ""))
        if obj is None:
            raise ValueError(f"Unknown loss {identifier!r}. Valid names: "
                             f"{', '.join(_valid_names())}.")
        return obj() if isinstance(obj, type) else _CLASS_BY_FUNCTION[obj]()
    if callable(identifier):
        cls = _CLASS_BY_FUNCTION.get(identifier)
        return cls() if cls is not None else LossFunctionWrapper(identifier)
    raise ValueError(f"Could not interpret loss identifier {identifier!r}. Valid names: "
                     f"{', '.join(_valid_names())}.")
