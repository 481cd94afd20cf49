"""Sequential's compiled train step: one optimizer step over lean per-layer functions.

A small model spends most of a train step in Python (W0, the seed program, runs 8,000
steps of 32 samples).  For a batch shape it has seen, ``TrainPlan`` calls each layer's
``_train_pair(shape)`` functions (the kernels of ``forward(training=True)`` and
``backward`` over a workspace of their own, without the per-call checks), then the
loss and the optimizer, exactly as ``Sequential._train_step`` does: the same kernels in
the same order, so the same numbers.  A model whose layers cannot all give such a pair
(recurrent dropout, masks, stateful or wrapped layers, ...) keeps the general path.

``InferPlan`` does the same for inference (``Sequential._forward`` with training=False:
predict, predict_on_batch, evaluate, calls) with each layer's ``_infer_function``.

Plans are kept per thread and per input shape and dtype; a plan checks on every step
that the model still has the same layers, trainable flags, layer settings the pairs
depend on (``Layer._train_pair_key``), loss and optimizer, and is rebuilt otherwise.
Sample or class weights, a layer used twice, mixed dtypes and subclasses (or instances)
that override forward or backward take the general path.
"""
import operator
import threading
from collections import OrderedDict

import numpy as np

from fastrnn.optimizers import Optimizer

_MAX_PLANS = 4        # shapes per thread (fit: the batch size and the last, smaller batch)


class TrainPlan:
    """The step of a model for inputs of one shape and dtype; see ``build``."""

    def __init__(self, model, pairs):
        self.forwards = [f for f, _ in pairs]
        self.backwards = [b for _, b in reversed(pairs)]
        self.loss, self.optimizer = model.loss, model.optimizer
        trained = [layer for layer in model.layers if layer.trainable]
        self.variables = [w for layer in trained for w in layer.weights]
        self.grads = [g for layer in trained for g in layer.grads]
        self.validated = None          # the optimizer's check of these lists
        # The predictions go to the loss and the metrics, which may keep them or change
        # them: a fresh C-ordered array, as the general path gives (a recurrent layer's
        # pair returns views of its workspace).
        self.copy_out = model.layers[-1]._plan_returns_views
        # the repeat shortcut only for the library's own apply (see __call__)
        self.own_apply = type(model.optimizer).apply is Optimizer.apply

    def __call__(self, x, y):
        """One optimizer step on (x, y); returns (loss, predictions, None)."""
        out = x
        for forward in self.forwards:
            out = forward(out)
        if self.copy_out:
            out = out.copy()
        loss, dy = self.loss.value_and_grad(y, out)
        for backward in self.backwards:
            dy = backward(dy)
        optimizer = self.optimizer
        # The repeat shortcut only for the library's own apply: an apply of a subclass
        # or of the instance (one that changes the gradients first, say) runs every step.
        if (not self.own_apply or "apply" in optimizer.__dict__
                or not optimizer._apply_again(self.validated)):
            optimizer.apply(self.grads, self.variables)
            self.validated = optimizer._validated
        return loss, out, None


def _layer_functions(model, x, training, pick):
    """[pick(layer, input shape, index) for each layer], or None when a layer does not allow
    it (``_plannable``), a layer is used twice, or dtypes differ.  x has passed the
    model's input checks; the first layer's own shape checks run here once (a plan
    serves only inputs of exactly this shape and dtype)."""
    if len({id(layer) for layer in model.layers}) != len(model.layers):
        return None                 # a layer used twice: the general path's bookkeeping
    model.layers[0]._check_input(x, x.ndim)
    # First every layer's input shape and its consent, then the functions (which may
    # allocate workspaces): a model that falls back allocates nothing here.
    shapes, shape = [], x.shape
    for layer in model.layers:
        if layer.dtype != x.dtype or not layer._plannable(shape, training):
            return None
        shapes.append(shape)
        shape = (shape[0],) + tuple(layer.compute_output_shape(shape[1:]))
        if None in shape:
            return None
    found = [pick(layer, shape, i) for i, (layer, shape) in enumerate(zip(model.layers,
                                                                           shapes))]
    return None if None in found else found


def build(model, x):
    """A TrainPlan for inputs like x, or None when a layer needs the general path."""
    # the first layer's input is the data: nothing needs dL/dx there
    pairs = _layer_functions(model, x, True,
                             lambda layer, shape, i: layer._train_pair(shape, input_grad=i > 0))
    return None if pairs is None else TrainPlan(model, pairs)


class InferPlan:
    """Inference (training=False) for inputs of one shape and dtype: each layer's
    ``_infer_function(shape)`` in turn; the result is a fresh array."""

    def __init__(self, model, forwards):
        self.forwards = forwards
        self.copy_out = model.layers[-1]._plan_returns_views

    def __call__(self, x):
        for forward in self.forwards:
            x = forward(x)
        return x.copy() if self.copy_out else x


def build_infer(model, x):
    """An InferPlan for inputs like x, or None when a layer needs the general path."""
    forwards = _layer_functions(model, x, False,
                                lambda layer, shape, i: layer._infer_function(shape))
    return None if forwards is None else InferPlan(model, forwards)


def _same(a, b):
    """The same objects in the same order (identity: a class's __eq__ does not count)."""
    return len(a) == len(b) and all(map(operator.is_, a, b))


def _settings(model):
    """What a plan depends on in the layers besides their identity: their trainable
    flags and the settings their pairs were built for."""
    return [(layer.trainable, layer._train_pair_key()) for layer in model.layers]


class PlanCache(threading.local):
    """Per-thread plans, keyed by input shape and dtype (the least recently used dropped
    beyond a few), one table for training and one for inference.  None is kept too:
    that shape takes the general path.  An entry holds what its plan was built for: the
    layers, their settings and, for training, the loss and the optimizer."""

    def __init__(self):
        self.plans = OrderedDict()
        self.infer_plans = OrderedDict()

    def get(self, model, x):
        """The train step for x (built on first use), or None for the general path."""
        return self._lookup(self.plans, model, x, (model.loss, model.optimizer), build)

    def get_infer(self, model, x):
        """The inference pass for x (built on first use), or None for the general path."""
        return self._lookup(self.infer_plans, model, x, (), build_infer)

    @staticmethod
    def _lookup(table, model, x, extra, make):
        if type(x) is not np.ndarray or not model.layers:
            return None
        key = (x.shape, x.dtype)
        entry = table.get(key)
        if (entry is not None and _same(entry[2], extra) and _same(entry[0], model.layers)
                and entry[1] == _settings(model)):
            table.move_to_end(key)
            return entry[3]
        table.pop(key, None)            # (a rebuilt entry counts as the most recent)
        plan = make(model, x)
        table[key] = (list(model.layers), _settings(model), extra, plan)
        if len(table) > _MAX_PLANS:
            table.popitem(last=False)
        return plan
