"""Robustness (issue 6): clear errors for bad input, numerical faults, interrupted
training, reproducibility, memory and threads.

The compiled kernels run without bounds checks, so every public entry point must turn
whatever it is given into a checked array -- or refuse it with a ValueError, TypeError or
RuntimeError whose message names the problem.  The property-based counterpart, which
throws random shapes, dtypes and values at the same API, is test_robustness_property.py;
file saving and loading are covered by test_saving.py.
"""
import contextlib
import gc
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import fastrnn
from fastrnn import callbacks as cbs, optimizers
from fastrnn.data import check_index_range
from fastrnn.layers import (GRU, LSTM, Activation, Bidirectional, Dense, Dropout, Embedding,
                            Input, Layer, Masking, SimpleRNN, TimeDistributed)
from fastrnn.models import Sequential

T, I, N = 5, 3, 6
CELLS = {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}


def make_model(cell="SimpleRNN", compile=True, dtype=None, **compile_kwargs):
    model = Sequential([Input(shape=(T, I), dtype=dtype), CELLS[cell](4, dtype=dtype),
                        Dense(2, dtype=dtype)])
    if compile:
        compile_kwargs.setdefault("optimizer", "sgd")
        compile_kwargs.setdefault("loss", "mse")
        model.compile(**compile_kwargs)
    return model


def good_xy(n=N, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, T, I)).astype(np.float32),
            rng.normal(size=(n, 2)).astype(np.float32))


@contextlib.contextmanager
def raises(exc, *patterns):
    """pytest.raises that also checks several regexes against the message."""
    with pytest.raises(exc) as info:
        yield info
    message = str(info.value)
    for pattern in patterns:
        assert re.search(pattern, message), f"{pattern!r} not found in the message {message!r}"


# ======================================================================== bad x
# Every entry point that takes inputs.  'layer' calls the first (recurrent) layer
# directly, layer(x).
ENTRY_POINTS = {
    "fit": lambda m, x, y: m.fit(x, y, epochs=1, verbose=0),
    "evaluate": lambda m, x, y: m.evaluate(x, y, verbose=0),
    "predict": lambda m, x, y: m.predict(x, verbose=0),
    "train_on_batch": lambda m, x, y: m.train_on_batch(x, y),
    "test_on_batch": lambda m, x, y: m.test_on_batch(x, y),
    "predict_on_batch": lambda m, x, y: m.predict_on_batch(x),
    "model_call": lambda m, x, y: m(x),
    "layer_call": lambda m, x, y: m.layers[0](x),
}
Y_ENTRY_POINTS = ["fit", "evaluate", "train_on_batch", "test_on_batch"]


def _x(shape, dtype=np.float32, fill=0.5):
    return np.full(shape, fill, dtype)


def _nan_at(index, value):
    def make():
        x = _x((N, T, I))
        x[index] = value
        return x
    return make


# (id, factory, exception, regexes the message must contain)
BAD_X = [
    ("rank2", lambda: _x((N, I)), ValueError, [r"\(6, 3\)", r"2 dimensions|rank 3"]),
    ("rank4", lambda: _x((N, T, I, 2)), ValueError, [r"\(6, 5, 3, 2\)",
                                                      r"4 dimensions|rank 3"]),
    ("features", lambda: _x((N, T, I + 1)), ValueError, [r"\(6, 5, 4\)", r"features"]),
    ("empty_batch", lambda: _x((0, T, I)), ValueError, [r"empty", r"\(0, 5, 3\)"]),
    ("empty_time", lambda: _x((N, 0, I)), ValueError, [r"empty", r"\(6, 0, 3\)"]),
    ("empty_features", lambda: _x((N, T, 0)), ValueError, [r"empty", r"\(6, 5, 0\)"]),
    ("scalar", lambda: np.float32(1.0), ValueError, [r"scalar"]),
    ("string", lambda: "abc", TypeError, [r"string"]),
    ("bytes", lambda: b"abc", TypeError, [r"string"]),
    ("string_array", lambda: np.full((N, T, I), "1.5"), TypeError, [r"strings", r"<U3"]),
    ("object_array", lambda: np.empty((N, T, I), object), TypeError, [r"Python objects"]),
    ("none_entries", lambda: [[[None] * I] * T] * N, TypeError, [r"Python objects"]),
    ("complex", lambda: _x((N, T, I), np.complex64), TypeError, [r"complex", r"real"]),
    ("datetime", lambda: np.zeros((N, T, I), "datetime64[s]"), TypeError, [r"dates"]),
    ("ragged", lambda: [[[1.0, 2.0, 3.0]], [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]], ValueError,
     [r"ragged"]),
    ("dict", lambda: {"x": _x((N, T, I))}, TypeError, [r"dict"]),
    ("none", lambda: None, (ValueError, TypeError), [r"None"]),
    ("nan", _nan_at((2, 1, 0), np.nan), ValueError, [r"NaN or Inf", r"\(2, 1, 0\)"]),
    ("inf", _nan_at((0, 4, 2), -np.inf), ValueError, [r"NaN or Inf", r"-inf"]),
    ("float32_overflow", lambda: _x((N, T, I), np.float64, 1e300), ValueError,
     [r"too large for float32", r"1e\+300"]),
]


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize("case", BAD_X, ids=[c[0] for c in BAD_X])
def test_bad_x_raises_a_clear_error(entry, case):
    _, factory, exc, patterns = case
    model = make_model()
    before = model.get_weights()
    _, y = good_xy()
    with raises(exc, *patterns):
        ENTRY_POINTS[entry](model, factory(), y)
    # nothing changed, and the model still works
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.predict(good_xy()[0], verbose=0).shape == (N, 2)


