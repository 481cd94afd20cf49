"""Sequential's compiled train step (fastrnn._plan) against the general path.

The plan runs the same kernels in the same order, so a model trained with it must end
with bit-identical weights to one trained with plans turned off; and models it cannot
serve (dropout, masks, stateful layers, sample weights, wrappers) must take the
general path.
"""
import copy
import threading

import numpy as np
import pytest

import fastrnn
from fastrnn import _plan
from fastrnn.layers import GRU, LSTM, Dense, Embedding, Input, SimpleRNN
from fastrnn.models import Sequential


def _models(make, seed=7):
    """Two identical compiled models (same initial weights)."""
    fastrnn.utils.set_random_seed(seed)
    a = make()
    b = make()
    b.set_weights(a.get_weights())
    return a, b


def _xy(rng, B, T=3, I=2):
    """float32 inputs (B, T, I) and targets (B, 1), drawn in that order."""
    x = rng.normal(size=(B, T, I)).astype(np.float32)
    return x, rng.normal(size=(B, 1)).astype(np.float32)


def _model(*layers, shape=(3, 2), optimizer="sgd", loss="mse"):
    """Sequential([Input(shape), *layers]), compiled."""
    model = Sequential([Input(shape=shape), *layers])
    model.compile(optimizer=optimizer, loss=loss)
    return model


def _plans_of(model):
    """This thread's cached plans of the model (None: that shape takes the general path)."""
    return [entry[-1] for entry in model._plans.plans.values()]


def _plan_for(model, x):
    return model._plans.plans[(x.shape, x.dtype)][-1]


def _no_plans(monkeypatch):
    monkeypatch.setattr(_plan, "build", lambda model, x: None)


def _fit_both(monkeypatch, make, x, y, **fit):
    """Weights and histories after fit with plans and with the general path."""
    a, b = _models(make)
    fastrnn.utils.set_random_seed(3)
    ha = a.fit(x, y, verbose=0, **fit).history
    with monkeypatch.context() as m:
        _no_plans(m)
        fastrnn.utils.set_random_seed(3)
        hb = b.fit(x, y, verbose=0, **fit).history
    return a, b, ha, hb


def _assert_same(a, b, ha, hb):
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert ha == hb


def _steps_both(monkeypatch, make, x, y, steps=3):
    """Two identical models after ``steps`` train_on_batch calls, with plans and with
    the general path; asserts equal losses and weights, returns the planned model."""
    a, b = _models(make)
    la = [a.train_on_batch(x, y) for _ in range(steps)]
    with monkeypatch.context() as m:
        _no_plans(m)
        lb = [b.train_on_batch(x, y) for _ in range(steps)]
    assert la == lb
    _assert_same(a, b, {}, {})
    return a


