"""Embedding, Dropout, Activation, Flatten and Masking: Keras 3 semantics, gradients
against central finite differences (float64), statistics and error messages."""
import warnings

import numpy as np
import pytest

import fastrnn
from fastrnn import initializers, utils
from fastrnn.layers import (LSTM, Activation, Dense, Dropout, Embedding, Flatten, Layer,
                            Masking, SimpleRNN)
from fastrnn.models import Sequential

EPS = 1e-6


def numeric_grad(f, a, eps=EPS):
    """Central differences of the scalar f() with respect to every entry of a (in place)."""
    g = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        old = a[i]
        a[i] = old + eps
        fp = f()
        a[i] = old - eps
        fm = f()
        a[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


def check_layer_gradients(layer, x, rng, training=False, rtol=1e-7, atol=1e-9):
    """dL/dx and dL/dw of L = sum(r * layer(x)) against finite differences."""
    y = layer.forward(x, training=training)
    r = rng.normal(size=y.shape)
    dx = layer.backward(r)
    grads = [g.copy() for g in layer.grads]

    def loss():
        return float(np.sum(r * layer.forward(x, training=training)))

    np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=rtol, atol=atol)
    for w, g in zip(layer.weights, grads):
        np.testing.assert_allclose(g, numeric_grad(loss, w), rtol=rtol, atol=atol)
    return dx


# ---------------------------------------------------------------- exports
def test_every_layer_is_exported():
    import fastrnn.layers as L
    for name in ["Layer", "Input", "InputLayer", "Dense", "Embedding", "Dropout", "Activation",
                 "Flatten", "Masking", "SimpleRNN", "LSTM", "GRU", "RNN", "TimeDistributed",
                 "Bidirectional"]:
        assert name in L.__all__ and hasattr(L, name)
    for name in ["Embedding", "Dropout", "Activation", "Flatten", "Masking"]:
        assert issubclass(getattr(L, name), Layer)


# -------------------------------------------------------------- Embedding
def test_embedding_forward_is_a_table_lookup(rng):
    layer = Embedding(7, 3, dtype="float64")
    ids = rng.integers(0, 7, size=(4, 5))
    y = layer(ids)
    assert y.shape == (4, 5, 3) and y.dtype == np.float64
    np.testing.assert_array_equal(y, layer.embeddings[ids])
    assert layer.output_shape == (5, 3)
    assert layer.input_kind == "int"
    assert [w.shape for w in layer.weights] == [(7, 3)]
    assert layer._weight_names == ["embeddings"]


def test_embedding_any_input_rank(rng):
    layer = Embedding(5, 2)
    assert layer(np.array([1, 2, 3])).shape == (3, 2)
    assert layer.compute_output_shape((2, 3)) == (2, 3, 2)
    layer3 = Embedding(5, 2)
    assert layer3(rng.integers(0, 5, size=(2, 3, 4))).shape == (2, 3, 4, 2)


def test_embedding_gradient_with_repeated_ids_matches_finite_differences(rng):
    layer = Embedding(6, 4, dtype="float64")
    layer.build((5,))
    ids = np.array([[1, 1, 3, 0, 1], [5, 3, 3, 1, 1]])
    y = layer.forward(ids, training=True)
    r = rng.normal(size=y.shape)
    assert layer.backward(r) is None

    def loss():
        return float(np.sum(r * layer.forward(ids)))

    np.testing.assert_allclose(layer.grads[0], numeric_grad(loss, layer.embeddings),
                               rtol=1e-7, atol=1e-9)
    # the same by construction: each row is the sum of the dy rows of its ids
    expected = np.zeros((6, 4))
    for i, row in zip(ids.ravel(), r.reshape(-1, 4)):
        expected[i] += row
    np.testing.assert_allclose(layer.grads[0], expected, rtol=1e-13, atol=1e-13)
    assert np.all(layer.grads[0][[2, 4]] == 0)


