"""TimeDistributed and Bidirectional: against the inner layers run by hand, against
central finite differences (float64), weights/grads sharing, masks, configs, errors."""
import numpy as np
import pytest

import fastrnn
from fastrnn.layers import (GRU, LSTM, Bidirectional, Dense, Dropout, Embedding, Layer,
                            SimpleRNN, TimeDistributed)
from fastrnn.saving import custom_object_scope, deserialize_layer, serialize_layer
from fastrnn.models import Sequential

EPS = 1e-6
MERGE_MODES = ["concat", "sum", "mul", "ave", None]
CELLS = {
    "simple_rnn": lambda **kw: SimpleRNN(4, **kw),
    "lstm": lambda **kw: LSTM(4, **kw),
    "gru": lambda **kw: GRU(4, **kw),
    "gru_before": lambda **kw: GRU(4, reset_after=False, **kw),
}


def numeric_grad(f, a, eps=EPS):
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


def _randomize(layer, rng, scale=0.5):
    layer.set_weights([rng.normal(scale=scale, size=w.shape) for w in layer.weights])


def _dot(r, y):
    if isinstance(y, list):
        return sum(float(np.sum(a * b)) for a, b in zip(r, y))
    return float(np.sum(r * y))


def _rand_like(rng, y):
    return [rng.normal(size=a.shape) for a in y] if isinstance(y, list) \
        else rng.normal(size=y.shape)


# ---------------------------------------------------------- TimeDistributed
def test_time_distributed_dense_equals_dense_on_3d(rng):
    td = TimeDistributed(Dense(5, activation="tanh", dtype="float64"))
    td.build((6, 3))
    assert td.output_shape == (6, 5)
    dense = Dense(5, activation="tanh", dtype="float64")
    dense.build((6, 3))
    dense.set_weights(td.get_weights())
    x = rng.normal(size=(4, 6, 3))
    y = td.forward(x, training=True)
    np.testing.assert_allclose(y, dense.forward(x), rtol=1e-14)
    dy = rng.normal(size=y.shape)
    np.testing.assert_allclose(td.backward(dy), dense.backward(dy), rtol=1e-12)
    for a, b in zip(td.grads, dense.grads):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_time_distributed_shares_the_inner_weights_and_grads(rng):
    inner = Dense(2)
    td = TimeDistributed(inner)
    td.build((3, 4))
    assert td.weights is inner.weights and td.grads is inner.grads
    assert [w.shape for w in td.weights] == [(4, 2), (2,)]
    assert td.count_params() == 10 and td.dtype == inner.dtype
    td.set_weights([np.ones((4, 2)), np.zeros(2)])
    np.testing.assert_array_equal(inner.kernel, 1)


def test_time_distributed_gradients_by_finite_differences(rng):
    td = TimeDistributed(Dense(3, activation="sigmoid", dtype="float64"))
    td.build((5, 2))
    _randomize(td, rng)
    x = rng.normal(size=(2, 5, 2))
    r = rng.normal(size=(2, 5, 3))
    td.forward(x, training=True)
    dx = td.backward(r)
    grads = [g.copy() for g in td.grads]

    def loss():
        return float(np.sum(r * td.forward(x)))

    np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=1e-7, atol=1e-9)
    for w, g in zip(td.weights, grads):
        np.testing.assert_allclose(g, numeric_grad(loss, w), rtol=1e-7, atol=1e-9)


def test_time_distributed_rnn_on_4d_input(rng):
    inner = SimpleRNN(3, dtype="float64")
    td = TimeDistributed(inner)
    td.build((4, 5, 2))
    assert td.output_shape == (4, 3)
    x = rng.normal(size=(2, 4, 5, 2))
    y = td.forward(x)
    for t in range(4):
        np.testing.assert_allclose(y[:, t], inner.forward(x[:, t]), rtol=1e-12)


