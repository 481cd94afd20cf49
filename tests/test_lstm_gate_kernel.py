"""The LSTM forward gate kernel (csrc/gates_impl.h through _lstm.forward) against float64
NumPy: its activations' accuracy over the whole range, exact limits and NaN in every lane
of rows of 1 to 100 units, -0 through the cell, and the cell update of several rows.
(tests/test_fastmath.py checks the same activations through fr_bias_act.)"""
import numpy as np
import pytest

from fastrnn._ext import _lstm

TANH, SIGMOID = 1, 2


def sigmoid64(v):
    return np.exp(-np.logaddexp(0.0, -v))


def lstm_step(x, W, b, c0):
    """One step (T = 1) with h0 = 0 and U = 0: pre-activations x W + b.  x (B, I),
    W (I, 4H), b (4H,), c0 (B, H).  Returns the activated gates (B, 4, H), c, ac, h."""
    B, H = c0.shape
    hs = np.zeros((2, B, H), np.float32)
    cs = np.zeros((2, B, H), np.float32)
    cs[0] = c0
    z = np.empty((1, B, 4 * H), np.float32)
    ac = np.empty((1, B, H), np.float32)
    _lstm.forward(np.ascontiguousarray(x[None], np.float32), W.astype(np.float32),
                  np.zeros((H, 4 * H), np.float32), b.astype(np.float32), hs, cs, z, ac,
                  TANH, SIGMOID)
    return z[0].reshape(B, 4, H), cs[1], ac[0], hs[1]


def rows_of_16(v):
    """v padded to whole rows of 16 units (B, 16), and its length."""
    v = np.asarray(v, np.float32)
    return np.concatenate([v, np.zeros(-len(v) % 16, np.float32)]).reshape(-1, 16), len(v)


def gate_activations(v):
    """sigmoid(v) (the input gate) and tanh(v) (the candidate g) of finite v, 16 units a
    row: x = v and W = four identity blocks, so x W = v exactly."""
    x, n = rows_of_16(v)
    gates, _, _, _ = lstm_step(x, np.tile(np.eye(16), (1, 4)), np.zeros(64), np.zeros_like(x))
    return gates[:, 0].ravel()[:n], gates[:, 2].ravel()[:n]


def bias_activations(v):
    """The same for one row of len(v) units from the bias (x W = 0; any v, NaN and Inf
    included; a -0 arrives as 0 + -0 = +0)."""
    v = np.asarray(v, np.float32)
    H = len(v)
    gates, _, _, _ = lstm_step(np.zeros((1, 1)), np.zeros((1, 4 * H)), np.tile(v, 4),
                               np.zeros((1, H)))
    return gates[0, 0], gates[0, 2]


def cell_tanh(v):
    """tanh(v) through act(c): c_prev = v with i = 0 and f = 1 exactly (biases -Inf and
    +Inf) and g = tanh(-1), so that c = v + (-0) = v, -0 included."""
    c0, n = rows_of_16(v)
    b = np.concatenate([np.full(16, -np.inf), np.full(16, np.inf), np.full(16, -1.0),
                        np.zeros(16)])
    _, c, ac, _ = lstm_step(np.zeros((len(c0), 1)), np.zeros((1, 64)), b, c0)
    np.testing.assert_array_equal(np.signbit(c), np.signbit(c0))
    np.testing.assert_array_equal(c, c0)
    return ac.ravel()[:n]


def within_4_ulp(got, want):
    got, want = got.astype(np.float64), want.astype(np.float64)
    ulp = np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
    # below FLT_MIN the sigmoid goes subnormal, then 0 (as in csrc/fastmath.h)
    return np.abs(got - want) <= 4 * ulp + 2e-38


def test_accuracy_over_range():
    v = np.concatenate([np.linspace(-100, 100, 40001), np.logspace(-30, 2, 2000),
                        -np.logspace(-30, 2, 2000), [0.0, -0.0, 0.625, -0.625]])
    v = v.astype(np.float32)
    s, t = gate_activations(v)
    t_cell = cell_tanh(v)
    v64 = v.astype(np.float64)
    assert np.all(within_4_ulp(s, sigmoid64(v64)))
    assert np.all(within_4_ulp(t, np.tanh(v64)))
    assert np.all(within_4_ulp(t_cell, np.tanh(v64)))