def test_embedding_backward_overwrites_previous_gradient(rng):
    layer = Embedding(4, 2, dtype="float64")
    layer.build((2,))
    layer.forward(np.array([[0, 1]]))
    layer.backward(np.ones((1, 2, 2)))
    grad_buffer = layer.grads[0]
    layer.forward(np.array([[2, 2]]))
    layer.backward(np.ones((1, 2, 2)))
    assert layer.grads[0] is grad_buffer
    np.testing.assert_array_equal(layer.grads[0], [[0, 0], [0, 0], [2, 2], [0, 0]])


def test_embedding_default_initializer_is_keras_uniform():
    layer = Embedding(200, 50)
    layer.build((3,))
    w = layer.embeddings
    assert w.dtype == np.float32
    assert w.min() >= -0.05 and w.max() <= 0.05
    assert w.std() > 0.02  # uniform on [-0.05, 0.05] has std 0.0289
    cfg = layer.get_config()
    assert cfg["embeddings_initializer"] == {
        "class_name": "RandomUniform", "config": {"minval": -0.05, "maxval": 0.05, "seed": None}}
    assert isinstance(Embedding(3, 2, embeddings_initializer="uniform").embeddings_initializer,
                      initializers.RandomUniform)


def test_embedding_accepts_integral_floats_and_all_integer_dtypes():
    layer = Embedding(4, 2, dtype="float64")
    layer.build((3,))
    ref = layer.forward(np.array([[0, 3, 2]]))
    for x in (np.array([[0.0, 3.0, 2.0]], np.float32), np.array([[0, 3, 2]], np.uint8),
              np.array([[0, 3, 2]], np.int64), [[0, 3, 2]]):
        np.testing.assert_array_equal(layer.forward(x), ref)


def test_embedding_errors():
    layer = Embedding(5, 2)
    layer.build((3,))
    with pytest.raises(ValueError, match=r"\[0, 5\).*got 5"):
        layer.forward(np.array([[0, 1, 5]]))
    with pytest.raises(ValueError, match=r"\[0, 5\).*got -1"):
        layer.forward(np.array([[0, -1, 2]]))
    with pytest.raises(ValueError, match="non-integer values such as 1.5"):
        layer.forward(np.array([[0.0, 1.5, 2.0]]))
    with pytest.raises(ValueError, match="NaN or Inf"):
        layer.forward(np.array([[0.0, np.nan, 2.0]]))
    with pytest.raises(ValueError, match="integer ids"):
        layer.forward(np.array([["a", "b", "c"]]))
    with pytest.raises(ValueError, match="integer ids"):
        layer.forward("abc")
    with pytest.raises(ValueError, match="input_dim must be a positive integer"):
        Embedding(0, 3)
    with pytest.raises(ValueError, match="output_dim must be a positive integer"):
        Embedding(3, 2.5)
    with pytest.raises(NotImplementedError, match="embeddings_regularizer"):
        Embedding(3, 2, embeddings_regularizer="l2")
    with pytest.raises(RuntimeError, match="forward pass first"):
        Embedding(3, 2).backward(np.zeros((1, 1, 2)))


def test_embedding_mask_zero():
    layer = Embedding(5, 2, mask_zero=True)
    ids = np.array([[3, 1, 0, 0], [2, 0, 4, 0]])
    layer(ids)
    assert layer.supports_masking
    np.testing.assert_array_equal(layer.compute_mask(ids, None), ids != 0)
    plain = Embedding(5, 2)
    assert plain.compute_mask(ids, None) is None and not plain.supports_masking