def test_time_distributed_embedding_and_dropout(rng):
    td = TimeDistributed(Embedding(9, 2))
    assert td.input_kind == "int"
    ids = rng.integers(0, 9, size=(3, 4, 5))
    y = td(ids)
    assert y.shape == (3, 4, 5, 2)
    np.testing.assert_array_equal(y, td.layer.embeddings[ids])
    assert td.backward(np.ones_like(y)) is None
    drop = TimeDistributed(Dropout(0.5))
    x = np.ones((2, 3, 4), np.float32)
    np.testing.assert_array_equal(drop(x), x)


def test_time_distributed_mask_passes_through():
    td = TimeDistributed(Dense(2))
    td.build((3, 4))
    mask = np.array([[True, True, False]])
    y = td.forward(np.ones((1, 3, 4), np.float32), mask=mask)
    assert y.shape == (1, 3, 2)
    assert td.compute_mask(None, mask) is mask
    with pytest.raises(ValueError, match="mask"):
        td.forward(np.ones((1, 3, 4), np.float32), mask=np.ones((1, 2), bool))


def test_time_distributed_config_roundtrip():
    td = TimeDistributed(Dense(3, activation="relu", name="inner"), name="td")
    td.build((5, 2))
    cfg = td.get_config()
    assert cfg["name"] == "td"
    assert cfg["layer"] == {"class_name": "Dense", "config": td.layer.get_config()}
    clone = TimeDistributed.from_config(cfg)
    assert isinstance(clone.layer, Dense) and clone.layer.name == "inner"
    assert clone.layer.activation.name == "relu" and clone.name == "td"
    clone.build((5, 2))
    clone.set_weights(td.get_weights())
    x = np.ones((1, 5, 2), np.float32)
    np.testing.assert_array_equal(clone.forward(x), td.forward(x))


def test_time_distributed_errors():
    with pytest.raises(ValueError, match="Layer"):
        TimeDistributed("dense")
    with pytest.raises(ValueError, match="at least 3 dimensions"):
        TimeDistributed(Dense(2)).build((4,))
    with pytest.raises(ValueError, match="return_state"):
        TimeDistributed(LSTM(2, return_state=True))
    with pytest.raises(ValueError, match="dtype"):
        TimeDistributed(Dense(2, dtype="float64"), dtype="float32")
    with pytest.raises(RuntimeError, match="forward pass first"):
        TimeDistributed(Dense(2)).backward(np.zeros((1, 2, 2)))


def test_time_distributed_in_sequential(rng):
    model = Sequential([LSTM(4, return_sequences=True), TimeDistributed(Dense(1))])
    x = rng.normal(size=(8, 5, 3)).astype(np.float32)
    y = rng.normal(size=(8, 5, 1)).astype(np.float32)
    model.compile("rmsprop", "mse")
    model.build((5, 3))
    before = model.layers[1].layer.kernel.copy()
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert not np.array_equal(before, model.layers[1].layer.kernel)
    assert model.predict(x, verbose=0).shape == (8, 5, 1)


# ------------------------------------------------------------ Bidirectional
def _pair(bi, rng):
    """Two independent inner layers with the wrapper's weights: f on x, b on reversed x."""
    cfg = bi.forward_layer.get_config()
    cfg.pop("name")
    f = type(bi.forward_layer)(**{**cfg, "go_backwards": False})
    b = type(bi.forward_layer)(**{**cfg, "go_backwards": False})
    shape = bi.input_shape
    f.build(shape)
    b.build(shape)
    f.set_weights(bi.forward_layer.get_weights())
    b.set_weights(bi.backward_layer.get_weights())
    return f, b


