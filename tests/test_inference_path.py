"""Inference (training=False) runs a lean kernel where the cell has one (LSTM:
_lstm.infer, GRU with reset_after=True: _gru.infer_reset_after; one step's gates in
scratch, x_t W computed per step) instead of the training forward that keeps every
step's gates.  Both must give the same outputs and states in every configuration."""
import numpy as np
import pytest

from fastrnn import config
from fastrnn._ext import _blas
from fastrnn.layers import GRU, LSTM, SimpleRNN

CELLS = {"lstm": LSTM, "gru": GRU,
         "gru_v1": lambda units, **kw: GRU(units, reset_after=False, **kw),
         "simple_rnn": SimpleRNN}


@pytest.fixture(params=[1, 2])
def threads(request):
    old_threads = config.get_num_threads()
    old_flops = _blas.set_min_part_flops(0.0)
    config.set_num_threads(request.param)
    yield request.param
    config.set_num_threads(old_threads)
    _blas.set_min_part_flops(old_flops)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("B,T,I,H", [(1, 1, 3, 5), (11, 6, 3, 40), (70, 9, 5, 33)])
@pytest.mark.parametrize("options", [{}, {"return_sequences": True},
                                     {"return_state": True, "go_backwards": True},
                                     {"mask": True}, {"initial_state": True}])
def test_inference_equals_training_forward(cell, dtype, B, T, I, H, options, threads, rng,
                                           monkeypatch):
    import fastrnn._threads as th
    monkeypatch.setattr(th, "MIN_BLOCK_FLOPS", 0.0)      # row blocks on both threads
    options = dict(options)
    use_mask, use_init = options.pop("mask", False), options.pop("initial_state", False)
    layer = CELLS[cell](H, dtype=dtype, **options)
    layer.build((None, I))
    layer.set_weights([rng.normal(0, 0.4, w.shape) for w in layer.weights])
    x = rng.normal(size=(B, T, I)).astype(dtype)
    kw = {}
    if use_mask:
        kw["mask"] = rng.random((B, T)) < 0.7
    if use_init:
        kw["initial_state"] = [rng.normal(size=(B, H)).astype(dtype)
                               for _ in layer.state_names]
    train = layer.forward(x, training=True, **kw)
    infer = layer.forward(x, training=False, **kw)
    train = train if isinstance(train, list) else [train]
    infer = infer if isinstance(infer, list) else [infer]
    assert len(train) == len(infer)
    tol = 1e-5 if dtype == "float32" else 1e-12
    for a, b in zip(infer, train):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("cell,gates", [(LSTM, {"z": 4}), (GRU, {"xg": 3, "mh": 3})])
def test_inference_keeps_no_gate_buffers(cell, gates, rng):
    """The point of the lean path: no (T, B, G H) buffer for inference."""
    layer = cell(16)
    assert layer.has_infer_kernel
    x = rng.normal(size=(4, 50, 3)).astype(np.float32)
    layer(x)
    (ws,) = layer._workspaces.values()
    for name, g in gates.items():
        assert ws[name].shape == (1, 4, g * 16)
    assert "dx" not in ws


@pytest.mark.parametrize("cell", [LSTM, GRU])
def test_stateful_inference_carries_states(cell, rng):
    layer = cell(6, stateful=True)
    x = rng.normal(size=(3, 8, 2)).astype(np.float32)
    whole = cell(6, return_sequences=True)
    whole.build((None, 2))
    layer.build((None, 2))
    whole.set_weights(layer.get_weights())
    layer(x[:, :4])
    second = layer(x[:, 4:])
    np.testing.assert_allclose(second, whole(x)[:, -1], rtol=1e-5, atol=1e-6)
