"""LSTM, GRU (both reset_after variants) and SimpleRNN layers against fastrnn.reference:
outputs, final states, and the gradients of every weight, the input and the initial states."""
import numpy as np
import pytest

from fastrnn import reference
from fastrnn.layers import GRU, LSTM, SimpleRNN

SHAPES = [(3, 5, 4, 6), (1, 1, 1, 1), (1, 6, 3, 2), (4, 1, 5, 3), (2, 7, 2, 5)]  # B, T, I, H
TOL = {np.float64: 1e-9, np.float32: 1e-4}
CELLS = ["lstm", "gru", "gru_v1", "simple_rnn"]


def rel_err(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - b)) / max(1e-12, np.max(np.abs(b))))


def make(cell, H, dtype, **kw):
    if cell == "lstm":
        return LSTM(H, dtype=dtype, **kw)
    if cell == "gru":
        return GRU(H, dtype=dtype, **kw)
    if cell == "gru_v1":
        return GRU(H, dtype=dtype, reset_after=False, **kw)
    kw.pop("recurrent_activation", None)
    return SimpleRNN(H, dtype=dtype, **kw)


def reference_run(cell, layer, x, h0, c0, dhseq, dc_last):
    """Forward + backward of the reference in float64; returns outputs and gradients."""
    W, U = layer.kernel.astype(np.float64), layer.recurrent_kernel.astype(np.float64)
    b = layer.bias.astype(np.float64) if layer.use_bias else None
    act = layer.activation.name
    if cell == "lstm":
        ract = layer.recurrent_activation.name
        hseq, cseq, cache = reference.lstm_forward(x, W, U, b, h0, c0, act, ract)
        g = reference.lstm_backward(dhseq, dc_last, cache)
        return hseq, [hseq[:, -1], cseq[:, -1]], g
    if cell.startswith("gru"):
        ract = layer.recurrent_activation.name
        hseq, cache = reference.gru_forward(x, W, U, b, h0, act, ract, layer.reset_after)
        g = reference.gru_backward(dhseq, cache)
    else:
        hseq, cache = reference.simple_rnn_forward(x, W, U, b, h0, act)
        g = reference.simple_rnn_backward(dhseq, cache)
    return hseq, [hseq[:, -1]], g


def check(cell, B, T, I, H, dtype, rng, return_sequences=False, return_state=False,
          go_backwards=False, use_bias=True, initial_state=False, scale=0.5, **acts):
    layer = make(cell, H, dtype, return_sequences=return_sequences, return_state=return_state,
                 go_backwards=go_backwards, use_bias=use_bias, **acts)
    layer.build((None, I))
    layer.set_weights([rng.normal(0, scale, w.shape) for w in layer.weights])
    nstates = 2 if cell == "lstm" else 1
    x = rng.normal(size=(B, T, I)).astype(dtype)
    init = [rng.normal(size=(B, H)).astype(dtype) for _ in range(nstates)]
    out = layer.forward(x, training=True, initial_state=init if initial_state else None)
    outputs = out if return_state else [out]
    douts = [rng.normal(size=o.shape).astype(dtype) for o in outputs]
    dx = layer.backward(douts if return_state else douts[0])

    # Reference: reversed input for go_backwards; dL/d(all h) and dL/dc_T assembled.
    x64 = x.astype(np.float64)[:, ::-1] if go_backwards else x.astype(np.float64)
    h0 = init[0].astype(np.float64) if initial_state else np.zeros((B, H))
    c0 = init[1].astype(np.float64) if initial_state and cell == "lstm" else np.zeros((B, H))
    dhseq = np.zeros((B, T, H))
    if return_sequences:
        dhseq += douts[0]
    else:
        dhseq[:, -1] += douts[0]
    dc_last = None
    if return_state:
        dhseq[:, -1] += douts[1]
        if cell == "lstm":
            dc_last = douts[2].astype(np.float64)
    hseq, finals, g = reference_run(cell, layer, x64, h0, c0, dhseq, dc_last)

    want = {"out": hseq if return_sequences else hseq[:, -1],
            "dx": g["dx"][:, ::-1] if go_backwards else g["dx"],
            "dW": g["dW"], "dU": g["dU"], "dh0": g["dh0"]}
    got = {"out": outputs[0], "dx": dx, "dW": layer.grads[0], "dU": layer.grads[1],
           "dh0": layer.state_grads[0]}
    if use_bias:
        want["db"], got["db"] = g["db"], layer.grads[2]
    if cell == "lstm":
        want["dc0"], got["dc0"] = g["dc0"], layer.state_grads[1]
    if return_state:
        for i, final in enumerate(finals):
            want[f"state{i}"], got[f"state{i}"] = final, outputs[1 + i]
    for key in want:
        assert got[key].shape == np.shape(want[key]), key
        assert got[key].dtype == dtype, key
        err = rel_err(got[key], want[key])
        assert err <= TOL[dtype], f"{cell} {key}: relative error {err:.2e}"


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("return_sequences", [False, True])
def test_gradients_match_reference(cell, dtype, shape, return_sequences, rng):
    check(cell, *shape, dtype, rng, return_sequences=return_sequences)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_return_state_initial_state_go_backwards(cell, dtype, return_sequences, rng):
    check(cell, 3, 6, 2, 4, dtype, rng, return_sequences=return_sequences, return_state=True,
          go_backwards=True, initial_state=True)
    check(cell, 2, 4, 3, 5, dtype, rng, return_sequences=return_sequences, return_state=True,
          initial_state=True, use_bias=False)