def _by_hand(bi, f, b, x, dy, mask=None):
    """Forward and backward of Bidirectional done with the two independent layers."""
    rs, mode = bi.return_sequences, bi.merge_mode
    kw_f = {} if mask is None else {"mask": mask}
    kw_b = {} if mask is None else {"mask": mask[:, ::-1]}
    yf = f.forward(x, training=True, **kw_f)
    yb = b.forward(np.ascontiguousarray(x[:, ::-1]), training=True, **kw_b)
    if rs:
        yb = yb[:, ::-1]
        if mask is not None:
            yf, yb = yf * mask[..., None], yb * mask[..., None]
    out = {"concat": lambda: np.concatenate([yf, yb], -1), "sum": lambda: yf + yb,
           "ave": lambda: (yf + yb) / 2, "mul": lambda: yf * yb,
           None: lambda: [yf, yb]}[mode]()
    if mode is None:
        dyf, dyb = dy
    elif mode == "concat":
        dyf, dyb = dy[..., :yf.shape[-1]], dy[..., yf.shape[-1]:]
    elif mode == "sum":
        dyf = dyb = dy
    elif mode == "ave":
        dyf = dyb = dy / 2
    else:
        dyf, dyb = dy * yb, dy * yf
    if rs and mask is not None:
        dyf, dyb = dyf * mask[..., None], dyb * mask[..., None]
    if rs:
        dyb = dyb[:, ::-1]
    dx = f.backward(np.ascontiguousarray(dyf)) \
        + b.backward(np.ascontiguousarray(dyb))[:, ::-1]
    return out, dx, [g.copy() for g in f.grads] + [g.copy() for g in b.grads]


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("merge_mode", MERGE_MODES)
@pytest.mark.parametrize("return_sequences", [True, False])
def test_bidirectional_matches_two_layers_by_hand(cell, merge_mode, return_sequences, rng):
    bi = Bidirectional(CELLS[cell](return_sequences=return_sequences, dtype="float64"),
                       merge_mode=merge_mode)
    T, I = 6, 3
    bi.build((T, I))
    _randomize(bi, rng)
    f, b = _pair(bi, rng)
    x = rng.normal(size=(5, T, I))
    y = bi.forward(x, training=True)
    dy = _rand_like(rng, y)
    dx = bi.backward(dy)
    y_ref, dx_ref, grads_ref = _by_hand(bi, f, b, x, dy)
    if merge_mode is None:
        assert isinstance(y, list) and len(y) == 2
        for a, r in zip(y, y_ref):
            np.testing.assert_allclose(a, r, rtol=1e-12, atol=1e-14)
    else:
        np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-10, atol=1e-13)
    assert len(bi.grads) == len(grads_ref)
    for g, r in zip(bi.grads, grads_ref):
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-13)
    expected_shape = bi.compute_output_shape((T, I))
    if merge_mode is None:
        assert tuple(y[0].shape[1:]) == expected_shape[0]
    else:
        assert tuple(y.shape[1:]) == expected_shape


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
@pytest.mark.parametrize("merge_mode", ["concat", "mul"])
def test_bidirectional_gradients_by_finite_differences(cell, merge_mode, rng):
    bi = Bidirectional(CELLS[cell](return_sequences=True, dtype="float64"),
                       merge_mode=merge_mode)
    bi.build((4, 2))
    _randomize(bi, rng)
    x = rng.normal(size=(2, 4, 2))
    y = bi.forward(x, training=True)
    r = rng.normal(size=y.shape)
    dx = bi.backward(r)
    grads = [g.copy() for g in bi.grads]

    def loss():
        return float(np.sum(r * bi.forward(x)))

    np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=1e-6, atol=1e-9)
    for w, g in zip(bi.weights, grads):
        np.testing.assert_allclose(g, numeric_grad(loss, w), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", None])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_bidirectional_with_mask_matches_by_hand(cell, merge_mode, return_sequences, rng):
    bi = Bidirectional(CELLS[cell](return_sequences=return_sequences, dtype="float64"),
                       merge_mode=merge_mode)
    T = 6
    bi.build((T, 3))
    _randomize(bi, rng)
    f, b = _pair(bi, rng)
    x = rng.normal(size=(4, T, 3))
    mask = np.ones((4, T), bool)
    mask[0, 4:] = False   # post-padding
    mask[1, :2] = False   # pre-padding
    mask[2, 3] = False    # a hole
    y = bi.forward(x, training=True, mask=mask)
    dy = _rand_like(rng, y)
    dx = bi.backward(dy)
    y_ref, dx_ref, grads_ref = _by_hand(bi, f, b, x, dy, mask=mask)
    for a, r in zip(y if merge_mode is None else [y], y_ref if merge_mode is None else [y_ref]):
        np.testing.assert_allclose(a, r, rtol=1e-12, atol=1e-14)
        if return_sequences:
            assert np.all(a[~mask] == 0)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-10, atol=1e-13)
    for g, r in zip(bi.grads, grads_ref):
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-13)
    assert np.all(dx[~mask] == 0)
    out_mask = bi.compute_mask(x, mask)
    assert (out_mask is mask) if return_sequences else (out_mask is None)


