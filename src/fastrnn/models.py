"""Sequential: Keras's linear stack of layers, with compile / fit / evaluate / predict.

Every public entry point validates its arguments in Python (``fastrnn.data``) before
anything reaches the unchecked compiled kernels.  Inference (predict, evaluate, calls)
keeps its intermediates per thread, so several threads may predict with one model at
once.  A Ctrl-C during ``fit`` or ``train_on_batch`` is delayed to the end of the
optimizer step it lands in, so the KeyboardInterrupt leaves the weights of a completed
step (a second Ctrl-C interrupts at once).
"""
import signal
import threading

try:                      # the C module: a handler swap costs well under a microsecond
    import _signal as _sig
except ImportError:       # pragma: no cover - other Python implementations
    _sig = signal

import numpy as np

from fastrnn import _plan, callbacks as callbacks_module
from fastrnn import config, losses, metrics as metrics_module, optimizers, utils
from fastrnn.data import (adjust_rank, check_batch_size, check_epochs, check_flag,
                          check_fraction, check_verbose, to_float_array, to_int_array)
from fastrnn.layers.base import Layer, unique_name
from fastrnn.layers.core import InputLayer


def load_model(filepath, custom_objects=None, compile=True):
    """Load a model written by ``Sequential.save`` (the file never runs code)."""
    from fastrnn import saving
    return saving.load_model(filepath, custom_objects=custom_objects, compile=compile)


class _StepGuard:
    """Delays a Ctrl-C (SIGINT) that arrives during an optimizer step to the step's end.

    Active only in the main thread and only while Python's default SIGINT handler is
    installed (a handler of the user's is left alone).  Outside a step, and on a second
    Ctrl-C within one step, KeyboardInterrupt is raised at once as usual.
    """

    def __init__(self):
        self.in_step = False
        self.pending = False
        self._previous = None

    def __enter__(self):
        if threading.get_ident() == threading.main_thread().ident:
            try:
                if _sig.getsignal(signal.SIGINT) is signal.default_int_handler:
                    self._previous = _sig.signal(signal.SIGINT, self._handler)
            except (ValueError, OSError):      # not the main interpreter, ...
                self._previous = None
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            _sig.signal(signal.SIGINT, self._previous)
            self._previous = None
        return False

    def _handler(self, signum, frame):
        if self.in_step and not self.pending:
            self.pending = True
            return
        raise KeyboardInterrupt

    def run(self, step, *args):
        """``step(*args)``, then the delayed KeyboardInterrupt if Ctrl-C came meanwhile."""
        self.in_step = True
        try:
            result = step(*args)
        finally:
            self.in_step = False
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt
        return result


