"""The compiled SimpleRNN layer against the NumPy reference: outputs and every gradient."""
import numpy as np
import pytest

from fastrnn import reference
from fastrnn.layers import SimpleRNN

SHAPES = [  # (B, T, I, H)
    (3, 5, 4, 6),
    (1, 1, 1, 1),
    (1, 7, 3, 2),
    (4, 1, 5, 3),
    (2, 9, 1, 1),
    (5, 4, 2, 8),
]
TOL = {np.float64: 1e-9, np.float32: 1e-4}


def rel_err(a, b):
    return float(np.max(np.abs(a - b)) / max(1e-12, np.max(np.abs(b))))


def make_layer(I, H, dtype, rng, **kwargs):
    layer = SimpleRNN(H, dtype=dtype, **kwargs)
    layer.build((None, I))
    # Larger-than-default weights so that every activation leaves its linear range.
    weights = [rng.normal(0, 0.6, w.shape) for w in layer.weights]
    layer.set_weights(weights)
    return layer


def run_both(B, T, I, H, dtype, activation, return_sequences, go_backwards, rng,
             use_bias=True):
    layer = make_layer(I, H, dtype, rng, activation=activation, use_bias=use_bias,
                       return_sequences=return_sequences, go_backwards=go_backwards)
    x = rng.normal(0, 1, (B, T, I)).astype(dtype)
    y = layer.forward(x, training=True)
    dy = rng.normal(0, 1, y.shape).astype(dtype)
    dx = layer.backward(dy)

    # The reference in float64, on the time-reversed input for go_backwards.
    W = layer.kernel.astype(np.float64)
    U = layer.recurrent_kernel.astype(np.float64)
    b = layer.bias.astype(np.float64) if use_bias else None
    xr = x.astype(np.float64)[:, ::-1] if go_backwards else x.astype(np.float64)
    hseq, cache = reference.simple_rnn_forward(xr, W, U, b, np.zeros((B, H)), activation)
    dhseq = np.zeros_like(hseq)
    if return_sequences:
        dhseq[:] = dy
    else:
        dhseq[:, -1] = dy
    g = reference.simple_rnn_backward(dhseq, cache)
    dx_ref = g["dx"][:, ::-1] if go_backwards else g["dx"]
    y_ref = hseq if return_sequences else hseq[:, -1]
    got = {"y": y, "dx": dx, "dW": layer.grads[0], "dU": layer.grads[1]}
    want = {"y": y_ref, "dx": dx_ref, "dW": g["dW"], "dU": g["dU"]}
    if use_bias:
        got["db"], want["db"] = layer.grads[2], g["db"]
    return got, want


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "linear"])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_matches_reference(dtype, shape, activation, return_sequences, rng):
    got, want = run_both(*shape, dtype, activation, return_sequences, False, rng)
    for key in want:
        assert got[key].dtype == dtype, key
        assert got[key].shape == want[key].shape, key
        assert rel_err(got[key], want[key]) <= TOL[dtype], (key, rel_err(got[key], want[key]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_go_backwards_and_no_bias(dtype, return_sequences, rng):
    for use_bias in (True, False):
        got, want = run_both(3, 6, 2, 4, dtype, "tanh", return_sequences, True, rng,
                             use_bias=use_bias)
        for key in want:
            assert rel_err(got[key], want[key]) <= TOL[dtype], key


def test_weights_keras_layout(rng):
    layer = SimpleRNN(7)
    layer.build((None, 3))
    shapes = [w.shape for w in layer.get_weights()]
    assert shapes == [(3, 7), (7, 7), (7,)]
    assert all(w.dtype == np.float32 for w in layer.get_weights())
    # recurrent kernel is orthogonal, bias zeros, kernel within the Glorot limit
    U = layer.recurrent_kernel.astype(np.float64)
    np.testing.assert_allclose(U @ U.T, np.eye(7), atol=1e-5)
    assert not layer.bias.any()
    assert np.abs(layer.kernel).max() <= np.sqrt(6 / (3 + 7))


def test_buffers_reused_and_outputs_not_aliased(rng):
    layer = make_layer(2, 3, np.float64, rng, return_sequences=True)
    x = rng.normal(size=(4, 5, 2))
    y1 = layer.forward(x)
    y2 = layer.forward(2 * x)
    assert not np.shares_memory(y1, y2)
    assert len(layer._workspaces) == 1
    np.testing.assert_allclose(layer.forward(x), y1)


def test_unknown_activation_lists_valid_names():
    with pytest.raises(ValueError, match="tanh"):
        SimpleRNN(3, activation="swishy")
    with pytest.raises(ValueError, match="SimpleRNN supports"):
        SimpleRNN(3, activation="softmax")


def test_wrong_feature_size_raises(rng):
    layer = make_layer(2, 3, np.float32, rng)
    with pytest.raises(ValueError, match="features"):
        layer.forward(np.zeros((4, 5, 3), np.float32))
    with pytest.raises(ValueError, match="rank"):
        layer.forward(np.zeros((4, 5), np.float32))
    with pytest.raises(ValueError, match="float32"):
        layer.forward(np.zeros((4, 5, 2), np.float64))
