"""Masks through recurrent layers (Keras semantics: a masked step keeps the previous
state and output), stateful layers and input dropout.

Oracle for masks: each sample's sequence with its masked steps removed, run through
the NumPy reference; the output at a masked step is the state of the last valid step
(the initial state before any), so its gradient flows into that state."""
import numpy as np
import pytest

from fastrnn import reference
from fastrnn.layers import GRU, LSTM, SimpleRNN

CELLS = {"simple_rnn": lambda H, **k: SimpleRNN(H, **k), "lstm": lambda H, **k: LSTM(H, **k),
         "gru": lambda H, **k: GRU(H, **k),
         "gru_v1": lambda H, **k: GRU(H, reset_after=False, **k)}


def ref_one(cell, layer, x, dh):
    """Reference on one compressed sequence x (1, T', I) with output grads dh (1, T', H);
    returns (hseq, grads dict)."""
    W, U, b = layer.kernel, layer.recurrent_kernel, layer.bias
    H = U.shape[0]
    h0 = np.zeros((1, H))
    if cell == "lstm":
        hseq, _, cache = reference.lstm_forward(x, W, U, b, h0, h0)
        return hseq, reference.lstm_backward(dh, None, cache)
    if cell.startswith("gru"):
        hseq, cache = reference.gru_forward(x, W, U, b, h0, reset_after=layer.reset_after)
        return hseq, reference.gru_backward(dh, cache)
    hseq, cache = reference.simple_rnn_forward(x, W, U, b, h0)
    return hseq, reference.simple_rnn_backward(dh, cache)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_mask_matches_compressed_sequences(cell, return_sequences, go_backwards, rng):
    B, T, I, H = 4, 7, 3, 5
    layer = CELLS[cell](H, dtype="float64", return_sequences=return_sequences,
                        go_backwards=go_backwards)
    layer.build((None, I))
    layer.set_weights([rng.normal(0, 0.5, w.shape) for w in layer.weights])
    x = rng.normal(size=(B, T, I))
    mask = rng.random((B, T)) < 0.6
    mask[0] = False                       # a sample with no valid step at all
    mask[1] = True                        # one with every step valid
    mask[2, :3] = False                   # leading masked steps
    y = layer.forward(x, mask=mask, training=True)
    dy = rng.normal(size=y.shape)
    dx = layer.backward(dy)

    want_dx = np.zeros_like(x)
    want = {k: np.zeros_like(w) for k, w in zip(("dW", "dU", "db"), layer.weights)}
    for s in range(B):
        order = np.arange(T)[::-1] if go_backwards else np.arange(T)
        valid = [t for t in order if mask[s, t]]
        # which compressed state each processed step outputs (-1: the initial state)
        owner, k = [], -1
        for t in order:
            k += bool(mask[s, t])
            owner.append(k)
        if return_sequences:
            dys = [dy[s, i] for i in range(T)]    # output i belongs to processed step i
        else:
            dys = [np.zeros(H)] * (T - 1) + [dy[s]]
        out_seq = np.zeros((T, H))
        if valid:
            xs = x[s, valid][None]
            dh = np.zeros((1, len(valid), H))
            for i, own in enumerate(owner):
                if own >= 0:
                    dh[0, own] += dys[i]
            hseq, g = ref_one(cell, layer, xs, dh)
            for i, own in enumerate(owner):
                if own >= 0:
                    out_seq[i] = hseq[0, own]
            for key in want:
                want[key] += g[key]
            want_dx[s, valid] = g["dx"][0]
        got = y[s] if return_sequences else y[s][None]
        expect = out_seq if return_sequences else out_seq[-1:]
        np.testing.assert_allclose(got, expect, atol=1e-12)
    np.testing.assert_allclose(dx, want_dx, atol=1e-10)
    for key, grad in zip(("dW", "dU", "db"), layer.grads):
        np.testing.assert_allclose(grad, want[key], atol=1e-10, err_msg=key)


def test_all_true_mask_equals_no_mask(rng):
    layer = LSTM(4, return_sequences=True, dtype="float64")
    x = rng.normal(size=(3, 5, 2))
    y1 = layer(x)
    y2 = layer.forward(x, mask=np.ones((3, 5), bool))
    np.testing.assert_array_equal(y1, y2)


def test_mask_shape_is_checked(rng):
    layer = GRU(3)
    layer.build((None, 2))
    with pytest.raises(ValueError, match="mask"):
        layer.forward(np.zeros((2, 4, 2), np.float32), mask=np.ones((2, 5), bool))