def test_wrong_number_of_timesteps_is_refused_by_a_fixed_shape_model():
    model = make_model()
    with raises(ValueError, r"\(6, 7, 3\)", r"7 entries on axis 1 instead of 5"):
        model.predict(_x((N, 7, I)), verbose=0)


def test_layer_forward_refuses_what_it_cannot_index():
    """The last guard before a kernel: C-int sizes (checked on a zero-copy view)."""
    layer = SimpleRNN(2)
    layer.build((None, 1))
    huge = np.broadcast_to(np.float32(0), (2 ** 16, 2 ** 15 + 1, 1))   # 2**31 + 2**16 rows
    with raises(ValueError, r"too large for the compiled kernels"):
        layer.forward(huge)
    with raises(ValueError, r"too large"):
        check_index_range((2 ** 31, 1), "x")
    check_index_range((2 ** 15, 2 ** 15, 7), "x")      # 2**30 rows: fine


# ================================================================= accepted x
ACCEPTED_X = {
    "list": lambda x: x.tolist(),
    "tuple_of_arrays": lambda x: tuple(x),
    "fortran": np.asfortranarray,
    "strided": lambda x: np.repeat(x, 2, axis=1)[:, ::2],
    "reversed_view": lambda x: x[::-1][::-1],
    "float64": lambda x: x.astype(np.float64),
    "float16": lambda x: x.astype(np.float16),
    "int64": lambda x: np.round(x * 3).astype(np.int64),
    "uint8": lambda x: np.abs(np.round(x * 3)).astype(np.uint8),
    "bool": lambda x: x > 0,
}