class Sequential:
    """A stack of layers, each feeding the next.

    ``Sequential([Input(shape=(T, I)), SimpleRNN(16), Dense(1)])`` or ``add`` one by one.
    """

    def __init__(self, layers=None, name=None):
        self.name = name or unique_name("sequential")
        self.layers = []
        self._input_shape = None
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._plans = _plan.PlanCache()      # compiled train and inference passes, per thread
        for layer in layers or []:
            self.add(layer)

    def __getstate__(self):
        # copy.deepcopy / pickle: the compiled train steps are rebuilt, never copied.
        state = self.__dict__.copy()
        state.pop("_plans", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._plans = _plan.PlanCache()

    # ------------------------------------------------------------ structure
    def add(self, layer):
        """Append a layer; an InputLayer (from ``Input``) only sets the input shape."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a fastrnn layer, got {layer!r}.")
        if isinstance(layer, InputLayer):
            if self.layers or self._input_shape is not None:
                raise ValueError("Input must be the first entry of a Sequential model.")
            self._input_shape = layer._input_shape_arg
            return
        previous = self._input_shape
        if layer._input_shape_arg is not None and not self.layers and self._input_shape is None:
            self._input_shape = layer._input_shape_arg
        self.layers.append(layer)
        if self._input_shape is not None:
            try:
                self.build(self._input_shape)
            except BaseException:
                # a layer that does not fit is not added: the model stays as it was
                self.layers.pop()
                self._input_shape = previous
                raise

    def build(self, input_shape):
        """Build every layer for inputs of shape ``input_shape`` (no batch axis)."""
        shape = tuple(input_shape)
        for layer in self.layers[:-1]:
            if getattr(layer, "return_state", False) or \
                    (hasattr(layer, "merge_mode") and layer.merge_mode is None):
                raise ValueError(f"Layer {layer.name!r} outputs a list (return_state=True or "
                                 "merge_mode=None), so it cannot feed the next layer of a "
                                 "Sequential model.")
        # The model's input shape is only set once every layer accepted it, so data of a
        # wrong shape given to a model built lazily leaves it unbuilt and usable.
        input_shape = shape
        for layer in self.layers:
            if not layer.built:
                layer.build(shape)
            elif tuple(layer.input_shape) != shape:
                raise ValueError(f"Layer {layer.name!r} was built for inputs {layer.input_shape},"
                                 f" but receives {shape}.")
            shape = layer.output_shape
        self._input_shape = input_shape

    @property
    def built(self):
        return bool(self.layers) and all(layer.built for layer in self.layers)

    @property
    def dtype(self):
        return self.layers[0].dtype if self.layers else config.standardize_dtype(None)

    @property
    def input_shape(self):
        """(None, *input shape) once known, as in Keras."""
        if self._input_shape is None:
            raise AttributeError("The model has no input shape yet: give the first layer "
                                 "an input_shape, start with Input(shape=...), or call it "
                                 "on data first.")
        return (None,) + tuple(self._input_shape)

    @property
    def output_shape(self):
        shape = self.layers[-1].output_shape
        if shape and isinstance(shape[0], tuple):          # a list of outputs
            return [(None,) + tuple(s) for s in shape]
        return (None,) + tuple(shape)

    @property
    def weights(self):
        return [w for layer in self.layers for w in layer.weights]

    @property
    def trainable_weights(self):
        return [w for layer in self.layers for w in layer.trainable_weights]

    def get_weights(self):
        """Copies of every layer's weights, in Keras's order."""
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        """Set every layer's weights from a flat list in ``get_weights`` order.

        All arrays are checked (count, shapes, real finite numbers) before any changes."""
        self._require_built()
        if weights is None or isinstance(weights, (str, bytes, dict)) or \
                not hasattr(weights, "__iter__"):
            raise TypeError(f"set_weights expects a list of arrays, got "
                            f"{type(weights).__name__}.")
        weights = list(weights)
        total = len(self.weights)
        if len(weights) != total:
            raise ValueError(f"set_weights expects {total} arrays, got {len(weights)}.")
        old = self.get_weights()
        try:
            for layer in self.layers:
                n = len(layer.weights)
                layer.set_weights(weights[:n])
                weights = weights[n:]
        except BaseException:
            for w, value in zip(self.weights, old):     # all or nothing
                np.copyto(w, value)
            raise

    def count_params(self):
        return sum(layer.count_params() for layer in self.layers)

    # -------------------------------------------------------------- compile
    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        """Choose the optimizer, the loss and the metrics (strings or objects)."""
        if loss is None:
            raise ValueError("compile needs a loss, e.g. loss='mse'.")
        if optimizer is None:
            raise ValueError("compile needs an optimizer, e.g. optimizer='rmsprop'.")
        optimizer = optimizers.get(optimizer)
        loss = losses.get(loss)
        if metrics is not None and not isinstance(metrics, (list, tuple)):
            raise TypeError(f"metrics must be a list, got {metrics!r}.")
        for identifier in metrics or []:
            metrics_module.get(identifier)      # unknown names fail here, not in fit
        self.optimizer, self.loss = optimizer, loss
        self._metric_ids = list(metrics or [])
        self.metrics = None
        self.compiled = True

    def _resolve_metrics(self, y, out):
        """Build the compiled metrics on the first batch (Keras resolves 'accuracy'
        from the shapes of y and the predictions); repeated names get _1, _2, ..."""
        if self.metrics is None:
            self.metrics, seen = [], {}
            for identifier in self._metric_ids:
                metric = metrics_module.get(identifier, y, out)
                k = seen.get(metric.name, 0)
                seen[metric.name] = k + 1
                if k:
                    metric.name = f"{metric.name}_{k}"
                self.metrics.append(metric)
        return self.metrics

    # ----------------------------------------------------------------- data
    def _prepare_x(self, x):
        if not self.layers:
            raise ValueError("The model has no layers: add some before using it.")
        if x is None:
            raise ValueError("Inputs x are needed (x is None).")
        if self.layers[0].input_kind == "int":
            x = to_int_array(x, "x")
        else:
            x = to_float_array(x, self.dtype, "x")
        if self._input_shape is None:
            self.build(x.shape[1:])
        elif not self.built:
            self.build(self._input_shape)
        return adjust_rank(x, self._input_shape)

    def _prepare_y(self, y, n):
        if y is None:
            raise ValueError("Targets y are needed (y is None): training and evaluation "
                             "compare the model's outputs with y.")
        y = to_float_array(y, self.dtype, "y")
        if y.shape[0] != n:
            raise ValueError(f"x and y have different numbers of samples: {n} and {y.shape[0]}.")
        return y

    def _require_compiled(self):
        if not self.compiled:
            raise RuntimeError("You must call compile() before training or evaluating "
                               "the model.")

    def _require_built(self):
        if not self.built:
            raise ValueError("The model is not built yet: give the first layer an input_shape, "
                             "start with Input(shape=...), or call it on data first.")

    # ---------------------------------------------------------------- steps
    def _forward(self, x, training):
        """Run every layer; returns (outputs, the output mask or None).  Nothing is kept
        on the model, so threads may run inference on it at once.  Inference takes the
        compiled pass for this input shape where every layer allows it (fastrnn._plan)."""
        if not training:
            plan = self._plans.get_infer(self, x)
            if plan is not None:
                return plan(x), None
        mask = None
        for layer in self.layers:
            if layer.accepts_mask:
                y = layer.forward(x, training=training, mask=mask)
            else:
                y = layer.forward(x, training=training)
            mask = layer.compute_mask(x, mask)
            x = y
        return x, mask

    def _train_step(self, x, y, sample_weight=None):
        """One optimizer step on a batch; returns (loss, predictions, output mask).
        Where every layer allows it, the compiled step for this input shape runs it
        (fastrnn._plan: the same kernels without the per-call overhead)."""
        if sample_weight is None:
            plan = self._plans.get(self, x)
            if plan is not None:
                return plan(x, y)
        out, mask = self._forward(x, training=True)
        loss, dy = self.loss.value_and_grad(y, out, sample_weight=sample_weight, mask=mask)
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        variables, grads = [], []
        for layer in self.layers:
            if layer.trainable:
                variables.extend(layer.weights)
                grads.extend(layer.grads)
        self.optimizer.apply(grads, variables)
        return loss, out, mask

    def _metric_stats(self, y, out, mask):
        """[(name, (weighted sum, weight total))] of every compiled metric on a batch;
        as in Keras, metrics see the output mask but not the sample weights."""
        return [(m.name, m.batch_stats(y, out, mask=mask))
                for m in self._resolve_metrics(y, out)]

    def _sample_weights(self, y, sample_weight, class_weight):
        """Per-sample weights (N,) from sample_weight or class_weight, or None."""
        if sample_weight is not None and class_weight is not None:
            raise ValueError("You cannot use class_weight and sample_weight at the same time.")
        if sample_weight is not None:
            sw = to_float_array(sample_weight, self.dtype, "sample_weight")
            if sw.shape[0] != y.shape[0]:
                raise ValueError(f"sample_weight has {sw.shape[0]} entries for {y.shape[0]} "
                                 "samples.")
            return sw
        if class_weight is None:
            return None
        if not isinstance(class_weight, dict):
            raise TypeError(f"class_weight must be a dict {{class: weight}}, got "
                            f"{class_weight!r}.")
        labels = np.argmax(y, axis=-1) if y.ndim > 1 and y.shape[-1] > 1 else \
            np.round(y.reshape(y.shape[0], -1)[:, 0]).astype(np.int64)
        unknown = set(np.unique(labels).tolist()) - set(int(k) for k in class_weight)
        if unknown:
            raise ValueError(f"class_weight has no weight for classes {sorted(unknown)}.")
        table = {int(k): float(v) for k, v in class_weight.items()}
        return np.array([table[int(c)] for c in labels], dtype=self.dtype)

    # ------------------------------------------------------------------ fit
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0):
        """Train for ``epochs`` passes over (x, y); returns a History."""
        self._require_compiled()
        batch_size = check_batch_size(batch_size)
        epochs, initial_epoch = check_epochs(epochs, initial_epoch)
        verbose = check_verbose(verbose)
        shuffle = check_flag(shuffle, "shuffle")
        validation_split = check_fraction(validation_split, "validation_split")
        if callbacks is not None and not isinstance(
                callbacks, (list, tuple, callbacks_module.Callback)):
            raise TypeError(f"callbacks must be a list of fastrnn.callbacks.Callback "
                            f"instances, got {type(callbacks).__name__}.")
        x = self._prepare_x(x)
        y = self._prepare_y(y, x.shape[0])
        sw = self._sample_weights(y, sample_weight, class_weight)
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("validation_data must be a tuple (x_val, y_val).")
            x_val = self._prepare_x(validation_data[0])
            y_val = self._prepare_y(validation_data[1], x_val.shape[0])
        elif validation_split:
            split = int(x.shape[0] * (1.0 - validation_split))
            if split == 0 or split == x.shape[0]:
                raise ValueError(f"validation_split={validation_split} leaves no samples for "
                                 f"training or for validation out of {x.shape[0]}.")
            x, x_val, y, y_val = x[:split], x[split:], y[:split], y[split:]
            sw = None if sw is None else sw[:split]
        else:
            x_val = y_val = None

        n = x.shape[0]
        steps = -(-n // batch_size)
        if isinstance(callbacks, callbacks_module.CallbackList):
            cb = callbacks
        else:
            cb = callbacks_module.CallbackList(
                callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                verbose=verbose, epochs=epochs, steps=steps)
        self.stop_training = False
        with _StepGuard() as guard:
            self._fit_loop(x, y, sw, x_val, y_val, batch_size, epochs, initial_epoch, shuffle,
                           steps, cb, guard)
        return self.history

    def _fit_loop(self, x, y, sw, x_val, y_val, batch_size, epochs, initial_epoch, shuffle,
                  steps, cb, guard):
        n = x.shape[0]
        cb.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            cb.on_epoch_begin(epoch)
            order = utils.rng().permutation(n) if shuffle else None
            xe, ye, swe = x, y, sw          # (drops the last epoch's copies first)
            if order is not None and x.nbytes + y.nbytes + (0 if sw is None else sw.nbytes) \
                    <= _GATHER_BYTES:
                # one gather per epoch, then every batch is a slice (a view)
                xe, ye = x[order], y[order]
                swe = None if sw is None else sw[order]
                order = None
            tracker = _Tracker()
            batch_logs = cb.wants("on_train_batch_end")
            for step in range(steps):
                cb.on_train_batch_begin(step)
                rows = slice(step * batch_size, (step + 1) * batch_size)
                if order is not None:
                    rows = order[rows]
                xb, yb = xe[rows], ye[rows]
                guard.in_step = True            # (guard.run, inlined: the per-step path)
                try:
                    loss, out, mask = self._train_step(xb, yb,
                                                       None if swe is None else swe[rows])
                finally:
                    guard.in_step = False
                if guard.pending:
                    guard.pending = False
                    raise KeyboardInterrupt
                tracker.update(loss, xb.shape[0], self._metric_stats(yb, out, mask))
                cb.on_train_batch_end(step, tracker.result() if batch_logs else None)
                if self.stop_training:
                    break
            epoch_logs = tracker.result()
            if x_val is not None:
                val = self._evaluate_arrays(x_val, y_val, batch_size)
                epoch_logs.update({"val_" + k: v for k, v in val.items()})
            cb.on_epoch_end(epoch, epoch_logs)
            if self.stop_training:
                break
        cb.on_train_end(epoch_logs if epochs > initial_epoch else None)

    # ------------------------------------------------------- evaluate/predict
    def _evaluate_arrays(self, x, y, batch_size):
        tracker = _Tracker()
        for start in range(0, x.shape[0], batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            out, mask = self._forward(xb, training=False)
            loss = self.loss(yb, out, mask=mask)
            tracker.update(loss, xb.shape[0], self._metric_stats(yb, out, mask))
        return tracker.result()

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", return_dict=False):
        """Loss (and metrics) over (x, y): a float, a list, or a dict with return_dict."""
        self._require_compiled()
        batch_size = check_batch_size(batch_size)
        check_verbose(verbose)
        x = self._prepare_x(x)
        y = self._prepare_y(y, x.shape[0])
        logs = self._evaluate_arrays(x, y, batch_size)
        return self._format_logs(logs, return_dict)

    def _format_logs(self, logs, return_dict):
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto"):
        """Outputs for every sample of x, computed batch by batch."""
        batch_size = check_batch_size(batch_size)
        check_verbose(verbose)
        x = self._prepare_x(x)
        outs = [self._forward(x[s:s + batch_size], training=False)[0]
                for s in range(0, x.shape[0], batch_size)]
        return outs[0] if len(outs) == 1 else np.concatenate(outs, axis=0)

    def predict_on_batch(self, x):
        """Outputs for x computed as one batch."""
        return self._forward(self._prepare_x(x), training=False)[0]

    def train_on_batch(self, x, y, return_dict=False):
        """One optimizer step on (x, y) as a single batch; returns the batch's loss/metrics."""
        self._require_compiled()
        x = self._prepare_x(x)
        y = self._prepare_y(y, x.shape[0])
        with _StepGuard() as guard:
            loss, out, mask = guard.run(self._train_step, x, y)
        tracker = _Tracker()
        tracker.update(loss, x.shape[0], self._metric_stats(y, out, mask))
        return self._format_logs(tracker.result(), return_dict)

    def test_on_batch(self, x, y, return_dict=False):
        self._require_compiled()
        x = self._prepare_x(x)
        y = self._prepare_y(y, x.shape[0])
        return self._format_logs(self._evaluate_arrays(x, y, x.shape[0]), return_dict)

    def __call__(self, x, training=False):
        return self._forward(self._prepare_x(x), training=training)[0]

    # ---------------------------------------------------------------- saving
    def save(self, filepath, overwrite=True):
        """Save architecture, weights and optimizer state to one file (no pickle)."""
        from fastrnn import saving
        saving.save_model(self, filepath, overwrite=overwrite)

    def save_weights(self, filepath, overwrite=True):
        from fastrnn import saving
        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath):
        from fastrnn import saving
        saving.load_weights(self, filepath)

    def get_config(self):
        from fastrnn import saving
        return saving.sequential_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from fastrnn import saving
        return saving.sequential_from_config(config, custom_objects)

    # -------------------------------------------------------------- summary
    def summary(self, print_fn=None):
        """Print Keras's table: layer (type), output shape, parameter count, totals."""
        from fastrnn._summary import summary_text
        text = summary_text(self)
        (print_fn or print)(text)


_GATHER_BYTES = 64 << 20     # fit shuffles data up to this size by one copy per epoch


class _Tracker:
    """Keras's running logs: the loss averaged over samples (weighted by batch size),
    each metric as the sum of its weighted values over the sum of its weights."""

    def __init__(self):
        self.loss, self.seen, self.sums, self.totals = 0.0, 0, {}, {}

    def update(self, loss, n, metric_stats):
        self.loss += float(loss) * n
        self.seen += n
        for name, (total, weight) in metric_stats:
            self.sums[name] = self.sums.get(name, 0.0) + float(total)
            self.totals[name] = self.totals.get(name, 0.0) + float(weight)

    def result(self):
        logs = {"loss": self.loss / self.seen if self.seen else 0.0}
        for name, total in self.sums.items():
            logs[name] = total / self.totals[name] if self.totals[name] else 0.0
        return logs
