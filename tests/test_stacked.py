"""A stack of recurrent layers trained through Sequential equals the reference chain."""
import numpy as np
import pytest

import fastrnn
from fastrnn import reference
from fastrnn.layers import GRU, LSTM, Dense, Input, SimpleRNN
from fastrnn.models import Sequential


def reference_gradients(weights, x, y, reset_after):
    """Reference chain LSTM(seq) -> GRU(last) -> Dense: loss and every weight gradient."""
    (W1, U1, b1, W2, U2, b2, Wd, bd) = weights
    B, T, _ = x.shape
    H1, H2 = U1.shape[0], U2.shape[0]
    h1, _, c1 = reference.lstm_forward(x, W1, U1, b1, np.zeros((B, H1)), np.zeros((B, H1)))
    h2, c2 = reference.gru_forward(h1, W2, U2, b2, np.zeros((B, H2)), reset_after=reset_after)
    out, cd = reference.dense_forward(h2[:, -1], Wd, bd)
    loss, dout = reference.mse(y, out)
    gd = reference.dense_backward(dout, cd)
    dh2 = np.zeros_like(h2)
    dh2[:, -1] = gd["dx"]
    g2 = reference.gru_backward(dh2, c2)
    g1 = reference.lstm_backward(g2["dx"], None, c1)
    grads = [g1["dW"], g1["dU"], g1["db"], g2["dW"], g2["dU"], g2["db"], gd["dW"], gd["db"]]
    return loss, grads


@pytest.mark.parametrize("reset_after", [True, False])
def test_lstm_gru_dense_stack_gradients(reset_after, rng):
    fastrnn.config.set_floatx("float64")
    model = Sequential([Input(shape=(6, 3)), LSTM(5, return_sequences=True),
                        GRU(4, reset_after=reset_after), Dense(2)])
    model.compile(optimizer=fastrnn.optimizers.SGD(learning_rate=1.0), loss="mse")
    model.set_weights([rng.normal(0, 0.5, w.shape) for w in model.get_weights()])
    x, y = rng.normal(size=(4, 6, 3)), rng.normal(size=(4, 2))
    before = model.get_weights()
    loss = model.train_on_batch(x, y)
    after = model.get_weights()
    ref_loss, ref_grads = reference_gradients(before, x, y, reset_after)
    assert abs(loss - ref_loss) <= 1e-12 * abs(ref_loss)
    for w0, w1, g in zip(before, after, ref_grads):
        step = w0 - w1                       # SGD with learning rate 1: the gradient
        err = np.max(np.abs(step - g)) / np.max(np.abs(g))
        assert err <= 1e-9


def test_stacked_models_of_each_cell_learn(rng):
    x = rng.normal(size=(64, 8, 2)).astype(np.float32)
    y = np.stack([x[:, :, 0].sum(1), x[:, :, 1].max(1)], axis=1) / 3
    for cell in (SimpleRNN, LSTM, GRU):
        model = Sequential([Input(shape=(8, 2)), cell(12, return_sequences=True), cell(12),
                            Dense(2)])
        model.compile(optimizer="adam", loss="mse")
        hist = model.fit(x, y, epochs=60, batch_size=16, verbose=0)
        assert hist.history["loss"][-1] < 0.3 * hist.history["loss"][0], cell.__name__


def test_return_state_only_on_the_last_layer():
    with pytest.raises(ValueError, match="return_state"):
        Sequential([Input(shape=(3, 2)), LSTM(4, return_state=True), Dense(1)])
