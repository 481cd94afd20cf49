"""SimpleRNN, LSTM, GRU and a whole Sequential model against Keras 3, without Keras.

tests/fixtures/keras_rnn.npz holds, for each case, the input, the weights (random,
biases included), the initial states if any, and what Keras 3 (TensorFlow backend,
float32) computed: outputs, final states, and for the model its predictions, the loss
and the weights after one train_on_batch with SGD, RMSprop and Adam.
tests/fixtures/make_keras_fixtures.py regenerates it (see its docstring).
"""
import json
import pathlib

import numpy as np
import pytest

from fastrnn import optimizers
from fastrnn.layers import GRU, LSTM, Dense, Input, SimpleRNN
from fastrnn.models import Sequential

FIXTURE = pathlib.Path(__file__).resolve().parent / "fixtures" / "keras_rnn.npz"
LAYERS = {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU, "Dense": Dense}

# Layer outputs: a handful of float32 GEMMs and gate functions over at most 7 steps, where
# fastrnn and TensorFlow only differ in summation order and in the libm/Eigen versions of
# exp/tanh; a few ulps of values below 2 in magnitude.
RTOL, ATOL = 1e-5, 1e-6


def _load():
    with np.load(FIXTURE, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


DATA = _load()
CASES = sorted({key.split("/")[0] for key in DATA} - {"model"})
MODEL_STEPS = [step[0] for step in json.loads(str(DATA["model/config"]))["steps"]]


def config(case):
    return json.loads(str(DATA[f"{case}/config"]))


def weights(prefix):
    out, k = [], 0
    while f"{prefix}/w{k}" in DATA:
        out.append(DATA[f"{prefix}/w{k}"])
        k += 1
    return out


def max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def make_layer(case):
    cfg = config(case)
    layer = LAYERS[cfg["layer"]](**cfg["kwargs"])
    layer.build((cfg["T"], cfg["I"]))
    return layer


# ------------------------------------------------------------------------- the fixture
def test_fixture_is_plain_and_small():
    assert FIXTURE.stat().st_size < 200_000
    assert all(DATA[key].dtype.kind in "fU" for key in DATA)
    assert len(CASES) >= 30 and MODEL_STEPS == ["sgd", "rmsprop", "adam"]
    families = {config(case)["layer"] for case in CASES}
    assert families == {"SimpleRNN", "LSTM", "GRU"}
    assert any(config(case)["T"] == 1 for case in CASES)
    assert any(config(case)["kwargs"]["units"] == 1 for case in CASES)
    for case in CASES:  # biases were drawn, not left at zero
        if config(case)["kwargs"].get("use_bias", True):
            assert np.all(DATA[f"{case}/w2"] != 0), case


# ------------------------------------------------------------------------------ layers
@pytest.mark.parametrize("case", CASES)
def test_weight_shapes_match_keras(case):
    layer = make_layer(case)
    assert [w.shape for w in layer.get_weights()] == [w.shape for w in weights(case)]


@pytest.mark.parametrize("case", CASES)
def test_layer_matches_keras(case):
    cfg = config(case)
    layer = make_layer(case)
    layer.set_weights(weights(case))
    x = DATA[f"{case}/x"]
    if cfg["initial_state"]:
        names = ["h0", "c0"] if cfg["layer"] == "LSTM" else ["h0"]
        result = layer.forward(x, initial_state=[DATA[f"{case}/{n}"] for n in names])
    else:
        result = layer(x)
    expected = [DATA[f"{case}/y"]]
    k = 0
    while f"{case}/s{k}" in DATA:
        expected.append(DATA[f"{case}/s{k}"])
        k += 1
    got = result if cfg["kwargs"].get("return_state") else [result]
    assert len(got) == len(expected)
    for what, a, b in zip(["output", "state 0", "state 1"], got, expected):
        assert a.dtype == np.float32 and a.shape == b.shape, (what, a.dtype, a.shape, b.shape)
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=f"{case}: {what}")


# ------------------------------------------------------------------------------- model
def make_model():
    cfg = json.loads(str(DATA["model/config"]))
    model = Sequential([Input((cfg["T"], cfg["I"]))]
                       + [LAYERS[name](**kw) for name, kw in cfg["layers"]])
    model.set_weights(weights("model"))
    return model, cfg


def test_model_weight_shapes_match_keras():
    model, _ = make_model()
    assert [w.shape for w in model.get_weights()] == [w.shape for w in weights("model")]


def test_model_predict_matches_keras():
    model, _ = make_model()
    np.testing.assert_allclose(model.predict(DATA["model/x"], verbose=0), DATA["model/pred"],
                               rtol=RTOL, atol=ATOL)


# One train_on_batch from the same weights.  A weight moves by lr * g (SGD), by
# lr * g / sqrt(0.1 g^2 + 1e-7) (RMSprop's first step) or by
# lr * g / (|g| + 1e-7 / sqrt(0.001)) (Adam's first step); the gradients are float32
# sums over B*T = 24 terms that agree to about 1e-7 absolute, so the moved weights
# (|w| < 1, ulp 6e-8) agree to well below 1e-6 except where a gradient is so small that
# RMSprop/Adam's normalisation amplifies its rounding (d update / d g is at most 32 for
# RMSprop, 3200 for Adam here).  Measured with Keras 3.15 / TF 2.21: SGD 6e-8, RMSprop 8e-8,
# Adam 8e-7 (at a gradient of -3.7e-7, where d update / d g is about 2600; fastrnn agrees
# to 2e-8 with Keras's formula evaluated in float64 on fastrnn's gradients).  atol 1e-5
# leaves room for other BLAS/TF builds and still catches a wrong loss reduction (a factor B
# in g moves weights by 0.1 * g or more with SGD), a wrong sign, a wrong epsilon placement
# or bias correction (changes of order lr = 1e-2 for Adam/RMSprop).
TRAIN_RTOL, TRAIN_ATOL = 1e-5, 1e-5


@pytest.mark.parametrize("step", MODEL_STEPS)
def test_model_train_step_matches_keras(step):
    model, cfg = make_model()
    name, opt_name, opt_kwargs = next(s for s in cfg["steps"] if s[0] == step)
    model.compile(optimizer=getattr(optimizers, opt_name)(**opt_kwargs), loss=cfg["loss"])
    loss = model.train_on_batch(DATA["model/x"], DATA["model/y"])
    np.testing.assert_allclose(loss, DATA[f"model/{step}/loss"], rtol=RTOL, atol=ATOL)
    before, after = weights("model"), weights(f"model/{step}")
    for k, (w, expected, w0) in enumerate(zip(model.get_weights(), after, before)):
        assert np.any(expected != w0), f"Keras did not move weight {k}"
        np.testing.assert_allclose(w, expected, rtol=TRAIN_RTOL, atol=TRAIN_ATOL,
                                   err_msg=f"{step}: weight {k} after one step")
