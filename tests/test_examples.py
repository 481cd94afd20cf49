"""The programs in examples/ run at a small size and learn.

Each example is a Keras program with only its imports changed; its main() takes the
sizes, trains, and returns the History with what the checks need.  Every threshold is
one that guessing cannot reach: well below the loss of predicting the mean (or the
character frequencies), well above the accuracy of the majority class (or of a
tagger that looks at one word at a time).
"""
import ast
import importlib.util
import pathlib

import numpy as np
import pytest

import fastrnn

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
SEED = 0


def load_example(name):
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_main_block(module, result, capsys):
    """Run the example's `if __name__ == "__main__":` block, with main() answering the
    result the test already trained (so that the printing code is run without training
    again); returns what it printed."""
    tree = ast.parse(pathlib.Path(module.__file__).read_text())
    blocks = [node for node in tree.body
              if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)]
    assert len(blocks) == 1
    namespace = dict(vars(module), __name__="__main__", main=lambda: result)
    capsys.readouterr()
    exec(compile(ast.Module(body=blocks, type_ignores=[]), module.__file__, "exec"), namespace)
    return capsys.readouterr().out


@pytest.fixture(autouse=True)
def _seed():
    fastrnn.utils.set_random_seed(SEED)


def test_forecast_stacked_lstm_learns_and_stops_early(capsys):
    example = load_example("forecast_stacked_lstm")
    epochs, patience = 60, 4
    history, info = example.main(length=2000, window=16, epochs=epochs, patience=patience,
                                 seed=SEED, verbose=0)
    val_loss = history.history["val_loss"]
    es = info["early_stopping"]

    # EarlyStopping stopped: `patience` epochs after the best one, long before `epochs`.
    assert len(val_loss) < epochs
    assert es.stopped_epoch == len(val_loss) - 1
    best = int(np.argmin(val_loss))
    assert es.best_epoch == best
    assert len(val_loss) - 1 - best == patience
    assert min(val_loss) < val_loss[-1]
    # ... and restored the best weights: the validation loss is the best epoch's again.
    restored = info["model"].evaluate(info["x_val"], info["y_val"], verbose=0)[0]
    assert restored == pytest.approx(val_loss[best], rel=1e-4)

    # It forecasts: far better than the mean, and better than repeating the last value.
    assert info["test_mse"] < 0.2 * info["mean_mse"]
    assert info["test_mse"] < info["last_value_mse"]

    printed = run_main_block(example, (history, info), capsys)
    assert f"trained {len(val_loss)} epochs" in printed and "test mse" in printed


def test_text_classifier_gru_learns_and_masks_padding(capsys):
    example = load_example("text_classifier_gru")
    history, info = example.main(samples=1500, epochs=4, seed=SEED, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(history.history["loss"]) == 4

    # Guessing gets the majority rate (about 0.5) and a loss of ln 2 = 0.69.
    assert info["majority_accuracy"] < 0.6
    assert info["test_accuracy"] > 0.95
    assert info["test_loss"] < 0.25
    assert history.history["val_accuracy"][-1] > 0.95

    # With mask_zero=True the padding is skipped: padding at the end instead of the front
    # gives the same predictions.
    sentences, _ = example.make_sentences(20, seed=123)
    pre = example.pad_sequences(sentences, maxlen=30, padding="pre")
    post = example.pad_sequences(sentences, maxlen=30, padding="post")
    assert not np.array_equal(pre, post)
    np.testing.assert_allclose(info["model"].predict(pre, verbose=0),
                               info["model"].predict(post, verbose=0), atol=1e-5)

    printed = run_main_block(example, (history, info), capsys)
    assert "test accuracy" in printed and printed.count("P(positive)") == 3


def test_sequence_tagger_uses_the_previous_word(capsys):
    example = load_example("sequence_tagger")
    history, info = example.main(samples=1000, epochs=15, seed=SEED, verbose=0)
    assert len(history.history["loss"]) == 15

    # Always the most frequent tag: about 0.38; best tagger reading one word at a time:
    # about 0.87; chance loss: ln 4 = 1.39.
    assert info["majority_accuracy"] < 0.45
    assert info["one_word_accuracy"] < 0.9
    assert info["test_accuracy"] > 0.97
    assert info["test_accuracy"] > info["one_word_accuracy"] + 0.07
    assert info["test_loss"] < 0.2
    pred = info["model"].predict(info["x_test"], verbose=0)
    assert pred.shape == info["x_test"].shape + (len(example.TAGS),)
    np.testing.assert_allclose(pred.sum(axis=-1), 1.0, atol=1e-5)

    printed = run_main_block(example, (history, info), capsys)
    assert "test accuracy per word" in printed and "/NOUN" in printed


@pytest.mark.parametrize("merge_mode", ["concat", "sum"])
def test_bidirectional_regressor_learns(merge_mode, capsys):
    example = load_example("bidirectional_regressor")
    history, info = example.main(samples=1500, length=20, epochs=10, merge_mode=merge_mode,
                                 seed=SEED, verbose=0)
    assert len(history.history["val_loss"]) == 10
    assert info["test_mse"] < 0.25 * info["mean_mse"]
    assert history.history["loss"][-1] < 0.25 * history.history["loss"][0]

    printed = run_main_block(example, (history, info), capsys)
    assert "test mse" in printed and printed.count("predicted") == 5


def test_char_lstm_learns_the_text_and_generates(capsys):
    example = load_example("char_lstm")
    history, info = example.main(epochs=25, units=64, seed=SEED, verbose=0)
    loss, accuracy = history.history["loss"], history.history["accuracy"]
    assert len(loss) == 25

    # The character frequencies alone give a loss of about 2.8 and an accuracy of 0.2.
    assert loss[-1] < 0.4 * info["unigram_entropy"]
    assert accuracy[-1] > 0.6 > 2 * info["majority_accuracy"]
    assert loss[-1] < loss[0] / 2

    generated = info["generated"]
    assert len(generated) == 80
    assert set(generated) <= set(info["chars"])
    # The sampler follows the distribution: near-zero temperature takes the arg max.
    preds = np.array([0.1, 0.7, 0.2])
    assert example.sample(preds, temperature=0.01, rng=np.random.default_rng(0)) == 1

    printed = run_main_block(example, (history, info), capsys)
    assert "final loss" in printed and printed.count("temperature") == 3
