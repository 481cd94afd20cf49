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
@pytest.mark.parametrize("B,T,I,H", [(1, 1, 3, 5), (11, 6, 3, 40), (70, 9, 5, 33),
                                     (1, 100, 300, 8)])
@pytest.mark.parametrize("options", [{}, {"return_sequences": True},
                                     {"return_state": True, "go_backwards": True},
                                     {"mask": True}, {"initial_state": True}])
def test_inference_equals_training_forward(cell, dtype, B, T, I, H, options, threads, rng,
                                           monkeypatch):
    """Inference in dtype against the training forward in float64 (which takes the
    plain kernels: the fused float32 training path shares code with inference, so it
    is not the reference here)."""
    import fastrnn._threads as th
    monkeypatch.setattr(th, "MIN_BLOCK_FLOPS", 0.0)      # row blocks on both threads
    options = dict(options)
    use_mask, use_init = options.pop("mask", False), options.pop("initial_state", False)
    layers = {}
    for dt in {dtype, "float64"}:
        layers[dt] = CELLS[cell](H, dtype=dt, **options)
        layers[dt].build((None, I))
    weights = [rng.normal(0, 0.4 / np.sqrt(w.shape[0]), w.shape)
               for w in layers["float64"].weights]
    for layer in layers.values():
        layer.set_weights(weights)
    x = rng.normal(size=(B, T, I))
    kw = {}
    if use_mask:
        kw["mask"] = rng.random((B, T)) < 0.7
    states = [rng.normal(size=(B, H)) for _ in layers["float64"].state_names]

    def run(dt, training):
        extra = dict(kw)
        if use_init:
            extra["initial_state"] = [s.astype(dt) for s in states]
        out = layers[dt].forward(x.astype(dt), training=training, **extra)
        return out if isinstance(out, list) else [out]

    want, got = run("float64", True), run(dtype, False)
    assert len(got) == len(want)
    tol = 2e-5 if dtype == "float32" else 1e-12
    for a, b in zip(got, want):
        assert a.shape == b.shape and a.dtype == np.dtype(dtype)
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    if dtype == "float32":      # the float32 training forward (fused for LSTM) as well
        for a, b in zip(run(dtype, True), want):
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


def test_lean_kernels_refuse_buffers_of_the_wrong_shape():
    """The kernels run unchecked inside; their own entry checks the scratch shapes."""
    from fastrnn._ext import _gru, _lstm
    T, B, I, H = 5, 3, 2, 4
    f = np.float32
    x, hs = np.zeros((T, B, I), f), np.zeros((T + 1, B, H), f)
    W, U, b = np.zeros((I, 4 * H), f), np.zeros((H, 4 * H), f), np.zeros(4 * H, f)
    args = (x, W, U, b, hs, np.zeros((T + 1, B, H), f))
    one_step = (np.zeros((1, B, 4 * H), f), np.zeros((1, B, H), f), np.zeros((B, I), f))
    _lstm.infer(*args, *one_step, 1, 2)                       # fits: runs
    with pytest.raises(ValueError, match="shapes"):           # all steps into one slot
        _lstm.infer(*args, *one_step, 1, 2, every_step=True)
    with pytest.raises(ValueError, match="shapes"):
        _lstm.infer(*args, one_step[0], one_step[1], np.zeros((B, I + H), f), 1, 2)
    W3, U3, b3 = np.zeros((I, 3 * H), f), np.zeros((H, 3 * H), f), np.zeros((2, 3 * H), f)
    with pytest.raises(ValueError, match="shapes"):
        _gru.infer_reset_after(x, W3, U3, b3, hs, np.zeros((1, B, 3 * H), f),
                               np.zeros((1, B - 1, 3 * H), f), 1, 2)