CASES = {
    "simple": lambda: [SimpleRNN(6), Dense(1)],
    "lstm": lambda: [LSTM(5), Dense(2)],
    "gru": lambda: [GRU(5), Dense(1, activation="tanh")],
    "gru-reset-before": lambda: [GRU(4, reset_after=False), Dense(1)],
    "stacked": lambda: [LSTM(5, return_sequences=True), GRU(4, return_sequences=True),
                        SimpleRNN(3), Dense(1)],
    "sequences-dense": lambda: [SimpleRNN(4, return_sequences=True), Dense(2)],
    "relu-no-bias": lambda: [SimpleRNN(4, activation="relu", use_bias=False), Dense(1)],
    "dropout-layers": lambda: [LSTM(5, return_sequences=True), fastrnn.layers.Dropout(0.3),
                               GRU(4), fastrnn.layers.Dropout(0.2, seed=3), Dense(1)],
    "dense-first": lambda: [Dense(4, activation="tanh"), GRU(3, reset_after=False), Dense(1)],
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_fit_with_plans_equals_general_path(monkeypatch, rng, case, dtype):
    fastrnn.config.set_floatx(dtype)
    T, I = 5, 3
    x = rng.normal(size=(37, T, I))
    last = 2 if case == "sequences-dense" else (2 if case == "lstm" else 1)
    y = rng.normal(size=(37, T, last) if case == "sequences-dense" else (37, last))

    def make():
        model = Sequential([Input(shape=(T, I))] + CASES[case]())
        model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
        return model
    # batch 8: four full batches and a last one of 5 (two plans), shuffled
    a, b, ha, hb = _fit_both(monkeypatch, make, x, y, epochs=3, batch_size=8)
    _assert_same(a, b, ha, hb)
    assert len(a._plans.plans) == 2
    assert all(plan is not None for plan in _plans_of(a))


@pytest.mark.parametrize("first", [SimpleRNN, LSTM, GRU,
                                   lambda units, **kw: GRU(units, reset_after=False, **kw)])
def test_first_layer_skips_its_input_gradient(monkeypatch, rng, first):
    """The data needs no gradient: the planned step's first layer computes no dL/dx (its
    workspace has none), the layers after it do, and the weights still equal the
    general path's, which computes every dx."""
    x, y = _xy(rng, 9, 4, 3)
    make = lambda: _model(first(5, return_sequences=True), LSTM(4), Dense(1),
                          shape=(4, 3), optimizer="rmsprop")
    model = _steps_both(monkeypatch, make, x, y)
    assert model.layers[0]._grads_ws["dx"] is None
    assert model.layers[1]._grads_ws["dx"].shape == (4, 9, 5)
    plan = _plan_for(model, x)
    dy = np.ones((9, 1), np.float32)
    for backward in plan.backwards[:-1]:
        dy = backward(dy)
    assert dy.shape == (9, 4, 5)
    assert plan.backwards[-1](dy) is None


def test_seed_program_plan_matches(monkeypatch):
    """The seed program (2-D X, trailing axis added) with plans equals without."""
    X = np.sin(np.linspace(0, 50, 500)).reshape(-1, 1)
    y = np.cos(np.linspace(0, 50, 500)).reshape(-1, 1)

    def make():
        model = Sequential()
        model.add(SimpleRNN(10, input_shape=(1, 1)))
        model.add(Dense(1))
        model.compile(optimizer="rmsprop", loss="mse")
        return model
    a, b, ha, hb = _fit_both(monkeypatch, make, X, y, epochs=4)
    _assert_same(a, b, ha, hb)


def test_train_on_batch_uses_plan_and_matches(monkeypatch, rng):
    x, y = _xy(rng, 9, 4, 2)

    def make():
        model = _model(LSTM(3), Dense(1), shape=(4, 2), optimizer="adam")
        return model
    a = _steps_both(monkeypatch, make, x, y)
    assert _plan_for(a, x) is not None


@pytest.mark.parametrize("layers, kwargs", [
    (lambda: [SimpleRNN(4, dropout=0.3), Dense(1)], {}),
    (lambda: [LSTM(4, recurrent_dropout=0.3), Dense(1)], {}),
    (lambda: [GRU(4, go_backwards=True), Dense(1)], {}),
], ids=["dropout", "recurrent-dropout", "go-backwards"])
def test_layers_that_need_the_general_path(rng, layers, kwargs):
    x, y = _xy(rng, 12, 4, 2)
    model = Sequential([Input(shape=(4, 2))] + layers())
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, epochs=1, batch_size=6, verbose=0, **kwargs)
    assert _plans_of(model) == [None]


def test_stateful_and_masked_models_take_the_general_path(rng):
    ids = rng.integers(1, 9, size=(8, 5))
    ids[:, -2:] = 0
    y = rng.normal(size=(8, 1)).astype(np.float32)
    masked = Sequential([Embedding(10, 3, mask_zero=True), LSTM(4), Dense(1)])
    masked.compile(optimizer="sgd", loss="mse")
    masked.fit(ids, y, epochs=1, batch_size=4, verbose=0)
    assert _plans_of(masked) == [None]

    x = rng.normal(size=(8, 3, 2)).astype(np.float32)
    stateful = Sequential([Input(shape=(3, 2), batch_size=4), SimpleRNN(3, stateful=True),
                           Dense(1)])
    stateful.compile(optimizer="sgd", loss="mse")
    stateful.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    assert stateful.layers[0]._carry is not None          # the state was carried
    assert _plans_of(stateful) == [None]