@pytest.mark.parametrize("cell", ["lstm", "gru", "gru_v1"])
@pytest.mark.parametrize("acts", [dict(activation="relu", recurrent_activation="sigmoid"),
                                  dict(activation="linear", recurrent_activation="tanh"),
                                  dict(activation="sigmoid", recurrent_activation="relu")])
def test_non_default_activations(cell, acts, rng):
    check(cell, 3, 5, 2, 4, np.float64, rng, return_sequences=True, **acts)


def test_weight_layouts_and_initial_values():
    lstm, gru, gru1 = LSTM(5), GRU(5), GRU(5, reset_after=False)
    for layer in (lstm, gru, gru1):
        layer.build((None, 3))
    assert [w.shape for w in lstm.get_weights()] == [(3, 20), (5, 20), (20,)]
    assert [w.shape for w in gru.get_weights()] == [(3, 15), (5, 15), (2, 15)]
    assert [w.shape for w in gru1.get_weights()] == [(3, 15), (5, 15), (15,)]
    np.testing.assert_array_equal(lstm.bias, np.r_[np.zeros(5), np.ones(5), np.zeros(10)])
    assert not gru.bias.any()
    U = lstm.recurrent_kernel.astype(np.float64)          # (H, 4H): orthonormal rows
    np.testing.assert_allclose(U @ U.T, np.eye(5), atol=1e-5)
    limit = np.sqrt(6 / (3 + 20))                          # glorot with fan_out = 4H
    assert np.abs(lstm.kernel).max() <= limit
    assert np.abs(lstm.kernel).max() > 0.5 * limit


def test_backward_twice_without_forward_is_an_error(rng):
    layer = LSTM(3)
    y = layer(rng.normal(size=(2, 4, 3)).astype(np.float32), training=True)
    layer.backward(np.ones_like(y))
    with pytest.raises(RuntimeError, match="forward"):
        layer.backward(np.ones_like(y))


@pytest.mark.parametrize("cell", CELLS)
def test_backward_after_inference_is_an_error(cell, rng):
    """Inference keeps no caches (LSTM and GRU run a lean kernel): a backward must follow
    a training forward, for every cell alike."""
    layer = make(cell, 3, "float32")
    y = layer(rng.normal(size=(2, 4, 3)).astype(np.float32))
    with pytest.raises(RuntimeError, match="training=True"):
        layer.backward(np.ones_like(y))


@pytest.mark.parametrize("cell", CELLS)
def test_inference_between_forward_and_backward_changes_nothing(cell, rng):
    """An inference call (e.g. a validation batch) between a training forward and its
    backward leaves that backward's gradients as they were."""
    x, other = rng.normal(size=(2, 5, 6, 3))
    dy = rng.normal(size=(5, 4))
    layer = make(cell, 4, "float64")
    layer.build((None, 3))
    layer.forward(x, training=True)
    layer.backward(dy)
    want = [g.copy() for g in layer.grads]
    layer.forward(x, training=True)
    layer.forward(other, training=False)
    layer.backward(dy)
    for g, w in zip(layer.grads, want):
        np.testing.assert_array_equal(g, w)


def test_bad_initial_state(rng):
    layer = LSTM(3)
    layer.build((None, 2))
    x = rng.normal(size=(2, 4, 2)).astype(np.float32)
    with pytest.raises(ValueError, match="2 initial state"):
        layer.forward(x, initial_state=[np.zeros((2, 3))])
    with pytest.raises(ValueError, match="shape"):
        layer.forward(x, initial_state=[np.zeros((2, 3)), np.zeros((3, 3))])


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("shape", [(17, 4, 5, 40), (9, 8, 3, 33), (5, 13, 2, 64)])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_float32_wide_layers_packed_recurrent_product(cell, shape, return_sequences, rng):
    """float32 runs the per-step product through the packed kernel (csrc/rgemm.c) where
    the CPU has it (from 4 steps and 64 rows in all): batch sizes that are not multiples
    of its 8 rows, gate widths that are not multiples of its 32 columns, both passes."""
    # weights scaled to H so that 13 steps stay well conditioned in float32
    check(cell, *shape, np.float32, rng, return_sequences=return_sequences,
          scale=1.0 / np.sqrt(shape[3]))
