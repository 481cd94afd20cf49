"""Binary text classification with Embedding(mask_zero=True) + GRU.

The "language" is synthetic: sentences of 4 to 30 word ids drawn from a vocabulary of
filler words, with a few sentiment words mixed in.  A sentence is positive (label 1)
when it holds more "good" words than "bad" words, so the network has to count, over
sentences of different lengths padded with 0 at the front (as pad_sequences does).

    python examples/text_classifier_gru.py
"""
import numpy as np

from fastrnn.layers import GRU, Dense, Embedding
from fastrnn.models import Sequential
from fastrnn.utils import pad_sequences, set_random_seed

VOCAB_SIZE = 60                      # word ids 1..59; 0 is padding
GOOD_WORDS = (1, 2, 3)               # e.g. "great", "fun", "loved"
BAD_WORDS = (4, 5, 6)                # e.g. "boring", "awful", "hated"
FILLER_WORDS = np.arange(7, VOCAB_SIZE)


def make_sentences(n, min_len=4, max_len=30, seed=0):
    """n sentences (lists of word ids) and their labels (1: more good than bad words)."""
    rng = np.random.default_rng(seed)
    sentences, labels = [], []
    for _ in range(n):
        length = int(rng.integers(min_len, max_len + 1))
        words = list(rng.choice(FILLER_WORDS, size=length))
        n_sentiment = int(rng.integers(1, 4))            # 1 to 3 sentiment words, odd totals
        n_good = int(rng.integers(0, n_sentiment + 1))    # have no ties when 1 or 3 ...
        if 2 * n_good == n_sentiment:                     # ... and break the tie for 2
            n_good += 1 if rng.random() < 0.5 else -1
        n_bad = n_sentiment - n_good
        picks = list(rng.choice(GOOD_WORDS, size=n_good)) + list(rng.choice(BAD_WORDS, size=n_bad))
        positions = rng.choice(length, size=len(picks), replace=False)
        for pos, word in zip(positions, picks):
            words[pos] = word
        sentences.append([int(w) for w in words])
        labels.append(int(n_good > n_bad))
    return sentences, np.array(labels, dtype="float32")


def build_model(embedding_dim=16, units=32):
    model = Sequential([
        Embedding(VOCAB_SIZE, embedding_dim, mask_zero=True),
        GRU(units),
        Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def main(samples=4000, epochs=10, batch_size=32, maxlen=30, seed=0, verbose=2):
    """Train on 80% of the sentences (10% of those for validation), test on the rest.

    Returns (history, info) with the model, test loss and accuracy, and the accuracy of
    always answering the majority class.
    """
    set_random_seed(seed)
    sentences, labels = make_sentences(samples, max_len=maxlen, seed=seed)
    X = pad_sequences(sentences, maxlen=maxlen)
    n_train = int(0.8 * samples)
    X_train, y_train = X[:n_train], labels[:n_train]
    X_test, y_test = X[n_train:], labels[n_train:]

    model = build_model()
    history = model.fit(X_train, y_train, epochs=epochs, batch_size=batch_size,
                        validation_split=0.1, verbose=verbose)
    test_loss, test_accuracy = model.evaluate(X_test, y_test, verbose=0)
    info = {
        "model": model,
        "test_loss": float(test_loss),
        "test_accuracy": float(test_accuracy),
        "majority_accuracy": float(max(y_test.mean(), 1 - y_test.mean())),
    }
    return history, info


if __name__ == "__main__":
    history, info = main()
    print(f"test accuracy {info['test_accuracy']:.3f} "
          f"(always the majority class: {info['majority_accuracy']:.3f})")
    examples = pad_sequences([[9, 1, 12, 40], [30, 4, 22, 2, 5, 18], [2, 2, 6, 50, 51, 52, 53]],
                             maxlen=30)
    for row, p in zip(examples, info["model"].predict(examples, verbose=0)[:, 0]):
        print(f"  {row[row > 0].tolist()} -> P(positive) = {p:.3f}")
