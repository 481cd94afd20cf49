"""Row blocks on several threads give the results of one thread; thread control."""
import numpy as np
import pytest

import fastrnn
from fastrnn import _threads
from fastrnn.layers import GRU, LSTM, SimpleRNN

CELLS = {"simple_rnn": lambda **k: SimpleRNN(6, **k), "lstm": lambda **k: LSTM(6, **k),
         "gru": lambda **k: GRU(6, **k), "gru_v1": lambda **k: GRU(6, reset_after=False, **k)}


@pytest.fixture
def threads():
    before = fastrnn.config.get_num_threads()
    yield
    fastrnn.config.set_num_threads(before)


def run(kind, threads_n, x, dy, mask, weights, **kw):
    fastrnn.config.set_num_threads(threads_n)
    fastrnn.utils.set_random_seed(7)                  # same dropout masks in both runs
    layer = CELLS[kind](return_sequences=True, dtype="float64", **kw)
    layer.build((x.shape[1], x.shape[2]))
    layer.set_weights(weights)
    y = layer.forward(x, training=True, mask=mask)
    dx = layer.backward(dy)
    return [y, dx] + [g.copy() for g in layer.grads]


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("extra", [{}, {"recurrent_dropout": 0.3, "dropout": 0.2}])
@pytest.mark.parametrize("n", [2, 3])
def test_row_blocks_on_threads_equal_one_thread(kind, extra, n, threads, rng, monkeypatch):
    from fastrnn._ext import _blas
    monkeypatch.setattr(_threads, "MIN_BLOCK_FLOPS", 0.0)     # split even tiny problems
    old = _blas.set_min_part_flops(0.0)                       # and the all-rows GEMMs
    try:
        _check_threads_agree(kind, extra, n, rng)
    finally:
        _blas.set_min_part_flops(old)


def _check_threads_agree(kind, extra, n, rng):
    B, T, I = 7, 5, 4
    x = rng.normal(size=(B, T, I))
    dy = rng.normal(size=(B, T, 6))
    mask = rng.random((B, T)) < 0.8
    probe = CELLS[kind](dtype="float64")
    probe.build((T, I))
    weights = [rng.normal(0, 0.5, w.shape) for w in probe.weights]
    one = run(kind, 1, x, dy, mask, weights, **extra)
    many = run(kind, n, x, dy, mask, weights, **extra)
    for a, b in zip(one, many):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


def test_small_problems_stay_on_the_calling_thread(threads, monkeypatch):
    calls = []
    real = _threads._executor
    monkeypatch.setattr(_threads, "_executor", lambda n: calls.append(n) or real(n))
    fastrnn.config.set_num_threads(2)
    layer = SimpleRNN(10)
    layer(np.zeros((32, 1, 1), np.float32))             # the seed model's step
    assert calls == []


def test_set_num_threads_validates(threads):
    from fastrnn._ext import _blas
    fastrnn.config.set_num_threads(3)
    assert fastrnn.config.get_num_threads() == 3 and _blas.get_threads() == 3
    fastrnn.config.set_num_threads(1)
    assert fastrnn.config.get_num_threads() == 1 and _blas.get_threads() == 1
    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(ValueError, match="positive integer"):
            fastrnn.config.set_num_threads(bad)
