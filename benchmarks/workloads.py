"""The standard workloads W0-W6 of DESIGN.md, shared by the pytest-benchmark suite and
by compare_peers.py.

Imports only NumPy at module level (compare_peers.py also loads this file in the
PyTorch/Keras environments, where fastrnn is not installed); fastrnn is imported
inside the functions that use it.

Two implementations of each workload live here:
  - fastrnn:   Sequential([Input, <cell>(H), Dense(1)]), compile('rmsprop', 'mse');
  - baseline:  the readable NumPy oracle fastrnn.reference (forward + BPTT) with the
               same model and an RMSprop written in NumPy (Keras 3's rule).
"""
from collections import namedtuple

import numpy as np

Workload = namedtuple("Workload", "id title cell kind B T I H")
# kind: "fit" (the whole seed program), "train" (one train step), "infer" (one forward)

WORKLOADS = {
    "W0": Workload("W0", "seed program, whole fit", "simple", "fit", 32, 1, 1, 10),
    "W1": Workload("W1", "SimpleRNN train step", "simple", "train", 64, 100, 32, 128),
    "W2": Workload("W2", "LSTM train step", "lstm", "train", 64, 100, 32, 128),
    "W3": Workload("W3", "GRU train step", "gru", "train", 64, 100, 32, 128),
    "W4": Workload("W4", "big LSTM train step", "lstm", "train", 64, 100, 128, 512),
    "W5": Workload("W5", "LSTM inference", "lstm", "infer", 256, 100, 32, 128),
    "W6": Workload("W6", "LSTM single-step latency", "lstm", "infer", 1, 1, 32, 128),
}

GATES = {"simple": 1, "lstm": 4, "gru": 3}

# W0, the seed program: SimpleRNN(10) + Dense(1) on sin -> cos, 500 samples,
# 500 epochs, fit's default batch size 32, X 2-D (fastrnn and Keras add the time axis).
SEED_SAMPLES = 500
SEED_EPOCHS = 500
SEED_BATCH = 32


def group(w):
    """pytest-benchmark group name, e.g. 'W2 LSTM train step'."""
    return f"{w.id} {w.title}"


def flops(w):
    """Useful FLOPs of one call: forward 2*B*T*(I+H)*G*H, a train step 3x that
    (backward ~ 2x forward).  None for W0 (the seed model is too small to matter)."""
    if w.kind == "fit":
        return None
    forward = 2 * w.B * w.T * (w.I + w.H) * GATES[w.cell] * w.H
    return 3 * forward if w.kind == "train" else forward


def make_data(w, seed=0):
    """Random float32 inputs (B, T, I) and targets (B, 1)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((w.B, w.T, w.I)).astype(np.float32)
    y = rng.standard_normal((w.B, 1)).astype(np.float32)
    return x, y


def seed_data():
    """The seed program's data: X (500, 1) = sin, y (500, 1) = cos."""
    X = np.sin(np.linspace(0, 50, SEED_SAMPLES)).reshape(-1, 1)
    y = np.cos(np.linspace(0, 50, SEED_SAMPLES)).reshape(-1, 1)
    return X, y


# ---------------------------------------------------------------- fastrnn
def fastrnn_model(cell, T, I, H):
    """Input((T, I)) -> cell(H) (last state) -> Dense(1), compiled with rmsprop + mse."""
    from fastrnn.layers import GRU, LSTM, Dense, Input, SimpleRNN
    from fastrnn.models import Sequential

    layer = {"simple": SimpleRNN, "lstm": LSTM, "gru": GRU}[cell]
    model = Sequential([Input(shape=(T, I)), layer(H), Dense(1)])
    model.compile(optimizer="rmsprop", loss="mse")
    return model


def fastrnn_seed_model():
    """The seed model as a Keras user writes it, compiled."""
    from fastrnn.layers import Dense, SimpleRNN
    from fastrnn.models import Sequential

    model = Sequential()
    model.add(SimpleRNN(10, input_shape=(1, 1)))
    model.add(Dense(1))
    model.compile(optimizer="rmsprop", loss="mse")
    return model