def test_bidirectional_masked_input_gradient_by_finite_differences(rng):
    bi = Bidirectional(LSTM(3, return_sequences=True, dtype="float64"))
    bi.build((5, 2))
    _randomize(bi, rng)
    x = rng.normal(size=(2, 5, 2))
    mask = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 1]], bool)
    y = bi.forward(x, training=True, mask=mask)
    r = rng.normal(size=y.shape)
    dx = bi.backward(r)
    grads = [g.copy() for g in bi.grads]

    def loss():
        return float(np.sum(r * bi.forward(x, mask=mask)))

    np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=1e-6, atol=1e-9)
    for w, g in zip(bi.weights, grads):
        np.testing.assert_allclose(g, numeric_grad(loss, w), rtol=1e-6, atol=1e-9)


def test_bidirectional_names_weights_and_grads_are_the_inner_arrays():
    inner = LSTM(3, name="enc")
    bi = Bidirectional(inner)
    assert bi.forward_layer is not inner and bi.backward_layer is not inner
    assert bi.forward_layer.name == "forward_enc" and bi.backward_layer.name == "backward_enc"
    assert not bi.forward_layer.go_backwards and bi.backward_layer.go_backwards
    bi.build((7, 2))
    fwd, bwd = bi.forward_layer, bi.backward_layer
    assert len(bi.weights) == 6
    for mine, theirs in zip(bi.weights, fwd.weights + bwd.weights):
        assert mine is theirs
    for mine, theirs in zip(bi.grads, fwd.grads + bwd.grads):
        assert mine is theirs
    assert [w.shape for w in bi.weights] == [(2, 12), (3, 12), (12,)] * 2
    assert bi.count_params() == 2 * (2 * 12 + 3 * 12 + 12)
    assert bi.output_shape == (6,)
    assert bi._weight_names[0] == "forward_enc/kernel"
    assert bi._weight_names[3] == "backward_enc/kernel"
    # not the same initial values: two fresh layers
    assert not np.array_equal(fwd.kernel, bwd.kernel)
    new = [np.full(w.shape, i, np.float32) for i, w in enumerate(bi.weights)]
    bi.set_weights(new)
    np.testing.assert_array_equal(bwd.kernel, 3)
    assert bi.get_weights()[5][0] == 5
    # prefixes are not doubled
    assert Bidirectional(LSTM(2, name="forward_x")).forward_layer.name == "forward_x"
    assert Bidirectional(LSTM(2, name="backward_x")).backward_layer.name == "backward_x"


def test_bidirectional_go_backwards_layer_is_toggled():
    bi = Bidirectional(GRU(2, go_backwards=True))
    assert bi.forward_layer.go_backwards and not bi.backward_layer.go_backwards


