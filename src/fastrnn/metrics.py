"""Metrics with Keras 3's names and its ``MeanMetricWrapper`` accumulation.

A metric turns one batch into per-sample values (``metric.values(y_true, y_pred)``:
e.g. 0/1 matches for the accuracies, per-sample errors for 'mae') and reduces them as
Keras's ``Mean`` metric does::

    weighted_sum, weight_total = metric.batch_stats(y_true, y_pred, sample_weight, mask)

The epoch value is sum(weighted_sum) / sum(weight_total) over the batches.  Without
weights the total is the number of samples, so that is the mean over all samples; a
``mask`` (booleans with the values' shape, e.g. (B, T)) makes it the mean over the valid
entries; ``sample_weight`` of shape (B,) (or the values' shape) weighs samples.  Keras
updates a compiled ``metrics=[...]`` entry with the mask but without the sample weights
(those go to ``weighted_metrics``).

``update_state`` / ``result`` / ``reset_state`` keep a running state, as in Keras.
Calling a metric object, ``metric(y_true, y_pred)``, returns its per-sample values.

``get(identifier, y_true, y_pred)`` resolves what ``compile(metrics=[...])`` accepts;
'accuracy' / 'acc' become binary, sparse categorical or categorical accuracy from the
shapes of the targets and predictions, exactly as Keras's ``compile_utils.get_metric``.
"""
import numpy as np

from fastrnn import losses
from fastrnn.losses import (binary_crossentropy, categorical_crossentropy, huber,
                            mean_absolute_error, mean_squared_error,
                            sparse_categorical_crossentropy)

mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
bce = BCE = binary_crossentropy


# ------------------------------------------------------------------ metric functions
def accuracy(y_true, y_pred):
    """Per-sample fraction of predictions exactly equal to the targets."""
    p = losses._as_pred(y_pred)
    t = losses._align_true(y_true, p, "accuracy")
    return np.mean(t == p, axis=-1).astype(p.dtype)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Per-sample fraction of (y_pred > threshold) equal to the 0/1 targets."""
    p = losses._as_pred(y_pred)
    t = losses._align_true(y_true, p, "binary_accuracy")
    return np.mean(t == (p > threshold).astype(p.dtype), axis=-1).astype(p.dtype)


def categorical_accuracy(y_true, y_pred):
    """1 where argmax(y_pred) equals argmax(y_true) (one-hot targets), else 0."""
    p = losses._as_pred(y_pred)
    t = np.asarray(y_true)
    if t.shape[:-1] != p.shape[:-1]:
        raise ValueError(f"categorical_accuracy: one-hot targets of shape {t.shape} do not "
                         f"match predictions of shape {p.shape}.")
    return (np.argmax(t, axis=-1) == np.argmax(p, axis=-1)).astype(p.dtype)


def sparse_categorical_accuracy(y_true, y_pred):
    """1 where argmax(y_pred) equals the integer target, else 0."""
    p = losses._as_pred(y_pred)
    t = np.asarray(y_true)
    if t.ndim == p.ndim and t.shape[-1] == 1:
        t = t[..., 0]
    if t.shape != p.shape[:-1]:
        raise ValueError(f"sparse_categorical_accuracy: integer targets of shape "
                         f"{np.shape(y_true)} do not match predictions of shape {p.shape}.")
    return (t == np.argmax(p, axis=-1)).astype(p.dtype)


# ----------------------------------------------------------------- the accumulation
def mean_stats(values, sample_weight=None, mask=None):
    """(weighted_sum, weight_total) of per-sample values, as Keras's Mean metric adds
    them to its ``total`` and ``count``."""
    values = np.asarray(values, dtype=np.float64)
    w = None
    if mask is not None:
        w = losses._align_weights(mask, values.shape, "mask").astype(np.float64)
    if sample_weight is not None:
        sw = np.asarray(sample_weight, dtype=np.float64)
        if w is not None:
            sw = losses._align_weights(sw, values.shape, "sample_weight") * w
        w = sw
    if w is not None:
        # keras reduce_to_samplewise_values: reduce the values to the weights' rank,
        # weigh them, then reduce both to one number per sample.
        values, w = losses._squeeze_or_expand(values, w)
        if values.ndim > w.ndim:
            values = values.mean(axis=tuple(range(w.ndim, values.ndim)))
        try:
            w = np.broadcast_to(w, values.shape)
        except ValueError:
            raise ValueError(f"sample_weight of shape {np.shape(sample_weight)} does not "
                             f"match the metric values of shape {values.shape}.") from None
        values = values * w
        if w.ndim > 1:
            w = w.mean(axis=tuple(range(1, w.ndim)))
    if values.ndim > 1:
        values = values.mean(axis=tuple(range(1, values.ndim)))
    total = float(np.sum(values))
    if w is not None:
        count = float(np.sum(w))
    else:
        count = float(values.shape[0]) if values.ndim >= 1 else 1.0
    return total, count


# ------------------------------------------------------------------------- classes
class Metric:
    """Base class: ``values`` per batch, Keras's mean accumulation, a running state."""

    default_name = "metric"

    def __init__(self, name=None, dtype=None):
        self.name = name or self.default_name
        self.dtype = dtype
        self.reset_state()

    def values(self, y_true, y_pred):
        """Per-sample metric values of one batch."""
        raise NotImplementedError

    def batch_stats(self, y_true, y_pred, sample_weight=None, mask=None):
        """(weighted_sum, weight_total) of one batch; the epoch value is
        sum of weighted sums / sum of totals."""
        return mean_stats(self.values(y_true, y_pred), sample_weight, mask)

    def update_state(self, y_true, y_pred, sample_weight=None, mask=None):
        s, c = self.batch_stats(y_true, y_pred, sample_weight, mask)
        self.total += s
        self.count += c

    def result(self):
        return self.total / self.count if self.count else 0.0

    def reset_state(self):
        self.total = 0.0
        self.count = 0.0

    def __call__(self, y_true, y_pred):
        return self.values(y_true, y_pred)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