@pytest.mark.parametrize("kind", list(ACCEPTED_X))
@pytest.mark.parametrize("entry", ["predict", "predict_on_batch", "model_call", "layer_call"])
def test_accepted_inputs_are_converted(kind, entry):
    model = make_model()
    x, _ = good_xy()
    given = ACCEPTED_X[kind](x)
    reference = np.ascontiguousarray(np.asarray(given), dtype=np.float32)
    got = ENTRY_POINTS[entry](model, given, None)
    want = ENTRY_POINTS[entry](model, reference, None)
    assert got.dtype == np.float32 and got.flags.c_contiguous
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("kind", ["fortran", "strided", "list", "float64", "int64"])
def test_fit_on_converted_inputs_equals_fit_on_float32(kind):
    x, y = good_xy()
    results = []
    for variant in (ACCEPTED_X[kind], lambda a: a):
        fastrnn.utils.set_random_seed(3)
        model = make_model()
        xv = variant(x)
        model.fit(xv, y if variant is not ACCEPTED_X[kind] else ACCEPTED_X[kind](y),
                  epochs=2, batch_size=4, verbose=0)
        results.append(model.get_weights())
    # the reference is fitted on exactly the converted values
    fastrnn.utils.set_random_seed(3)
    model = make_model()
    xr = np.ascontiguousarray(np.asarray(ACCEPTED_X[kind](x)), dtype=np.float32)
    yr = np.ascontiguousarray(np.asarray(ACCEPTED_X[kind](y)), dtype=np.float32)
    model.fit(xr, yr, epochs=2, batch_size=4, verbose=0)
    for a, b in zip(results[0], model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_float64_model_keeps_float64():
    model = make_model(dtype="float64")
    x, _ = good_xy()
    out = model.predict(x, verbose=0)                 # float32 in, float64 model
    assert out.dtype == np.float64
    assert model.layers[0](x.tolist()).dtype == np.float64


# ======================================================================== bad y
BAD_Y = [
    ("batch_mismatch", lambda y: y[:4], ValueError, [r"different numbers of samples",
                                                     r"6 and 4"]),
    ("nan", lambda y: np.where(np.arange(y.size).reshape(y.shape) == 3, np.nan, y),
     ValueError, [r"y contains NaN or Inf", r"\(1, 1\)"]),
    ("inf", lambda y: y * np.inf, ValueError, [r"y contains NaN or Inf"]),
    ("strings", lambda y: y.astype(str), TypeError, [r"y must hold real numbers", r"strings"]),
    ("complex", lambda y: y.astype(complex), TypeError, [r"complex"]),
    ("empty", lambda y: y[:0], ValueError, [r"y is empty"]),
    ("none", lambda y: None, ValueError, [r"y is None"]),
    ("wrong_shape", lambda y: np.zeros((N, 3), np.float32), ValueError, [r"\(6, 3\)",
                                                                        r"\(6, 2\)"]),
]


@pytest.mark.parametrize("entry", Y_ENTRY_POINTS)
@pytest.mark.parametrize("case", BAD_Y, ids=[c[0] for c in BAD_Y])
def test_bad_y_raises_a_clear_error(entry, case):
    _, factory, exc, patterns = case
    model = make_model()
    before = model.get_weights()
    x, y = good_xy()
    with raises(exc, *patterns):
        ENTRY_POINTS[entry](model, x, factory(y))
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_bad_validation_data_and_sample_weight():
    model = make_model()
    x, y = good_xy()
    with raises(ValueError, r"different numbers of samples"):
        model.fit(x, y, validation_data=(x, y[:3]), verbose=0)
    with raises(ValueError, r"NaN or Inf"):
        model.fit(x, y, validation_data=(x * np.nan, y), verbose=0)
    with raises(ValueError, r"validation_data must be a tuple"):
        model.fit(x, y, validation_data=x, verbose=0)
    with raises(ValueError, r"sample_weight has 3 entries for 6 samples"):
        model.fit(x, y, sample_weight=np.ones(3), verbose=0)
    with raises(ValueError, r"sample_weight contains NaN or Inf"):
        model.fit(x, y, sample_weight=np.full(N, np.nan), verbose=0)
    with raises(ValueError, r"leaves no samples"):
        model.fit(x[:1], y[:1], validation_split=0.5, verbose=0)


# ============================================================== fit arguments
BAD_FIT_ARGS = [
    ({"epochs": "3"}, TypeError, [r"epochs must be an integer", r"'3'"]),
    ({"epochs": 2.5}, TypeError, [r"epochs must be an integer", r"2\.5"]),
    ({"epochs": None}, TypeError, [r"epochs must be an integer"]),
    ({"epochs": True}, TypeError, [r"epochs must be an integer"]),
    ({"epochs": -1}, ValueError, [r"epochs must be >= 0"]),
    ({"initial_epoch": "1"}, TypeError, [r"initial_epoch must be an integer"]),
    ({"initial_epoch": -2}, ValueError, [r"initial_epoch must be >= 0"]),
    ({"batch_size": 0}, ValueError, [r"batch_size must be a positive integer, got 0"]),
    ({"batch_size": -4}, ValueError, [r"batch_size must be a positive integer"]),
    ({"batch_size": 2.0}, ValueError, [r"batch_size must be a positive integer, got 2\.0"]),
    ({"batch_size": "8"}, ValueError, [r"batch_size must be a positive integer, got '8'"]),
    ({"batch_size": True}, ValueError, [r"batch_size must be a positive integer"]),
    ({"validation_split": "0.2"}, TypeError, [r"validation_split must be a number"]),
    ({"validation_split": 1.0}, ValueError, [r"validation_split must be in \[0, 1\)"]),
    ({"shuffle": "batch"}, TypeError, [r"shuffle must be True or False"]),
    ({"verbose": "loud"}, ValueError, [r"verbose must be 'auto', 0, 1 or 2"]),
    ({"verbose": 7}, ValueError, [r"verbose must be"]),
    ({"callbacks": 3}, TypeError, [r"callbacks must be a list"]),
    ({"callbacks": [object()]}, TypeError, [r"Callback instances"]),
]


@pytest.mark.parametrize("kwargs,exc,patterns", BAD_FIT_ARGS,
                         ids=[repr(c[0]) for c in BAD_FIT_ARGS])
def test_fit_arguments_of_wrong_type_or_value(kwargs, exc, patterns):
    model = make_model()
    before = model.get_weights()
    x, y = good_xy()
    kwargs = dict(kwargs)
    kwargs.setdefault("verbose", 0)
    with raises(exc, *patterns):
        model.fit(x, y, **kwargs)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_evaluate_and_predict_arguments():
    model = make_model()
    x, y = good_xy()
    with raises(ValueError, r"batch_size must be a positive integer"):
        model.evaluate(x, y, batch_size=0, verbose=0)
    with raises(ValueError, r"batch_size must be a positive integer"):
        model.predict(x, batch_size="all", verbose=0)
    with raises(ValueError, r"verbose must be"):
        model.predict(x, verbose="x")


def test_fit_with_zero_epochs_does_nothing():
    model = make_model()
    before = model.get_weights()
    history = model.fit(*good_xy(), epochs=0, verbose=0)
    assert history.history == {}
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


# ============================================================ compile and names
def test_using_a_model_before_compile():
    model = make_model(compile=False)
    x, y = good_xy()
    for call in (lambda: model.fit(x, y, verbose=0), lambda: model.evaluate(x, y, verbose=0),
                 lambda: model.train_on_batch(x, y), lambda: model.test_on_batch(x, y)):
        with raises(RuntimeError, r"compile\(\)"):
            call()
    # inference needs no compile (as in Keras)
    assert model.predict(x, verbose=0).shape == (N, 2)


def test_empty_model_and_unbuilt_layers():
    with raises(ValueError, r"no layers"):
        Sequential().predict(good_xy()[0], verbose=0)
    with raises(ValueError, r"not built"):
        Sequential([SimpleRNN(2)]).set_weights([])
    with raises(ValueError, r"not built"):
        Dense(2).set_weights([np.zeros((3, 2)), np.zeros(2)])


@pytest.mark.parametrize("what,make,must_list", [
    ("optimizer", lambda: make_model(compile=False).compile(optimizer="adamax_typo",
                                                            loss="mse"),
     ["adamax_typo", "sgd", "rmsprop", "adam", "adagrad"]),
    ("loss", lambda: make_model(compile=False).compile(optimizer="sgd", loss="mse_typo"),
     ["mse_typo", "mean_squared_error", "binary_crossentropy"]),
    ("metric", lambda: make_model(compile=False).compile(optimizer="sgd", loss="mse",
                                                         metrics=["acuracy"]),
     ["acuracy", "accuracy", "mae"]),
    ("dense activation", lambda: Dense(2, activation="gelu_typo"),
     ["gelu_typo", "linear", "relu", "sigmoid", "softmax", "tanh"]),
    ("Activation layer", lambda: Activation("swish_typo"), ["swish_typo", "tanh"]),
    ("rnn activation", lambda: SimpleRNN(2, activation="tanhh"), ["tanhh", "tanh"]),
    ("lstm recurrent activation", lambda: LSTM(2, recurrent_activation="hard_sigmoid_x"),
     ["hard_sigmoid_x", "sigmoid"]),
    ("kernel activation", lambda: GRU(2, activation="softmax"),
     ["softmax", "linear", "tanh", "sigmoid", "relu"]),
    ("initializer", lambda: Dense(2, kernel_initializer="glorot_typo"),
     ["glorot_typo", "glorot_uniform", "orthogonal"]),
])
def test_unknown_names_list_the_valid_ones(what, make, must_list):
    with pytest.raises(ValueError) as info:
        make()
    message = str(info.value)
    for name in must_list:
        assert name in message, (what, name, message)


def test_compile_needs_an_optimizer_and_a_loss():
    with raises(ValueError, r"needs an optimizer"):
        make_model(compile=False).compile(optimizer=None, loss="mse")
    with raises(ValueError, r"needs a loss"):
        make_model(compile=False).compile(optimizer="sgd")
    with raises(TypeError, r"metrics must be a list"):
        make_model(compile=False).compile(optimizer="sgd", loss="mse", metrics="mae")


def test_failed_compile_keeps_the_previous_one():
    model = make_model(optimizer="adam")
    optimizer, loss = model.optimizer, model.loss
    with pytest.raises(ValueError):
        model.compile(optimizer="sgd", loss="nope")
    assert model.optimizer is optimizer and model.loss is loss


# ================================================================ set_weights
def test_set_weights_refuses_bad_arrays_and_changes_nothing():
    model = make_model()
    good = model.get_weights()                # kernel (3,4), recurrent (4,4), bias (4,),
    shapes = [w.shape for w in good]          # dense kernel (4,2), dense bias (2,)
    assert shapes == [(3, 4), (4, 4), (4,), (4, 2), (2,)]

    def with_last(value):
        return good[:-1] + [value]

    cases = [
        (None, TypeError, [r"list of arrays", r"NoneType"]),
        (42, TypeError, [r"list of arrays", r"int"]),
        (good[:-1], ValueError, [r"expects 5 arrays, got 4"]),
        (good + [good[0]], ValueError, [r"expects 5 arrays, got 6"]),
        (with_last(np.zeros(3)), ValueError, [r"'bias' has shape \(2,\)",
                                              r"array of shape \(3,\)"]),
        ([good[0].T] + good[1:], ValueError, [r"'kernel' has shape \(3, 4\)",
                                              r"shape \(4, 3\)"]),
        (with_last(np.array([np.nan, 0.0])), ValueError, [r"'bias' contains NaN or Inf"]),
        (with_last(np.array([np.inf, 0.0])), ValueError, [r"NaN or Inf"]),
        (with_last(np.array([1e300, 0.0])), ValueError, [r"too large for float32"]),
        (with_last(np.array(["a", "b"])), ValueError, [r"must be real numbers", r"<U1"]),
        (with_last(np.array([1 + 1j, 0])), ValueError, [r"must be real numbers", r"complex"]),
        (with_last(np.array([None, None])), ValueError, [r"must be real numbers", r"object"]),
        (with_last(None), TypeError, [r"'bias' must be an array of real numbers"]),
        (with_last("ab"), TypeError, [r"'bias' must be an array"]),
        (with_last([[1.0], [2.0, 3.0]]), ValueError, [r"'bias' could not be converted"]),
    ]
    for value, exc, patterns in cases:
        with raises(exc, *patterns):
            model.set_weights(value)
        # all or nothing: the earlier (valid) arrays were not applied either
        for a, b in zip(good, model.get_weights()):
            np.testing.assert_array_equal(a, b)
    # a layer's own set_weights checks the same way
    with raises(ValueError, r"expects 3 weight arrays \(kernel, recurrent_kernel, bias\)"):
        model.layers[0].set_weights(good[:2])


def test_set_weights_converts_what_it_accepts():
    model = make_model()
    new = [np.ones(w.shape, np.int64) for w in model.get_weights()]
    new[0] = np.asfortranarray(np.arange(12, dtype=np.float64).reshape(3, 4) / 10)
    new[-1] = [0.5, -0.5]                                   # a list
    kernel = model.layers[0].kernel
    model.set_weights(new)
    assert model.layers[0].kernel is kernel                  # updated in place
    for w, v in zip(model.get_weights(), new):
        assert w.dtype == np.float32 and w.flags.c_contiguous
        np.testing.assert_array_equal(w, np.asarray(v, np.float32))


# ================================================================ layer calls
def test_direct_layer_calls_validate_like_the_model():
    dense = Dense(3)
    with raises(ValueError, r"Input of layer 'dense\w*' is empty"):
        dense(np.zeros((0, 4)))
    assert not dense.built                         # refused data does not build it
    with raises(ValueError, r"NaN or Inf"):
        dense(np.full((2, 4), np.nan))
    with raises(TypeError, r"complex"):
        dense(np.ones((2, 4), complex))
    out = dense([[1, 2, 3, 4]])                    # a list of ints: converted
    assert out.shape == (1, 3) and out.dtype == np.float32
    with raises(ValueError, r"expects inputs \(batch, \.\.\., 4\)"):
        dense(np.ones((2, 5)))
    lstm = LSTM(2)
    with raises(ValueError, r"expects inputs of shape \(timesteps, features\)"):
        lstm(np.ones((2, 3)))
    bi = Bidirectional(GRU(2))
    assert bi(np.ones((2, 3, 1))).shape == (2, 4)
    with raises(ValueError, r"rank 3"):
        bi(np.ones((2, 3)))
    emb = Embedding(5, 2)
    with raises(ValueError, r"ids must be in \[0, 5\)"):
        emb(np.array([[1, 7]]))
    with raises(ValueError, r"integer ids"):
        emb(np.array([[1.5]]))
    with raises(ValueError, r"integer ids"):
        emb(np.array([["a"]]))
    with raises(ValueError, r"ids must be in"):
        emb(np.array([[2 ** 63]], np.uint64))
    td = TimeDistributed(Dense(2))
    with raises(TypeError, r"strings"):
        td(np.full((1, 2, 3), "x"))
    with raises(ValueError, r"Input of layer 'masking\w*' contains NaN"):
        Masking()(np.full((1, 2, 3), np.nan))


def test_sequential_add_refuses_a_layer_that_does_not_fit():
    model = Sequential([Input(shape=(T, I)), SimpleRNN(4)])
    with raises(ValueError, r"expects inputs of shape \(timesteps, features\)"):
        model.add(LSTM(3))                         # (4,) is not a sequence
    assert len(model.layers) == 1
    model.add(Dense(1))                            # and the model is still fine
    assert model.predict(good_xy()[0], verbose=0).shape == (N, 1)


def test_lazily_built_model_survives_wrongly_shaped_first_data():
    model = Sequential([SimpleRNN(3), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with raises(ValueError, r"timesteps, features"):
        model.predict(np.ones((2, 4)), verbose=0)
    assert not model.built
    assert model.predict(np.ones((2, 4, 2)), verbose=0).shape == (2, 1)


# ========================================================== numerical faults
def _diverging_regression(seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(64, 4)) * 10).astype(np.float32)
    return x, x.sum(axis=1, keepdims=True)


def _linear_model(optimizer):
    model = Sequential([Input(shape=(4,)), Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    return model


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_non_finite_loss_is_reported_in_the_history():
    x, y = _diverging_regression()
    model = _linear_model(optimizers.SGD(learning_rate=1.0))   # lr >> 2 / lambda_max
    history = model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    losses = history.history["loss"]
    assert len(losses) == 20
    assert np.isfinite(losses[0]) and not np.isfinite(losses[-1])
    # the model still runs (its weights are NaN: the outputs are, too)
    assert model.predict(x, verbose=0).shape == (64, 1)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_terminate_on_nan_stops_training_at_the_bad_batch():
    x, y = _diverging_regression()
    fastrnn.utils.set_random_seed(1)
    model = _linear_model(optimizers.SGD(learning_rate=1.0))
    history = model.fit(x, y, epochs=20, batch_size=16, verbose=0,
                        callbacks=[cbs.TerminateOnNaN()])
    losses = history.history["loss"]
    assert len(losses) < 20
    assert all(np.isfinite(losses[:-1])) and not np.isfinite(losses[-1])
    assert model.optimizer.iterations < 4 * len(losses)        # stopped inside the epoch

    # a NaN that gets into the weights behind set_weights' back: stops after one batch
    model = make_model()
    model.layers[0].kernel[0, 0] = np.nan
    history = model.fit(*good_xy(), epochs=5, batch_size=2, verbose=0,
                        callbacks=[cbs.TerminateOnNaN()])
    assert len(history.history["loss"]) == 1 and np.isnan(history.history["loss"][0])
    assert model.optimizer.iterations == 1

    bad = make_model()
    bad.layers[-1].bias[0] = np.inf
    with raises(RuntimeError, r"NaN or Inf loss"):
        bad.fit(*good_xy(), epochs=2, verbose=0,
                callbacks=[cbs.TerminateOnNaN(raise_error=True)])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("clip", [{"clipnorm": 1.0}, {"clipvalue": 0.1},
                                  {"global_clipnorm": 1.0}])
def test_gradient_clipping_prevents_divergence(clip):
    x, y = _diverging_regression()
    fastrnn.utils.set_random_seed(2)
    unclipped = _linear_model(optimizers.SGD(learning_rate=1.0))
    assert not np.isfinite(unclipped.fit(x, y, epochs=30, batch_size=16,
                                         verbose=0).history["loss"][-1])
    fastrnn.utils.set_random_seed(2)
    model = _linear_model(optimizers.SGD(learning_rate=1.0, **clip))
    losses = model.fit(x, y, epochs=30, batch_size=16, verbose=0).history["loss"]
    assert np.isfinite(losses).all()
    # each step moves the weights by at most lr * clip: bounded after 120 steps
    for w in model.get_weights():
        assert np.isfinite(w).all() and np.abs(w).max() < 120 * 1.0 * 2


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("opt", ["rmsprop", "adam", "adagrad"])
def test_clipping_keeps_a_recurrent_model_finite_at_a_huge_learning_rate(opt):
    fastrnn.utils.set_random_seed(4)
    model = Sequential([Input(shape=(T, I)), LSTM(4, return_sequences=True), GRU(3),
                        Dense(1)])
    model.compile(optimizer=optimizers.get({"class_name": opt, "config": {
        "learning_rate": 1e3, "global_clipnorm": 1.0}}), loss="mse")
    x, _ = good_xy(32)
    y = (x.sum(axis=(1, 2)) * 1e3)[:, None]
    losses = model.fit(x, y, epochs=5, batch_size=8, verbose=0).history["loss"]
    assert np.isfinite(losses).all()
    assert all(np.isfinite(w).all() for w in model.get_weights())


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_huge_inputs_give_finite_recurrent_outputs(cell, activation, dtype):
    """Inputs of +-1e30 overflow exp() in a naive sigmoid/tanh; the kernels must saturate."""
    fastrnn.utils.set_random_seed(5)
    # (the gates keep their sigmoid: with unbounded relu gates the cell state itself
    # outgrows float32 -- 1e30 * 1e30 -- and that math is not finite)
    kwargs = {"activation": activation}
    model = Sequential([Input(shape=(T, I), dtype=dtype),
                        CELLS[cell](4, return_sequences=True, dtype=dtype, **kwargs),
                        CELLS[cell](3, go_backwards=True, dtype=dtype, **kwargs),
                        Dense(3, activation="softmax", dtype=dtype)])
    x = np.full((4, T, I), 1e30, dtype)
    x[1] *= -1
    x[2, :, 0] *= -1
    x[3, ::2] *= -1
    out = model.predict(x, verbose=0)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
    hidden = model.layers[0](x)
    assert np.isfinite(hidden).all()
    if activation != "relu":
        assert np.abs(hidden).max() <= 1.0
    model.compile(optimizer="sgd", loss="mse")
    assert np.isfinite(model.train_on_batch(x, np.zeros((4, 3), dtype)))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "softmax", "relu", "linear"])
def test_huge_inputs_give_finite_dense_and_activation_outputs(activation):
    x = np.array([[1e30, -1e30, 5.0, 0.0], [-1e30, -1e30, 1e30, 1e30]], np.float32)
    out = Dense(3, activation=activation)(x)
    assert np.isfinite(out).all()
    # the extremes of float32 straight into the activation
    z = np.array([[3.4e38, -3.4e38, 0.0], [-3.4e38, -3.4e38, -3.4e38]], np.float32)
    out = Activation(activation)(z)
    assert np.isfinite(out).all()
    if activation == "softmax":
        np.testing.assert_allclose(out.sum(axis=-1), 1.0, rtol=1e-6)
        np.testing.assert_allclose(out[0], [1.0, 0.0, 0.0])


# ============================================================ interrupting fit
class _ActAt(cbs.Callback):
    """Calls action(model) in on_train_batch_end of (epoch, step)."""

    def __init__(self, epoch, step, action):
        super().__init__()
        self.at, self.action, self.epoch = (epoch, step), action, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            self.action(self.model)


def _interrupt_model():
    fastrnn.utils.set_random_seed(11)
    model = Sequential([Input(shape=(T, I)), LSTM(6, dropout=0.2), Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    return model


def _stop(model):
    model.stop_training = True


def _interrupt(model):
    raise KeyboardInterrupt


def _reference_weights(epoch, step, data):
    """Weights of a run that stops cleanly after (epoch, step)."""
    model = _interrupt_model()
    model.fit(*data, epochs=3, batch_size=8, verbose=0, callbacks=[_ActAt(epoch, step, _stop)])
    return model.get_weights(), model.optimizer.iterations


def test_keyboard_interrupt_from_a_callback_leaves_the_last_step():
    data = good_xy(40, seed=3)                    # 5 steps per epoch
    want, iterations = _reference_weights(1, 2, data)
    assert iterations == 8

    model = _interrupt_model()
    with pytest.raises(KeyboardInterrupt):
        model.fit(*data, epochs=3, batch_size=8, verbose=0,
                  callbacks=[_ActAt(1, 2, _interrupt)])
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert model.optimizer.iterations == 8
    for a, b in zip(model.get_weights(), want):
        assert np.isfinite(a).all()
        np.testing.assert_array_equal(a, b)
    # usable afterwards: predict, evaluate and more training
    assert np.isfinite(model.predict(data[0], verbose=0)).all()
    assert np.isfinite(model.evaluate(*data, verbose=0))
    history = model.fit(*data, epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def _sigint_in_step(model, at_call, times=1):
    """Make the optimizer deliver Ctrl-C (SIGINT) ``times`` times during its call number
    ``at_call``, before it updates anything: an interrupt in the middle of a step."""
    apply = model.optimizer.apply
    count = {"n": 0}

    def interrupted_apply(grads, variables):
        count["n"] += 1
        if count["n"] == at_call:
            for _ in range(times):
                signal.raise_signal(signal.SIGINT)
        return apply(grads, variables)

    model.optimizer.apply = interrupted_apply


needs_default_sigint = pytest.mark.skipif(
    signal.getsignal(signal.SIGINT) is not signal.default_int_handler,
    reason="a SIGINT handler other than Python's is installed")


@needs_default_sigint
def test_ctrl_c_during_a_step_finishes_the_step_first():
    data = good_xy(40, seed=3)
    want, _ = _reference_weights(1, 2, data)      # stops after step 8
    model = _interrupt_model()
    _sigint_in_step(model, at_call=8)
    with pytest.raises(KeyboardInterrupt):
        model.fit(*data, epochs=3, batch_size=8, verbose=0)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert model.optimizer.iterations == 8
    for a, b in zip(model.get_weights(), want):
        np.testing.assert_array_equal(a, b)


@needs_default_sigint
def test_second_ctrl_c_interrupts_at_once():
    data = good_xy(40, seed=3)
    want, _ = _reference_weights(1, 1, data)      # stops after step 7
    model = _interrupt_model()
    _sigint_in_step(model, at_call=8, times=2)
    with pytest.raises(KeyboardInterrupt):
        model.fit(*data, epochs=3, batch_size=8, verbose=0)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert model.optimizer.iterations == 7      # step 8 never applied
    for a, b in zip(model.get_weights(), want):
        np.testing.assert_array_equal(a, b)
    assert np.isfinite(model.predict(data[0], verbose=0)).all()


@needs_default_sigint
def test_ctrl_c_during_train_on_batch_finishes_the_step():
    x, y = good_xy(8)
    model = _interrupt_model()
    twin = _interrupt_model()
    twin.set_weights(model.get_weights())
    _sigint_in_step(model, at_call=1)
    fastrnn.utils.set_random_seed(12)                # the same dropout masks for both
    with pytest.raises(KeyboardInterrupt):
        model.train_on_batch(x, y)
    fastrnn.utils.set_random_seed(12)
    twin.train_on_batch(x, y)
    assert model.optimizer.iterations == 1
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_sigint_handler_of_the_user_is_left_alone():
    calls = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: calls.append(signum))
    try:
        model = make_model()
        _sigint_in_step(model, at_call=1)
        model.fit(*good_xy(), epochs=1, verbose=0)      # the user's handler runs instead
        assert calls == [signal.SIGINT]
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)


def test_fit_from_a_thread_ignores_the_signal_machinery():
    model = make_model()
    errors = []

    def work():
        try:
            model.fit(*good_xy(), epochs=1, verbose=0)
        except Exception as exc:      # pragma: no cover - reported below
            errors.append(exc)
    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert not errors
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# =========================================================== reproducibility
TRAIN_SCRIPT = textwrap.dedent('''
    import numpy as np
    import fastrnn
    from fastrnn.layers import GRU, LSTM, Dense, Dropout, Input
    from fastrnn.models import Sequential


    def train(seed):
        fastrnn.utils.set_random_seed(seed)       # initializers, shuffling and dropout
        model = Sequential([Input(shape=(6, 3)), LSTM(8, dropout=0.2, return_sequences=True),
                            Dropout(0.3), GRU(4, dropout=0.1), Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        data = np.random.default_rng(0)
        x = data.normal(size=(48, 6, 3)).astype(np.float32)
        y = data.normal(size=(48, 1)).astype(np.float32)
        model.fit(x, y, batch_size=8, epochs=2, shuffle=True, verbose=0)
        return model.get_weights()
''')


def _train(seed):
    namespace = {}
    exec(TRAIN_SCRIPT, namespace)
    return namespace["train"](seed)


def test_same_seed_same_weights_in_one_process():
    a, b, c = _train(7), _train(7), _train(8)
    for wa, wb in zip(a, b):
        assert wa.tobytes() == wb.tobytes()
    assert any(wa.tobytes() != wc.tobytes() for wa, wc in zip(a, c))


def test_same_seed_same_weights_across_processes(tmp_path):
    threads = fastrnn.config.get_num_threads()
    script = tmp_path / "train.py"
    script.write_text(TRAIN_SCRIPT + textwrap.dedent(f'''
        import sys
        if {threads!r} is not None:
            fastrnn.config.set_num_threads({threads!r})
        np.savez(sys.argv[1], *train(7))
    '''))
    outputs = []
    for i in range(2):
        out = tmp_path / f"weights{i}.npz"
        subprocess.run([sys.executable, str(script), str(out)], check=True, cwd=tmp_path,
                       timeout=120)
        with np.load(out, allow_pickle=False) as f:
            outputs.append([f[k] for k in sorted(f.files, key=lambda k: int(k[4:]))])
    here = _train(7)
    for a, b, c in zip(*outputs, here):
        assert a.tobytes() == b.tobytes() == c.tobytes()


def test_set_random_seed_refuses_bad_seeds():
    for bad in (-1, 1.5, "3", None, True):
        with raises(ValueError, r"seed must be a non-negative integer"):
            fastrnn.utils.set_random_seed(bad)


def test_set_random_seed_seeds_python_and_numpy_globals_as_keras():
    import random
    fastrnn.utils.set_random_seed(5)
    a = (random.random(), np.random.random())
    fastrnn.utils.set_random_seed(5)
    assert (random.random(), np.random.random()) == a


# ==================================================================== memory
def _rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    pytest.skip("no VmRSS in /proc/self/status")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
def test_ten_thousand_training_steps_do_not_grow_memory():
    fastrnn.utils.set_random_seed(0)
    model = Sequential([Input(shape=(T, I)), LSTM(4, dropout=0.1, return_sequences=True),
                        GRU(3), Dense(1)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    x, y = good_xy(8)
    y = y[:, :1]
    xs, ys = good_xy(400, seed=1)
    ys = ys[:, :1]

    def train(steps_on_batch, epochs):
        for _ in range(steps_on_batch):
            model.train_on_batch(x, y)
        model.fit(xs, ys, batch_size=8, epochs=epochs, verbose=0)     # 50 steps per epoch
        model.predict(xs[:16], verbose=0)

    train(500, 10)                                 # warm-up: caches, workspaces, allocator
    gc.collect()
    before = _rss_kib()
    train(5000, 100)                               # 5,000 + 5,000 steps
    gc.collect()
    grown = _rss_kib() - before
    assert model.optimizer.iterations == 500 + 500 + 5000 + 5000
    assert grown < 2048, f"RSS grew by {grown} KiB over 10,000 training steps"


# =================================================================== threads
def _threaded(model, inputs, repeats=20):
    barrier = threading.Barrier(len(inputs))
    results = [[] for _ in inputs]
    errors = []

    def work(i):
        try:
            barrier.wait()
            for _ in range(repeats):
                results[i].append(model.predict(inputs[i], verbose=0))
        except Exception as exc:        # pragma: no cover - reported below
            errors.append(exc)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def test_predict_from_four_threads_equals_sequential_predict():
    fastrnn.utils.set_random_seed(0)
    model = Sequential([Input(shape=(None, 3)), Masking(),
                        Bidirectional(GRU(8, return_sequences=True)),
                        TimeDistributed(Dense(4, activation="tanh")), Dropout(0.3),
                        LSTM(6, return_sequences=True), SimpleRNN(5),
                        Dense(2, activation="softmax")])
    rng = np.random.default_rng(1)
    # two threads share a shape (so the same workspace size), two do not
    inputs = [rng.normal(size=(b, t, 3)).astype(np.float32)
              for b, t in [(16, 20), (16, 20), (7, 9), (32, 50)]]
    for x in inputs:
        x[:, -2:] = 0                                    # masked tails
    want = [model.predict(x, verbose=0) for x in inputs]
    for i, runs in enumerate(_threaded(model, inputs)):
        for got in runs:
            np.testing.assert_array_equal(got, want[i])


class _Rendezvous(Layer):
    """Identity layer whose training forward runs ``hook()`` -- here, a whole predict on
    another thread -- between the training forward and backward of every other layer."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hook = None

    def forward(self, x, training=False):
        if training and self.hook is not None:
            self.hook()
        return x

    def backward(self, dy):
        return dy


def _stack(rendezvous=None):
    layers = [Input(shape=(T, I)), SimpleRNN(4, return_sequences=True),
              Bidirectional(LSTM(3, return_sequences=True)), TimeDistributed(Dense(3)),
              Masking(), Activation("tanh"), Dropout(0.2), GRU(3), Dense(4)]
    if rendezvous is not None:
        layers.append(rendezvous)
    model = Sequential(layers + [Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_inference_on_another_thread_between_forward_and_backward():
    """What a training step's backward needs stays in its thread: a predict on another
    thread (other batch size, same layers) run between every layer's forward and backward
    changes nothing -- the weights equal those of undisturbed training."""
    fastrnn.utils.set_random_seed(0)
    meeting = _Rendezvous()
    model = _stack(meeting)
    twin = _stack(_Rendezvous())
    twin.set_weights(model.get_weights())
    x, y = good_xy(16)
    probe = good_xy(3, seed=9)[0]
    seen = []

    def predict_elsewhere():
        t = threading.Thread(target=lambda: seen.append(model.predict(probe, verbose=0)))
        t.start()
        t.join()

    meeting.hook = predict_elsewhere
    fastrnn.utils.set_random_seed(1)
    for _ in range(3):
        model.train_on_batch(x, y)
    assert len(seen) == 3 and all(np.isfinite(s).all() for s in seen)
    fastrnn.utils.set_random_seed(1)
    for _ in range(3):
        twin.train_on_batch(x, y)
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)
