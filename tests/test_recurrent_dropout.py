"""Recurrent dropout, Keras 3 semantics (implementation 1): one mask per gate on x_t and
on h_{t-1}, drawn once per batch.  With the masks held fixed, the layer must equal a
per-step NumPy oracle written here from Keras's cell code, and its gradients must equal
central finite differences."""
import numpy as np
import pytest

from fastrnn.layers import GRU, LSTM, SimpleRNN

B, T, I, H = 3, 4, 5, 2          # I != H so the two mask shapes differ


def sig(z):
    return 1 / (1 + np.exp(-z))


def oracle(layer, x, im, rm):
    """Keras's cell math with per-gate masks im (G, B, I) or None and rm (G, B, H)."""
    W, U, b = layer.kernel, layer.recurrent_kernel, layer.bias
    G = rm.shape[0]
    h = np.zeros((B, H))
    c = np.zeros((B, H))
    xin = [x if im is None else x * im[g][:, None, :] for g in range(G)]
    out = []
    for t in range(T):
        if isinstance(layer, SimpleRNN):
            h = np.tanh(xin[0][:, t] @ W + b + (h * rm[0]) @ U)
        elif isinstance(layer, LSTM):
            z = [xin[g][:, t] @ W[:, g * H:(g + 1) * H] + b[g * H:(g + 1) * H]
                 + (h * rm[g]) @ U[:, g * H:(g + 1) * H] for g in range(4)]
            c = sig(z[1]) * c + sig(z[0]) * np.tanh(z[2])
            h = sig(z[3]) * np.tanh(c)
        else:
            bi, br = (b[0], b[1]) if layer.reset_after else (b, np.zeros(3 * H))
            xz, xr, xh = [xin[g][:, t] @ W[:, g * H:(g + 1) * H] + bi[g * H:(g + 1) * H]
                          for g in range(3)]
            rz, rr = [(h * rm[g]) @ U[:, g * H:(g + 1) * H] + br[g * H:(g + 1) * H]
                      for g in range(2)]
            z, r = sig(xz + rz), sig(xr + rr)
            if layer.reset_after:
                hh = np.tanh(xh + r * ((h * rm[2]) @ U[:, 2 * H:] + br[2 * H:]))
            else:
                hh = np.tanh(xh + (r * (h * rm[2])) @ U[:, 2 * H:])
            h = z * h + (1 - z) * hh
        out.append(h)
    return np.stack(out, axis=1)


def make(kind, dropout, rng):
    kw = dict(dropout=dropout, recurrent_dropout=0.4, return_sequences=True, dtype="float64")
    layer = {"simple_rnn": lambda: SimpleRNN(H, **kw), "lstm": lambda: LSTM(H, **kw),
             "gru": lambda: GRU(H, **kw),
             "gru_v1": lambda: GRU(H, reset_after=False, **kw)}[kind]()
    layer.build((T, I))
    layer.set_weights([rng.normal(0, 0.7, w.shape) for w in layer.weights])
    G = 1 if kind == "simple_rnn" else layer.gates
    masks = {}
    if dropout:
        shape = (G, B, I) if G > 1 else (B, I)
        masks[shape] = (rng.random(shape) < 0.6) / 0.6
    masks[(G, B, H)] = (rng.random((G, B, H)) < 0.6) / 0.6
    layer._dropout_mask = lambda shape, rate: masks[shape]      # hold the masks fixed
    im = None
    if dropout:
        im = masks[(G, B, I)] if G > 1 else masks[(B, I)][None]
    return layer, im, masks[(G, B, H)]


@pytest.mark.parametrize("kind", ["simple_rnn", "lstm", "gru", "gru_v1"])
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_forward_matches_keras_cell_math(kind, dropout, rng):
    layer, im, rm = make(kind, dropout, rng)
    x = rng.normal(size=(B, T, I))
    np.testing.assert_allclose(layer.forward(x, training=True), oracle(layer, x, im, rm),
                               rtol=1e-12, atol=1e-12)
    # inference: no dropout at all
    plain = type(layer).from_config({**layer.get_config(), "recurrent_dropout": 0.0,
                                     "dropout": 0.0})
    plain.build((T, I))
    plain.set_weights(layer.get_weights())
    np.testing.assert_array_equal(layer(x), plain(x))


@pytest.mark.parametrize("kind", ["simple_rnn", "lstm", "gru", "gru_v1"])
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_gradients_match_finite_differences(kind, dropout, rng):
    layer, _, _ = make(kind, dropout, rng)
    x = rng.normal(size=(B, T, I))
    R = rng.normal(size=(B, T, H))
    layer.forward(x, training=True)
    dx = layer.backward(R)
    grads = [g.copy() for g in layer.grads]

    def loss():
        return float(np.sum(R * layer.forward(x, training=True)))

    eps = 1e-6
    for w, g in zip(layer.weights + [x], grads + [dx]):
        num = np.zeros_like(w)
        for i in np.ndindex(w.shape):
            old = w[i]
            w[i] = old + eps
            up = loss()
            w[i] = old - eps
            down = loss()
            w[i] = old
            num[i] = (up - down) / (2 * eps)
        assert np.max(np.abs(num - g)) <= 1e-7 * max(1.0, np.max(np.abs(num)))


def test_masks_differ_per_gate_and_batch_and_train(rng):
    layer = LSTM(8, recurrent_dropout=0.5, dropout=0.2, return_sequences=True)
    layer.build((10, 3))
    x = rng.normal(size=(16, 10, 3)).astype(np.float32)
    y1 = layer.forward(x, training=True)
    rmask = layer._ws["rmask"]
    assert rmask.shape == (4, 16, 8) and layer._ws["imask"].shape == (4, 16, 3)
    assert not np.array_equal(rmask[0], rmask[1])
    y2 = layer.forward(x, training=True)
    assert not np.array_equal(y1, y2)                 # a new mask per batch
    assert np.isfinite(layer.backward(np.ones_like(y2))).all()


@pytest.mark.parametrize("cls,units,kwargs", [
    (LSTM, 257, dict(dropout=0.2, recurrent_dropout=0.2)),
    (GRU, 342, dict(recurrent_dropout=0.2)),
], ids=["lstm-257", "gru-342"])
def test_wide_layers_with_both_masks_fill_the_bias_gradient(cls, units, kwargs, rng):
    """With dropout masks on the inputs of both products, the products are taken apart
    per gate and only the bias gradient goes through the one-pass weight gradients;
    wider than one column block of 1024 (4 x 257, 3 x 342) it must still be written
    (every gradient starts as NaN), and equal the BLAS route's."""
    from fastrnn._ext import _blas
    x = rng.normal(size=(3, 4, 2)).astype(np.float32)
    dy = rng.normal(size=(3, units)).astype(np.float32)
    weights, grads = None, []
    for own in (True, False):
        old = _blas.use_own_sgemm(own)
        try:
            layer = cls(units, seed=3, **kwargs)          # the same masks in both runs
            layer.build((4, 2))
            if weights is None:
                weights = layer.get_weights()
            layer.set_weights(weights)
            for g in layer.grads:
                g.fill(np.nan)
            layer.forward(x, training=True)
            layer.backward(dy)
            grads.append([g.copy() for g in layer.grads])
        finally:
            _blas.use_own_sgemm(old)
    for own, blas in zip(*grads):
        assert np.isfinite(own).all()
        np.testing.assert_allclose(own, blas, rtol=1e-5, atol=1e-6)