class MeanMetricWrapper(Metric):
    """Wrap ``fn(y_true, y_pred, **kwargs)`` returning per-sample values."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        self.fn = fn
        self._fn_kwargs = kwargs
        super().__init__(name=name or getattr(fn, "__name__", None) or "metric", dtype=dtype)

    def values(self, y_true, y_pred):
        return np.asarray(self.fn(y_true, y_pred, **self._fn_kwargs))

    def get_config(self):
        return {**super().get_config(), "fn": getattr(self.fn, "__name__", None),
                **self._fn_kwargs}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        fn = config.pop("fn")
        fn = _FUNCTIONS.get(fn) if isinstance(fn, str) else fn
        if not callable(fn):
            raise ValueError(f"Cannot rebuild MeanMetricWrapper: unknown function {fn!r}.")
        return cls(fn, **config)


def _wrapper_class(class_name, fn, default_name, doc, params=()):
    """A MeanMetricWrapper subclass with Keras's constructor (name, dtype, *params)."""

    def __init__(self, name=default_name, dtype=None, **kwargs):
        unknown = set(kwargs) - {p for p, _ in params}
        if unknown:
            raise TypeError(f"{class_name} got unexpected arguments {sorted(unknown)}.")
        opts = {p: kwargs.get(p, default) for p, default in params}
        self._check(opts)
        for key, value in opts.items():
            setattr(self, key, value)
        MeanMetricWrapper.__init__(self, fn, name=name, dtype=dtype, **opts)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype,
                **{p: getattr(self, p) for p, _ in params}}

    return type(class_name, (MeanMetricWrapper,), {
        "__init__": __init__, "get_config": get_config, "default_name": default_name,
        "_check": staticmethod(lambda opts: None), "__doc__": doc,
        "from_config": classmethod(lambda cls, config: cls(**config))})


Accuracy = _wrapper_class("Accuracy", accuracy, "accuracy",
                          "How often predictions equal the targets exactly.")
BinaryAccuracy = _wrapper_class(
    "BinaryAccuracy", binary_accuracy, "binary_accuracy",
    "How often (y_pred > threshold) matches the 0/1 targets.", (("threshold", 0.5),))


def _check_threshold(opts):
    t = opts["threshold"]
    if t is not None and not 0 < t < 1:
        raise ValueError(f"threshold must be in (0, 1), got {t!r}.")


BinaryAccuracy._check = staticmethod(_check_threshold)
CategoricalAccuracy = _wrapper_class(
    "CategoricalAccuracy", categorical_accuracy, "categorical_accuracy",
    "How often argmax(y_pred) matches the one-hot targets.")
SparseCategoricalAccuracy = _wrapper_class(
    "SparseCategoricalAccuracy", sparse_categorical_accuracy, "sparse_categorical_accuracy",
    "How often argmax(y_pred) matches the integer targets.")
MeanSquaredError = _wrapper_class("MeanSquaredError", mean_squared_error,
                                  "mean_squared_error", "Mean squared error.")
MeanAbsoluteError = _wrapper_class("MeanAbsoluteError", mean_absolute_error,
                                   "mean_absolute_error", "Mean absolute error.")
BinaryCrossentropy = _wrapper_class(
    "BinaryCrossentropy", binary_crossentropy, "binary_crossentropy",
    "Binary crossentropy as a metric.", (("from_logits", False), ("label_smoothing", 0.0)))
CategoricalCrossentropy = _wrapper_class(
    "CategoricalCrossentropy", categorical_crossentropy, "categorical_crossentropy",
    "Categorical crossentropy as a metric.",
    (("from_logits", False), ("label_smoothing", 0.0), ("axis", -1)))
SparseCategoricalCrossentropy = _wrapper_class(
    "SparseCategoricalCrossentropy", sparse_categorical_crossentropy,
    "sparse_categorical_crossentropy", "Sparse categorical crossentropy as a metric.",
    (("from_logits", False), ("axis", -1)))


