"""Forecast the next value of a noisy sum of sines with a stacked LSTM.

A Keras program with only its imports changed: two LSTM layers (the first returning
sequences), EarlyStopping on the validation loss with restore_best_weights, and
validation_split taking the last 20% of the (chronological) training windows.

    python examples/forecast_stacked_lstm.py
"""
import numpy as np

from fastrnn.callbacks import EarlyStopping
from fastrnn.layers import LSTM, Dense, Input
from fastrnn.models import Sequential
from fastrnn.utils import set_random_seed


def make_series(length, noise=0.1, seed=0):
    """A sum of two sines with different periods, plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    clean = 0.6 * np.sin(2 * np.pi * t / 40) + 0.3 * np.sin(2 * np.pi * t / 17 + 1.0)
    return (clean + noise * rng.standard_normal(length)).astype("float32")


def make_windows(series, window):
    """Inputs (n, window, 1) of consecutive values; targets (n, 1): the value that follows."""
    X = np.lib.stride_tricks.sliding_window_view(series[:-1], window)
    y = series[window:]
    return X[..., np.newaxis].copy(), y[:, np.newaxis].copy()


def build_model(window, units=(32, 16)):
    model = Sequential([
        Input(shape=(window, 1)),
        LSTM(units[0], return_sequences=True),
        LSTM(units[1]),
        Dense(1),
    ])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    return model


def main(length=3000, window=24, epochs=100, batch_size=32, patience=5, noise=0.1,
         seed=0, verbose=2):
    """Train on the first 80% of the series, test on the rest.

    Returns (history, info): info holds the model, the EarlyStopping callback, the
    validation windows and the test results next to two baselines (predicting the
    mean, and repeating the last value).
    """
    set_random_seed(seed)
    series = make_series(length, noise=noise, seed=seed)
    X, y = make_windows(series, window)
    n_train = int(0.8 * len(X))
    X_train, y_train = X[:n_train], y[:n_train]
    X_test, y_test = X[n_train:], y[n_train:]

    model = build_model(window)
    early_stopping = EarlyStopping(monitor="val_loss", patience=patience,
                                   restore_best_weights=True)
    history = model.fit(X_train, y_train, epochs=epochs, batch_size=batch_size,
                        validation_split=0.2, callbacks=[early_stopping], verbose=verbose)

    test_mse, test_mae = model.evaluate(X_test, y_test, verbose=0)
    n_fit = int(n_train * (1 - 0.2))          # validation_split takes the last samples
    info = {
        "model": model,
        "early_stopping": early_stopping,
        "x_val": X_train[n_fit:], "y_val": y_train[n_fit:],
        "test_mse": float(test_mse), "test_mae": float(test_mae),
        "mean_mse": float(np.mean((y_test - y_train.mean()) ** 2)),
        "last_value_mse": float(np.mean((y_test[:, 0] - X_test[:, -1, 0]) ** 2)),
        "noise_mse": noise ** 2,
    }
    return history, info


if __name__ == "__main__":
    history, info = main()
    es = info["early_stopping"]
    print(f"trained {len(history.history['loss'])} epochs; "
          f"best val_loss {min(history.history['val_loss']):.4f} at epoch {es.best_epoch + 1}")
    print(f"test mse {info['test_mse']:.4f}  (predict the mean: {info['mean_mse']:.4f}, "
          f"repeat the last value: {info['last_value_mse']:.4f}, "
          f"noise floor: {info['noise_mse']:.4f})")
    preds = info["model"].predict(info["x_val"][:5], verbose=0)
    for p, t in zip(preds[:, 0], info["y_val"][:5, 0]):
        print(f"  predicted {p:+.3f}  actual {t:+.3f}")
