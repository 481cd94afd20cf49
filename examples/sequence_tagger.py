"""Part-of-speech-style tagging with SimpleRNN(return_sequences=True) + TimeDistributed.

A toy grammar of word ids: determiners, adjectives, nouns, verbs, and ambiguous words
("run", "book", "watch") that are nouns after a determiner or an adjective and verbs
otherwise.  The tag of a word depends on the word and on the one before it, so a
tagger that looks at one word at a time cannot be right on every ambiguous word.

    python examples/sequence_tagger.py
"""
import numpy as np

from fastrnn.layers import Dense, Embedding, SimpleRNN, TimeDistributed
from fastrnn.models import Sequential
from fastrnn.utils import set_random_seed

TAGS = ["DET", "ADJ", "NOUN", "VERB"]
DET, ADJ, NOUN, VERB = range(4)
WORDS = {                                  # word class -> word ids (0 is left unused)
    "det": np.arange(1, 4),
    "adj": np.arange(4, 10),
    "noun": np.arange(10, 17),
    "verb": np.arange(17, 24),
    "ambiguous": np.arange(24, 30),
}
VOCAB_SIZE = 30
CLASS_PROBS = {"det": 0.2, "adj": 0.15, "noun": 0.15, "verb": 0.15, "ambiguous": 0.35}


def make_sentences(n, length=12, seed=0):
    """Word ids (n, length) and their tags (n, length)."""
    rng = np.random.default_rng(seed)
    names = list(CLASS_PROBS)
    classes = rng.choice(len(names), size=(n, length), p=list(CLASS_PROBS.values()))
    words = np.zeros((n, length), dtype="int32")
    tags = np.zeros((n, length), dtype="int32")
    fixed_tag = {"det": DET, "adj": ADJ, "noun": NOUN, "verb": VERB}
    for c, name in enumerate(names):
        where = classes == c
        words[where] = rng.choice(WORDS[name], size=int(where.sum()))
        if name in fixed_tag:
            tags[where] = fixed_tag[name]
    # An ambiguous word is a noun right after a determiner or an adjective, else a verb.
    prev_is_modifier = np.zeros((n, length), dtype=bool)
    prev_is_modifier[:, 1:] = (tags[:, :-1] == DET) | (tags[:, :-1] == ADJ)
    ambiguous = classes == names.index("ambiguous")
    tags[ambiguous] = np.where(prev_is_modifier[ambiguous], NOUN, VERB)
    return words, tags


def one_word_baseline(words, tags):
    """Accuracy of the best tagger that sees one word at a time (most frequent tag per word)."""
    correct = 0
    for w in np.unique(words):
        counts = np.bincount(tags[words == w], minlength=len(TAGS))
        correct += counts.max()
    return correct / tags.size


def build_model(embedding_dim=16, units=32):
    model = Sequential([
        Embedding(VOCAB_SIZE, embedding_dim),
        SimpleRNN(units, return_sequences=True),
        TimeDistributed(Dense(len(TAGS), activation="softmax")),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def main(samples=3000, length=12, epochs=10, batch_size=32, seed=0, verbose=2):
    """Train on 80% of the sentences, test on the rest.

    Returns (history, info) with the model, the test loss and per-word accuracy, and the
    accuracies of always answering the most frequent tag and of the best one-word tagger.
    """
    set_random_seed(seed)
    words, tags = make_sentences(samples, length=length, seed=seed)
    n_train = int(0.8 * samples)
    X_train, y_train = words[:n_train], tags[:n_train]
    X_test, y_test = words[n_train:], tags[n_train:]

    model = build_model()
    history = model.fit(X_train, y_train, epochs=epochs, batch_size=batch_size,
                        validation_split=0.1, verbose=verbose)
    test_loss, test_accuracy = model.evaluate(X_test, y_test, verbose=0)
    info = {
        "model": model,
        "test_loss": float(test_loss),
        "test_accuracy": float(test_accuracy),
        "majority_accuracy": float(np.bincount(y_test.ravel()).max() / y_test.size),
        "one_word_accuracy": float(one_word_baseline(X_test, y_test)),
        "x_test": X_test, "y_test": y_test,
    }
    return history, info


if __name__ == "__main__":
    history, info = main()
    print(f"test accuracy per word {info['test_accuracy']:.3f}  (most frequent tag: "
          f"{info['majority_accuracy']:.3f}, best one-word tagger: "
          f"{info['one_word_accuracy']:.3f})")
    pred = info["model"].predict(info["x_test"][:3], verbose=0).argmax(axis=-1)
    for words, predicted, true in zip(info["x_test"][:3], pred, info["y_test"][:3]):
        print("  " + " ".join(f"{w}/{TAGS[p]}" + ("" if p == t else "(!)")
                              for w, p, t in zip(words, predicted, true)))