def test_sample_weights_take_the_general_path(monkeypatch, rng):
    x, y = _xy(rng, 10)
    sw = rng.uniform(0.1, 2.0, size=10)
    calls = []
    real = _plan.PlanCache.get
    monkeypatch.setattr(_plan.PlanCache, "get",
                        lambda self, model, xb: calls.append(1) or real(self, model, xb))
    model = _model(GRU(3), Dense(1))
    model.fit(x, y, sample_weight=sw, epochs=1, batch_size=5, verbose=0)
    assert calls == []


def test_trainable_change_and_recompile_rebuild_the_plan(rng):
    x, y = _xy(rng, 6)
    model = _model(SimpleRNN(3), Dense(1))
    model.train_on_batch(x, y)
    first = _plan_for(model, x)
    rnn = model.layers[0]
    rnn.trainable = False
    with pytest.raises(ValueError, match="built for 5 variables"):    # as without plans
        model.train_on_batch(x, y)
    model.compile(optimizer="sgd", loss="mse")       # Keras: compile again after it
    frozen = [w.copy() for w in rnn.weights]
    dense_before = model.layers[1].kernel.copy()
    model.train_on_batch(x, y)
    for w, f in zip(rnn.weights, frozen):
        np.testing.assert_array_equal(w, f)                  # frozen layer untouched
    assert not np.array_equal(model.layers[1].kernel, dense_before)
    second = _plan_for(model, x)
    assert second is not first and len(second.variables) == 2
    model.compile(optimizer="adam", loss="mae")
    model.train_on_batch(x, y)
    third = _plan_for(model, x)
    assert third is not second and third.optimizer is model.optimizer \
        and third.loss is model.loss


def test_state_grads_after_a_planned_step(rng):
    x, y = _xy(rng, 4)
    model = _model(LSTM(3), Dense(1))
    model.train_on_batch(x, y)
    grads = model.layers[0].state_grads
    assert len(grads) == 2 and grads[0].shape == (4, 3) and np.any(grads[0] != 0)


def test_deepcopy_after_fit_trains_independently(rng):
    x, y = _xy(rng, 8)
    model = _model(GRU(3), Dense(1))
    model.fit(x, y, epochs=1, verbose=0)
    twin = copy.deepcopy(model)
    before = [w.copy() for w in model.get_weights()]
    twin.fit(x, y, epochs=2, verbose=0)
    for w, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(w, b)                   # the original is untouched
    assert any(not np.array_equal(w, b) for w, b in zip(twin.get_weights(), before))


def test_plans_are_per_thread(rng):
    x, y = _xy(rng, 5)
    model = _model(SimpleRNN(3), Dense(1))
    model.train_on_batch(x, y)
    seen = []
    worker = threading.Thread(target=lambda: (model.train_on_batch(x, y),
                                              seen.append(len(model._plans.plans))))
    worker.start()
    worker.join()
    assert seen == [1] and len(model._plans.plans) == 1


def test_bad_inputs_still_raise_with_plans(rng):
    model = _model(SimpleRNN(3), Dense(1))
    y = np.zeros((4, 1), np.float32)
    with pytest.raises(ValueError, match="NaN"):
        model.train_on_batch(np.full((4, 3, 2), np.nan, np.float32), y)
    with pytest.raises(ValueError):
        model.train_on_batch(np.zeros((4, 3, 5), np.float32), y)
    model.train_on_batch(np.zeros((4, 3, 2), np.float32), y)
    with pytest.raises(ValueError):
        model.train_on_batch(np.zeros((4, 3, 2), np.float32), np.zeros((3, 1), np.float32))


def test_plan_after_an_outside_optimizer_apply(monkeypatch, rng):
    """An apply of the user's between two planned steps replaces the optimizer's cached
    validation; the plan then validates again and the steps stay those of the general
    path."""
    x, y = _xy(rng, 6)

    def make():
        model = _model(SimpleRNN(3), Dense(1), optimizer="rmsprop")
        return model

    def run(model):
        model.train_on_batch(x, y)
        grads = [np.full_like(w, 0.01) for w in model.get_weights()]
        model.optimizer.apply(grads, model.weights)
        model.train_on_batch(x, y)
        model.train_on_batch(x, y)
    a, b = _models(make)
    run(a)
    with monkeypatch.context() as m:
        _no_plans(m)
        run(b)
    _assert_same(a, b, {}, {})
    assert a.optimizer.iterations == 4