def test_bidirectional_output_shapes():
    for mode, rs, shape in [("concat", True, (5, 6)), ("concat", False, (6,)),
                            ("sum", True, (5, 3)), ("ave", False, (3,)),
                            (None, True, ((5, 3), (5, 3))), (None, False, ((3,), (3,)))]:
        bi = Bidirectional(SimpleRNN(3, return_sequences=rs), merge_mode=mode)
        bi.build((5, 2))
        assert bi.output_shape == shape, (mode, rs)


@pytest.mark.parametrize("merge_mode", ["concat", None])
def test_bidirectional_return_state(merge_mode, rng):
    bi = Bidirectional(LSTM(3, return_sequences=True, return_state=True, dtype="float64"),
                       merge_mode=merge_mode)
    bi.build((4, 2))
    _randomize(bi, rng)
    x = rng.normal(size=(2, 4, 2))
    h0 = [rng.normal(size=(2, 3)) for _ in range(4)]
    out = bi.forward(x, training=True, initial_state=h0)
    n_out = 2 if merge_mode is None else 1
    assert len(out) == n_out + 4
    f, b = _pair(bi, rng)
    for layer in (f, b):
        layer.return_state = True
    yf, hf, cf = f.forward(x, initial_state=h0[:2])
    yb, hb, cb = b.forward(np.ascontiguousarray(x[:, ::-1]), initial_state=h0[2:])
    for got, want in zip(out[n_out:], [hf, cf, hb, cb]):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    # gradients through the states, checked by finite differences
    rs = [rng.normal(size=a.shape) for a in out]
    dx = bi.backward(rs)
    grads = [g.copy() for g in bi.grads]
    state_grads = [g.copy() for g in bi.state_grads]

    def loss():
        return _dot(rs, bi.forward(x, initial_state=h0))

    np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=1e-6, atol=1e-9)
    for w, g in zip(bi.weights, grads):
        np.testing.assert_allclose(g, numeric_grad(loss, w), rtol=1e-6, atol=1e-9)
    for s, g in zip(h0, state_grads):
        np.testing.assert_allclose(g, numeric_grad(loss, s), rtol=1e-6, atol=1e-9)


def test_bidirectional_config_roundtrip(rng):
    bi = Bidirectional(GRU(3, return_sequences=True, reset_after=False, name="g"),
                       merge_mode="ave", name="bi")
    bi.build((4, 2))
    cfg = bi.get_config()
    assert cfg["merge_mode"] == "ave" and cfg["name"] == "bi"
    assert cfg["layer"]["class_name"] == "GRU"
    assert cfg["layer"]["config"]["name"] == "forward_g"
    assert cfg["backward_layer"]["config"]["name"] == "backward_g"
    assert cfg["backward_layer"]["config"]["go_backwards"] is True
    clone = Bidirectional.from_config(cfg)
    assert clone.name == "bi" and clone.merge_mode == "ave"
    assert clone.forward_layer.name == "forward_g" and clone.backward_layer.name == "backward_g"
    assert clone.backward_layer.go_backwards and not clone.forward_layer.reset_after
    clone.build((4, 2))
    clone.set_weights(bi.get_weights())
    x = rng.normal(size=(2, 4, 2)).astype(np.float32)
    np.testing.assert_array_equal(clone.forward(x), bi.forward(x))
    assert isinstance(deserialize_layer(serialize_layer(bi)), Bidirectional)


def test_bidirectional_custom_backward_layer(rng):
    fwd = LSTM(3, return_sequences=True, dtype="float64")
    bwd = LSTM(3, activation="relu", return_sequences=True, go_backwards=True,
               dtype="float64", name="mine")
    bi = Bidirectional(fwd, backward_layer=bwd)
    assert bi.backward_layer is bwd
    bi.build((4, 2))
    assert bi.weights[3] is bwd.kernel
    x = rng.normal(size=(2, 4, 2))
    np.testing.assert_allclose(bi.forward(x)[..., 3:], bwd.forward(x)[:, ::-1], rtol=1e-12)
    with pytest.raises(ValueError, match="go_backwards"):
        Bidirectional(LSTM(3), backward_layer=LSTM(3))
    with pytest.raises(ValueError, match="return_sequences"):
        Bidirectional(LSTM(3), backward_layer=LSTM(3, go_backwards=True,
                                                   return_sequences=True))


