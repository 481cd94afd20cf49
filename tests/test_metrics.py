"""Metrics: values against hand computations, Keras's 'accuracy' resolution, names,
the (weighted_sum, weight_total) accumulation over uneven batches, masks and sample
weights, and reference values from Keras's documentation."""
import numpy as np
import pytest

from fastrnn import losses, metrics

EPS = 1e-7


def epoch_value(metric, y_true, y_pred, sizes, sample_weight=None, mask=None):
    """Accumulate batch_stats over consecutive batches of the given sizes."""
    s = c = 0.0
    start = 0
    for n in sizes:
        sl = slice(start, start + n)
        bs, bc = metric.batch_stats(
            y_true[sl], y_pred[sl],
            sample_weight=None if sample_weight is None else sample_weight[sl],
            mask=None if mask is None else mask[sl])
        s, c = s + bs, c + bc
        start += n
    assert start == len(y_true)
    return s / c


# ------------------------------------------------------------- values by hand
def test_binary_accuracy_values(rng):
    p = np.array([[0.2], [0.7], [0.5], [0.51], [0.9]])
    y = np.array([0, 1, 1, 0, 1.0])
    np.testing.assert_array_equal(metrics.binary_accuracy(y, p), [1, 1, 0, 0, 1])
    np.testing.assert_array_equal(metrics.binary_accuracy(y[:, None], p), [1, 1, 0, 0, 1])
    np.testing.assert_array_equal(metrics.binary_accuracy(y, p, threshold=0.8), [1, 0, 0, 1, 1])
    # several binary outputs per sample: the mean over the last axis
    p2 = np.array([[0.9, 0.1, 0.8], [0.4, 0.6, 0.2]])
    y2 = np.array([[1, 1, 1], [0, 1, 0.0]])
    np.testing.assert_allclose(metrics.binary_accuracy(y2, p2), [2 / 3, 1])
    m = metrics.get("binary_accuracy")
    assert m.name == "binary_accuracy"
    assert epoch_value(m, y, p, [5]) == pytest.approx(3 / 5)


def test_categorical_and_sparse_accuracy_values(rng):
    p = rng.random((7, 4))
    ids = rng.integers(0, 4, size=7)
    hits = (p.argmax(-1) == ids).astype(float)
    np.testing.assert_array_equal(metrics.categorical_accuracy(np.eye(4)[ids], p), hits)
    np.testing.assert_array_equal(metrics.sparse_categorical_accuracy(ids, p), hits)
    np.testing.assert_array_equal(metrics.sparse_categorical_accuracy(ids[:, None], p), hits)
    np.testing.assert_array_equal(
        metrics.sparse_categorical_accuracy(ids.astype(np.float32)[:, None], p), hits)
    # sequences: one value per time step
    pseq = rng.random((3, 5, 4))
    iseq = rng.integers(0, 4, size=(3, 5))
    np.testing.assert_array_equal(metrics.sparse_categorical_accuracy(iseq, pseq),
                                  pseq.argmax(-1) == iseq)
    np.testing.assert_array_equal(metrics.categorical_accuracy(np.eye(4)[iseq], pseq),
                                  pseq.argmax(-1) == iseq)
    with pytest.raises(ValueError, match="do not match"):
        metrics.sparse_categorical_accuracy(np.zeros(6), p)
    with pytest.raises(ValueError, match="do not match"):
        metrics.categorical_accuracy(np.zeros((6, 4)), p)


def test_regression_and_crossentropy_metrics_values(rng):
    y, p = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    for name, expected in (("mae", np.mean(np.abs(y - p), -1)),
                           ("mean_absolute_error", np.mean(np.abs(y - p), -1)),
                           ("MAE", np.mean(np.abs(y - p), -1)),
                           ("mse", np.mean((y - p) ** 2, -1)),
                           ("mean_squared_error", np.mean((y - p) ** 2, -1)),
                           ("huber", np.mean(np.where(np.abs(p - y) <= 1, 0.5 * (p - y) ** 2,
                                                      np.abs(p - y) - 0.5), -1))):
        m = metrics.get(name)
        assert m.name == name
        np.testing.assert_allclose(m.values(y, p), expected, rtol=1e-12)
        assert epoch_value(m, y, p, [6]) == pytest.approx(expected.mean())
    prob = rng.uniform(0.05, 0.95, size=(6, 3))
    t = rng.integers(0, 2, size=(6, 3)).astype(float)
    bce = -np.mean(t * np.log(prob) + (1 - t) * np.log(1 - prob), -1)
    np.testing.assert_allclose(metrics.get("binary_crossentropy").values(t, prob), bce)
    np.testing.assert_allclose(metrics.get("bce").values(t, prob), bce)
    ids = rng.integers(0, 3, size=6)
    q = prob / prob.sum(-1, keepdims=True)
    cce = -np.log(q[np.arange(6), ids])
    np.testing.assert_allclose(metrics.get("categorical_crossentropy").values(np.eye(3)[ids], prob),
                               cce)
    np.testing.assert_allclose(metrics.get("sparse_categorical_crossentropy").values(ids, prob),
                               cce)
    m = metrics.BinaryCrossentropy(from_logits=True)
    x = rng.normal(size=(6, 3))
    np.testing.assert_allclose(m.values(t, x), losses.BinaryCrossentropy(from_logits=True).call(t, x))
    # clipping as in the loss: a zero probability on the true class costs -log(1e-7)
    assert metrics.get("binary_crossentropy").values(np.ones((1, 1)), np.zeros((1, 1)))[0] == \
        pytest.approx(-np.log(EPS), rel=1e-6)


