"""Regression over whole sequences with Bidirectional(LSTM).

Each sequence is 40 steps of noise; the target is the mean of its first five values
minus the mean of its last five.  A forward LSTM reads the start of the sequence
long before it answers; with Bidirectional, the backward layer ends on the start and
the forward layer on the end, so both parts are fresh in its output.

    python examples/bidirectional_regressor.py
"""
import numpy as np

from fastrnn.layers import LSTM, Bidirectional, Dense, Input
from fastrnn.models import Sequential
from fastrnn.utils import set_random_seed


def make_data(n, length=40, k=5, seed=0):
    """Inputs (n, length, 1) uniform in [-1, 1]; targets (n, 1): start mean - end mean."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, length, 1)).astype("float32")
    y = X[:, :k, 0].mean(axis=1) - X[:, -k:, 0].mean(axis=1)
    return X, y[:, np.newaxis]


def build_model(length, units=16, merge_mode="concat"):
    model = Sequential([
        Input(shape=(length, 1)),
        Bidirectional(LSTM(units), merge_mode=merge_mode),
        Dense(16, activation="relu"),
        Dense(1),
    ])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    return model


def main(samples=4000, length=40, epochs=20, batch_size=32, merge_mode="concat", seed=0,
         verbose=2):
    """Train on 80% of the sequences (with validation_data), test on the rest.

    Returns (history, info) with the model, test loss and the loss of predicting the mean.
    """
    set_random_seed(seed)
    X, y = make_data(samples, length=length, seed=seed)
    n_train = int(0.8 * samples)
    n_val = int(0.1 * samples)
    X_train, y_train = X[:n_train - n_val], y[:n_train - n_val]
    X_val, y_val = X[n_train - n_val:n_train], y[n_train - n_val:n_train]
    X_test, y_test = X[n_train:], y[n_train:]

    model = build_model(length, merge_mode=merge_mode)
    history = model.fit(X_train, y_train, epochs=epochs, batch_size=batch_size,
                        validation_data=(X_val, y_val), verbose=verbose)
    test_mse, test_mae = model.evaluate(X_test, y_test, verbose=0)
    info = {
        "model": model,
        "test_mse": float(test_mse),
        "test_mae": float(test_mae),
        "mean_mse": float(np.mean((y_test - y_train.mean()) ** 2)),
        "x_test": X_test, "y_test": y_test,
    }
    return history, info


if __name__ == "__main__":
    history, info = main()
    print(f"test mse {info['test_mse']:.4f}  (predicting the mean: {info['mean_mse']:.4f})")
    preds = info["model"].predict(info["x_test"][:5], verbose=0)
    for p, t in zip(preds[:, 0], info["y_test"][:5, 0]):
        print(f"  predicted {p:+.3f}  actual {t:+.3f}")
