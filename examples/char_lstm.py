"""A character-level LSTM that learns to continue a short text, then writes some.

In the manner of Keras's text-generation example: windows of `maxlen` characters,
one-hot encoded as booleans, predict the next character with LSTM -> Dropout ->
Dense(softmax) and categorical cross-entropy; `sample` draws from the predicted
distribution at a given temperature.  The text is a few public-domain opening lines.

    python examples/char_lstm.py
"""
import numpy as np

from fastrnn.layers import LSTM, Dense, Dropout, Input
from fastrnn.models import Sequential
from fastrnn.optimizers import RMSprop
from fastrnn.utils import set_random_seed

TEXT = (
    # Jane Austen, Pride and Prejudice (1813)
    "it is a truth universally acknowledged, that a single man in possession of a good "
    "fortune, must be in want of a wife. "
    # Charles Dickens, A Tale of Two Cities (1859)
    "it was the best of times, it was the worst of times, it was the age of wisdom, "
    "it was the age of foolishness, it was the epoch of belief, it was the epoch of "
    "incredulity, it was the season of light, it was the season of darkness. "
    # Herman Melville, Moby-Dick (1851)
    "call me ishmael. some years ago, never mind how long precisely, having little or no "
    "money in my purse, and nothing particular to interest me on shore, i thought i would "
    "sail about a little and see the watery part of the world. "
    # Lewis Carroll, Alice's Adventures in Wonderland (1865)
    "alice was beginning to get very tired of sitting by her sister on the bank, and of "
    "having nothing to do. "
)


def vectorize(text, maxlen, step):
    """One-hot windows x (n, maxlen, n_chars) and next characters y (n, n_chars), as bools."""
    chars = sorted(set(text))
    char_indices = {c: i for i, c in enumerate(chars)}
    sentences, next_chars = [], []
    for i in range(0, len(text) - maxlen, step):
        sentences.append(text[i:i + maxlen])
        next_chars.append(text[i + maxlen])
    x = np.zeros((len(sentences), maxlen, len(chars)), dtype="bool")
    y = np.zeros((len(sentences), len(chars)), dtype="bool")
    for i, sentence in enumerate(sentences):
        for t, char in enumerate(sentence):
            x[i, t, char_indices[char]] = 1
        y[i, char_indices[next_chars[i]]] = 1
    return x, y, chars


def build_model(maxlen, n_chars, units=128, dropout=0.2, learning_rate=0.01):
    model = Sequential([
        Input(shape=(maxlen, n_chars)),
        LSTM(units),
        Dropout(dropout),
        Dense(n_chars, activation="softmax"),
    ])
    model.compile(optimizer=RMSprop(learning_rate=learning_rate),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def sample(preds, temperature=1.0, rng=np.random):
    """Draw an index from a probability vector, sharpened or flattened by temperature."""
    preds = np.asarray(preds).astype("float64")
    preds = np.log(preds + 1e-12) / temperature
    exp_preds = np.exp(preds - preds.max())
    preds = exp_preds / np.sum(exp_preds)
    return int(np.argmax(rng.multinomial(1, preds, 1)))


def generate(model, chars, seed_text, maxlen, length=100, temperature=0.5, rng=np.random):
    """Continue seed_text (maxlen characters or more, all from `chars`) by `length` characters."""
    char_indices = {c: i for i, c in enumerate(chars)}
    sentence, generated = seed_text[-maxlen:], ""
    for _ in range(length):
        x_pred = np.zeros((1, maxlen, len(chars)), dtype="bool")
        for t, char in enumerate(sentence):
            x_pred[0, t, char_indices[char]] = 1
        preds = model.predict(x_pred, verbose=0)[0]
        next_char = chars[sample(preds, temperature, rng)]
        sentence = sentence[1:] + next_char
        generated += next_char
    return generated


def main(maxlen=20, step=1, epochs=30, batch_size=64, units=128, text=TEXT, seed=0,
         verbose=2):
    """Train on every window of the text; returns (history, info) with the model, the
    characters, the entropy of the character frequencies (the loss of a model that
    ignores the context) and a sample of generated text."""
    set_random_seed(seed)
    x, y, chars = vectorize(text, maxlen, step)
    model = build_model(maxlen, len(chars), units=units)
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=verbose)

    freq = y.mean(axis=0)
    freq = freq[freq > 0]
    rng = np.random.default_rng(seed)
    seed_text = text[:maxlen]
    info = {
        "model": model,
        "chars": chars,
        "unigram_entropy": float(-(freq * np.log(freq)).sum()),
        "majority_accuracy": float(y.mean(axis=0).max()),
        "seed_text": seed_text,
        "generated": generate(model, chars, seed_text, maxlen, length=80, temperature=0.5, rng=rng),
    }
    return history, info


if __name__ == "__main__":
    history, info = main()
    print(f"final loss {history.history['loss'][-1]:.3f}, accuracy "
          f"{history.history['accuracy'][-1]:.3f}  (character frequencies alone: loss "
          f"{info['unigram_entropy']:.3f}, accuracy {info['majority_accuracy']:.3f})")
    for temperature in (0.2, 0.5, 1.0):
        text = generate(info["model"], info["chars"], info["seed_text"], len(info["seed_text"]),
                        length=120,
                        temperature=temperature)
        print(f"temperature {temperature}: {info['seed_text']}|{text}")