def test_monotone_around_the_exp_limits():
    """Every float where exp over- and underflows: no step down, 4 ulp where the result
    is a normal float, never above the true value (plus a subnormal ulp) below."""
    for lo, hi in [(-89.1, -86.9), (86.9, 89.1)]:
        a, b = np.array([lo, hi], np.float32)
        v = np.unique(np.arange(a, b, np.spacing(np.float32(90.0)) / 2,
                                dtype=np.float64).astype(np.float32))
        s, t = gate_activations(v)
        for got, want in [(s, sigmoid64(v.astype(np.float64))),
                          (t, np.tanh(v.astype(np.float64)))]:
            got = got.astype(np.float64)
            assert np.all(np.diff(got) >= 0)
            normal = np.abs(want) >= np.finfo(np.float32).tiny
            assert np.all(within_4_ulp(got[normal], want[normal]))
            assert np.all(got[~normal] <= want[~normal] * (1 + 1e-6) + 1.5e-45)


SPECIALS = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 1e-45, -1e-45, 1e-40, -1e-40,
                     3.4e38, -3.4e38, 88.5, -88.5, 89.0, -89.0, 150.0, -150.0, 1e30, -1e30],
                    np.float32)


@pytest.mark.parametrize("H", [1, 5, 16, 17, 64, 65, 100])
def test_special_values_in_every_lane(H):
    """Each special value at each position of a row of H units (the vector body and a
    partial last vector): NaN stays NaN, the limits are exact, tiny inputs give 0.5 and
    x itself (the sign of -0 kept, through the cell)."""
    for i, v in enumerate(SPECIALS):
        row = np.full(H, 0.25, np.float32)
        row[i % H] = v
        s, t = bias_activations(row)
        s, t = s[i % H], t[i % H]
        tc = cell_tanh(np.resize(row, 16 * ((H + 15) // 16)))[i % H]
        if np.isnan(v):
            assert np.isnan(s) and np.isnan(t) and np.isnan(tc)
            continue
        if v < -88.8:
            assert s == 0.0
        elif v > 88:
            assert s == 1.0
        else:
            assert 0.0 <= s <= 1.0
        if abs(v) > 40:
            assert t == np.sign(v) and tc == np.sign(v)
        if abs(v) < 1e-30:
            assert s == 0.5
            assert tc == v and np.signbit(tc) == np.signbit(v)
            assert t == v and (v == 0 or np.signbit(t) == np.signbit(v))


@pytest.mark.parametrize("B, H", [(1, 1), (3, 17), (2, 64), (4, 100), (5, 130)])
def test_cell_update_matches_float64(B, H):
    """Random pre-activations through the whole kernel, several rows: the gates,
    c = f c_prev + i g, act(c) and h = o act(c), against float64.  x_t is the identity
    (I = B), so x_t W gives row r of W, the pre-activations, exactly."""
    rng = np.random.default_rng(B * 1000 + H)
    pre = rng.normal(scale=3.0, size=(B, 4 * H)).astype(np.float32)
    c0 = rng.normal(scale=2.0, size=(B, H)).astype(np.float32)
    x = np.eye(B, dtype=np.float32)[None]
    U = np.zeros((H, 4 * H), np.float32)
    b = np.zeros(4 * H, np.float32)
    hs = np.zeros((2, B, H), np.float32)
    cs = np.zeros((2, B, H), np.float32)
    cs[0] = c0
    z = np.empty((1, B, 4 * H), np.float32)
    ac = np.empty((1, B, H), np.float32)
    _lstm.forward(x, pre, U, b, hs, cs, z, ac, TANH, SIGMOID)
    p = pre.astype(np.float64)
    i, f, g, o = (sigmoid64(p[:, :H]), sigmoid64(p[:, H:2 * H]), np.tanh(p[:, 2 * H:3 * H]),
                  sigmoid64(p[:, 3 * H:]))
    np.testing.assert_allclose(z[0], np.concatenate([i, f, g, o], axis=1), rtol=5e-7)
    # c from the kernel's own (float32) gates: the sum rounds once more
    gz = z[0].astype(np.float64)
    c = gz[:, H:2 * H] * c0 + gz[:, :H] * gz[:, 2 * H:3 * H]
    np.testing.assert_allclose(cs[1], c, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ac[0], np.tanh(cs[1].astype(np.float64)), rtol=5e-7)
    np.testing.assert_allclose(hs[1], gz[:, 3 * H:] * ac[0], rtol=2e-7)
