"""Property-based robustness (issue 6): random shapes, dtypes and values thrown at the
public API never crash the interpreter.

Each call either works -- and then, where the inputs were finite and of moderate size
(|x| <= 1e30), its outputs are finite and of the right shape -- or raises a Python
ValueError / TypeError / RuntimeError with a message.  After every call, failed or not,
the model still predicts.  The unchecked Cython kernels sit behind these calls, so a
missed check would show up here as a segfault or as another exception type.

The example budget is fixed and the search derandomized, so CI runs the same examples
every time (a few seconds).  For a longer random search:
FASTRNN_ROBUSTNESS_EXAMPLES=5000 pytest tests/test_robustness_property.py
(random, not derandomized, when the variable is set).
"""
import os

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, event, given, settings, strategies as st  # noqa: E402

from fastrnn import layers as L  # noqa: E402
from fastrnn.models import Sequential  # noqa: E402

ALLOWED = (ValueError, TypeError, RuntimeError)

# Huge values overflow on purpose (float32 inputs, squared errors of diverging fits).
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

_EXAMPLES = os.environ.get("FASTRNN_ROBUSTNESS_EXAMPLES")
SETTINGS = settings(max_examples=int(_EXAMPLES or 200), deadline=None,
                    derandomize=not _EXAMPLES, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

NUMERIC = ["bool", "int8", "uint8", "int64", "uint64", "float16", "float32", "float64"]
OTHER = ["complex64", "complex128", "object", "str", "datetime64[s]"]
# Numbers most of the time (so that the calls get past the dtype check), others often.
DTYPES = st.one_of(st.sampled_from(["float32", "float64"]), st.sampled_from(NUMERIC),
                   st.sampled_from(NUMERIC + OTHER))
# Special values mixed into float arrays; the huge ones overflow float32 or float16.
SPECIALS = [np.nan, np.inf, -np.inf, 1e30, -1e30, 3.4e38, 1e300, 5e-324, 0.0, -0.0]
RECURRENT = {"SimpleRNN": L.SimpleRNN, "LSTM": L.LSTM, "GRU": L.GRU}
MODERATE = 1e30


@st.composite
def model_specs(draw):
    kind = draw(st.sampled_from(["SimpleRNN", "LSTM", "GRU", "Dense"]))
    return {
        "kind": kind,
        "units": draw(st.integers(1, 4)),
        "seq": draw(st.booleans()),
        "head": draw(st.sampled_from([None, "linear", "tanh", "sigmoid", "softmax", "relu"])),
        "dtype": draw(st.sampled_from(["float32", "float64"])),
        "T": draw(st.sampled_from([None, 1, 3])),
        "I": draw(st.integers(1, 3)),
        "declare_input": draw(st.booleans()),
    }


def build_model(spec):
    dtype, I = spec["dtype"], spec["I"]
    layers = []
    if spec["kind"] == "Dense":
        if spec["declare_input"]:
            layers.append(L.Input(shape=(I,), dtype=dtype))
        layers.append(L.Dense(spec["units"], activation="tanh", dtype=dtype))
        in_shape = (I,)
    else:
        if spec["declare_input"]:
            layers.append(L.Input(shape=(spec["T"], I), dtype=dtype))
        layers.append(RECURRENT[spec["kind"]](spec["units"], return_sequences=spec["seq"],
                                              dtype=dtype))
        in_shape = (spec["T"] or 3, I)
    if spec["head"] is not None:
        layers.append(L.Dense(2, activation=spec["head"], dtype=dtype))
    model = Sequential(layers)
    model.compile(optimizer="sgd", loss="mse")
    return model, in_shape


@st.composite
def shapes(draw, in_shape):
    """Mostly near the model's input shape; sometimes empty, wrong or huge-but-cheap."""
    how = draw(st.sampled_from(["right", "right", "right", "zero", "rank", "feature", "huge"]))
    B = draw(st.integers(1, 4))
    shape = [B, *in_shape]
    if how == "zero":
        shape[draw(st.integers(0, len(shape) - 1))] = 0
    elif how == "rank":
        shape = shape[:-1] if draw(st.booleans()) else shape + [draw(st.integers(1, 2))]
        if draw(st.booleans()):
            shape = shape[:draw(st.integers(0, len(shape)))]
    elif how == "feature":
        shape[-1] = draw(st.integers(0, 6))
    elif how == "huge":
        # One long axis, everything else 1: large but cheap (<= 2e4 steps or values).
        shape = [1] * len(shape)
        shape[draw(st.integers(0, len(shape) - 1))] = draw(st.sampled_from([4096, 20000]))
    return tuple(shape)


@st.composite
def arrays(draw, shape, clean=False):
    """An array (or nested list) of the given shape with a random dtype and values;
    ``clean``: a finite float array of moderate values."""
    dtype = draw(st.sampled_from(["float32", "float64"]) if clean else DTYPES)
    size = int(np.prod(shape))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    values = rng.normal(0, draw(st.sampled_from([1.0, 100.0])), size)
    if size and not clean and draw(st.integers(0, 2)) == 0:
        k = draw(st.integers(1, min(size, 4)))
        idx = rng.choice(size, k, replace=False)
        values[idx] = [draw(st.sampled_from(SPECIALS)) for _ in range(k)]
    if dtype == "object":
        arr = np.empty(size, object)
        arr[:] = [draw(st.sampled_from([1.0, None, "a", 2]))] * size
    elif dtype == "str":
        arr = values.astype(str)
    elif dtype.startswith("datetime"):
        arr = np.zeros(size, dtype)
    elif dtype == "bool":
        arr = values > 0
    elif dtype[0] in "iu":
        with np.errstate(invalid="ignore", over="ignore"):
            arr = np.nan_to_num(values, posinf=0, neginf=0).clip(-100, 100).astype(dtype)
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            arr = values.astype(dtype)
    arr = arr.reshape(shape)
    layout = draw(st.sampled_from(["C", "C", "F", "strided", "list"]))
    if layout == "F":
        arr = np.asfortranarray(arr)
    elif layout == "strided" and arr.ndim:
        arr = np.repeat(arr, 2, axis=0)[::2]
    elif layout == "list" and arr.size <= 64:
        return arr.tolist()
    return arr


def moderate(x, dtype, bound=MODERATE):
    """True when x converts to a finite dtype array with |x| <= bound (so outputs must be
    finite), False for everything else (those calls must only not crash)."""
    try:
        a = np.asarray(x)
        if a.dtype.kind not in "biuf" or a.size == 0:
            return False
        with np.errstate(over="ignore", invalid="ignore"):
            a = a.astype(dtype)
        return bool(np.isfinite(a).all() and (np.abs(a) <= bound).all())
    except Exception:
        return False


def assert_shape(out, model, n):
    """out has the model's output shape (None matches any size) with batch n."""
    want = (n,) + tuple(model.output_shape[1:])
    assert out.ndim == len(want) and all(w is None or w == g for g, w in zip(out.shape, want)), \
        (out.shape, want)


def attempt(call, what=None):
    """Run call(); return (True, result) or (False, exception) for the allowed types.
    ``what`` labels the outcome in the statistics (pytest --hypothesis-show-statistics)."""
    try:
        result = call()
    except ALLOWED as exc:
        assert str(exc), f"{type(exc).__name__} without a message"
        if what:
            event(f"{what}: {type(exc).__name__}")
        return False, exc
    if what:
        event(f"{what}: worked")
    return True, result


def check_still_usable(model, in_shape, dtype):
    x = np.ones((2,) + tuple(in_shape), dtype)
    out = model.predict(x, verbose=0)
    assert_shape(out, model, 2)


@SETTINGS
@given(data=st.data())
def test_random_inputs_never_crash_the_public_api(data):
    spec = data.draw(model_specs(), label="model")
    model, in_shape = build_model(spec)
    dtype = np.dtype(spec["dtype"])
    shape = data.draw(shapes(in_shape), label="x shape")
    x = data.draw(arrays(shape), label="x")
    op = data.draw(st.sampled_from(["predict", "predict_on_batch", "call", "fit", "evaluate",
                                    "train_on_batch", "test_on_batch"]), label="op")
    y = None
    if op in ("fit", "evaluate", "train_on_batch", "test_on_batch"):
        y_rows = np.shape(x)[0] if np.ndim(x) else 1
        if data.draw(st.booleans(), label="y mismatched"):
            y_rows = data.draw(st.integers(0, 5))
        attempt(lambda: model.build(in_shape) if not model.built else None)
        out_tail = tuple(model.output_shape[1:]) if model.built else (2,)
        # (a None time axis becomes 3: y may then not match x's steps -- a clear error)
        y_shape = (y_rows,) + tuple(3 if d is None else d for d in out_tail)
        y = data.draw(arrays(y_shape), label="y")

    calls = {
        "predict": lambda: model.predict(x, verbose=0),
        "predict_on_batch": lambda: model.predict_on_batch(x),
        "call": lambda: model(x),
        "fit": lambda: model.fit(x, y, epochs=1, batch_size=2, verbose=0),
        "evaluate": lambda: model.evaluate(x, y, verbose=0),
        "train_on_batch": lambda: model.train_on_batch(x, y),
        "test_on_batch": lambda: model.test_on_batch(x, y),
    }
    worked, result = attempt(calls[op], op)
    if worked and op in ("predict", "predict_on_batch", "call"):
        n = np.shape(x)[0]
        assert_shape(result, model, n)
        if moderate(x, dtype):
            assert np.isfinite(result).all()
    if worked and op in ("evaluate", "test_on_batch") and moderate(x, dtype) \
            and moderate(y, dtype, 1e15) and spec["head"] in ("tanh", "sigmoid", "softmax"):
        # bounded outputs and targets whose squared errors fit in float32: a finite loss
        assert np.isfinite(result)
    check_still_usable(model, in_shape if model._input_shape is None
                       else tuple(3 if d is None else d for d in model._input_shape), dtype)


@SETTINGS
@given(data=st.data())
def test_random_weights_in_set_weights(data):
    spec = data.draw(model_specs(), label="model")
    spec["declare_input"] = True
    model, in_shape = build_model(spec)
    dtype = np.dtype(spec["dtype"])
    before = model.get_weights()
    clean = data.draw(st.booleans(), label="clean")    # half the lists are valid
    new = []
    for w in before:
        shape = w.shape
        if not clean and data.draw(st.integers(0, 3), label="reshape?") == 0:
            shape = tuple(d + data.draw(st.sampled_from([-1, 1])) for d in shape) or (2,)
            shape = tuple(max(d, 0) for d in shape)
        new.append(data.draw(arrays(shape, clean=clean), label="weight"))
    if not clean and data.draw(st.integers(0, 5), label="drop one?") == 0:
        new = new[:-1]
    worked, _ = attempt(lambda: model.set_weights(new), "set_weights")
    after = model.get_weights()
    if clean:
        assert worked
    if not worked:          # all or nothing: a refused list changes no weight
        for a, b in zip(before, after):
            np.testing.assert_array_equal(a, b)
    for w in after:
        assert np.isfinite(w).all()
    out = model.predict(np.full((2,) + in_shape, 0.5, dtype), verbose=0)
    assert np.isfinite(out).all()


@SETTINGS
@given(data=st.data())
def test_random_inputs_to_layer_calls(data):
    """layer(x) on fresh (built from the data) and on already built layers."""
    kind = data.draw(st.sampled_from(["SimpleRNN", "LSTM", "GRU", "Dense", "Bidirectional",
                                      "TimeDistributed", "Activation", "Dropout", "Flatten",
                                      "Masking", "Embedding"]), label="layer")
    dtype = data.draw(st.sampled_from(["float32", "float64"]), label="dtype")
    if kind in RECURRENT:
        layer = RECURRENT[kind](2, return_sequences=data.draw(st.booleans()), dtype=dtype)
        base = (3, 2)
    elif kind == "Bidirectional":
        layer = L.Bidirectional(L.LSTM(2, return_sequences=data.draw(st.booleans()),
                                       dtype=dtype))
        base = (3, 2)
    elif kind == "TimeDistributed":
        layer = L.TimeDistributed(L.Dense(2, dtype=dtype))
        base = (3, 2)
    elif kind == "Dense":
        layer = L.Dense(2, activation=data.draw(st.sampled_from(["tanh", "softmax", None])),
                        dtype=dtype)
        base = (2,)
    elif kind == "Activation":
        layer = L.Activation(data.draw(st.sampled_from(["tanh", "sigmoid", "softmax"])),
                             dtype=dtype)
        base = (3,)
    elif kind == "Dropout":
        layer = L.Dropout(0.5, dtype=dtype)
        base = (3,)
    elif kind == "Flatten":
        layer = L.Flatten(dtype=dtype)
        base = (2, 2)
    elif kind == "Masking":
        layer = L.Masking(dtype=dtype)
        base = (3, 2)
    else:
        layer = L.Embedding(5, 2, dtype=dtype)
        base = (3,)
    if data.draw(st.booleans(), label="prebuilt"):
        layer.build(base)
    shape = data.draw(shapes(base), label="shape")
    x = data.draw(arrays(shape), label="x")
    training = data.draw(st.booleans(), label="training")
    worked, out = attempt(lambda: layer(x, training=training), "call")
    if worked:
        outs = out if isinstance(out, list) else [out]
        for o in outs:
            assert isinstance(o, np.ndarray)
            assert o.shape[0] == np.shape(x)[0]
            if moderate(x, dtype) and kind not in ("Flatten", "Masking", "Dropout",
                                                   "TimeDistributed", "Dense"):
                assert np.isfinite(o).all()
        if training and layer.weights:
            # a backward after the forward works too (finite gradients for finite data)
            dy = [np.ones_like(o) for o in outs] if isinstance(out, list) else np.ones_like(out)
            ok, _ = attempt(lambda: layer.backward(dy))
            assert ok