def test_embedding_initial_weights_and_config_roundtrip(rng):
    matrix = rng.normal(size=(6, 3))
    layer = Embedding(6, 3, weights=[matrix], mask_zero=True, dtype="float64", name="emb")
    np.testing.assert_array_equal(layer.embeddings, matrix)
    assert not layer.built  # the weight exists; the input shape comes later
    layer.build((4,))
    np.testing.assert_array_equal(layer.embeddings, matrix)
    assert Embedding(6, 3, weights=matrix).embeddings.shape == (6, 3)
    cfg = layer.get_config()
    assert cfg["input_dim"] == 6 and cfg["output_dim"] == 3 and cfg["mask_zero"] is True
    clone = Embedding.from_config(cfg)
    assert clone.name == "emb" and clone.mask_zero and clone.dtype == np.float64
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Embedding(6, 3, input_length=4)
    assert any("input_length" in str(w.message) for w in caught)


# ---------------------------------------------------------------- Dropout
def test_dropout_is_identity_at_inference(rng):
    layer = Dropout(0.5)
    x = rng.normal(size=(8, 5)).astype(np.float32)
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer.forward(x, training=False), x)
    dy = rng.normal(size=x.shape)
    np.testing.assert_array_equal(layer.backward(dy), dy)
    assert layer.supports_masking and layer.weights == []


@pytest.mark.parametrize("rate", [0.1, 0.3, 0.5, 0.8])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dropout_statistics(rate, dtype):
    layer = Dropout(rate, seed=7, dtype=dtype)
    x = np.ones((400, 500), dtype)
    y = layer.forward(x, training=True)
    assert y.dtype == np.dtype(dtype)
    n = x.size
    zeroed = np.mean(y == 0)
    assert abs(zeroed - rate) < 4 * np.sqrt(rate * (1 - rate) / n)
    kept = y[y != 0]
    np.testing.assert_allclose(kept, 1.0 / (1.0 - rate), rtol=1e-6)
    assert abs(y.mean() - 1.0) < 4 * np.sqrt(rate / (1 - rate) / n)


def test_dropout_backward_uses_the_forward_mask(rng):
    layer = Dropout(0.4, seed=3, dtype="float64")
    x = rng.normal(size=(6, 4, 3))
    y = layer.forward(x, training=True)
    dy = rng.normal(size=y.shape)
    dx = layer.backward(dy)
    scale = y / x
    np.testing.assert_allclose(dx, dy * scale, rtol=1e-12)
    # finite differences with the mask frozen (the layer is linear given its mask)
    mask = layer._scale.copy()
    np.testing.assert_allclose(dx, numeric_grad(lambda: float(np.sum(dy * x * mask)), x),
                               rtol=1e-7, atol=1e-9)


def test_dropout_seed_and_global_seed_reproducible():
    x = np.ones((20, 30))
    a = Dropout(0.5, seed=11).forward(x, training=True)
    b = Dropout(0.5, seed=11).forward(x, training=True)
    np.testing.assert_array_equal(a, b)
    layer = Dropout(0.5, seed=11)
    first = layer.forward(x, training=True)
    second = layer.forward(x, training=True)
    assert not np.array_equal(first, second)  # the generator advances
    utils.set_random_seed(5)
    c = Dropout(0.5).forward(x, training=True)
    utils.set_random_seed(5)
    d = Dropout(0.5).forward(x, training=True)
    np.testing.assert_array_equal(c, d)


def test_dropout_noise_shape_shares_the_mask(rng):
    layer = Dropout(0.5, noise_shape=(None, 1, 6), seed=0, dtype="float64")
    x = np.ones((5, 7, 6))
    y = layer.forward(x, training=True)
    for t in range(7):
        np.testing.assert_array_equal(y[:, t], y[:, 0])
    assert 0 < np.mean(y == 0) < 1
    dy = rng.normal(size=y.shape)
    np.testing.assert_array_equal(layer.backward(dy), dy * y)
    with pytest.raises(ValueError, match="one entry per input axis"):
        Dropout(0.5, noise_shape=(None, 1)).forward(x, training=True)
    with pytest.raises(ValueError, match="does not broadcast"):
        Dropout(0.5, noise_shape=(None, 3, 6)).forward(x, training=True)


