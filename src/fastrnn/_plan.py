"""Sequential's compiled train step: one optimizer step over lean per-layer functions.

A small model spends most of a train step in Python (W0, the seed program, runs 8,000
steps of 32 samples).  For a batch shape it has seen, ``TrainPlan`` calls each layer's
``_train_pair(shape)`` functions (the kernels of ``forward(training=True)`` and
``backward`` over a workspace of their own, without the per-call checks), then the
loss and the optimizer, exactly as ``Sequential._train_step`` does: the same kernels in
the same order, so the same numbers.  A model whose layers cannot all give such a pair
(dropout, masks, stateful or wrapped layers, ...) keeps the general path.

Plans are kept per thread and per input shape and dtype; a plan checks on every step
that the model still has the same layers, trainable flags, layer settings the pairs
depend on (``Layer._train_pair_key``), loss and optimizer, and is rebuilt otherwise.
Sample or class weights, a layer used twice, mixed dtypes and subclasses (or instances)
that override forward or backward take the general path.
"""
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
        self.copy_out = model.layers[-1]._train_pair_returns_views
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


def build(model, x):
    """A TrainPlan for inputs like x, or None when a layer needs the general path.

    x has passed the model's input checks; the first layer's own shape checks run here
    once (a plan serves only inputs of exactly this shape and dtype)."""
    if len({id(layer) for layer in model.layers}) != len(model.layers):
        return None                 # a layer used twice: the general path's bookkeeping
    model.layers[0]._check_input(x, x.ndim)
    shape = x.shape
    pairs = []
    for layer in model.layers:
        if layer.dtype != x.dtype:
            return None
        pair = layer._train_pair(shape)
        if pair is None:
            return None
        pairs.append(pair)
        shape = (shape[0],) + tuple(layer.output_shape)
    return TrainPlan(model, pairs)


def _settings(model):
    """What a plan depends on in the layers besides their identity: their trainable
    flags and the settings their pairs were built for."""
    return [(layer.trainable, layer._train_pair_key()) for layer in model.layers]


class PlanCache(threading.local):
    """Per-thread plans, keyed by input shape and dtype (the least recently used dropped
    beyond a few).  None is kept too: that shape takes the general path.  An entry holds
    what its plan was built for: the layers, their settings, the loss and the optimizer."""

    def __init__(self):
        self.plans = OrderedDict()

    def get(self, model, x):
        """The plan for x (built on first use), or None for the general path."""
        if type(x) is not np.ndarray or not model.layers:
            return None
        key = (x.shape, x.dtype)
        entry = self.plans.get(key)
        if (entry is not None and entry[2] is model.loss and entry[3] is model.optimizer
                and entry[0] == model.layers and entry[1] == _settings(model)):
            self.plans.move_to_end(key)
            return entry[4]
        plan = build(model, x)
        self.plans[key] = (list(model.layers), _settings(model), model.loss, model.optimizer,
                           plan)
        if len(self.plans) > _MAX_PLANS:
            self.plans.popitem(last=False)
        return plan