@pytest.mark.parametrize("cell", list(CELLS))
def test_stateful_carries_states_between_batches(cell, rng):
    x = rng.normal(size=(2, 8, 3))
    full = CELLS[cell](4, dtype="float64", return_sequences=True)
    y_full = full(x)
    part = CELLS[cell](4, dtype="float64", return_sequences=True, stateful=True)
    part.build((None, 3))
    part.set_weights(full.get_weights())
    y = np.concatenate([part(x[:, :3]), part(x[:, 3:])], axis=1)
    np.testing.assert_allclose(y, y_full, atol=1e-12)
    part.reset_states()
    np.testing.assert_allclose(part(x[:, :3]), y_full[:, :3], atol=1e-12)
    with pytest.raises(ValueError, match="reset_states"):
        part(x[:1, :3])


def test_input_dropout_one_mask_per_batch_and_exact_gradient(rng):
    layer = SimpleRNN(4, dropout=0.5, dtype="float64", return_sequences=True, seed=3)
    layer.build((None, 3))
    x = rng.normal(size=(6, 5, 3))
    y = layer.forward(x, training=True)
    m = layer._ws["dropout"]                          # (B, I), values 0 or 2
    assert set(np.unique(m)) <= {0.0, 2.0}
    ref = SimpleRNN(4, dtype="float64", return_sequences=True)
    ref.build((None, 3))
    ref.set_weights(layer.get_weights())
    np.testing.assert_allclose(y, ref(x * m[:, None, :]), atol=1e-12)
    dy = rng.normal(size=y.shape)
    dx = layer.backward(dy)
    ref.forward(x * m[:, None, :], training=True)
    np.testing.assert_allclose(dx, ref.backward(dy) * m[:, None, :], atol=1e-12)
    np.testing.assert_array_equal(layer(x), ref(x))    # inference: no dropout
    with pytest.raises(ValueError, match="dropout"):
        LSTM(3, dropout=1.5)


def test_step_api_streams_like_a_whole_sequence(rng):
    """layer.step carries the state one step at a time and matches the full forward."""
    for layer in (LSTM(6, return_sequences=True, dtype="float64"),
                  GRU(6, return_sequences=True, dtype="float64"),
                  SimpleRNN(6, return_sequences=True, dtype="float64")):
        x = rng.normal(size=(3, 5, 4))
        full = layer(x)
        states = None
        for t in range(5):
            out, states = layer.step(x[:, t], states)
            np.testing.assert_allclose(out, full[:, t], atol=1e-12)
        with pytest.raises(ValueError, match="step expects"):
            layer.step(x[:, 0, :2], states)


def test_concurrent_predicts_do_not_share_buffers(rng, in_threads):
    layer = LSTM(16, return_sequences=True)
    xs = [rng.normal(size=(8, 30, 5)).astype(np.float32) for _ in range(4)]
    want = [layer(x) for x in xs]

    def run(i):
        for _ in range(20):
            out = layer(xs[i])
        return out
    for g, w in zip(in_threads(run, 4), want):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("go_backwards", [False, True])
def test_float32_packed_path_with_masks_matches_float64(cell, go_backwards, rng):
    """float32 takes the packed recurrent product (csrc/rgemm.c) where available; with
    masks its backward accumulates onto the carried rows.  Compare with float64 (BLAS
    path, checked against the reference above)."""
    B, T, I, H = 11, 6, 3, 40                # 66 rows in 6 steps: the packed path
    x = rng.normal(size=(B, T, I))
    mask = rng.random((B, T)) < 0.7
    dy = rng.normal(size=(B, T, H))
    out = {}
    for dtype in ("float64", "float32"):
        layer = CELLS[cell](H, dtype=dtype, return_sequences=True, go_backwards=go_backwards)
        layer.build((None, I))
        if dtype == "float64":
            weights = [rng.normal(0, 0.3, w.shape) for w in layer.weights]
        layer.set_weights(weights)
        y = layer.forward(x.astype(dtype), mask=mask, training=True)
        dx = layer.backward(dy.astype(dtype))
        out[dtype] = [y, dx] + [g.copy() for g in layer.grads]
    for a, b in zip(out["float32"], out["float64"]):
        assert np.max(np.abs(a - b)) <= 1e-4 * max(1.0, np.max(np.abs(b)))