def test_dropout_rate_zero_and_one():
    x = np.arange(1.0, 13.0).reshape(3, 4)
    np.testing.assert_array_equal(Dropout(0.0).forward(x, training=True), x)
    layer = Dropout(1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = layer.forward(x, training=True)
    np.testing.assert_array_equal(y, 0)
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), 0)


@pytest.mark.parametrize("rate", [-0.1, 1.5, "0.5", None, True])
def test_dropout_bad_rate(rate):
    with pytest.raises(ValueError, match="rate"):
        Dropout(rate)


def test_dropout_bad_arguments_and_config():
    with pytest.raises(ValueError, match="noise_shape"):
        Dropout(0.5, noise_shape="abc")
    with pytest.raises(ValueError, match="noise_shape"):
        Dropout(0.5, noise_shape=(None, 0))
    with pytest.raises(ValueError, match="noise_shape"):
        Dropout(0.5, noise_shape=5)
    with pytest.raises(ValueError, match="seed"):
        Dropout(0.5, seed=-1)
    cfg = Dropout(0.25, noise_shape=(None, 1, 3), seed=4, name="drop").get_config()
    assert cfg["rate"] == 0.25 and cfg["seed"] == 4 and cfg["noise_shape"] == [None, 1, 3]
    clone = Dropout.from_config(cfg)
    assert clone.rate == 0.25 and clone.noise_shape == (None, 1, 3) and clone.name == "drop"


def test_dropout_passes_the_mask():
    mask = np.array([[True, False]])
    assert Dropout(0.5).compute_mask(np.zeros((1, 2, 3)), mask) is mask


# ------------------------------------------------------------- Activation
@pytest.mark.parametrize("name", ["tanh", "sigmoid", "relu", "softmax", "linear", None])
def test_activation_gradients(name, rng):
    layer = Activation(name, dtype="float64")
    x = rng.normal(size=(3, 4, 5))
    if name == "relu":
        x[np.abs(x) < 1e-3] = 0.5  # keep away from the kink
    y = layer.forward(x)
    np.testing.assert_allclose(y, fastrnn.activations.get(name).forward(x))
    check_layer_gradients(layer, x, rng)
    assert layer.supports_masking and layer.compute_output_shape((4, 5)) == (4, 5)


def test_activation_config_and_errors():
    cfg = Activation("relu", name="act").get_config()
    assert cfg["activation"] == "relu"
    assert Activation.from_config(cfg).activation.name == "relu"
    with pytest.raises(ValueError, match="Unknown activation"):
        Activation("nope")


# ---------------------------------------------------------------- Flatten
def test_flatten_forward_backward(rng):
    layer = Flatten(dtype="float64")
    layer.build((3, 4, 2))
    assert layer.output_shape == (24,)
    x = rng.normal(size=(5, 3, 4, 2))
    np.testing.assert_array_equal(layer.forward(x), x.reshape(5, 24))
    check_layer_gradients(layer, x, rng)


def test_flatten_shapes():
    layer = Flatten()
    assert layer.compute_output_shape(()) == (1,)
    assert layer.compute_output_shape((None, 3)) == (None,)
    assert layer.compute_output_shape((7,)) == (7,)
    assert layer.forward(np.arange(4.0)).shape == (4, 1)
    assert layer.compute_mask(np.zeros((2, 3, 4)), np.ones((2, 3), bool)) is None


def test_flatten_channels_first(rng):
    layer = Flatten(data_format="channels_first", dtype="float64")
    x = rng.normal(size=(2, 3, 4, 5))
    np.testing.assert_array_equal(layer.forward(x), np.moveaxis(x, 1, -1).reshape(2, -1))
    check_layer_gradients(layer, x, rng)
    assert Flatten.from_config(layer.get_config()).data_format == "channels_first"
    with pytest.raises(ValueError, match="data_format"):
        Flatten(data_format="nchw")