@pytest.mark.parametrize("T", [3, 4, 7])
def test_two_slot_states_equal_all_steps(T, rng):
    """The lean kernels take 2-slot state buffers (step t in slot t % 2): the final
    state equals the one of a (T + 1)-slot run; other slot counts are refused."""
    from fastrnn._ext import _gru, _lstm
    B, I, H = 5, 3, 8
    f = np.float32
    x = rng.normal(size=(T, B, I)).astype(f)
    W, U = rng.normal(0, 0.3, (I, 4 * H)).astype(f), rng.normal(0, 0.3, (H, 4 * H)).astype(f)
    b = rng.normal(0, 0.1, 4 * H).astype(f)
    h0, c0 = rng.normal(size=(B, H)).astype(f), rng.normal(size=(B, H)).astype(f)
    scratch = lambda: (np.zeros((1, B, 4 * H), f), np.zeros((1, B, H), f),
                       np.zeros((B, I), f))
    runs = {}
    for slots in (T + 1, 2):
        hs, cs = np.zeros((slots, B, H), f), np.zeros((slots, B, H), f)
        hs[0], cs[0] = h0, c0
        _lstm.infer(x, W, U, b, hs, cs, *scratch(), 1, 2)
        runs[slots] = (hs[T % slots].copy(), cs[T % slots].copy())
    for a, c in zip(runs[T + 1], runs[2]):
        np.testing.assert_array_equal(a, c)
    with pytest.raises(ValueError, match="shapes"):
        _lstm.infer(x, W, U, b, np.zeros((3, B, H), f), np.zeros((2, B, H), f), *scratch(),
                    1, 2)                                     # 3 slots: neither T + 1 nor 2
    W3, U3 = W[:, :3 * H].copy(), U[:, :3 * H].copy()
    b3 = rng.normal(0, 0.1, (2, 3 * H)).astype(f)
    finals = []
    for slots in (T + 1, 2):
        hs = np.zeros((slots, B, H), f)
        hs[0] = h0
        _gru.infer_reset_after(x, W3, U3, b3, hs, np.zeros((1, B, 3 * H), f),
                               np.zeros((1, B, 3 * H), f), 1, 2)
        finals.append(hs[T % slots].copy())
    np.testing.assert_array_equal(finals[0], finals[1])


@pytest.mark.parametrize("cell", [LSTM, GRU])
def test_inference_keeps_two_state_slots(cell, rng):
    """Without return_sequences, inference keeps only two steps of state (not T + 1)."""
    layer = cell(16)
    x = rng.normal(size=(4, 50, 3)).astype(np.float32)
    layer(x)
    (ws,) = layer._workspaces.values()
    assert ws["hs"].shape == (2, 4, 16)
    assert cell is GRU or ws["cs"].shape == (2, 4, 16)
    seq = cell(16, return_sequences=True)
    seq(x)
    (ws,) = seq._workspaces.values()
    assert ws["hs"].shape == (51, 4, 16)


def test_toggling_return_sequences_after_inference(rng):
    """The inference workspace's slot count follows return_sequences."""
    layer = LSTM(5)
    x = rng.normal(size=(3, 6, 2)).astype(np.float32)
    last = layer(x)
    layer.return_sequences = True
    seq = layer(x)
    assert seq.shape == (3, 6, 5)
    np.testing.assert_array_equal(seq[:, -1], last)


def test_lean_kernels_read_strided_time_major_views(rng):
    """The lean kernels take x as a time-major view of batch-major data (no copy), with
    the same results as a contiguous copy; other layouts are refused."""
    from fastrnn._ext import _gru, _lstm
    T, B, I, H = 6, 5, 3, 4
    f = np.float32
    data = rng.normal(size=(B, T, I)).astype(f)           # batch-major, as users give it
    view = data.transpose(1, 0, 2)
    W, U = rng.normal(0, 0.3, (I, 4 * H)).astype(f), rng.normal(0, 0.3, (H, 4 * H)).astype(f)
    b = rng.normal(0, 0.1, 4 * H).astype(f)

    def lstm(x):
        hs, cs = np.zeros((T + 1, B, H), f), np.zeros((T + 1, B, H), f)
        _lstm.infer(x, W, U, b, hs, cs, np.zeros((1, B, 4 * H), f), np.zeros((1, B, H), f),
                    np.zeros((B, I), f), 1, 2)
        return hs
    np.testing.assert_array_equal(lstm(view), lstm(np.ascontiguousarray(view)))
    W3, U3 = W[:, :3 * H].copy(), U[:, :3 * H].copy()
    b3 = rng.normal(0, 0.1, (2, 3 * H)).astype(f)

    def gru(x):
        hs = np.zeros((T + 1, B, H), f)
        _gru.infer_reset_after(x, W3, U3, b3, hs, np.zeros((1, B, 3 * H), f),
                               np.zeros((1, B, 3 * H), f), 1, 2)
        return hs
    np.testing.assert_array_equal(gru(view), gru(np.ascontiguousarray(view)))
    wide = rng.normal(size=(T, B, 2 * I)).astype(f)
    for bad in (wide[:, :, ::2], np.ascontiguousarray(view)[:, ::-1]):
        with pytest.raises(ValueError, match="contiguous last axis"):
            lstm(bad)
        with pytest.raises(ValueError, match="contiguous last axis"):
            gru(bad)
