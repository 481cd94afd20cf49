"""``python -m fastrnn``: train the seed model (SimpleRNN(10) + Dense(1), sin -> cos,
500 samples, 500 epochs) and print its final loss and the training time."""
import argparse
import time

import numpy as np


def seed_model(epochs=500, verbose=0):
    """Build and train the seed program exactly as a Keras user writes it."""
    from fastrnn.layers import Dense, SimpleRNN
    from fastrnn.models import Sequential

    X = np.sin(np.linspace(0, 50, 500)).reshape(-1, 1)
    y = np.cos(np.linspace(0, 50, 500)).reshape(-1, 1)
    model = Sequential()
    model.add(SimpleRNN(10, input_shape=(1, 1)))
    model.add(Dense(1))
    model.compile(optimizer="rmsprop", loss="mse")
    start = time.perf_counter()
    history = model.fit(X, y, epochs=epochs, verbose=verbose)
    return model, history, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fastrnn", description=__doc__)
    parser.add_argument("--epochs", type=int, default=500)
    parser.add_argument("--seed", type=int, default=None, help="random seed")
    args = parser.parse_args(argv)
    if args.seed is not None:
        from fastrnn.utils import set_random_seed
        set_random_seed(args.seed)
    _, history, seconds = seed_model(epochs=args.epochs)
    losses = history.history["loss"]
    print(f"seed model: SimpleRNN(10) + Dense(1), 500 samples, {args.epochs} epochs")
    print(f"final loss: {losses[-1]:.4f} (first epoch {losses[0]:.4f})")
    print(f"training time: {seconds:.2f} s ({seconds / max(1, len(losses)) * 1e3:.2f} ms/epoch)")


if __name__ == "__main__":
    main()