def test_bidirectional_initial_weights_argument(rng):
    probe = Bidirectional(SimpleRNN(2))
    probe.build((3, 4))
    weights = [rng.normal(size=w.shape) for w in probe.weights]
    bi = Bidirectional(SimpleRNN(2), weights=weights)
    bi.build((3, 4))
    for got, want in zip(bi.get_weights(), weights):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_bidirectional_errors():
    with pytest.raises(ValueError, match="Invalid merge mode"):
        Bidirectional(LSTM(2), merge_mode="max")
    with pytest.raises(ValueError, match="Layer"):
        Bidirectional("lstm")
    with pytest.raises(ValueError, match="recurrent layer"):
        Bidirectional(Dense(2))
    with pytest.raises(ValueError, match="backward_layer"):
        Bidirectional(LSTM(2), backward_layer="x")
    bi = Bidirectional(LSTM(2))
    bi.build((3, 2))
    with pytest.raises(RuntimeError, match="forward pass first"):
        bi.backward(np.zeros((1, 4)))
    with pytest.raises(ValueError, match="mask"):
        bi.forward(np.zeros((1, 3, 2), np.float32), mask=np.ones((1, 4), bool))


def test_bidirectional_trainable_and_dtype():
    bi = Bidirectional(LSTM(2, dtype="float64"), trainable=False)
    assert bi.dtype == np.float64
    assert not bi.forward_layer.trainable and not bi.backward_layer.trainable
    bi.trainable = True
    assert bi.forward_layer.trainable and bi.backward_layer.trainable
    assert not Bidirectional(LSTM(2, trainable=False)).trainable
    with pytest.raises(ValueError, match="dtype"):
        Bidirectional(LSTM(2), dtype="float64")


def test_bidirectional_input_shape_from_inner_layer():
    model = Sequential([Bidirectional(LSTM(4, input_shape=(5, 3))), Dense(1)])
    assert model.built and model.output_shape == (None, 1)


@pytest.mark.parametrize("cell", ["simple_rnn", "lstm", "gru"])
def test_bidirectional_in_sequential_trains(cell, rng):
    fastrnn.config.set_floatx("float64")
    bi1 = Bidirectional(CELLS[cell](return_sequences=True), merge_mode="sum")
    bi2 = Bidirectional(CELLS[cell]())
    model = Sequential([fastrnn.Input(shape=(6, 3)), bi1, bi2, Dense(1)])
    assert model.output_shape == (None, 1)
    assert len(model.weights) == len(bi1.weights) + len(bi2.weights) + 2
    x = rng.normal(size=(16, 6, 3))
    y = rng.normal(size=(16, 1))
    model.compile("adam", "mse")
    before = [w.copy() for w in model.weights]
    loss0 = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.weights))
    assert model.evaluate(x, y, verbose=0) < loss0


def test_bidirectional_after_embedding_with_mask_in_sequential(rng):
    fastrnn.config.set_floatx("float64")
    emb = Embedding(12, 3, mask_zero=True)
    bi = Bidirectional(GRU(4))
    dense = Dense(1)
    model = Sequential([emb, bi, dense])
    model.build((7,))
    ids = rng.integers(1, 12, size=(6, 7))
    ids[:, 5:] = 0
    out = model.predict(ids, verbose=0)
    # padding at the end changes nothing, in either direction
    short = dense.forward(bi.forward(emb.forward(ids[:, :5])))
    np.testing.assert_allclose(out, short, rtol=1e-10)
    model.compile("rmsprop", "mse")
    model.fit(ids, rng.normal(size=(6, 1)), epochs=1, verbose=0)


