"""fastrnn.reference against central finite differences, plus forward sanity checks.

First link of the correctness chain: finite differences (float64) -> reference.
Every analytic gradient (each parameter, the input and the initial states) is
compared with central differences of a random scalar loss L = sum(R * output).
Only fastrnn.reference is used.
"""
import zlib

import numpy as np
import pytest

from fastrnn.reference import (
    act, act_grad,
    dense_forward, dense_backward,
    simple_rnn_forward, simple_rnn_backward,
    lstm_forward, lstm_backward,
    gru_forward, gru_backward,
    mse, mae,
)

EPS = 1e-6
# max|analytic - numeric| / max(1, max|numeric|).  Central differences with
# eps = 1e-6 in float64 are good to ~1e-9 here; a real bug is orders above.
TOL = 1e-7

ACTIVATIONS = ["linear", "tanh", "sigmoid", "relu"]
# (B, T, I, H): include B=1, T=1, H=1 and I != H
SHAPES = [(1, 1, 1, 1), (2, 3, 2, 3), (3, 4, 3, 2), (1, 5, 2, 1), (2, 1, 3, 4)]


# --------------------------------------------------------------------------- helpers

def rng_for(*key):
    """A generator seeded deterministically from the test parameters."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def rel_err(analytic, numeric):
    analytic = np.asarray(analytic, np.float64)
    numeric = np.asarray(numeric, np.float64)
    assert analytic.shape == numeric.shape
    return np.max(np.abs(analytic - numeric)) / max(1.0, np.max(np.abs(numeric)))


def numeric_grad(loss_fn, arr, eps=EPS):
    """Central differences of loss_fn() w.r.t. every element of arr (perturbed in place)."""
    grad = np.zeros_like(arr)
    flat = arr.reshape(-1)            # a view: writes go to arr
    gflat = grad.reshape(-1)
    for k in range(flat.size):
        old = flat[k]
        flat[k] = old + eps
        lp = loss_fn()
        flat[k] = old - eps
        lm = loss_fn()
        flat[k] = old
        gflat[k] = (lp - lm) / (2 * eps)
    return grad


def check_grads(loss_fn, params, grads, tol=TOL):
    """Compare grads[name] with finite differences for every name in params.

    Returns {name: relative error}; fails if any is above tol.
    """
    errors = {}
    for name, arr in params.items():
        assert grads[name] is not None, name
        assert grads[name].shape == arr.shape, name
        errors[name] = rel_err(grads[name], numeric_grad(loss_fn, arr))
    bad = {k: v for k, v in errors.items() if not v <= tol}
    assert not bad, f"gradient mismatch (tol {tol}): {bad}; all: {errors}"
    return errors


# --------------------------------------------------------------------------- activations

@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_derivative(name):
    rng = rng_for("act", name)
    z = rng.normal(size=50) * 3
    z = z[np.abs(z) > 1e-3]           # keep away from relu's kink
    numeric = (act(name, z + EPS) - act(name, z - EPS)) / (2 * EPS)
    assert rel_err(act_grad(name, z), numeric) <= TOL


def test_activation_values():
    z = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(act("linear", z), z)
    np.testing.assert_array_equal(act(None, z), z)
    np.testing.assert_array_equal(act("relu", z), [0.0, 0.0, 3.0])
    np.testing.assert_allclose(act("tanh", z), np.tanh(z), rtol=0, atol=0)
    np.testing.assert_allclose(act("sigmoid", z), 1 / (1 + np.exp(-z)), rtol=1e-15)
    np.testing.assert_array_equal(act_grad("relu", z), [0.0, 0.0, 1.0])
    with pytest.raises(ValueError):
        act("softmax", z)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_stable_and_keeps_dtype(dtype):
    z = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        s = act("sigmoid", z)
        ds = act_grad("sigmoid", z)
    assert s.dtype == dtype and ds.dtype == dtype
    assert s[0] == 0.0
    assert s[-1] == 1.0 and s[2] == 0.5
    assert 0 < s[1] < 1e-20
    assert np.all(np.isfinite(ds)) and ds[2] == 0.25
    for name in ACTIVATIONS:
        assert act(name, z).dtype == dtype
        assert act_grad(name, z).dtype == dtype


# --------------------------------------------------------------------------- Dense

@pytest.mark.parametrize("activation", [None] + ACTIVATIONS)
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("xshape,units", [((1, 1), 1), ((4, 3), 2), ((2, 3, 4), 3)])
def test_dense_gradcheck(activation, use_bias, xshape, units):
    rng = rng_for("dense", activation, use_bias, xshape, units)
    p = dict(x=rng.normal(size=xshape), W=rng.normal(size=(xshape[-1], units)))
    if use_bias:
        p["b"] = rng.normal(size=units)
    R = rng.normal(size=xshape[:-1] + (units,))

    def loss():
        y, _ = dense_forward(p["x"], p["W"], p.get("b"), activation)
        return np.sum(R * y)

    y, cache = dense_forward(p["x"], p["W"], p.get("b"), activation)
    assert y.shape == xshape[:-1] + (units,)
    g = dense_backward(R, cache)
    if not use_bias:
        assert g["db"] is None
    check_grads(loss, p, {"x": g["dx"], "W": g["dW"], "b": g["db"]})


def test_dense_forward_values():
    x = np.array([[1.0, 2.0]])
    W = np.array([[1.0, -1.0, 0.5], [2.0, 0.0, -3.0]])
    b = np.array([0.5, 0.25, 0.0])
    y, _ = dense_forward(x, W, b, "relu")
    np.testing.assert_array_equal(y, [[5.5, 0.0, 0.0]])
    y, _ = dense_forward(x, W, None)
    np.testing.assert_array_equal(y, [[5.0, -1.0, -5.5]])


# --------------------------------------------------------------------------- SimpleRNN

def _simple_rnn_case(shape, activation, use_bias, key):
    B, T, I, H = shape
    rng = rng_for("srnn", shape, activation, use_bias, key)
    p = dict(x=rng.normal(size=(B, T, I)),
             W=rng.normal(size=(I, H)) * 0.7,
             U=rng.normal(size=(H, H)) * 0.5,
             h0=rng.normal(size=(B, H)) * 0.5)
    if use_bias:
        p["b"] = rng.normal(size=H) * 0.5
    return rng, p


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("use_bias", [True, False])
def test_simple_rnn_gradcheck(shape, activation, use_bias):
    B, T, I, H = shape
    rng, p = _simple_rnn_case(shape, activation, use_bias, "all")
    R = rng.normal(size=(B, T, H))

    def loss():
        h, _ = simple_rnn_forward(p["x"], p["W"], p["U"], p.get("b"), p["h0"], activation)
        return np.sum(R * h)

    hseq, cache = simple_rnn_forward(p["x"], p["W"], p["U"], p.get("b"), p["h0"], activation)
    assert hseq.shape == (B, T, H)
    g = simple_rnn_backward(R, cache)
    if not use_bias:
        assert g["db"] is None
    check_grads(loss, p, {"x": g["dx"], "W": g["dW"], "U": g["dU"],
                          "b": g["db"], "h0": g["dh0"]})


@pytest.mark.parametrize("shape", [(2, 4, 3, 2), (1, 3, 1, 1)])
def test_simple_rnn_gradcheck_last_step_only(shape):
    """return_sequences=False: only the last output carries a gradient."""
    B, T, I, H = shape
    rng, p = _simple_rnn_case(shape, "tanh", True, "last")
    R = np.zeros((B, T, H))
    R[:, -1] = rng.normal(size=(B, H))

    def loss():
        h, _ = simple_rnn_forward(p["x"], p["W"], p["U"], p["b"], p["h0"])
        return np.sum(R * h)

    _, cache = simple_rnn_forward(p["x"], p["W"], p["U"], p["b"], p["h0"])
    g = simple_rnn_backward(R, cache)
    check_grads(loss, p, {"x": g["dx"], "W": g["dW"], "U": g["dU"],
                          "b": g["db"], "h0": g["dh0"]})


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_simple_rnn_forward_no_recurrence_one_step(activation):
    rng = rng_for("srnn-fwd", activation)
    x = rng.normal(size=(3, 1, 4))
    W = rng.normal(size=(4, 2))
    b = rng.normal(size=2)
    h0 = rng.normal(size=(3, 2))
    hseq, _ = simple_rnn_forward(x, W, np.zeros((2, 2)), b, h0, activation)
    z = x[:, 0] @ W + b
    expected = {"linear": z, "tanh": np.tanh(z), "sigmoid": 1 / (1 + np.exp(-z)),
                "relu": np.maximum(z, 0)}[activation]
    np.testing.assert_allclose(hseq[:, 0], expected, rtol=1e-14, atol=1e-15)


def test_simple_rnn_forward_hand_values():
    # H = 1, linear: h_t = x_t w + u h_{t-1} + b
    x = np.array([[[1.0], [2.0], [-1.0]]])
    hseq, _ = simple_rnn_forward(x, np.array([[2.0]]), np.array([[0.5]]),
                                 np.array([1.0]), np.array([[4.0]]), "linear")
    # h1 = 2 + 2 + 1 = 5; h2 = 4 + 2.5 + 1 = 7.5; h3 = -2 + 3.75 + 1 = 2.75
    np.testing.assert_array_equal(hseq[0, :, 0], [5.0, 7.5, 2.75])


# --------------------------------------------------------------------------- LSTM

def _lstm_params(shape, use_bias, key):
    B, T, I, H = shape
    rng = rng_for("lstm", shape, use_bias, key)
    p = dict(x=rng.normal(size=(B, T, I)),
             W=rng.normal(size=(I, 4 * H)) * 0.7,
             U=rng.normal(size=(H, 4 * H)) * 0.5,
             h0=rng.normal(size=(B, H)) * 0.5,
             c0=rng.normal(size=(B, H)))
    if use_bias:
        p["b"] = rng.normal(size=4 * H) * 0.5
    return rng, p


LSTM_ACTS = [("tanh", "sigmoid"), ("relu", "sigmoid"), ("linear", "tanh")]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("with_dc", [True, False])
def test_lstm_gradcheck(shape, use_bias, with_dc):
    B, T, I, H = shape
    rng, p = _lstm_params(shape, use_bias, with_dc)
    Rh = rng.normal(size=(B, T, H))
    Rc = rng.normal(size=(B, H)) if with_dc else None

    def run():
        return lstm_forward(p["x"], p["W"], p["U"], p.get("b"), p["h0"], p["c0"])

    def loss():
        h, c, _ = run()
        out = np.sum(Rh * h)
        if Rc is not None:
            out += np.sum(Rc * c[:, -1])
        return out

    hseq, cseq, cache = run()
    assert hseq.shape == cseq.shape == (B, T, H)
    g = lstm_backward(Rh, Rc, cache)
    if not use_bias:
        assert g["db"] is None
    check_grads(loss, p, {"x": g["dx"], "W": g["dW"], "U": g["dU"], "b": g["db"],
                          "h0": g["dh0"], "c0": g["dc0"]})


@pytest.mark.parametrize("acts", LSTM_ACTS)
@pytest.mark.parametrize("last_only", [True, False])
def test_lstm_gradcheck_activations(acts, last_only):
    shape = (2, 3, 2, 3)
    B, T, I, H = shape
    activation, recurrent_activation = acts
    rng, p = _lstm_params(shape, True, (acts, last_only))
    Rh = rng.normal(size=(B, T, H))
    if last_only:
        Rh[:, :-1] = 0.0
    Rc = rng.normal(size=(B, H))

    def run():
        return lstm_forward(p["x"], p["W"], p["U"], p["b"], p["h0"], p["c0"],
                            activation, recurrent_activation)

    def loss():
        h, c, _ = run()
        return np.sum(Rh * h) + np.sum(Rc * c[:, -1])

    _, _, cache = run()
    g = lstm_backward(Rh, Rc, cache)
    check_grads(loss, p, {"x": g["dx"], "W": g["dW"], "U": g["dU"], "b": g["db"],
                          "h0": g["dh0"], "c0": g["dc0"]})


def _sig(v):
    return 1 / (1 + np.exp(-v))


def test_lstm_forward_hand_values():
    """One step, H = 1, every gate distinct, so a wrong gate order shows."""
    # biases chosen so that i = 0.75, f = 0.25, g = 0.5, o = 0.5 at x = 0, h0 = 0
    b = np.array([np.log(3.0), -np.log(3.0), np.arctanh(0.5), 0.0])
    x = np.zeros((1, 1, 1))
    W = np.array([[1.0, 2.0, 3.0, 4.0]])
    U = np.array([[0.1, 0.2, 0.3, 0.4]])
    h0 = np.zeros((1, 1))
    c0 = np.array([[2.0]])
    hseq, cseq, _ = lstm_forward(x, W, U, b, h0, c0)
    c = 0.25 * 2.0 + 0.75 * 0.5                     # 0.875
    np.testing.assert_allclose(cseq[0, 0, 0], c, rtol=1e-15)
    np.testing.assert_allclose(hseq[0, 0, 0], 0.5 * np.tanh(c), rtol=1e-15)

    # second input step: x = 1 and h = h_1 feed every gate through W and U
    x2 = np.array([[[0.0], [1.0]]])
    hseq, cseq, _ = lstm_forward(x2, W, U, b, h0, c0)
    h1 = 0.5 * np.tanh(c)
    zz = W[0] * 1.0 + U[0] * h1 + b
    i, f, g, o = _sig(zz[0]), _sig(zz[1]), np.tanh(zz[2]), _sig(zz[3])
    c2 = f * c + i * g
    np.testing.assert_allclose(cseq[0, 1, 0], c2, rtol=1e-14)
    np.testing.assert_allclose(hseq[0, 1, 0], o * np.tanh(c2), rtol=1e-14)


def test_lstm_forward_multi_unit_layout():
    """H = 2: gate blocks are column blocks of width H, [i | f | c | o]."""
    H = 2
    b = np.zeros(4 * H)
    b[0:H] = [10.0, -10.0]        # i ~ [1, 0]
    b[H:2 * H] = [-10.0, 10.0]    # f ~ [0, 1]
    b[2 * H:3 * H] = [0.3, -0.7]  # g = tanh(.)
    b[3 * H:] = [10.0, 10.0]      # o ~ 1
    x = np.zeros((1, 1, 1))
    hseq, cseq, _ = lstm_forward(x, np.zeros((1, 4 * H)), np.zeros((H, 4 * H)), b,
                                 np.zeros((1, H)), np.array([[5.0, 5.0]]))
    np.testing.assert_allclose(cseq[0, 0], [np.tanh(0.3), 5.0], atol=1e-3)
    np.testing.assert_allclose(hseq[0, 0], np.tanh([np.tanh(0.3), 5.0]), atol=1e-3)


# --------------------------------------------------------------------------- GRU

def _gru_params(shape, reset_after, use_bias, key):
    B, T, I, H = shape
    rng = rng_for("gru", shape, reset_after, use_bias, key)
    p = dict(x=rng.normal(size=(B, T, I)),
             W=rng.normal(size=(I, 3 * H)) * 0.7,
             U=rng.normal(size=(H, 3 * H)) * 0.5,
             h0=rng.normal(size=(B, H)) * 0.5)
    if use_bias:
        bshape = (2, 3 * H) if reset_after else (3 * H,)
        p["b"] = rng.normal(size=bshape) * 0.5
    return rng, p


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("use_bias", [True, False])
def test_gru_gradcheck(shape, reset_after, use_bias):
    B, T, I, H = shape
    rng, p = _gru_params(shape, reset_after, use_bias, "all")
    R = rng.normal(size=(B, T, H))

    def run():
        return gru_forward(p["x"], p["W"], p["U"], p.get("b"), p["h0"],
                           reset_after=reset_after)

    def loss():
        h, _ = run()
        return np.sum(R * h)

    hseq, cache = run()
    assert hseq.shape == (B, T, H)
    g = gru_backward(R, cache)
    if use_bias:
        assert g["db"].shape == p["b"].shape
    else:
        assert g["db"] is None
    check_grads(loss, p, {"x": g["dx"], "W": g["dW"], "U": g["dU"], "b": g["db"],
                          "h0": g["dh0"]})


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("acts", [("relu", "sigmoid"), ("linear", "tanh")])
@pytest.mark.parametrize("last_only", [True, False])
def test_gru_gradcheck_activations(reset_after, acts, last_only):
    shape = (2, 3, 2, 3)
    B, T, I, H = shape
    activation, recurrent_activation = acts
    rng, p = _gru_params(shape, reset_after, True, (acts, last_only))
    R = rng.normal(size=(B, T, H))
    if last_only:
        R[:, :-1] = 0.0

    def run():
        return gru_forward(p["x"], p["W"], p["U"], p["b"], p["h0"],
                           activation, recurrent_activation, reset_after)

    def loss():
        h, _ = run()
        return np.sum(R * h)

    _, cache = run()
    g = gru_backward(R, cache)
    check_grads(loss, p, {"x": g["dx"], "W": g["dW"], "U": g["dU"], "b": g["db"],
                          "h0": g["dh0"]})


def test_gru_forward_hand_values_reset_after():
    # H = 1, x = 0, U = [0, 0, 2], h0 = 1
    x = np.zeros((1, 1, 1))
    W = np.array([[1.0, 2.0, 3.0]])
    U = np.array([[0.0, 0.0, 2.0]])
    b = np.array([[np.log(3.0), 0.0, 0.2],     # input bias
                  [0.0, np.log(3.0), 1.0]])    # recurrent bias
    h0 = np.ones((1, 1))
    hseq, _ = gru_forward(x, W, U, b, h0, reset_after=True)
    # z = 0.75, r = 0.75, hh = tanh(0.2 + 0.75 * (2 + 1))
    expected = 0.75 * 1.0 + 0.25 * np.tanh(0.2 + 0.75 * 3.0)
    np.testing.assert_allclose(hseq[0, 0, 0], expected, rtol=1e-15)


def test_gru_forward_hand_values_reset_before():
    x = np.zeros((1, 1, 1))
    W = np.array([[1.0, 2.0, 3.0]])
    U = np.array([[0.0, 0.0, 2.0]])
    b = np.array([np.log(3.0), np.log(3.0), 1.0])
    h0 = np.ones((1, 1))
    hseq, _ = gru_forward(x, W, U, b, h0, reset_after=False)
    # z = 0.75, r = 0.75, hh = tanh(1 + (0.75 * 1) * 2)
    expected = 0.75 * 1.0 + 0.25 * np.tanh(1.0 + 1.5)
    np.testing.assert_allclose(hseq[0, 0, 0], expected, rtol=1e-15)


def test_gru_reset_after_variants_differ_only_through_reset():
    """With r forced to 1 and no recurrent bias, both variants give the same h."""
    rng = rng_for("gru-variants")
    B, T, I, H = 2, 3, 2, 3
    x = rng.normal(size=(B, T, I))
    W = rng.normal(size=(I, 3 * H))
    U = rng.normal(size=(H, 3 * H))
    U[:, H:2 * H] = 0.0
    b_flat = rng.normal(size=3 * H)
    b_flat[H:2 * H] = 50.0                      # r = sigmoid(50) == 1 in float64
    W[:, H:2 * H] = 0.0
    b2 = np.stack([b_flat, np.zeros(3 * H)])
    h0 = rng.normal(size=(B, H))
    h_after, _ = gru_forward(x, W, U, b2, h0, reset_after=True)
    h_before, _ = gru_forward(x, W, U, b_flat, h0, reset_after=False)
    np.testing.assert_allclose(h_after, h_before, rtol=1e-13, atol=1e-14)
    # ... and they do differ once r is not 1 (and not the same in every unit)
    b_flat[H:2 * H] = [-1.0, 0.0, 1.0]
    b2 = np.stack([b_flat, np.zeros(3 * H)])
    h_after, _ = gru_forward(x, W, U, b2, h0, reset_after=True)
    h_before, _ = gru_forward(x, W, U, b_flat, h0, reset_after=False)
    assert np.max(np.abs(h_after - h_before)) > 1e-3


def test_gru_bias_shape_is_checked():
    x = np.zeros((1, 1, 1))
    W, U = np.zeros((1, 3)), np.zeros((1, 3))
    with pytest.raises(ValueError):
        gru_forward(x, W, U, np.zeros(3), None, reset_after=True)
    with pytest.raises(ValueError):
        gru_forward(x, W, U, np.zeros((2, 3)), None, reset_after=False)


# --------------------------------------------------------------------------- state chaining

def test_sequences_split_in_two_equal_one_run():
    """Running T steps equals running T1 steps, then T-T1 from the final state."""
    rng = rng_for("chain")
    B, T, I, H = 2, 5, 3, 2
    x = rng.normal(size=(B, T, I))
    h0 = rng.normal(size=(B, H))
    c0 = rng.normal(size=(B, H))

    W, U, b = rng.normal(size=(I, H)), rng.normal(size=(H, H)), rng.normal(size=H)
    full, _ = simple_rnn_forward(x, W, U, b, h0)
    a, _ = simple_rnn_forward(x[:, :2], W, U, b, h0)
    c, _ = simple_rnn_forward(x[:, 2:], W, U, b, a[:, -1])
    np.testing.assert_allclose(full, np.concatenate([a, c], 1), rtol=1e-14)

    W, U, b = rng.normal(size=(I, 4 * H)), rng.normal(size=(H, 4 * H)), rng.normal(size=4 * H)
    hf, cf, _ = lstm_forward(x, W, U, b, h0, c0)
    ha, ca, _ = lstm_forward(x[:, :2], W, U, b, h0, c0)
    hb, cb, _ = lstm_forward(x[:, 2:], W, U, b, ha[:, -1], ca[:, -1])
    np.testing.assert_allclose(hf, np.concatenate([ha, hb], 1), rtol=1e-14)
    np.testing.assert_allclose(cf, np.concatenate([ca, cb], 1), rtol=1e-14)

    for reset_after in (True, False):
        W, U = rng.normal(size=(I, 3 * H)), rng.normal(size=(H, 3 * H))
        b = rng.normal(size=(2, 3 * H) if reset_after else 3 * H)
        hf, _ = gru_forward(x, W, U, b, h0, reset_after=reset_after)
        ha, _ = gru_forward(x[:, :2], W, U, b, h0, reset_after=reset_after)
        hb, _ = gru_forward(x[:, 2:], W, U, b, ha[:, -1], reset_after=reset_after)
        np.testing.assert_allclose(hf, np.concatenate([ha, hb], 1), rtol=1e-14)


def test_h0_none_means_zeros():
    rng = rng_for("h0none")
    x = rng.normal(size=(2, 3, 2))
    W, U, b = rng.normal(size=(2, 3)), rng.normal(size=(3, 3)), rng.normal(size=3)
    z = np.zeros((2, 3))
    np.testing.assert_array_equal(simple_rnn_forward(x, W, U, b, None)[0],
                                  simple_rnn_forward(x, W, U, b, z)[0])
    W, U, b = rng.normal(size=(2, 12)), rng.normal(size=(3, 12)), rng.normal(size=12)
    np.testing.assert_array_equal(lstm_forward(x, W, U, b, None, None)[0],
                                  lstm_forward(x, W, U, b, z, z)[0])
    W, U, b = rng.normal(size=(2, 9)), rng.normal(size=(3, 9)), rng.normal(size=(2, 9))
    np.testing.assert_array_equal(gru_forward(x, W, U, b, None)[0],
                                  gru_forward(x, W, U, b, z)[0])


# --------------------------------------------------------------------------- losses

@pytest.mark.parametrize("loss_fn", [mse, mae])
@pytest.mark.parametrize("shape", [(1, 1), (4, 1), (3, 5), (2, 3, 4), (6,)])
def test_loss_gradcheck(loss_fn, shape):
    rng = rng_for("loss", loss_fn.__name__, shape)
    y_true = rng.normal(size=shape)
    p = dict(y_pred=rng.normal(size=shape))
    # keep |y_pred - y_true| away from mae's kink at 0
    close = np.abs(p["y_pred"] - y_true) < 1e-3
    p["y_pred"][close] += 0.1
    loss, grad = loss_fn(y_true, p["y_pred"])
    assert np.ndim(loss) == 0
    check_grads(lambda: loss_fn(y_true, p["y_pred"])[0], p, {"y_pred": grad})


def test_loss_values_like_keras():
    y_true = np.array([[0.0, 1.0], [0.0, 0.0]])
    y_pred = np.array([[1.0, 1.0], [0.0, 0.0]])
    assert mse(y_true, y_pred)[0] == 0.25          # keras.losses.MeanSquaredError doc
    assert mae(y_true, y_pred)[0] == 0.25
    # mean over the last axis, then over the batch (here both 2 -> overall mean)
    y_true = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    y_pred = np.array([[1.0, 0.0, 3.0], [1.0, -1.0, 1.0]])
    # per-sample mse: [4/3, 1]; mean = 7/6
    np.testing.assert_allclose(mse(y_true, y_pred)[0], 7 / 6, rtol=1e-15)
    # per-sample mae: [2/3, 1]; mean = 5/6
    np.testing.assert_allclose(mae(y_true, y_pred)[0], 5 / 6, rtol=1e-15)
    _, g = mae(np.array([[1.0, 2.0]]), np.array([[1.0, 3.0]]))
    np.testing.assert_array_equal(g, [[0.0, 0.5]])   # sign 0 at equality


def test_loss_trailing_unit_axis_and_cast():
    y_pred = np.array([[1.0], [2.0], [4.0]])
    y_true = np.array([0, 2, 2])                      # (B,), integers
    for fn in (mse, mae):
        loss, g = fn(y_true, y_pred)
        loss2, g2 = fn(y_true.reshape(3, 1).astype(float), y_pred)
        assert loss == loss2 and g.shape == y_pred.shape
        np.testing.assert_array_equal(g, g2)
    assert mse(y_true, y_pred)[0] == (1 + 0 + 4) / 3


# --------------------------------------------------------------------------- dtype

def test_float32_is_kept_and_close_to_float64():
    rng = rng_for("f32")
    B, T, I, H = 2, 4, 3, 5

    def both(arrays):
        return [a.astype(np.float32) for a in arrays], arrays

    # SimpleRNN
    arrs = [rng.normal(size=s) * 0.5 for s in [(B, T, I), (I, H), (H, H), (H,), (B, H)]]
    R = rng.normal(size=(B, T, H))
    (a32, a64) = both(arrs)
    h32, c32 = simple_rnn_forward(*a32)
    h64, c64 = simple_rnn_forward(*a64)
    assert h32.dtype == np.float32
    np.testing.assert_allclose(h32, h64, rtol=1e-4, atol=1e-5)
    g32 = simple_rnn_backward(R.astype(np.float32), c32)
    g64 = simple_rnn_backward(R, c64)
    for k in g64:
        assert g32[k].dtype == np.float32, k
        np.testing.assert_allclose(g32[k], g64[k], rtol=1e-4, atol=1e-4)

    # LSTM
    arrs = [rng.normal(size=s) * 0.5 for s in
            [(B, T, I), (I, 4 * H), (H, 4 * H), (4 * H,), (B, H), (B, H)]]
    Rc = rng.normal(size=(B, H))
    (a32, a64) = both(arrs)
    h32, cs32, c32 = lstm_forward(*a32)
    h64, cs64, c64 = lstm_forward(*a64)
    assert h32.dtype == cs32.dtype == np.float32
    np.testing.assert_allclose(h32, h64, rtol=1e-4, atol=1e-5)
    g32 = lstm_backward(R.astype(np.float32), Rc.astype(np.float32), c32)
    g64 = lstm_backward(R, Rc, c64)
    for k in g64:
        assert g32[k].dtype == np.float32, k
        np.testing.assert_allclose(g32[k], g64[k], rtol=1e-4, atol=1e-4)

    # GRU, both variants
    for reset_after in (True, False):
        bshape = (2, 3 * H) if reset_after else (3 * H,)
        arrs = [rng.normal(size=s) * 0.5 for s in
                [(B, T, I), (I, 3 * H), (H, 3 * H), bshape, (B, H)]]
        (a32, a64) = both(arrs)
        h32, c32 = gru_forward(*a32, reset_after=reset_after)
        h64, c64 = gru_forward(*a64, reset_after=reset_after)
        assert h32.dtype == np.float32
        np.testing.assert_allclose(h32, h64, rtol=1e-4, atol=1e-5)
        g32 = gru_backward(R.astype(np.float32), c32)
        g64 = gru_backward(R, c64)
        for k in g64:
            assert g32[k].dtype == np.float32, k
            np.testing.assert_allclose(g32[k], g64[k], rtol=1e-4, atol=1e-4)

    # Dense and losses
    x, W, b = (rng.normal(size=s) for s in [(B, T, I), (I, H), (H,)])
    y32, c32 = dense_forward(x.astype(np.float32), W.astype(np.float32),
                             b.astype(np.float32), "tanh")
    assert y32.dtype == np.float32
    for v in dense_backward(R.astype(np.float32), c32).values():
        assert v.dtype == np.float32
    for fn in (mse, mae):
        loss, g = fn(np.ones((B, H)), y32[:, 0])
        assert loss.dtype == np.float32 and g.dtype == np.float32


# --------------------------------------------------------------------------- the checker itself

def test_checker_catches_a_small_gradient_error():
    """The gradient check is strict: a 1e-5 relative error in one entry fails it."""
    rng, p = _lstm_params((2, 3, 2, 2), True, "checker")
    R = rng.normal(size=(2, 3, 2))

    def loss():
        h, _, _ = lstm_forward(p["x"], p["W"], p["U"], p["b"], p["h0"], p["c0"])
        return np.sum(R * h)

    _, _, cache = lstm_forward(p["x"], p["W"], p["U"], p["b"], p["h0"], p["c0"])
    g = lstm_backward(R, None, cache)
    dU = g["dU"].copy()
    k = np.argmax(np.abs(dU))
    dU.flat[k] *= 1 + 1e-5
    assert abs(dU.flat[k]) > 0.1   # so the error is well above TOL in absolute terms
    with pytest.raises(AssertionError, match="gradient mismatch"):
        check_grads(loss, {"U": p["U"]}, {"U": dU})
