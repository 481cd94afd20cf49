"""Callbacks with Keras 3's names, arguments, defaults and behaviour.

    model.fit(x, y, epochs=100, validation_split=0.2,
              callbacks=[EarlyStopping(patience=5, restore_best_weights=True),
                         ReduceLROnPlateau(factor=0.5, patience=2),
                         CSVLogger("log.csv")])

``Callback`` is the base class (override any ``on_*`` hook); ``CallbackList`` calls a
hook on every callback in order.  ``fit`` adds ``History`` and, unless ``verbose=0``,
``ProgbarLogger`` after the user's callbacks, as Keras does, so both see what the
user's callbacks add to the epoch logs (e.g. ``learning_rate``).

``Progbar`` and ``ProgbarLogger`` reproduce Keras 3's progress bar byte for byte
(``keras.utils.Progbar``, Keras 3.15): with ``verbose=1`` a bar rewritten in place
(``\\b``/``\\r``) at most every 0.05 s, with the ETA while an epoch runs and the
elapsed time at its end; with ``verbose=2`` one line per epoch.  Like Keras, the
display is rewritten in place whenever stdout is a terminal, in a notebook, or on any
POSIX system; elsewhere each update starts a new line.
"""
import collections
import csv
import math
import os
import sys
import time
import warnings

import numpy as np

__all__ = [
    "Callback", "CallbackList", "History", "ProgbarLogger", "Progbar", "EpochLogger",
    "EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau", "TerminateOnNaN",
    "LambdaCallback", "CSVLogger", "LearningRateScheduler",
]

# The clock of every progress bar; tests replace it to make timings deterministic.
_now = time.time


def _print_msg(message, line_break=True, stream=None):
    """Keras's ``io_utils.print_msg``: write to (the current) sys.stdout and flush."""
    stream = stream or sys.stdout
    stream.write(message + "\n" if line_break else message)
    stream.flush()


def _default(method):
    """Marks a base-class hook, so that CallbackList can skip callbacks that keep it."""
    method._is_default = True
    return method


def _is_default(bound):
    return getattr(bound, "_is_default", False)


# ====================================================================== base class
class Callback:
    """Base class: override any of Keras's hooks.  ``fit`` sets ``self.model`` and
    ``self.params`` (``{'epochs', 'steps', 'verbose'}``) before training begins."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    @_default
    def on_batch_begin(self, batch, logs=None):
        """Backwards-compatible alias of ``on_train_batch_begin``."""

    @_default
    def on_batch_end(self, batch, logs=None):
        """Backwards-compatible alias of ``on_train_batch_end``."""

    @_default
    def on_epoch_begin(self, epoch, logs=None):
        """Start of an epoch (training only)."""

    @_default
    def on_epoch_end(self, epoch, logs=None):
        """End of an epoch; logs hold the epoch's metrics and the val_* ones."""

    @_default
    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    @_default
    def on_train_batch_end(self, batch, logs=None):
        """logs: the metrics averaged over the epoch's batches so far."""
        self.on_batch_end(batch, logs=logs)

    @_default
    def on_test_batch_begin(self, batch, logs=None): pass

    @_default
    def on_test_batch_end(self, batch, logs=None): pass

    @_default
    def on_predict_batch_begin(self, batch, logs=None): pass

    @_default
    def on_predict_batch_end(self, batch, logs=None): pass

    @_default
    def on_train_begin(self, logs=None): pass

    @_default
    def on_train_end(self, logs=None): pass

    @_default
    def on_test_begin(self, logs=None): pass

    @_default
    def on_test_end(self, logs=None): pass

    @_default
    def on_predict_begin(self, logs=None): pass

    @_default
    def on_predict_end(self, logs=None): pass


# ================================================================== CallbackList
_HOOKS = (
    "on_batch_begin", "on_batch_end", "on_epoch_begin", "on_epoch_end",
    "on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin",
    "on_test_batch_end", "on_predict_batch_begin", "on_predict_batch_end",
    "on_train_begin", "on_train_end", "on_test_begin", "on_test_end",
    "on_predict_begin", "on_predict_end",
)
# The base class's train-batch hooks call these aliases.
_ALIASES = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}