class _Echo(Layer):
    """A custom recurrent-like layer (identity over time) for the plumbing."""

    accepts_mask = True

    def __init__(self, return_sequences=True, return_state=False, go_backwards=False,
                 **kwargs):
        super().__init__(**kwargs)
        self.return_sequences, self.return_state = return_sequences, return_state
        self.go_backwards = go_backwards
        self.seen_mask = None

    def forward(self, x, training=False, initial_state=None, mask=None):
        self.seen_mask = mask
        return x[:, ::-1] if self.go_backwards else x

    def backward(self, dy):
        return dy[:, ::-1] if self.go_backwards else dy

    def get_config(self):
        cfg = super().get_config()
        cfg.update(return_sequences=self.return_sequences, return_state=self.return_state,
                   go_backwards=self.go_backwards)
        return cfg


def test_bidirectional_custom_layer_gets_the_mask_in_original_order(rng):
    bi = Bidirectional(_Echo(dtype="float64"), merge_mode="concat")
    bi.build((3, 2))
    x = rng.normal(size=(1, 3, 2))
    mask = np.array([[True, True, False]])
    y = bi.forward(x, mask=mask)
    np.testing.assert_array_equal(bi.forward_layer.seen_mask, mask)
    np.testing.assert_array_equal(bi.backward_layer.seen_mask, mask)
    np.testing.assert_array_equal(y, np.concatenate([x, x], -1) * mask[..., None])
    cfg = bi.get_config()
    clone = Bidirectional.from_config(cfg, custom_objects={"_Echo": _Echo})
    assert isinstance(clone.backward_layer, _Echo) and clone.backward_layer.go_backwards
    with custom_object_scope({"_Echo": _Echo}):
        assert isinstance(deserialize_layer(serialize_layer(bi)).forward_layer, _Echo)
    with pytest.raises(ValueError, match="(?i)unknown layer class"):
        Bidirectional.from_config(cfg)


def test_bidirectional_stateful_reset_states(rng):
    bi = Bidirectional(LSTM(2, stateful=True, dtype="float64"))
    bi.build((3, 2))
    x = rng.normal(size=(1, 3, 2))
    first = bi.forward(x)
    assert not np.allclose(bi.forward(x), first)  # the states carry over
    bi.reset_states()
    np.testing.assert_allclose(bi.forward(x), first, rtol=1e-14)
    with pytest.raises(AttributeError, match="stateful"):
        Bidirectional(LSTM(2)).reset_states()


def test_bidirectional_inner_dropout_gradients(rng):
    bi = Bidirectional(GRU(3, dropout=0.4, seed=2, dtype="float64"), merge_mode="ave")
    bi.build((4, 2))
    x = rng.normal(size=(3, 4, 2))
    y = bi.forward(x, training=True)
    dx = bi.backward(np.ones_like(y))
    assert dx.shape == x.shape and np.all(np.isfinite(dx))
    np.testing.assert_array_equal(bi.forward(x), bi.forward(x))  # inference: no dropout


def test_model_with_every_new_layer_saves_and_loads(rng, tmp_path):
    model = Sequential([Embedding(10, 3, mask_zero=True),
                        Bidirectional(LSTM(4, return_sequences=True)), Dropout(0.1),
                        TimeDistributed(Dense(2)), fastrnn.layers.Masking(),
                        fastrnn.layers.Flatten(), fastrnn.layers.Activation("tanh"), Dense(1)])
    model.compile("adam", "mse")
    x = rng.integers(0, 10, size=(8, 5))
    x[:, 4] = 0
    model.fit(x, rng.normal(size=(8, 1)), epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = fastrnn.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    bi = loaded.layers[1]
    assert bi.forward_layer.name == "forward_" + model.layers[1].forward_layer.name[8:]
    assert bi.backward_layer.go_backwards and loaded.layers[0].mask_zero