# --------------------------------------------------------- Keras documentation
def test_keras_documentation_examples():
    m = metrics.BinaryAccuracy()
    m.update_state([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]])
    assert m.result() == pytest.approx(0.75)
    m.reset_state()
    m.update_state([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]], sample_weight=[1, 0, 0, 1])
    assert m.result() == pytest.approx(0.5)
    m = metrics.CategoricalAccuracy()
    m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
    assert m.result() == pytest.approx(0.5)
    m.reset_state()
    m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]],
                   sample_weight=[0.7, 0.3])
    assert m.result() == pytest.approx(0.3)
    m = metrics.SparseCategoricalAccuracy()
    m.update_state([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]])
    assert m.result() == pytest.approx(0.5)
    m.reset_state()
    m.update_state([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]], sample_weight=[0.7, 0.3])
    assert m.result() == pytest.approx(0.3)
    m = metrics.Accuracy()
    m.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]])
    assert m.result() == pytest.approx(0.75)
    m.reset_state()
    assert m.result() == 0.0


# ----------------------------------------------------- 'accuracy' resolution
@pytest.mark.parametrize("name", ["accuracy", "acc", "Accuracy"])
def test_accuracy_resolution_from_shapes(name, rng):
    cases = [
        (np.zeros((8, 1)), np.zeros((8, 1)), metrics.BinaryAccuracy),
        (np.zeros(8), np.zeros((8, 1)), metrics.BinaryAccuracy),
        (np.zeros((8, 5, 1)), np.zeros((8, 5, 1)), metrics.BinaryAccuracy),
        (np.zeros(8), np.zeros((8, 3)), metrics.SparseCategoricalAccuracy),
        (np.zeros((8, 1)), np.zeros((8, 3)), metrics.SparseCategoricalAccuracy),
        (np.zeros((8, 5)), np.zeros((8, 5, 3)), metrics.SparseCategoricalAccuracy),
        (np.zeros((8, 3)), np.zeros((8, 3)), metrics.CategoricalAccuracy),
        (np.zeros((8, 5, 3)), np.zeros((8, 5, 3)), metrics.CategoricalAccuracy),
    ]
    for y_true, y_pred, cls in cases:
        m = metrics.get(name, y_true, y_pred)
        assert type(m) is cls and m.name == name
        assert metrics.get(name, y_true=y_true, y_pred=y_pred).name == name


def test_accuracy_without_data_resolves_per_batch(rng):
    m = metrics.get("accuracy")
    assert m.name == "accuracy"
    p = rng.random((6, 3))
    ids = rng.integers(0, 3, size=6)
    hits = p.argmax(-1) == ids
    np.testing.assert_array_equal(m.values(ids, p), hits)                  # sparse
    np.testing.assert_array_equal(m.values(np.eye(3)[ids], p), hits)       # categorical
    pb = rng.random((6, 1))
    yb = (rng.random((6, 1)) > 0.5).astype(float)
    np.testing.assert_array_equal(m.values(yb, pb)[:], ((pb > 0.5) == yb)[:, 0])   # binary
    # the older call get(identifier, loss, output_shape) still works
    old = metrics.get("acc", losses.get("mse"), (None, 1))
    assert old.name == "acc"
    assert float(np.mean(old(yb, pb))) == pytest.approx(np.mean((pb > 0.5) == yb))


# ------------------------------------------------------------------- names
def test_names_as_keras_history_keys():
    assert metrics.get("mae").name == "mae"
    assert metrics.get("MAE").name == "MAE"
    assert metrics.get("mean_absolute_error").name == "mean_absolute_error"
    assert metrics.get("MeanSquaredError").name == "MeanSquaredError"
    assert type(metrics.get("MeanSquaredError")) is metrics.MeanSquaredError
    assert metrics.get(metrics.mae).name == "mean_absolute_error"
    assert metrics.get(losses.mean_squared_error).name == "mean_squared_error"
    assert metrics.get(metrics.MeanAbsoluteError).name == "mean_absolute_error"
    inst = metrics.BinaryAccuracy(name="bin_acc", threshold=0.3)
    assert metrics.get(inst) is inst

    def my_metric(y_true, y_pred):
        return np.abs(y_true - y_pred).max(axis=-1)

    m = metrics.get(my_metric)
    assert m.name == "my_metric"
    assert m.batch_stats(np.zeros((2, 2)), np.array([[1.0, -3], [2, 0]])) == (5.0, 2.0)
    loss_metric = metrics.get(losses.BinaryCrossentropy(name="bce_loss"))
    assert loss_metric.name == "bce_loss"
    assert metrics.get(None) is None