def _pythonify_logs(logs):
    """Keras's log normalisation (every hook): keys sorted, nested dicts flattened, values
    converted to Python floats where possible."""
    result = {}
    for key, value in sorted(logs.items()):
        if isinstance(value, dict):
            result.update(_pythonify_logs(value))
        else:
            try:
                value = float(value)
            except (TypeError, ValueError):
                pass
            result[key] = value
    return result


class CallbackList(Callback):
    """Calls a hook on every callback, in order (Keras's ``CallbackList``).

    ``CallbackList(callbacks, add_history=False, add_progbar=False, model=None,
    **params)``: ``add_history``/``add_progbar`` append a ``History``/``ProgbarLogger``
    unless the list already holds one; ``params`` (``epochs``, ``steps``,
    ``verbose``) go to every callback's ``set_params``.  Every callback receives the
    same logs dict, normalised as in Keras 3 (a copy with the keys sorted and the values
    Python floats), so what one adds (ReduceLROnPlateau's ``learning_rate``) is seen by
    the next ones, e.g. History.  Callbacks that keep a hook's base no-op are not called
    for it.  The legacy form ``CallbackList(callbacks, model, params)`` works too.
    """

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None,
                 **params):
        if not isinstance(add_history, (bool, int, type(None))) and (
                isinstance(add_progbar, dict)):
            # Legacy positional form CallbackList(callbacks, model, params).
            model, params = add_history, dict(add_progbar)
            add_history = add_progbar = False
        super().__init__()
        if isinstance(callbacks, Callback):
            callbacks = [callbacks]
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"Callbacks must be fastrnn.callbacks.Callback instances, "
                                f"got {cb!r}.")
        self._progbar = None
        self._history = None
        for cb in self.callbacks:
            if isinstance(cb, ProgbarLogger):
                self._progbar = cb
            elif isinstance(cb, History):
                self._history = cb
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if self._progbar is None and add_progbar:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)
        self._refresh()
        self.set_model(model)
        self.set_params(params)

    def _refresh(self):
        """For each hook, the callbacks that do something in it (others are skipped)."""
        active = {}
        for hook in _HOOKS:
            alias = _ALIASES.get(hook)
            active[hook] = [
                cb for cb in self.callbacks
                if not _is_default(getattr(cb, hook))
                or (alias is not None and not _is_default(getattr(cb, alias)))]
        self._active = active

    def append(self, callback):
        if not isinstance(callback, Callback):
            raise TypeError(f"Callbacks must be fastrnn.callbacks.Callback instances, "
                            f"got {callback!r}.")
        self.callbacks.append(callback)
        if self.model is not None:
            callback.set_model(self.model)
        if self.params:
            callback.set_params(self.params)
        self._refresh()

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self):
        return len(self.callbacks)

    def set_model(self, model):
        if model is None:
            return
        super().set_model(model)
        if self._history is not None:
            model.history = self._history
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params):
        self.params = params
        if params:
            for cb in self.callbacks:
                cb.set_params(params)

    # ------------------------------------------------------------ dispatch
    def wants(self, hook):
        """Whether any callback does something in ``hook`` (else its logs are unused)."""
        return bool(self._active[hook])

    def _call(self, hook, *args):
        """Call ``hook`` on the callbacks that implement it, all with one logs dict:
        a sorted copy of the given logs with Python floats (Keras's pythonify_logs)."""
        callbacks = self._active[hook]
        if not callbacks:
            return
        *args, logs = args
        logs = _pythonify_logs(logs or {})
        for cb in callbacks:
            getattr(cb, hook)(*args, logs)

    def _call_batch(self, hook, batch, logs):
        callbacks = self._active[hook]
        if not callbacks:
            return
        logs = _pythonify_logs(logs or {})
        for cb in callbacks:
            getattr(cb, hook)(batch, logs=logs)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs)

    def on_test_begin(self, logs=None):
        self._call("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self._call("on_test_end", logs)

    def on_predict_begin(self, logs=None):
        self._call("on_predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", logs)

    def on_batch_begin(self, batch, logs=None):
        self._call_batch("on_batch_begin", batch, logs)

    def on_batch_end(self, batch, logs=None):
        self._call_batch("on_batch_end", batch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call_batch("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call_batch("on_train_batch_end", batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call_batch("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call_batch("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call_batch("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call_batch("on_predict_batch_end", batch, logs)


# ======================================================================= History
class History(Callback):
    """Records every epoch's logs: ``history.history['loss']`` etc.; ``history.epoch``
    lists the epoch indices.  Set as ``model.history``."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self


# ================================================================ progress bar
class Progbar:
    """Keras's progress bar (``keras.utils.Progbar``).

    Args:
        target: total number of steps, None if unknown.
        width: bar width in characters.
        verbose: 0 silent, 1 live bar, 2 one line when finalized.
        interval: minimum time between two redraws of the live bar, in seconds.
        stateful_metrics: names displayed as given; all others are averaged over
            the updates (Keras's default).  stateless_metrics: the converse; give
            at most one of the two.
        unit_name: 'step' or 'sample'.
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None,
                 stateless_metrics=None, unit_name="step"):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError(
                "Only one of `stateful_metrics` or `stateless_metrics` can be provided. "
                "`stateful_metrics` is used to make metrics stateless by default (with an "
                "exclusion list), while `stateless_metrics` is used to make metrics "
                "stateful by default (with an exclusion list).")
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        if stateful_metrics is not None:
            self.stateful_metrics = set(stateful_metrics)
            self.stateless_metrics = None
        elif stateless_metrics is not None:
            self.stateful_metrics = None
            self.stateless_metrics = set(stateless_metrics)
        else:
            self.stateful_metrics = set()
            self.stateless_metrics = None
        self._stream = None
        self._dynamic_display = (
            (hasattr(sys.stdout, "isatty") and sys.stdout.isatty())
            or "ipykernel" in sys.modules
            or "posix" in sys.modules
            or "PYCHARM_HOSTED" in os.environ)
        self._seen_so_far = 0
        self._values = {}
        self._values_order = []
        self._start = _now()
        self._last_update = 0
        self._time_after_first_step = None
        self._prev_total_width = 0

    def update(self, current, values=None, finalize=None):
        """Show step ``current``; ``values`` is a list of (name, value) pairs."""
        if finalize is None:
            finalize = False if self.target is None else current >= self.target

        for k, v in values or []:
            if k not in self._values_order:
                self._values_order.append(k)
            if self.stateful_metrics is not None:
                stateless = k not in self.stateful_metrics
            else:
                stateless = k in self.stateless_metrics
            if stateless:
                if finalize:
                    self._values[k] = [v, 1]
                else:
                    value_base = max(current - self._seen_so_far, 1)
                    if k not in self._values:
                        self._values[k] = [v * value_base, value_base]
                    else:
                        self._values[k][0] += v * value_base
                        self._values[k][1] += value_base
            else:
                self._values[k] = [v, 1]
        self._seen_so_far = current

        now = _now()
        time_per_unit = self._estimate_step_duration(current, now)
        has_target = self.target is not None and self.target > 0

        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            special_char_len = 0
            if self._dynamic_display:
                message = "\b" * self._prev_total_width + "\r"
            else:
                message = "\n"
            if has_target:
                numdigits = int(math.log10(self.target)) + 1
                bar = (f"%{numdigits}d/%d") % (current, self.target)
                bar = f"\x1b[1m{bar}\x1b[0m "
                special_char_len += 8
                prog_width = int(self.width * (float(current) / self.target))
                if prog_width > 0:
                    bar += f"\x1b[32m{'━' * prog_width}\x1b[0m"
                    special_char_len += 9
                bar += f"\x1b[37m{'━' * (self.width - prog_width)}\x1b[0m"
                special_char_len += 9
            else:
                bar = "%7d/Unknown" % current
            message += bar

            if has_target and not finalize:
                eta = time_per_unit * (self.target - current)
                if eta > 3600:
                    eta_format = "%d:%02d:%02d" % (eta // 3600, (eta % 3600) // 60, eta % 60)
                elif eta > 60:
                    eta_format = "%d:%02d" % (eta // 60, eta % 60)
                else:
                    eta_format = "%ds" % eta
                info = f" \x1b[1m{eta_format}\x1b[0m"
            else:
                info = f" \x1b[1m{now - self._start:.0f}s\x1b[0m"
            special_char_len += 8
            info += self._format_time(time_per_unit, self.unit_name)

            for k in self._values_order:
                info += f" - {k}:"
                if isinstance(self._values[k], list):
                    total, count = self._values[k]
                    if not isinstance(total, float):
                        total = np.mean(total)
                    avg = total / max(1, count)
                    info += f" {avg:.4f}" if abs(avg) > 1e-3 else f" {avg:.4e}"
                else:
                    info += f" {self._values[k]}"
            message += info

            total_width = len(bar) + len(info) - special_char_len
            if self._prev_total_width > total_width:
                message += " " * (self._prev_total_width - total_width)
            if finalize:
                message += "\n"
            _print_msg(message, line_break=False, stream=self._stream)
            self._prev_total_width = total_width

        elif self.verbose == 2:
            if finalize and has_target:
                numdigits = int(math.log10(self.target)) + 1
                count = f"%{numdigits}d/%d" % (current, self.target)
                info = f"{count} - {now - self._start:.0f}s"
                info += f" -{self._format_time(time_per_unit, self.unit_name)}"
                for k in self._values_order:
                    info += f" - {k}:"
                    total, n = self._values[k]
                    if not isinstance(total, float):
                        total = np.mean(total)
                    avg = total / max(1, n)
                    # Keras compares the signed value here (abs() in verbose=1).
                    info += f" {avg:.4f}" if avg > 1e-3 else f" {avg:.4e}"
                _print_msg(info + "\n", line_break=False, stream=self._stream)

        self._last_update = now

    def add(self, n, values=None):
        self.update(self._seen_so_far + n, values)

    @staticmethod
    def _format_time(time_per_unit, unit_name):
        if time_per_unit >= 1 or time_per_unit == 0:
            return f" {time_per_unit:.0f}s/{unit_name}"
        if time_per_unit >= 1e-3:
            return f" {time_per_unit * 1000.0:.0f}ms/{unit_name}"
        return f" {time_per_unit * 1000000.0:.0f}us/{unit_name}"

    def _estimate_step_duration(self, current, now):
        """Seconds per step; ignores the (compile-heavy in Keras) first step once
        more steps are done."""
        if not current:
            return 0
        if self._time_after_first_step is not None and current > 1:
            time_per_unit = (now - self._time_after_first_step) / (current - 1)
        else:
            time_per_unit = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return time_per_unit


class ProgbarLogger(Callback):
    """Prints the progress bar and the metrics to stdout (Keras's ``ProgbarLogger``).

    Its verbosity comes from ``params['verbose']`` ('auto' means 1): 1 draws the live
    bar, 2 prints one line per epoch, 0 prints nothing.  'Epoch i/N' lines appear only
    when N > 1.  Inside ``fit`` the validation pass is silent; on its own (``evaluate``,
    ``predict``) it shows their progress.
    """

    def __init__(self):
        super().__init__()
        self.seen = 0
        self.progbar = None
        self.target = None
        self.verbose = 1
        self.epochs = 1
        self._called_in_fit = False
        self._stream = None

    def set_params(self, params):
        super().set_params(params)
        verbose = params["verbose"]
        if verbose == "auto":
            verbose = 1
        self.verbose = verbose
        self.epochs = params["epochs"]
        self.target = params["steps"]

    def on_train_begin(self, logs=None):
        # Inside fit, validation is silent.
        self._called_in_fit = True

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._reset_progbar()
            self._maybe_init_progbar()

    def on_predict_begin(self, logs=None):
        self._reset_progbar()
        self._maybe_init_progbar()

    def on_epoch_begin(self, epoch, logs=None):
        self._reset_progbar()
        self._maybe_init_progbar()
        if self.verbose and self.epochs > 1:
            _print_msg(f"Epoch {epoch + 1}/{self.epochs}", stream=self._stream)

    def on_train_batch_end(self, batch, logs=None):
        self._update_progbar(batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update_progbar(batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._update_progbar(batch, None)  # never show the predictions

    def on_epoch_end(self, epoch, logs=None):
        self._finalize_progbar(logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finalize_progbar(logs)

    def on_predict_end(self, logs=None):
        self._finalize_progbar(logs)

    def _reset_progbar(self):
        self.seen = 0
        self.progbar = None

    def _maybe_init_progbar(self):
        if self.progbar is None:
            self.progbar = Progbar(target=self.target, verbose=self.verbose,
                                   unit_name="step", stateless_metrics=set())
            self.progbar._stream = self._stream

    def _update_progbar(self, batch, logs=None):
        logs = logs or {}
        self._maybe_init_progbar()
        self.seen = batch + 1
        if self.verbose == 1:
            self.progbar.update(self.seen, list(logs.items()), finalize=False)

    def _finalize_progbar(self, logs):
        logs = logs or {}
        self._maybe_init_progbar()
        if self.target is None:
            self.target = self.seen
            self.progbar.target = self.target
        self.progbar.update(self.target, list(logs.items()), finalize=True)


class EpochLogger(ProgbarLogger):
    """fastrnn's earlier one-line-per-epoch logger: a ``ProgbarLogger`` that always
    prints as ``verbose=2`` ('Epoch 3/10' then '16/16 - 0s - 1ms/step - loss: ...'),
    to ``stream`` (default sys.stdout).  New code should use ``ProgbarLogger``."""

    def __init__(self, stream=None):
        super().__init__()
        self._stream = stream

    def set_params(self, params):
        super().set_params(params)
        self.verbose = 2


# ============================================================ monitored quantity
# Directions of Keras's built-in metrics (their ``_direction``), by name.
_UP_METRICS = {
    "acc", "accuracy", "binary_accuracy", "categorical_accuracy",
    "sparse_categorical_accuracy", "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy", "auc", "precision", "recall", "f1_score",
    "fbeta_score", "r2_score", "cosine_similarity", "iou", "mean_iou",
}
_DOWN_METRICS = {
    "loss", "mse", "mae", "mape", "msle", "rmse", "mean_squared_error",
    "mean_absolute_error", "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error", "root_mean_squared_error", "hinge",
    "squared_hinge", "categorical_hinge", "logcosh", "log_cosh", "kl_divergence", "kld",
    "poisson", "huber", "binary_crossentropy", "categorical_crossentropy",
    "sparse_categorical_crossentropy", "binary_focal_crossentropy",
    "categorical_focal_crossentropy",
}


def _metric_direction(model, name):
    """'up', 'down' or None for the metric called ``name`` (without 'val_')."""
    if name == "loss":
        return "down"
    for metric in getattr(model, "metrics", None) or []:
        if getattr(metric, "name", None) == name:
            direction = getattr(metric, "_direction", None)
            if direction in ("up", "down"):
                return direction
    key = name.lower()
    if key in _UP_METRICS or "acc" in key or key.endswith("auc"):
        return "up"
    if key in _DOWN_METRICS or key.endswith(("_loss", "_error", "crossentropy")):
        return "down"
    return None


def _less(a, b):
    return bool(np.less(a, b))


def _greater(a, b):
    return bool(np.greater(a, b))


class MonitorCallback(Callback):
    """Base of the callbacks that watch one quantity (Keras's ``MonitorCallback``).

    mode 'min'/'max' fixes the direction; 'auto' infers it: 'loss'/'val_loss' and the
    error metrics are minimised, accuracies (names containing 'acc'), AUC, precision,
    recall... maximised; a metric object with a Keras ``_direction`` says it itself.
    An unknown name in 'auto' mode raises ValueError, as in Keras.
    """

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ["auto", "min", "max"]:
            warnings.warn(f"{self.__class__.__name__} mode '{mode}' is unknown, fallback "
                          "to auto mode.", stacklevel=3)
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def _set_monitor_op(self):
        if self.mode == "min":
            self.monitor_op = _less
        elif self.mode == "max":
            self.monitor_op = _greater
        else:
            direction = _metric_direction(self.model, self.monitor.removeprefix("val_"))
            if direction is None:
                raise ValueError(
                    f"{self.__class__.__name__} callback received "
                    f"monitor={self.monitor}, but Keras isn't able to "
                    "automatically determine whether that metric should be "
                    "maximized or minimized. Pass `mode='max'` in order to "
                    "monitor based on the highest metric value, or pass "
                    "`mode='min'` in order to use the lowest value.")
            self.monitor_op = _greater if direction == "up" else _less
        if self.monitor_op is _less:
            self.min_delta *= -1

    def _is_improvement(self, monitor_value, reference_value):
        if reference_value is None:
            return True
        return self.monitor_op(monitor_value - self.min_delta, reference_value)


class EarlyStopping(MonitorCallback):
    """Stop training when a monitored quantity has stopped improving.

    After each epoch (from ``start_from_epoch`` on), an improvement by more than
    ``min_delta`` resets the wait; after ``patience`` epochs without one (never at
    epoch 0) ``model.stop_training`` is set.  With ``baseline``, the wait is reset only
    by values that also beat the baseline.  ``restore_best_weights`` puts back the
    weights of the best epoch when training ends (also when it was not stopped early).
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.wait = 0
        self.stopped_epoch = 0
        self.restore_best_weights = restore_best_weights
        self.best_weights = None
        self.best_epoch = 0
        self.start_from_epoch = start_from_epoch

    def on_train_begin(self, logs=None):
        # Instances can be reused across fit calls.
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # Until something better comes, the current weights are the best.
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch

        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return

        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            _print_msg(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                _print_msg("Restoring model weights from the end of the best epoch: "
                           f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs):
        logs = logs or {}
        monitor_value = logs.get(self.monitor)
        if monitor_value is None:
            warnings.warn(f"Early stopping conditioned on metric `{self.monitor}` which is "
                          f"not available. Available metrics are: {','.join(list(logs))}",
                          stacklevel=2)
        return monitor_value


class ModelCheckpoint(MonitorCallback):
    """Save the model (``model.save``) or its weights (``model.save_weights``).

    ``filepath`` may hold ``{epoch}`` (1-based), ``{batch}`` and any log key:
    ``'ckpt/{epoch:02d}-{val_loss:.2f}.keras'``; missing directories are created.
    ``save_best_only`` saves only when ``monitor`` improves on the best so far (which
    starts at ``initial_value_threshold``); ``save_freq`` is 'epoch' or a number of
    batches.  The name must end in '.keras' (whole model) or, with
    ``save_weights_only``, in '.weights.h5' or '.weights.npz' (fastrnn's format either
    way, see fastrnn.saving).
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__(monitor, mode, initial_value_threshold)
        self.verbose = verbose
        self.filepath = os.fspath(filepath) if isinstance(filepath, os.PathLike) else filepath
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = None
        self._current_epoch = 0
        if self.save_freq != "epoch" and (not isinstance(self.save_freq, int)
                                          or isinstance(self.save_freq, bool)):
            raise ValueError(f"Unrecognized save_freq: {self.save_freq}. "
                             "Expected save_freq are 'epoch' or integer values")
        # Checked here, as in Keras, rather than after the first epoch; the names are
        # those fastrnn.saving writes ('.h5' full models are Keras-only).
        if save_weights_only:
            if not self.filepath.endswith((".weights.h5", ".weights.npz")):
                raise ValueError(
                    "When using `save_weights_only=True` in `ModelCheckpoint`, the filepath "
                    "provided must end in `.weights.h5` (Keras weights format) or "
                    f"`.weights.npz`. Received: filepath={self.filepath}")
        elif not self.filepath.endswith(".keras"):
            raise ValueError("The filepath provided must end in `.keras` (Keras model "
                             f"format). Received: filepath={self.filepath}")

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model(epoch=self._current_epoch, batch=batch, logs=logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save_model(epoch=epoch, batch=None, logs=logs)

    def _should_save_on_batch(self, batch):
        if self.save_freq == "epoch":
            return False
        if self._last_batch_seen is None or batch <= self._last_batch_seen:
            add_batches = batch + 1  # a new epoch: batches are 0-based
        else:
            add_batches = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += add_batches
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _should_save_model(self, epoch, batch, logs, filepath):
        logs = logs or {}
        if not self.save_best_only:
            if self.verbose > 0:
                _print_msg(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        # The direction is only needed (and only inferred) when it is used.
        if self.monitor_op is None:
            self._set_monitor_op()
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.",
                          stacklevel=2)
            return True
        if isinstance(current, np.ndarray) and current.ndim > 0:
            warnings.warn("Can save best model only when `monitor` is a scalar value. "
                          f"Received: {current}. Falling back to `save_best_only=False`.")
            return True
        best_str = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                _print_msg(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best_str} "
                           f"to {current:.5f}, saving model to {filepath}")
            self.best = current
            return True
        if self.verbose > 0:
            _print_msg(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best_str}")
        return False

    def _save_model(self, epoch, batch, logs):
        logs = logs or {}
        filepath = self._get_file_path(epoch, batch, logs)
        try:
            if self._should_save_model(epoch, batch, logs, filepath):
                dirname = os.path.dirname(filepath)
                if dirname and not os.path.exists(dirname):
                    os.makedirs(dirname, exist_ok=True)
                if self.save_weights_only:
                    self.model.save_weights(filepath, overwrite=True)
                else:
                    self.model.save(filepath, overwrite=True)
                if self.verbose > 0:
                    _print_msg(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")
        except IsADirectoryError:
            raise IOError("Please specify a non-directory filepath for ModelCheckpoint. "
                          f"Filepath used is an existing directory: {filepath}")

    def _get_file_path(self, epoch, batch, logs):
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as e:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". '
                           f"Reason: {e}")


class ReduceLROnPlateau(MonitorCallback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved by
    more than ``min_delta`` for ``patience`` epochs; then wait ``cooldown`` epochs.
    The rate never goes below ``min_lr``.  Adds 'learning_rate' to the epoch logs."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0, **kwargs):
        super().__init__(monitor, mode, min_delta=min_delta)
        if factor >= 1.0:
            raise ValueError("ReduceLROnPlateau does not support a factor >= 1.0. "
                             f"Received factor={factor}")
        self.factor = factor
        self.min_lr = min_lr
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.cooldown_counter = 0
        self.wait = 0

    def _reset(self):
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def _reduce_optimizer_lr(self, optimizer, epoch):
        old_lr = float(optimizer.learning_rate)
        if old_lr > np.float32(self.min_lr):
            new_lr = max(old_lr * self.factor, self.min_lr)
            optimizer.learning_rate = new_lr
            if self.verbose > 0:
                _print_msg(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing "
                           f"learning rate to {new_lr}.")
            return True
        return False

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = {} if logs is None else logs
        logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn("Learning rate reduction is conditioned on metric "
                          f"`{self.monitor}` which is not available. Available metrics "
                          f"are: {','.join(list(logs))}.", stacklevel=2)
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                if self._reduce_optimizer_lr(self.model.optimizer, epoch):
                    self.cooldown_counter = self.cooldown
                    self.wait = 0

    def in_cooldown(self):
        return self.cooldown_counter > 0


# ================================================================ the small ones
class TerminateOnNaN(Callback):
    """Stop training when a batch's loss is NaN or infinite: ``model.stop_training``
    (the default), or a RuntimeError at once with ``raise_error=True``."""

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        logs = logs or {}
        loss = logs.get("loss")
        if loss is not None and (np.isnan(loss) or np.isinf(loss)):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. "
                                   f"Loss value: {loss}. Terminating training immediately.")
            _print_msg(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback made of functions: ``on_epoch_end=lambda epoch, logs: ...``.

    The six named hooks, and any other hook as a keyword (``on_test_end=f``); each
    function takes the same arguments as the hook (batch hooks get ``logs`` by
    keyword)."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        super().__init__()
        self.__dict__.update(kwargs)
        if on_epoch_begin is not None:
            self.on_epoch_begin = on_epoch_begin
        if on_epoch_end is not None:
            self.on_epoch_end = on_epoch_end
        if on_train_begin is not None:
            self.on_train_begin = on_train_begin
        if on_train_end is not None:
            self.on_train_end = on_train_end
        if on_train_batch_begin is not None:
            self.on_train_batch_begin = on_train_batch_begin
        if on_train_batch_end is not None:
            self.on_train_batch_end = on_train_batch_end


class CSVLogger(Callback):
    """Write one row per epoch to a CSV file: 'epoch' (0-based) then the log keys in
    sorted order.  As in Keras, when the first epoch has no val_* keys, a val_ column
    per key is added (filled with 'NA'), and rows end in '\\r\\n' (csv's excel dialect).
    ``append=True`` continues an existing file (header only if it is empty)."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.sep = separator
        self.filename = os.fspath(filename) if isinstance(filename, os.PathLike) else filename
        self.append = append
        self.writer = None
        self.keys = None
        self.append_header = True
        self.csv_file = None

    def on_train_begin(self, logs=None):
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename, "r") as f:
                    self.append_header = not bool(len(f.readline()))
            mode = "a"
        else:
            mode = "w"
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, mode)
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}

        def handle_value(k):
            is_zero_dim_ndarray = isinstance(k, np.ndarray) and k.ndim == 0
            if isinstance(k, str):
                return k
            if isinstance(k, collections.abc.Iterable) and not is_zero_dim_ndarray:
                return f'"[{", ".join(map(str, k))}]"'
            return k

        if self.keys is None:
            self.keys = sorted(logs.keys())
            if self.keys and not any(key.startswith("val_") for key in self.keys):
                self.keys.extend([f"val_{k}" for k in self.keys])

        if not self.writer:
            class CustomDialect(csv.excel):
                delimiter = self.sep

            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys,
                                         dialect=CustomDialect)
            if self.append_header:
                self.writer.writeheader()

        row = collections.OrderedDict({"epoch": epoch})
        row.update((key, handle_value(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of every epoch to ``schedule(epoch, lr)``
    (``schedule(epoch)`` also works); adds 'learning_rate' to the epoch logs."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def _update_optimizer_lr(self, optimizer, epoch):
        if not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        try:
            learning_rate = self.schedule(epoch, float(optimizer.learning_rate))
        except TypeError:  # the old one-argument schedule(epoch)
            learning_rate = self.schedule(epoch)
        if not isinstance(learning_rate, (float, np.float32, np.float64)):
            raise ValueError("The output of the `schedule` function should be a float. "
                             f"Got: {learning_rate}")
        optimizer.learning_rate = learning_rate
        return learning_rate

    def on_epoch_begin(self, epoch, logs=None):
        learning_rate = self._update_optimizer_lr(self.model.optimizer, epoch)
        if self.verbose > 0:
            _print_msg(f"\nEpoch {epoch + 1}: LearningRateScheduler setting "
                       f"learning rate to {learning_rate}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)