def test_optimizer_with_its_own_apply_runs_it_every_step(monkeypatch, rng):
    """An optimizer subclass whose apply changes the gradients is called on every
    planned step (the repeat shortcut is only for the library's own apply)."""
    x, y = _xy(rng, 6)
    calls = []

    class HalfSGD(fastrnn.optimizers.SGD):
        def apply(self, grads, variables):
            calls.append(1)
            super().apply([g * 0.5 for g in grads], variables)

    def make():
        model = Sequential([Input(shape=(3, 2)), SimpleRNN(3), Dense(1)])
        model.compile(optimizer=HalfSGD(learning_rate=0.1), loss="mse")
        return model
    _steps_both(monkeypatch, make, x, y, steps=4)
    assert len(calls) == 8


def test_mixed_dtypes_train(monkeypatch, rng):
    """Dense layers of different dtypes train as on the general path (the plan steps
    aside; the shared row functions keep matmul's casting)."""
    x = rng.normal(size=(8, 4))
    y = rng.normal(size=(8, 1))

    def make():
        model = Sequential([Input(shape=(4,)), Dense(3), Dense(1, dtype="float64")])
        model.compile(optimizer="sgd", loss="mse")
        return model
    _steps_both(monkeypatch, make, x, y)
    dense = Dense(2)
    dense.build((3,))
    out = dense.forward(np.ones((4, 3), np.float32))
    assert dense.backward(np.ones_like(out, dtype=np.float64)).shape == (4, 3)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_recurrent_last_layer_gives_fresh_predictions(monkeypatch, rng, dtype):
    """With a recurrent layer last, the loss and the metrics get a fresh C-ordered array
    every step (as on the general path), so the losses agree bit for bit."""
    fastrnn.config.set_floatx(dtype)
    x = rng.normal(size=(12, 5, 3))
    y = (rng.random(size=(12, 5, 4)) < 0.5).astype(dtype)
    kept = []

    def make():
        model = Sequential([Input(shape=(5, 3)), GRU(4, return_sequences=True,
                                                      activation="sigmoid")])
        model.compile(optimizer="adam", loss="binary_crossentropy")
        return model
    a, b = _models(make)
    real = a.loss.value_and_grad
    monkeypatch.setattr(a.loss, "value_and_grad",
                        lambda yt, yp, **kw: (kept.append(yp), real(yt, yp, **kw))[1])
    la = [a.train_on_batch(x, y) for _ in range(3)]
    monkeypatch.undo()
    with monkeypatch.context() as m:
        _no_plans(m)
        lb = [b.train_on_batch(x, y) for _ in range(3)]
    assert la == lb
    _assert_same(a, b, {}, {})
    assert all(p.flags.c_contiguous for p in kept)
    assert not np.shares_memory(kept[0], kept[1])
    assert not np.array_equal(kept[0], kept[2])       # each step kept its own predictions


