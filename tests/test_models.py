"""Sequential: building, fit semantics, evaluate/predict, weights, summary, errors."""
import numpy as np
import pytest

import fastrnn
from fastrnn.layers import LSTM, Dense, Input, SimpleRNN
from fastrnn.models import Sequential


def small_data(rng, n=40, T=6, I=3):
    x = rng.normal(size=(n, T, I)).astype(np.float32)
    y = np.tanh(x.sum(axis=(1, 2)))[:, None].astype(np.float32)
    return x, y


def small_model(T=6, I=3, **rnn):
    model = Sequential([Input(shape=(T, I)), SimpleRNN(8, **rnn), Dense(1)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    return model


def test_constructor_list_equals_add(rng):
    a = Sequential([Input(shape=(6, 3)), SimpleRNN(4), Dense(2)])
    b = Sequential()
    b.add(SimpleRNN(4, input_shape=(6, 3)))
    b.add(Dense(2))
    assert [w.shape for w in a.get_weights()] == [w.shape for w in b.get_weights()] \
        == [(3, 4), (4, 4), (4,), (4, 2), (2,)]
    assert a.output_shape == (None, 2)


def test_lazy_build_from_data(rng):
    x, y = small_data(rng)
    model = Sequential([SimpleRNN(5), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    assert not model.built
    model.fit(x, y, epochs=1, verbose=0)
    assert model.built and model.layers[0].kernel.shape == (3, 5)


def test_fit_reduces_loss_and_records_history(rng):
    x, y = small_data(rng)
    model = small_model()
    hist = model.fit(x, y, epochs=30, batch_size=8, verbose=0)
    assert set(hist.history) == {"loss", "mae"}
    assert len(hist.history["loss"]) == 30 and hist.epoch == list(range(30))
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]
    loss, mae = model.evaluate(x, y, verbose=0)
    pred = model.predict(x)
    np.testing.assert_allclose(loss, np.mean((pred - y) ** 2), rtol=1e-4)
    np.testing.assert_allclose(mae, np.mean(np.abs(pred - y)), rtol=1e-4)
    assert model.evaluate(x, y, return_dict=True).keys() == {"loss", "mae"}


def test_epoch_loss_is_sample_weighted_mean_of_batches(rng):
    """Keras's epoch loss averages the batch losses weighted by batch size; with lr=0 the
    weights do not move, so it must equal evaluate()."""
    x, y = small_data(rng, n=37)
    model = Sequential([Input(shape=(6, 3)), SimpleRNN(4), Dense(1)])
    model.compile(optimizer=fastrnn.optimizers.SGD(learning_rate=0.0), loss="mse")
    hist = model.fit(x, y, batch_size=10, epochs=1, verbose=0, shuffle=False)
    np.testing.assert_allclose(hist.history["loss"][0], model.evaluate(x, y), rtol=1e-5)


def test_validation_split_takes_last_samples(rng):
    x, y = small_data(rng, n=50)
    model = small_model()
    hist = model.fit(x, y, epochs=2, validation_split=0.2, verbose=0)
    assert set(hist.history) == {"loss", "mae", "val_loss", "val_mae"}
    np.testing.assert_allclose(hist.history["val_loss"][-1],
                               model.evaluate(x[40:], y[40:])[0], rtol=1e-5)
    hist2 = model.fit(x, y, epochs=1, validation_data=(x[:5], y[:5]), verbose=0)
    np.testing.assert_allclose(hist2.history["val_loss"][-1],
                               model.evaluate(x[:5], y[:5])[0], rtol=1e-5)


def test_shuffle_false_is_deterministic(rng):
    x, y = small_data(rng)
    m1, m2 = small_model(), small_model()
    m2.set_weights(m1.get_weights())
    m1.fit(x, y, epochs=2, shuffle=False, verbose=0)
    m2.fit(x, y, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(m1.get_weights(), m2.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_train_on_batch_matches_one_fit_step(rng):
    x, y = small_data(rng, n=16)
    m1, m2 = small_model(), small_model()
    m2.set_weights(m1.get_weights())
    out = m1.train_on_batch(x, y)
    m2.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    assert len(out) == 2
    for a, b in zip(m1.get_weights(), m2.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(m1.predict_on_batch(x), m1.predict(x, batch_size=3),
                               rtol=1e-5, atol=1e-6)


def test_return_sequences_stack_trains(rng):
    x, _ = small_data(rng)
    y = np.cumsum(x[..., :1], axis=1) / 3
    model = Sequential([Input(shape=(6, 3)), SimpleRNN(8, return_sequences=True),
                        SimpleRNN(8, return_sequences=True), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    hist = model.fit(x, y, epochs=40, verbose=0)
    assert model.predict(x).shape == (40, 6, 1)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]


def test_input_rank_adjustment_like_keras(rng):
    model = Sequential([Input(shape=(1, 1)), SimpleRNN(3), Dense(1)])
    x2 = rng.normal(size=(7, 1))
    x3 = x2[..., None]
    x4 = x3[..., None]
    np.testing.assert_array_equal(model.predict(x2), model.predict(x3))
    np.testing.assert_array_equal(model.predict(x4), model.predict(x3))
    with pytest.raises(ValueError, match="expects inputs of shape"):
        model.predict(rng.normal(size=(7, 2, 1)))


def test_float64_model(rng):
    fastrnn.config.set_floatx("float64")
    model = small_model()
    x, y = small_data(rng)
    assert model.predict(x).dtype == np.float64
    model.fit(x, y, epochs=1, verbose=0)
    assert all(w.dtype == np.float64 for w in model.get_weights())


def test_set_weights_validates(rng):
    model = small_model()
    w = model.get_weights()
    with pytest.raises(ValueError, match="expects 5 arrays"):
        model.set_weights(w[:-1])
    w[0] = np.zeros((4, 8))
    with pytest.raises(ValueError, match="shape"):
        model.set_weights(w)


def test_errors_name_the_problem(rng):
    x, y = small_data(rng)
    model = Sequential([Input(shape=(6, 3)), SimpleRNN(4), Dense(1)])
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="Unknown loss"):
        model.compile(optimizer="adam", loss="msq")
    with pytest.raises(ValueError, match="rmsprop"):
        model.compile(optimizer="rmsprpo", loss="mse")
    model.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match="different numbers of samples"):
        model.fit(x, y[:-1], verbose=0)
    bad = x.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.fit(bad, y, verbose=0)
    with pytest.raises(TypeError, match="numbers"):
        model.predict(np.array([["a"] * 3] * 6))
    with pytest.raises(ValueError, match="empty"):
        model.predict(np.zeros((0, 6, 3)))
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(x, y, batch_size=0, verbose=0)


def test_fortran_order_and_int_inputs_are_converted(rng):
    x, y = small_data(rng)
    model = small_model()
    ref = model.predict(x)
    np.testing.assert_allclose(model.predict(np.asfortranarray(x)), ref, rtol=1e-6)
    xi = np.round(x * 3).astype(np.int64)
    np.testing.assert_allclose(model.predict(xi), model.predict(xi.astype(np.float32)))


def test_summary_table(capsys):
    model = Sequential([Input(shape=(1, 1)), SimpleRNN(10, name="rnn"), Dense(1, name="out")])
    model.summary()
    out = capsys.readouterr().out
    assert "rnn (SimpleRNN)" in out and "(None, 10)" in out and "120" in out
    assert "out (Dense)" in out and "(None, 1)" in out
    assert "Total params: 131 (524.00 B)" in out


def test_verbose_prints_epoch_lines(rng, capsys):
    x, y = small_data(rng, n=20)
    model = small_model()
    model.fit(x, y, epochs=2, batch_size=10, verbose=2)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "loss:" in out
    model.fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_sample_weight_scales_the_gradient_like_keras(rng):
    """sum_over_batch_size: weights multiply per-sample losses, the divisor stays the
    batch size, so weights of 2 with SGD equal a doubled learning rate."""
    x, y = small_data(rng, n=16)
    m1 = Sequential([Input(shape=(6, 3)), SimpleRNN(4), Dense(1)])
    m2 = Sequential([Input(shape=(6, 3)), SimpleRNN(4), Dense(1)])
    m2.set_weights(m1.get_weights())
    m1.compile(optimizer=fastrnn.optimizers.SGD(learning_rate=0.1), loss="mse")
    m2.compile(optimizer=fastrnn.optimizers.SGD(learning_rate=0.2), loss="mse")
    h1 = m1.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0,
                sample_weight=np.full(16, 2.0))
    h2 = m2.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(h1.history["loss"][0], 2 * h2.history["loss"][0], rtol=1e-5)
    for a, b in zip(m1.get_weights(), m2.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_class_weight_equals_sample_weight_from_labels(rng):
    x = rng.normal(size=(20, 6, 3)).astype(np.float32)
    y = (rng.random((20, 1)) < 0.5).astype(np.float32)
    models = []
    for _ in range(2):
        m = Sequential([Input(shape=(6, 3)), SimpleRNN(4), Dense(1, activation="sigmoid")])
        m.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
        models.append(m)
    models[1].set_weights(models[0].get_weights())
    models[0].fit(x, y, epochs=2, shuffle=False, verbose=0, class_weight={0: 0.5, 1: 3.0})
    models[1].fit(x, y, epochs=2, shuffle=False, verbose=0,
                  sample_weight=np.where(y[:, 0] > 0, 3.0, 0.5))
    for a, b in zip(models[0].get_weights(), models[1].get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="at the same time"):
        models[0].fit(x, y, verbose=0, class_weight={0: 1, 1: 1}, sample_weight=np.ones(20))
    with pytest.raises(ValueError, match="no weight for classes"):
        models[0].fit(x, y, verbose=0, class_weight={0: 1})


def test_duplicate_metric_names_get_suffixes(rng):
    x, y = small_data(rng)
    model = Sequential([Input(shape=(6, 3)), SimpleRNN(4), Dense(1)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae", "mae"])
    hist = model.fit(x, y, epochs=1, verbose=0)
    assert set(hist.history) == {"loss", "mae", "mae_1"}


def test_summary_thousands_and_long_names(capsys):
    from fastrnn.layers import TimeDistributed
    model = Sequential([Input(shape=(5, 40)), LSTM(32, return_sequences=True),
                        TimeDistributed(Dense(3))])
    model.summary()
    out = capsys.readouterr().out
    assert "9,344" in out and "Total params: 9,443 (36.89 KB)" in out
    lines = out.splitlines()
    assert len({len(line) for line in lines[1:-3]}) == 1       # the table stays aligned
    assert any(line.startswith("│ (TimeDistributed)") for line in lines)