def fastrnn_seed_fit(epochs):
    """The seed program: a fresh seed model, fit for `epochs`; returns the History."""
    X, y = seed_data()
    return fastrnn_seed_model().fit(X, y, epochs=epochs, batch_size=SEED_BATCH, verbose=0)


# ------------------------------------------------------- NumPy baseline
class NumpyRMSprop:
    """Keras 3 RMSprop (no momentum, not centered): v = rho v + (1 - rho) g^2;
    w -= lr g / sqrt(v + eps)."""

    def __init__(self, params, learning_rate=0.001, rho=0.9, epsilon=1e-7):
        self.lr, self.rho, self.eps = learning_rate, rho, epsilon
        self.v = [np.zeros_like(p) for p in params]

    def step(self, params, grads):
        for p, g, v in zip(params, grads, self.v):
            v *= self.rho
            v += (1 - self.rho) * g * g
            p -= self.lr * g / np.sqrt(v + self.eps)


class NumpyModel:
    """cell(H) (last state) -> Dense(1) on fastrnn.reference, float32, Keras-like init
    (glorot-uniform kernels, orthogonal recurrent kernel, zero biases)."""

    def __init__(self, cell, I, H, seed=0):
        rng = np.random.default_rng(seed)
        G = GATES[cell]
        glorot = lambda n_in, n_out: rng.uniform(  # noqa: E731
            -1, 1, (n_in, n_out)) * np.sqrt(6 / (n_in + n_out))
        U = np.concatenate([np.linalg.qr(rng.standard_normal((H, H)))[0]
                            for _ in range(G)], axis=1)
        b = np.zeros((2, 3 * H) if cell == "gru" else (G * H,))
        if cell == "lstm":
            b[H:2 * H] = 1.0        # Keras' unit_forget_bias
        self.cell = cell
        self.params = [p.astype(np.float32) for p in
                       (glorot(I, G * H), U, b, glorot(H, 1), np.zeros(1))]
        self.opt = NumpyRMSprop(self.params)

    def forward(self, x):
        from fastrnn import reference as R

        W, U, b, Wd, bd = self.params
        if self.cell == "simple":
            hseq, cache = R.simple_rnn_forward(x, W, U, b, None, "tanh")
        elif self.cell == "lstm":
            hseq, _, cache = R.lstm_forward(x, W, U, b, None, None)
        else:
            hseq, cache = R.gru_forward(x, W, U, b, None, reset_after=True)
        out, dense_cache = R.dense_forward(hseq[:, -1], Wd, bd)
        return out, (hseq, cache, dense_cache)

    def predict(self, x):
        return self.forward(x)[0]

    def train_step(self, x, y):
        from fastrnn import reference as R

        out, (hseq, cache, dense_cache) = self.forward(x)
        loss, dout = R.mse(y, out)
        dd = R.dense_backward(dout, dense_cache)
        dhseq = np.zeros_like(hseq)
        dhseq[:, -1] = dd["dx"]
        if self.cell == "simple":
            g = R.simple_rnn_backward(dhseq, cache)
        elif self.cell == "lstm":
            g = R.lstm_backward(dhseq, None, cache)
        else:
            g = R.gru_backward(dhseq, cache)
        self.opt.step(self.params, [g["dW"], g["dU"], g["db"], dd["dW"], dd["db"]])
        return loss


def numpy_seed_fit(epochs, seed=0):
    """The seed program as a NumPy training loop (shuffled batches of 32, like fit);
    returns the list of per-epoch mean losses."""
    X, y = seed_data()
    X = X.astype(np.float32).reshape(-1, 1, 1)
    y = y.astype(np.float32)
    model = NumpyModel("simple", 1, 10, seed=seed)
    rng = np.random.default_rng(seed)
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(X))
        total = 0.0
        for start in range(0, len(X), SEED_BATCH):
            idx = order[start:start + SEED_BATCH]
            total += float(model.train_step(X[idx], y[idx])) * len(idx)
        losses.append(total / len(X))
    return losses