def test_settings_changed_after_the_plan_was_built(monkeypatch, rng):
    """go_backwards and stateful set after some planned steps take effect, as on the
    general path."""
    x, y = _xy(rng, 4)

    def make():
        model = Sequential([Input(shape=(3, 2), batch_size=4), LSTM(3), Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        return model

    def run(model):
        model.train_on_batch(x, y)
        model.layers[0].go_backwards = True
        model.train_on_batch(x, y)
        model.layers[0].go_backwards = False
        model.layers[0].stateful = True
        model.train_on_batch(x, y)
        model.train_on_batch(x, y)
        return model.layers[0]._carry
    a, b = _models(make)
    carry_a = run(a)
    with monkeypatch.context() as m:
        _no_plans(m)
        carry_b = run(b)
    assert carry_a is not None
    _assert_same(a, b, {}, {})
    for p, q in zip(carry_a, carry_b):
        np.testing.assert_array_equal(p, q)


def test_shared_layer_and_masking_take_the_general_path(rng):
    x = rng.normal(size=(6, 3, 2)).astype(np.float32)
    shared = Dense(2)
    model = _model(SimpleRNN(2), shared, shared)
    model.train_on_batch(x, rng.normal(size=(6, 2)).astype(np.float32))
    assert _plans_of(model) == [None]
    masked = Sequential([Input(shape=(3, 2)), fastrnn.layers.Masking(0.0), LSTM(3),
                         Dense(1)])
    masked.compile(optimizer="sgd", loss="mse")
    x[0, 1:] = 0.0
    masked.train_on_batch(x, rng.normal(size=(6, 1)).astype(np.float32))
    assert _plans_of(masked) == [None]


def test_plan_with_row_blocks_on_two_threads(monkeypatch, rng):
    import fastrnn._threads as th
    monkeypatch.setattr(th, "MIN_BLOCK_FLOPS", 0.0)
    x, y = _xy(rng, 20, 5, 3)

    def make():
        model = Sequential([Input(shape=(5, 3)), GRU(6, return_sequences=True), LSTM(4),
                            Dense(1)])
        model.compile(optimizer="rmsprop", loss="mse")
        return model
    old = th.get_num_threads()
    th.set_num_threads(2)
    try:
        a, b, ha, hb = _fit_both(monkeypatch, make, x, y, epochs=2, batch_size=8)
    finally:
        th.set_num_threads(old)
    _assert_same(a, b, ha, hb)


# ------------------------------------------------------------- compiled inference
def _no_infer_plans(monkeypatch):
    monkeypatch.setattr(_plan, "build_infer", lambda model, x: None)


INFER_CASES = dict(CASES, **{
    "dropout": lambda: [LSTM(5, dropout=0.3, recurrent_dropout=0.2), Dense(1)],
    "last-recurrent": lambda: [GRU(4, return_sequences=True)],
    "last-dropout": lambda: [SimpleRNN(4, return_sequences=True), fastrnn.layers.Dropout(0.5)],
})


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", sorted(INFER_CASES))
def test_inference_with_plans_equals_general_path(monkeypatch, rng, case, dtype):
    fastrnn.config.set_floatx(dtype)
    x = rng.normal(size=(13, 5, 3))
    fastrnn.utils.set_random_seed(5)
    model = Sequential([Input(shape=(5, 3))] + INFER_CASES[case]())
    model.compile(optimizer="sgd", loss="mse")
    got = [model.predict(x, batch_size=4, verbose=0), model.predict_on_batch(x), model(x)]
    assert all(plan is not None for plan in
               [entry[-1] for entry in model._plans.infer_plans.values()])
    with monkeypatch.context() as m:
        _no_infer_plans(m)
        want = [model.predict(x, batch_size=4, verbose=0), model.predict_on_batch(x),
                model(x)]
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.flags.c_contiguous
        np.testing.assert_array_equal(g, w)


def test_inference_plan_returns_fresh_arrays_and_follows_the_weights(rng):
    x = rng.normal(size=(3, 4, 2)).astype(np.float32)
    model = Sequential([Input(shape=(4, 2)), LSTM(3, return_sequences=True)])
    first = model.predict_on_batch(x)
    kept = first.copy()
    first[...] = 0.0
    second = model.predict_on_batch(x)
    np.testing.assert_array_equal(second, kept)
    assert not np.shares_memory(first, second)
    model.set_weights([w * 0.5 for w in model.get_weights()])
    assert not np.array_equal(model.predict_on_batch(x), kept)


def test_variable_length_inputs_and_uncompiled_models(monkeypatch, rng):
    model = Sequential([Input(shape=(None, 2)), SimpleRNN(3, return_sequences=True),
                        LSTM(2), Dense(1)])
    outs = [model.predict_on_batch(rng.normal(size=(2, T, 2)).astype(np.float32))
            for T in (3, 7, 3)]
    assert [o.shape for o in outs] == [(2, 1)] * 3
    assert len(model._plans.infer_plans) == 2
    with monkeypatch.context() as m:
        _no_infer_plans(m)
        x = rng.normal(size=(2, 7, 2)).astype(np.float32)
        want = model.predict_on_batch(x)
    np.testing.assert_array_equal(model.predict_on_batch(x), want)


@pytest.mark.parametrize("layer", [lambda: LSTM(3, stateful=True),
                                   lambda: GRU(3, go_backwards=True)],
                         ids=["stateful", "go-backwards"])
def test_inference_general_path_layers(rng, layer):
    model = Sequential([Input(shape=(4, 2), batch_size=3), layer(), Dense(1)])
    model.predict_on_batch(rng.normal(size=(3, 4, 2)).astype(np.float32))
    assert [entry[-1] for entry in model._plans.infer_plans.values()] == [None]


def test_inference_plans_in_threads(rng, in_threads):
    model = Sequential([Input(shape=(6, 3)), LSTM(8), Dense(2)])
    xs = [rng.normal(size=(5, 6, 3)).astype(np.float32) for _ in range(4)]
    want = [model.predict_on_batch(x) for x in xs]

    def work(i):
        for _ in range(20):
            out = model.predict_on_batch(xs[i])
        return out
    for g, w in zip(in_threads(work, 4), want):
        np.testing.assert_array_equal(g, w)


def test_cache_compares_losses_optimizers_and_layers_by_identity(rng):
    """A recompile with a new optimizer or loss that compares equal (a class's __eq__)
    still rebuilds the plan; an __eq__ returning arrays does not break the check."""
    x, y = _xy(rng, 6)

    class SameAdam(fastrnn.optimizers.Adam):
        def __eq__(self, other):
            return isinstance(other, SameAdam)
        __hash__ = object.__hash__

    class ArrayEqMSE(fastrnn.losses.MeanSquaredError):
        def __eq__(self, other):
            return np.array([True, False])
        __hash__ = object.__hash__

    model = Sequential([Input(shape=(3, 2)), SimpleRNN(3), Dense(1)])
    model.compile(optimizer=SameAdam(), loss=ArrayEqMSE())
    for _ in range(2):
        model.train_on_batch(x, y)
    old = model.optimizer
    model.compile(optimizer=SameAdam(), loss=ArrayEqMSE())
    model.train_on_batch(x, y)
    assert old.iterations == 2 and model.optimizer.iterations == 1


def test_dense_backward_after_inference_uses_that_forward(rng):
    """Dense keeps what a manual backward needs after an inference call, as without
    plans: the gradient follows the latest forward."""
    model = Sequential([Input(shape=(3,)), Dense(2)])
    x1, x2 = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    model(x1, training=True)
    model.predict_on_batch(x2)
    dense = model.layers[0]
    dense.backward(np.ones((4, 2), dense.dtype))
    np.testing.assert_allclose(dense.grads[0], x2.astype(dense.dtype).T @ np.ones((4, 2)),
                               rtol=1e-6)


def test_models_that_fall_back_allocate_no_plan_workspaces(monkeypatch, rng):
    calls = []
    real = LSTM._allocate
    monkeypatch.setattr(LSTM, "_allocate",
                        lambda self, *a, **k: calls.append(a) or real(self, *a, **k))
    model = Sequential([Input(shape=(None, 3)), LSTM(4, return_sequences=True),
                        fastrnn.layers.Activation("relu"), Dense(1)])
    for T in (5, 6):
        model.predict_on_batch(rng.normal(size=(2, T, 3)).astype(np.float32))
    assert len(calls) == 2              # the general path's workspaces only


def test_a_rebuilt_plan_counts_as_recent(rng):
    model = Sequential([Input(shape=(None, 2)), GRU(3), Dense(1)])
    run = lambda T: model.predict_on_batch(np.ones((2, T, 2), np.float32))
    for T in (1, 2, 3, 4):
        run(T)
    model.layers[0].dropout = 0.1        # a setting of the pairs: plans are rebuilt
    run(1)
    run(5)                               # evicts the least recent: T = 2
    assert [k[0][1] for k in model._plans.infer_plans] == [3, 4, 1, 5]


def test_patched_methods_take_the_general_path(rng):
    from unittest import mock
    model = Sequential([Input(shape=(3,)), Dense(2)])
    x = rng.normal(size=(4, 3)).astype(np.float32)
    model.predict_on_batch(x)
    with mock.patch.object(Dense, "forward", autospec=True,
                           side_effect=lambda self, x, training=False: x[:, :2] * 0) as fake:
        out = model.predict_on_batch(x)
    assert fake.call_count == 1 and not out.any()