def test_unknown_metric_raises_listing_valid_names():
    with pytest.raises(ValueError, match="Unknown metric 'accuarcy'") as err:
        metrics.get("accuarcy")
    for name in ("accuracy", "mae", "mse", "binary_accuracy", "categorical_accuracy",
                 "sparse_categorical_accuracy", "binary_crossentropy"):
        assert name in str(err.value)
    with pytest.raises(ValueError):
        metrics.get(3.5)
    with pytest.raises(ValueError, match="threshold"):
        metrics.BinaryAccuracy(threshold=1.5)


def test_config_round_trip():
    m = metrics.BinaryAccuracy(name="ba", threshold=0.3)
    again = metrics.deserialize(metrics.serialize(m))
    assert type(again) is metrics.BinaryAccuracy and again.threshold == 0.3 and again.name == "ba"
    w = metrics.deserialize(metrics.serialize(metrics.get("mse")))
    assert w.name == "mse"
    c = metrics.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)
    assert metrics.deserialize(metrics.serialize(c)).get_config() == c.get_config()


# ------------------------------------------------------------ accumulation
@pytest.mark.parametrize("name", ["mae", "mse", "accuracy", "binary_crossentropy"])
def test_uneven_batches_accumulate_to_the_full_data_value(name, rng):
    n = 20
    y = (rng.random((n, 1)) > 0.5).astype(float)
    p = rng.uniform(0.05, 0.95, size=(n, 1))
    m = metrics.get(name, y, p)
    full = m.values(y, p)
    assert epoch_value(m, y, p, [7, 7, 6]) == pytest.approx(full.mean(), rel=1e-12)
    assert epoch_value(m, y, p, [1, 19]) == pytest.approx(full.mean(), rel=1e-12)
    sw = rng.uniform(0, 2, size=n)
    expected = np.sum(full * sw) / np.sum(sw)
    assert epoch_value(m, y, p, [7, 7, 6], sample_weight=sw) == pytest.approx(expected, rel=1e-12)
    s, c = m.batch_stats(y, p, sample_weight=sw)
    assert s / c == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name", ["mae", "accuracy", "sparse_categorical_crossentropy"])
def test_sequence_metrics_with_mask_and_weights(name, rng):
    n, T, C = 13, 6, 3
    p = rng.uniform(0.05, 1.0, size=(n, T, C))
    y = rng.integers(0, C, size=(n, T)).astype(float)
    if name == "mae":
        y = rng.normal(size=(n, T, C))
    m = metrics.get(name, y, p)
    values = m.values(y, p)
    assert values.shape == (n, T)
    mask = rng.random((n, T)) > 0.4
    sw = rng.uniform(0.5, 2.0, size=n)
    # no weights: the mean of the per-sample means (equal lengths: the overall mean)
    assert epoch_value(m, y, p, [5, 5, 3]) == pytest.approx(values.mean(), rel=1e-12)
    # a mask: the mean over the valid entries
    assert epoch_value(m, y, p, [5, 5, 3], mask=mask) == pytest.approx(values[mask].mean(),
                                                                       rel=1e-12)
    # per-sample weights (B,) weigh each sample's mean
    assert epoch_value(m, y, p, [4, 9], sample_weight=sw) == pytest.approx(
        np.sum(values.mean(1) * sw) / sw.sum(), rel=1e-12)
    # both: each valid entry weighs its sample's weight
    w = mask * sw[:, None]
    assert epoch_value(m, y, p, [6, 6, 1], sample_weight=sw, mask=mask) == pytest.approx(
        np.sum(values * w) / w.sum(), rel=1e-12)
    # per-entry weights (B, T)
    wt = rng.uniform(0, 1, size=(n, T))
    assert epoch_value(m, y, p, [7, 6], sample_weight=wt) == pytest.approx(
        np.sum(values * wt) / wt.sum(), rel=1e-12)


def test_stateful_api_matches_batch_stats(rng):
    y = rng.normal(size=(10, 2))
    p = rng.normal(size=(10, 2))
    m = metrics.get("mse")
    m.update_state(y[:3], p[:3])
    m.update_state(y[3:], p[3:])
    assert m.result() == pytest.approx(np.mean((y - p) ** 2))
    m.reset_state()
    assert (m.total, m.count) == (0.0, 0.0)
    # calling a metric returns its per-sample values (the older interface)
    np.testing.assert_allclose(m(y, p), np.mean((y - p) ** 2, axis=-1))


def test_keras_loss_metric_equals_loss_for_even_batches(rng):
    """The epoch 'binary_crossentropy' metric equals the loss over the same data."""
    y = (rng.random((12, 1)) > 0.5).astype(np.float32)
    p = rng.uniform(0.05, 0.95, size=(12, 1)).astype(np.float32)
    m = metrics.get("binary_crossentropy")
    assert epoch_value(m, y, p, [5, 5, 2]) == pytest.approx(losses.BinaryCrossentropy()(y, p),
                                                            rel=1e-6)
