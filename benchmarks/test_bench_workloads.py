"""pytest-benchmark suite: the standard workloads W0-W6 of DESIGN.md, each measured for
fastrnn and for the NumPy baseline (fastrnn.reference forward + BPTT + a NumPy
RMSprop) in the same run, in one benchmark group per workload so that the table's
ratios compare the two.

    pytest benchmarks                       # ~30 s
    pytest benchmarks --benchmark-disable   # smoke test, every benchmark once, ~5-10 s
(with an in-place build: FASTRNN_ALLOW_INPLACE=1 python -m pytest benchmarks -q)
"""
import pytest

from workloads import (SEED_EPOCHS, WORKLOADS, NumpyModel, fastrnn_model,
                       fastrnn_seed_fit, make_data, numpy_seed_fit)

IMPLS = ["fastrnn", "numpy"]

# Timed rounds per workload (each after one warm-up round); W6 times 20 calls a round.
ROUNDS = {"W0": 5, "W1": 30, "W2": 15, "W3": 15, "W4": 6, "W5": 12, "W6": 200}


def _ids(kind):
    return [k for k, w in WORKLOADS.items() if w.kind == kind]


@pytest.mark.parametrize("impl", IMPLS)
def test_w0_seed_program(bench, impl):
    """The whole seed program: SimpleRNN(10) + Dense(1), 500 samples, 500 epochs."""
    if impl == "fastrnn":
        def fit():
            return fastrnn_seed_fit(SEED_EPOCHS).history["loss"][-1]
    else:
        def fit():
            return numpy_seed_fit(SEED_EPOCHS)[-1]
    final_loss = bench(WORKLOADS["W0"], impl, fit, ROUNDS["W0"])
    assert 0.0 < final_loss < 0.6       # ~0.5 is the floor of sin -> cos


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("wid", _ids("train"))
def test_train_step(bench, wid, impl):
    """One train step: cell(H) last state -> Dense(1), mse, rmsprop."""
    w = WORKLOADS[wid]
    x, y = make_data(w)
    if impl == "fastrnn":
        model = fastrnn_model(w.cell, w.T, w.I, w.H)
        step = lambda: model.train_on_batch(x, y)  # noqa: E731
    else:
        model = NumpyModel(w.cell, w.I, w.H)
        step = lambda: model.train_step(x, y)  # noqa: E731
    bench(w, impl, step, ROUNDS[wid])


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("wid", _ids("infer"))
def test_inference(bench, wid, impl):
    """Forward only: W5 predict(batch_size=256), W6 predict_on_batch of one sample."""
    w = WORKLOADS[wid]
    x, _ = make_data(w)
    if impl == "fastrnn":
        model = fastrnn_model(w.cell, w.T, w.I, w.H)
        if w.B == 1:
            predict = lambda: model.predict_on_batch(x)  # noqa: E731
        else:
            predict = lambda: model.predict(x, batch_size=w.B)  # noqa: E731
    else:
        model = NumpyModel(w.cell, w.I, w.H)
        predict = lambda: model.predict(x)  # noqa: E731
    iterations = 20 if w.B == 1 else 1
    out = bench(w, impl, predict, ROUNDS[wid], iterations=iterations)
    assert out.shape == (w.B, 1)