class AutoAccuracy(Metric):
    """'accuracy' whose kind is chosen from each batch's shapes (used when ``get`` is
    called without data): binary, sparse categorical or categorical, as Keras does."""

    default_name = "accuracy"

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def values(self, y_true, y_pred):
        cls = _ACCURACY_BY_KIND[losses.crossentropy_kind(np.shape(y_true), np.shape(y_pred))]
        return _ACCURACY_FN[cls](y_true, y_pred)


_ACCURACY_BY_KIND = {"binary": BinaryAccuracy, "sparse": SparseCategoricalAccuracy,
                     "categorical": CategoricalAccuracy}
_ACCURACY_FN = {BinaryAccuracy: binary_accuracy, SparseCategoricalAccuracy:
                sparse_categorical_accuracy, CategoricalAccuracy: categorical_accuracy}


def accuracy_class(y_true, y_pred):
    """The accuracy class Keras picks for 'accuracy' given these targets/predictions."""
    return _ACCURACY_BY_KIND[losses.crossentropy_kind(np.shape(y_true), np.shape(y_pred))]


# ------------------------------------------------------------------- lookup by name
_CLASSES = (Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
            MeanSquaredError, MeanAbsoluteError, BinaryCrossentropy, CategoricalCrossentropy,
            SparseCategoricalCrossentropy)
_FUNCTIONS = {fn.__name__: fn for fn in (
    accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
    mean_squared_error, mean_absolute_error, huber, binary_crossentropy,
    categorical_crossentropy, sparse_categorical_crossentropy)}
# Keras 3's metrics ALL_OBJECTS_DICT: class names, their snake_case names, aliases.
_BY_NAME = {cls.__name__: cls for cls in _CLASSES}
_BY_NAME.update({cls.default_name: cls for cls in _CLASSES})
_BY_NAME.update({"mse": MeanSquaredError, "MSE": MeanSquaredError,
                 "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
                 "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
                 "huber": huber})
_BY_CLASS_NAME = {cls.__name__: cls for cls in _CLASSES + (MeanMetricWrapper, AutoAccuracy)}


def _valid_names():
    return sorted(set(_BY_NAME) | {"accuracy", "acc"}, key=str.lower)


def serialize(metric):
    """{"class_name": ..., "config": {...}} for a Metric."""
    return {"class_name": type(metric).__name__, "config": metric.get_config()}


def deserialize(config):
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Cannot deserialize a metric from {config!r}.")
    cls = _BY_CLASS_NAME.get(config["class_name"])
    if cls is None:
        raise ValueError(f"Unknown metric class {config['class_name']!r}. Valid classes: "
                         f"{', '.join(sorted(_BY_CLASS_NAME))}.")
    return cls.from_config(dict(config.get("config") or {}))


def _is_shape(value):
    return isinstance(value, (tuple, list)) and all(
        d is None or isinstance(d, (int, np.integer)) for d in value)


def get(identifier, y_true=None, y_pred=None):
    """Resolve a compiled metric into a Metric whose ``.name`` is the history key.

    ``identifier``: a string ('accuracy', 'acc', 'mae', 'mse', 'binary_accuracy',
    'categorical_accuracy', 'sparse_categorical_accuracy', 'binary_crossentropy', ...,
    or a class name such as 'BinaryAccuracy'), a function ``fn(y_true, y_pred)``
    returning per-sample values, a Loss, a Metric class or instance, or a config dict.
    The name is the string as given, a function's ``__name__``, or the object's name.
    ``y_true`` / ``y_pred`` (arrays of one batch) choose the kind of 'accuracy'; without
    them 'accuracy' is resolved on every batch from its shapes.
    """
    if identifier is None:
        return None
    if isinstance(y_true, losses.Loss) or _is_shape(y_pred):
        y_true = y_pred = None       # the older get(identifier, loss, output_shape) call
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            if y_true is None or y_pred is None:
                return AutoAccuracy(name=identifier)
            return accuracy_class(y_true, y_pred)(name=identifier)
        obj = _BY_NAME.get(identifier)
        if obj is None:        # be lenient about case: 'Mae', 'binaryaccuracy'
            folded = {k.lower().replace("_", ""): v for k, v in _BY_NAME.items()}
            obj = folded.get(identifier.lower().replace("_", ""))
        if obj is None:
            raise ValueError(f"Unknown metric {identifier!r}. Valid names: "
                             f"{', '.join(_valid_names())}.")
        if isinstance(obj, type):
            return obj(name=identifier)
        return MeanMetricWrapper(obj, name=identifier)
    if isinstance(identifier, losses.Loss):
        return MeanMetricWrapper(identifier.call, name=identifier.name)
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=getattr(identifier, "__name__", None))
    raise ValueError(f"Could not interpret metric identifier {identifier!r}. Valid names: "
                     f"{', '.join(_valid_names())}.")