# ---------------------------------------------------------------- Masking
def _masked_input(rng):
    x = rng.normal(size=(3, 5, 4))
    x[0, 1] = 0.0
    x[0, 4] = 0.0
    x[2, 0] = 0.0
    x[1, 2, :2] = 0.0  # partly zero: not masked
    return x


def test_masking_forward_and_mask(rng):
    layer = Masking(dtype="float64")
    x = _masked_input(rng)
    y = layer.forward(x)
    mask = layer.compute_mask(x, None)
    expected = np.ones((3, 5), bool)
    expected[0, 1] = expected[0, 4] = expected[2, 0] = False
    np.testing.assert_array_equal(mask, expected)
    np.testing.assert_array_equal(y, x * expected[..., None])
    assert layer.supports_masking


def test_masking_other_value(rng):
    layer = Masking(mask_value=-1.0, dtype="float64")
    x = rng.normal(size=(2, 3, 2))
    x[1, 1] = -1.0
    y = layer.forward(x)
    assert np.all(y[1, 1] == 0) and np.array_equal(y[0], x[0])
    assert layer.compute_mask(x, None).tolist() == [[True] * 3, [True, False, True]]
    assert Masking.from_config(layer.get_config()).mask_value == -1.0


def test_masking_gradient(rng):
    layer = Masking(dtype="float64")
    x = _masked_input(rng)
    y = layer.forward(x)
    r = rng.normal(size=y.shape)
    dx = layer.backward(r)
    mask = layer.compute_mask(x, None)
    # Keras treats the mask as a constant: zero gradient at masked steps
    np.testing.assert_array_equal(dx[~mask], 0)
    # and the identity elsewhere, checked by finite differences at the unmasked steps
    num = numeric_grad(lambda: float(np.sum(r * layer.forward(x))), x)
    np.testing.assert_allclose(dx[mask], num[mask], rtol=1e-7, atol=1e-9)


# -------------------------------------------------------- inside a model
def test_sequential_embedding_mask_lstm_trains(rng):
    fastrnn.config.set_floatx("float64")
    emb, lstm, dense = Embedding(10, 4, mask_zero=True), LSTM(5), Dense(1)
    model = Sequential([emb, Dropout(0.2, seed=1), lstm, dense])
    ids = rng.integers(1, 10, size=(16, 6))
    ids[:, 4:] = 0  # padding
    y = rng.normal(size=(16, 1))
    model.compile("adam", "mse")
    model.build((6,))
    before = emb.embeddings.copy()
    model.fit(ids, y, epochs=2, batch_size=8, verbose=0)
    assert not np.array_equal(before, emb.embeddings)
    np.testing.assert_array_equal(before[0], emb.embeddings[0])  # padding row: no gradient
    # the masked padding steps change nothing: same prediction as without them
    out = model.predict(ids, verbose=0)
    short = dense.forward(lstm.forward(emb.forward(ids[:, :4])))
    np.testing.assert_allclose(out, short, rtol=1e-10)


def test_sequential_masking_then_rnn_ignores_masked_steps(rng):
    fastrnn.config.set_floatx("float64")
    rnn, dense = SimpleRNN(3), Dense(1)
    model = Sequential([Masking(), rnn, dense])
    x = rng.normal(size=(4, 6, 2))
    x[:, 4:] = 0.0
    out = model.predict(x, verbose=0)
    np.testing.assert_allclose(out, dense.forward(rnn.forward(x[:, :4])), rtol=1e-10)


def test_sequential_dropout_train_vs_predict(rng):
    model = Sequential([Dense(8), Dropout(0.5, seed=0), Activation("tanh"), Flatten(),
                        Dense(1)])
    x = rng.normal(size=(32, 3)).astype(np.float32)
    model.compile("sgd", "mse")
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))
    model.fit(x, rng.normal(size=(32, 1)), epochs=1, verbose=0)
