"""Model files (fastrnn.saving): format, round trips, resumed training, atomic writes,
and hostile or damaged files (every problem is a ValueError, nothing is executed)."""
import inspect
import io
import json
import os
import pathlib
import pickle
import stat
import zipfile

import numpy as np
import pytest

import fastrnn
from fastrnn import layers, optimizers, saving
from fastrnn.layers import GRU, LSTM, Dense, Input, SimpleRNN
from fastrnn.layers.base import Layer
from fastrnn.models import Sequential, load_model

T, I = 5, 3


# ------------------------------------------------------------------- helpers
def data(rng, n=24, dtype=np.float32):
    x = rng.normal(size=(n, T, I)).astype(dtype)
    y = np.stack([np.tanh(x.sum(axis=(1, 2))), x[:, -1, 0]], axis=1).astype(dtype)
    return x, y


def stacked_model(optimizer="rmsprop", metrics=("mae",), reset_after=True, compile=True):
    model = Sequential([Input(shape=(T, I)), LSTM(6, return_sequences=True),
                        GRU(5, return_sequences=True, reset_after=reset_after),
                        SimpleRNN(4, activation="relu"), Dense(2, activation="tanh")])
    if compile:
        model.compile(optimizer=optimizer, loss="mse", metrics=list(metrics))
    return model


def members_of(path):
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def write_members(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, content in members.items():
            zf.writestr(name, content)


def rewrite(path, out=None, **changes):
    """Copy the archive at ``path`` to ``out`` (default: in place) with members replaced
    (bytes, or a JSON-able object for .json names) or removed (None)."""
    members = members_of(path)
    for key, value in changes.items():
        name = key.replace("__", ".")
        if value is None:
            members.pop(name, None)
        elif isinstance(value, bytes):
            members[name] = value
        else:
            members[name] = json.dumps(value).encode()
    write_members(out or path, members)
    return out or path


def read_json(path, name):
    return json.loads(members_of(path)[name])


def npz_bytes(**arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)          # allow_pickle is on by default when *writing*
    return buf.getvalue()


def npz_arrays(blob):
    with np.load(io.BytesIO(blob), allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def assert_same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb)
    for x, y in zip(wa, wb):
        assert x.dtype == y.dtype and x.shape == y.shape
        assert np.array_equal(x, y)


@pytest.fixture
def saved(tmp_path, rng):
    """A trained, compiled model and the path of its saved file."""
    x, y = data(rng)
    model = stacked_model(optimizer="adam")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, shuffle=False)
    path = tmp_path / "model.keras"
    model.save(path)
    return model, str(path), x, y


# -------------------------------------------------------------- file format
def test_archive_layout(saved):
    model, path, _, _ = saved
    members = members_of(path)
    assert set(members) == {"metadata.json", "config.json", "weights.npz", "optimizer.npz"}
    meta = json.loads(members["metadata.json"])
    assert meta["format"] == "fastrnn" and meta["format_version"] == saving.FORMAT_VERSION == 1
    assert meta["kind"] == "model" and meta["fastrnn_version"] == fastrnn.__version__
    assert meta["date_saved"] and meta["input_shape"] == [T, I]
    assert [e["class_name"] for e in meta["layers"]] == ["LSTM", "GRU", "SimpleRNN", "Dense"]
    assert meta["layers"][0]["weights"][1] == {"name": "recurrent_kernel", "shape": [6, 24],
                                               "dtype": "float32"}
    cfg = json.loads(members["config.json"])
    assert cfg["class_name"] == "Sequential"
    assert cfg["config"] == json.loads(json.dumps(model.get_config()))
    assert cfg["config"]["input_shape"] == [T, I]
    assert [e["class_name"] for e in cfg["config"]["layers"]] == \
        ["LSTM", "GRU", "SimpleRNN", "Dense"]
    cc = cfg["compile_config"]
    assert cc["optimizer"]["class_name"] == "Adam"
    assert cc["optimizer"]["config"] == model.optimizer.get_config()
    assert cc["loss"] == {"class_name": "MeanSquaredError",
                          "config": {"name": "mean_squared_error",
                                     "reduction": "sum_over_batch_size"}}
    assert cc["metrics"] == ["mae"]
    weights = npz_arrays(members["weights.npz"])
    assert len(weights) == len(model.weights)
    for i, layer in enumerate(model.layers):
        for j, w in enumerate(layer.weights):
            assert np.array_equal(weights[f"layer_{i}_weight_{j}"], w)
    state = npz_arrays(members["optimizer.npz"])
    expected = model.optimizer.get_state()
    assert state.keys() == expected.keys() and int(state["iterations"]) == 6
    for k in state:
        assert np.array_equal(state[k], expected[k])


def test_save_load_predictions_identical_and_compiled(saved):
    model, path, x, y = saved
    loaded = load_model(path)
    assert isinstance(loaded, Sequential) and loaded.name == model.name
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    assert loaded.get_config() == model.get_config()
    assert_same_weights(model, loaded)
    assert np.array_equal(loaded.predict(x), model.predict(x))
    assert loaded.compiled and type(loaded.optimizer) is optimizers.Adam
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.loss.get_config() == model.loss.get_config()
    assert loaded.evaluate(x, y, return_dict=True) == model.evaluate(x, y, return_dict=True)


def test_fastrnn_models_load_model_forwards(saved):
    _, path, x, _ = saved
    assert np.array_equal(fastrnn.models.load_model(path, compile=False).predict(x),
                          saved[0].predict(x))


@pytest.mark.parametrize("optimizer", [
    optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
    optimizers.RMSprop(learning_rate=0.01, momentum=0.5, centered=True),
    optimizers.Adam(learning_rate=0.01, amsgrad=True),
    optimizers.Adagrad(learning_rate=0.05),
    optimizers.SGD(learning_rate=0.05, clipnorm=0.5),
], ids=["sgd-nesterov", "rmsprop-centered", "adam-amsgrad", "adagrad", "sgd-plain"])
def test_training_resumes_bit_identically(tmp_path, rng, optimizer):
    """fit; save; fit more  ==  fit; save; load; fit more  (every bit of every weight)."""
    x, y = data(rng, n=30)
    model = stacked_model(optimizer=optimizer)
    model.fit(x, y, epochs=3, batch_size=7, verbose=0, shuffle=False)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = load_model(path)
    assert loaded.optimizer.iterations == model.optimizer.iterations == 15
    h1 = model.fit(x, y, epochs=3, batch_size=7, verbose=0, shuffle=False)
    h2 = loaded.fit(x, y, epochs=3, batch_size=7, verbose=0, shuffle=False)
    assert_same_weights(model, loaded)
    assert h1.history == h2.history
    s1, s2 = model.optimizer.get_state(), loaded.optimizer.get_state()
    assert s1.keys() == s2.keys()
    for key in s1:
        assert np.array_equal(s1[key], s2[key]), key


def test_resume_matters(tmp_path, rng):
    """Without the optimizer state (compile=False, then a fresh compile) training
    diverges from the uninterrupted run: the state really is what the test above checks."""
    x, y = data(rng)
    model = stacked_model(optimizer="adam")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, shuffle=False)
    model.save(tmp_path / "m.keras")
    fresh = load_model(tmp_path / "m.keras", compile=False)
    assert not fresh.compiled and fresh.optimizer is None
    fresh.compile(optimizer="adam", loss="mse", metrics=["mae"])
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    fresh.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    assert not all(np.array_equal(a, b) for a, b in zip(model.get_weights(),
                                                         fresh.get_weights()))


def test_compiled_but_never_trained(tmp_path, rng):
    x, y = data(rng)
    model = stacked_model(optimizer="adam")
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert loaded.optimizer.iterations == 0
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    loaded.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    assert_same_weights(model, loaded)


def test_uncompiled_model(tmp_path, rng):
    x, _ = data(rng)
    model = stacked_model(compile=False)
    model.save(tmp_path / "m.keras")
    assert "optimizer.npz" not in members_of(tmp_path / "m.keras")
    assert read_json(tmp_path / "m.keras", "config.json")["compile_config"] is None
    loaded = load_model(tmp_path / "m.keras")
    assert not loaded.compiled
    assert np.array_equal(loaded.predict(x), model.predict(x))


def test_float64_model(tmp_path, rng):
    fastrnn.config.set_floatx("float64")
    x, y = data(rng, dtype=np.float64)
    model = stacked_model(optimizer="sgd", reset_after=False)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "m.keras")
    fastrnn.config.set_floatx("float32")
    loaded = load_model(tmp_path / "m.keras")
    assert loaded.dtype == np.float64
    assert all(w.dtype == np.float64 for w in loaded.weights)
    assert np.array_equal(loaded.predict(x), model.predict(x))


def test_unbuilt_model_round_trip(tmp_path, rng):
    model = Sequential([SimpleRNN(4), Dense(1)], name="lazy")
    model.compile(optimizer="sgd", loss="mae")
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert not loaded.built and loaded.name == "lazy" and loaded.loss.name == \
        "mean_absolute_error"
    x, y = data(rng)
    loaded.fit(x, y[:, :1], epochs=1, verbose=0)
    assert loaded.built and loaded.layers[0].kernel.shape == (I, 4)


def test_model_built_from_data_keeps_its_input_shape(tmp_path, rng):
    x, y = data(rng)
    model = Sequential([GRU(3), Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert loaded.built and np.array_equal(loaded.predict(x), model.predict(x))


def test_variable_length_input(tmp_path, rng):
    model = Sequential([Input(shape=(None, I)), LSTM(3), Dense(1)])
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    for steps in (2, 7):
        x = rng.normal(size=(3, steps, I)).astype(np.float32)
        assert np.array_equal(loaded.predict(x), model.predict(x))


def test_pathlike_and_str_paths(tmp_path, rng):
    model = stacked_model()
    model.save(str(tmp_path / "a.keras"))
    model.save(tmp_path / "b.keras")
    assert members_of(tmp_path / "a.keras")["weights.npz"] == \
        members_of(tmp_path / "b.keras")["weights.npz"]


# ------------------------------------------------------------ file names
@pytest.mark.parametrize("name", ["m.h5", "m", "m.keras.tmp", "m.zip", "m.weights.h5"])
def test_save_requires_keras_extension(tmp_path, name):
    with pytest.raises(ValueError, match=r"\.keras"):
        stacked_model().save(tmp_path / name)
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("name", ["w.h5", "w.keras", "w.npz", "w.weights"])
def test_save_weights_requires_weights_extension(tmp_path, name):
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        stacked_model().save_weights(tmp_path / name)
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("name", ["m.h5", "m.zip", "m"])
def test_load_model_requires_keras_extension(tmp_path, name):
    with pytest.raises(ValueError):
        load_model(tmp_path / name)


def test_save_weights_docstring_says_not_hdf5():
    assert "not HDF5" in saving.save_weights.__doc__


# -------------------------------------------------------------- overwriting
def test_overwrite_false_refuses_and_keeps_the_file(tmp_path):
    path = tmp_path / "m.keras"
    stacked_model().save(path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=False"):
        stacked_model().save(path, overwrite=False)
    with pytest.raises(ValueError):          # also a ValueError
        stacked_model().save(path, overwrite=False)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.keras"]
    wpath = tmp_path / "w.weights.h5"
    stacked_model().save_weights(wpath)
    wbefore = wpath.read_bytes()
    with pytest.raises(FileExistsError):
        stacked_model().save_weights(wpath, overwrite=False)
    assert wpath.read_bytes() == wbefore


def test_overwrite_false_on_a_new_file_and_overwrite_true(tmp_path, rng):
    path = tmp_path / "m.keras"
    a, b = stacked_model(), stacked_model()
    a.save(path, overwrite=False)
    b.save(path)
    assert_same_weights(load_model(path), b)
    assert os.listdir(tmp_path) == ["m.keras"]


class Boom(RuntimeError):
    pass


@pytest.mark.parametrize("exc", [Boom, KeyboardInterrupt])
def test_crash_mid_save_keeps_the_previous_file(tmp_path, monkeypatch, exc):
    path = tmp_path / "m.keras"
    old = stacked_model()
    old.save(path)
    before = path.read_bytes()
    real = saving._write_npz

    def crash(zf, member, arrays):
        real(zf, member, arrays)             # half of the archive is on disk ...
        raise exc("disk full")                # ... then the save dies
    monkeypatch.setattr(saving, "_write_npz", crash)
    with pytest.raises(exc):
        stacked_model().save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.keras"]   # no temporary file left behind
    monkeypatch.undo()
    assert_same_weights(load_model(path), old)


def test_crash_mid_save_to_a_new_file_leaves_nothing(tmp_path, monkeypatch):
    def crash(zf, member, arrays):
        raise Boom("no")
    monkeypatch.setattr(saving, "_write_npz", crash)
    with pytest.raises(Boom):
        stacked_model().save(tmp_path / "m.keras")
    with pytest.raises(Boom):
        stacked_model().save_weights(tmp_path / "w.weights.h5")
    assert os.listdir(tmp_path) == []


def test_unserializable_config_fails_before_touching_the_file(tmp_path, monkeypatch):
    path = tmp_path / "m.keras"
    model = stacked_model()
    model.save(path)
    before = path.read_bytes()
    monkeypatch.setattr(Dense, "get_config", lambda self: {"units": object()})
    with pytest.raises(ValueError, match="JSON"):
        model.save(path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.keras"]


def test_save_through_a_symlink_keeps_the_link(tmp_path):
    target = tmp_path / "real.keras"
    link = tmp_path / "link.keras"
    stacked_model().save(target)
    link.symlink_to(target)
    model = stacked_model()
    model.save(link)
    assert link.is_symlink()
    assert_same_weights(load_model(target), model)


def test_new_file_permissions_follow_umask(tmp_path):
    old = os.umask(0o022)
    try:
        stacked_model().save(tmp_path / "m.keras")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "m.keras").st_mode) == 0o644


def test_existing_file_permissions_are_kept(tmp_path):
    path = tmp_path / "m.keras"
    stacked_model().save(path)
    os.chmod(path, 0o600)
    stacked_model().save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_save_into_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError):
        stacked_model().save(tmp_path / "nope" / "m.keras")


# ------------------------------------------------------------ damaged files
def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="File not found"):
        load_model(tmp_path / "missing.keras")
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.keras")
    with pytest.raises(ValueError, match="File not found"):
        stacked_model().load_weights(tmp_path / "missing.weights.h5")


def test_directory(tmp_path):
    (tmp_path / "d.keras").mkdir()
    with pytest.raises(ValueError, match="directory"):
        load_model(tmp_path / "d.keras")


@pytest.mark.parametrize("content", [b"", b"hello", bytes(range(256)) * 40,
                                     pickle.dumps({"a": 1}), b"PK\x03\x04garbage"])
def test_not_a_zip(tmp_path, content):
    path = tmp_path / "m.keras"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="zip"):
        load_model(path)


def test_random_bytes(tmp_path):
    gen = np.random.default_rng(0)
    path = tmp_path / "m.keras"
    for _ in range(20):
        path.write_bytes(gen.bytes(int(gen.integers(1, 5000))))
        with pytest.raises(ValueError):
            load_model(path)


def test_truncated_anywhere(saved, tmp_path):
    model, path, x, _ = saved
    blob = pathlib.Path(path).read_bytes()
    cut = tmp_path / "cut.keras"
    for n in range(0, len(blob), max(1, len(blob) // 300)):
        cut.write_bytes(blob[:n])
        with pytest.raises(ValueError):
            load_model(cut)


def test_single_byte_corruption_is_caught_or_harmless(tmp_path, rng):
    """Damage one byte of a (small) file at a time: loading either raises ValueError or
    gives back exactly the saved model (a flip in an unchecked field such as a date).
    No other exception type ever escapes, and corrupted weights never load silently.
    Every byte of the zip structures (local headers, central directory) is tried, and
    every third byte of the members' contents."""
    model = Sequential([Input(shape=(2, 2)), SimpleRNN(2), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x = rng.normal(size=(4, 2, 2)).astype(np.float32)
    model.fit(x, np.ones((4, 1), np.float32), epochs=1, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    blob = path.read_bytes()
    bad = tmp_path / "bad.keras"
    positions = set(range(0, len(blob), 3))
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        positions.update(range(zf.start_dir, len(blob)))
    for info in infos:
        positions.update(range(info.header_offset, info.header_offset + 120))
    positions = sorted(p for p in positions if p < len(blob))
    raised = 0
    for i in positions:
        damaged = bytearray(blob)
        damaged[i] ^= 0x5A
        bad.write_bytes(bytes(damaged))
        try:
            loaded = load_model(bad)
        except ValueError:
            raised += 1
            continue
        assert_same_weights(loaded, model)
        assert loaded.optimizer.get_state().keys() == model.optimizer.get_state().keys()
        for k, v in model.optimizer.get_state().items():
            assert np.array_equal(loaded.optimizer.get_state()[k], v), (i, k)
    assert raised > len(positions) // 2


# ------------------------------------------------------- hand-crafted files
_PWNED = []


def _pwn(*args):
    _PWNED.append(args)
    return 0


class Evil:
    """Unpickling this calls _pwn: loading must never unpickle."""

    def __reduce__(self):
        return (_pwn, ("executed",))


def layer_config_file(saved_path, out, mutate):
    cfg = read_json(saved_path, "config.json")
    mutate(cfg)
    return rewrite(saved_path, out, config__json=cfg)


@pytest.mark.parametrize("class_name", ["os.system", "system", "eval", "__builtins__",
                                        "Input", "Layer", "Sequential", "subprocess.Popen",
                                        "numpy.load", "fastrnn.layers.Dense", "", "dense"])
def test_unknown_or_non_layer_class_is_refused(saved, tmp_path, monkeypatch, class_name):
    calls = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a))
    _, path, _, _ = saved

    def mutate(cfg):
        cfg["config"]["layers"][1]["class_name"] = class_name
        cfg["config"]["layers"][1]["config"] = {"command": "touch /tmp/pwned"}
    bad = layer_config_file(path, str(tmp_path / "bad.keras"), mutate)
    with pytest.raises(ValueError, match="unknown layer class"):
        load_model(bad)
    assert calls == []


@pytest.mark.parametrize("entry", [None, "LSTM", ["LSTM"], {"config": {}},
                                   {"class_name": 3, "config": {}},
                                   {"class_name": "Dense", "config": [1]}])
def test_malformed_layer_entries(saved, tmp_path, entry):
    _, path, _, _ = saved
    bad = layer_config_file(path, str(tmp_path / "bad.keras"),
                            lambda cfg: cfg["config"]["layers"].__setitem__(0, entry))
    with pytest.raises(ValueError, match="layer 0"):
        load_model(bad)


@pytest.mark.parametrize("change, match", [
    ({"units": -3}, "units"),
    ({"units": "many"}, "units"),
    ({"units": 10 ** 12}, "dense.*memory"),
    ({"activation": "os.system"}, "activation"),
    ({"kernel_initializer": {"class_name": "os.system", "config": {}}}, "initializer"),
    ({"evil_kwarg": 1}, "evil_kwarg"),
    ({"dtype": "object"}, "dtype"),
    ({"kernel_regularizer": "l2"}, "kernel_regularizer"),
])
def test_bad_layer_arguments_are_value_errors(saved, tmp_path, change, match):
    _, path, _, _ = saved
    bad = layer_config_file(path, str(tmp_path / "bad.keras"),
                            lambda cfg: cfg["config"]["layers"][3]["config"].update(change))
    with pytest.raises(ValueError, match=match):
        load_model(bad)


@pytest.mark.parametrize("mutate, match", [
    (lambda cfg: cfg.update(class_name="Functional"), "Sequential"),
    (lambda cfg: cfg.update(class_name="os.system"), "Sequential"),
    (lambda cfg: cfg.update(config=[]), "dict"),
    (lambda cfg: cfg["config"].update(layers={"a": 1}), "layers"),
    (lambda cfg: cfg["config"].update(name=["x"]), "name"),
    (lambda cfg: cfg["config"].update(input_shape=[T, I + 1]), "shapes"),
    (lambda cfg: cfg["config"].update(input_shape="abc"), "input_shape"),
    (lambda cfg: cfg["config"].update(input_shape=[-1, 3]), "input_shape"),
    (lambda cfg: cfg["config"]["layers"].pop(), "Layer count|shapes"),
    (lambda cfg: cfg["config"]["layers"][3]["config"].update(units=3), "shapes"),
    (lambda cfg: cfg["compile_config"].update(
        optimizer={"class_name": "os.system", "config": {}}), "optimizer"),
    (lambda cfg: cfg["compile_config"].update(optimizer=42), "optimizer"),
    (lambda cfg: cfg["compile_config"]["optimizer"]["config"].update(evil=1), "evil"),
    (lambda cfg: cfg["compile_config"].update(
        loss={"class_name": "os.system", "config": {}}), "loss"),
    (lambda cfg: cfg["compile_config"].update(loss="rm -rf"), "loss"),
    (lambda cfg: cfg["compile_config"].update(metrics=["os.system"]), "metric"),
    (lambda cfg: cfg["compile_config"].update(metrics="mae"), "metrics"),
    (lambda cfg: cfg.update(compile_config=[1]), "compile_config"),
])
def test_bad_model_and_compile_configs(saved, tmp_path, mutate, match):
    _, path, _, _ = saved
    bad = layer_config_file(path, str(tmp_path / "bad.keras"), mutate)
    with pytest.raises(ValueError, match=match):
        load_model(bad)


def test_compile_false_ignores_the_compile_config(saved, tmp_path):
    _, path, x, _ = saved
    bad = layer_config_file(path, str(tmp_path / "bad.keras"),
                            lambda cfg: cfg["compile_config"].update(loss="nonsense"))
    with pytest.raises(ValueError):
        load_model(bad)
    assert np.array_equal(load_model(bad, compile=False).predict(x), saved[0].predict(x))


@pytest.mark.parametrize("member", ["metadata.json", "config.json", "weights.npz"])
def test_missing_member(saved, tmp_path, member):
    _, path, _, _ = saved
    bad = rewrite(path, str(tmp_path / "bad.keras"), **{member.replace(".", "__"): None})
    with pytest.raises(ValueError, match=member.replace(".", r"\.")):
        load_model(bad)


def test_missing_optimizer_state(saved, tmp_path):
    """A compiled model is always saved with its optimizer state: without it training
    could not resume exactly, so the file is damaged (compile=False still loads it)."""
    model, path, x, _ = saved
    bad = rewrite(path, str(tmp_path / "m.keras"), optimizer__npz=None)
    with pytest.raises(ValueError, match="optimizer.npz"):
        load_model(bad)
    assert np.array_equal(load_model(bad, compile=False).predict(x), model.predict(x))


@pytest.mark.parametrize("name", ["evil.py", "weights.npz.bak", "../config.json",
                                  "model.weights.json"])
def test_unexpected_member(saved, tmp_path, name):
    _, path, _, _ = saved
    members = members_of(path)
    members[name] = b"x"
    write_members(tmp_path / "bad.keras", members)
    with pytest.raises(ValueError, match="unexpected member"):
        load_model(tmp_path / "bad.keras")


def test_duplicate_member(saved, tmp_path):
    _, path, _, _ = saved
    bad = tmp_path / "bad.keras"
    members = members_of(path)
    with pytest.warns(UserWarning):
        with zipfile.ZipFile(bad, "w") as zf:
            for name, content in members.items():
                zf.writestr(name, content)
            zf.writestr("config.json", b"{}")
    with pytest.raises(ValueError, match="several members"):
        load_model(bad)


@pytest.mark.parametrize("meta_change, match", [
    ({"format_version": 2}, "newer fastrnn"),
    ({"format_version": 99, "fastrnn_version": "9.0"}, "Upgrade fastrnn"),
    ({"format_version": "1"}, "format_version"),
    ({"format_version": 0}, "format_version"),
    ({"format": "keras"}, "not a fastrnn file"),
    ({"kind": "weights"}, "load_weights"),
    ({"kind": "exe"}, "not a model"),
    ({"layers": None}, "manifest"),
    ({"layers": [{"class_name": "LSTM", "weights": [{"shape": [-1]}]}]}, "shape"),
])
def test_bad_metadata(saved, tmp_path, meta_change, match):
    _, path, _, _ = saved
    meta = read_json(path, "metadata.json")
    meta.update(meta_change)
    bad = rewrite(path, str(tmp_path / "bad.keras"), metadata__json=meta)
    with pytest.raises(ValueError, match=match):
        load_model(bad)


def test_keras_file_is_recognized(tmp_path):
    path = tmp_path / "k.keras"
    write_members(path, {"metadata.json": b'{"keras_version": "3.5.0"}',
                         "config.json": b"{}", "model.weights.h5": b"\x89HDF\r\n"})
    with pytest.raises(ValueError, match="Keras"):
        load_model(path)


@pytest.mark.parametrize("content", [b"not json", b"\xff\xfe\x00", b"[" * 100000,
                                     b'{"a": NaN' + b"}" * 3])
def test_bad_json(saved, tmp_path, content):
    _, path, _, _ = saved
    bad = rewrite(path, str(tmp_path / "bad.keras"), config__json=content)
    with pytest.raises(ValueError, match="config.json"):
        load_model(bad)


def test_json_size_limit(saved, tmp_path, monkeypatch):
    _, path, _, _ = saved
    monkeypatch.setattr(saving, "_MAX_JSON_BYTES", 200)
    with pytest.raises(ValueError, match="too large"):
        load_model(path)


def weights_of(path):
    return npz_arrays(members_of(path)["weights.npz"])


def with_weights(path, out, **arrays):
    return rewrite(path, out, weights__npz=npz_bytes(**arrays))


def test_object_array_in_weights_is_never_unpickled(saved, tmp_path):
    _, path, _, _ = saved
    arrays = weights_of(path)
    arrays["layer_3_weight_1"] = np.array([Evil(), Evil()], dtype=object)
    bad = with_weights(path, str(tmp_path / "bad.keras"), **arrays)
    with pytest.raises(ValueError, match="objects"):
        load_model(bad)
    assert _PWNED == []


def test_pickle_instead_of_npy_is_never_unpickled(saved, tmp_path):
    _, path, _, _ = saved
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        for key, value in weights_of(path).items():
            buf = io.BytesIO()
            np.save(buf, value)
            zf.writestr(key + ".npy", pickle.dumps(Evil()) if key == "layer_0_weight_0"
                        else buf.getvalue())
    bad = rewrite(path, str(tmp_path / "bad.keras"), weights__npz=inner.getvalue())
    with pytest.raises(ValueError, match="not a valid .npy"):
        load_model(bad)
    # the whole npz a pickle
    bad = rewrite(path, str(tmp_path / "bad2.keras"), weights__npz=pickle.dumps(Evil()))
    with pytest.raises(ValueError, match="npz"):
        load_model(bad)
    # an optimizer state pickle
    bad = rewrite(path, str(tmp_path / "bad3.keras"), optimizer__npz=npz_bytes(
        iterations=np.array(3), momentum_0=np.array([Evil()], dtype=object)))
    with pytest.raises(ValueError, match="objects"):
        load_model(bad)
    assert _PWNED == []


@pytest.mark.parametrize("replace, match", [
    (lambda a: a.update(layer_3_weight_0=np.zeros((4, 3), np.float32)), "shape"),
    (lambda a: a.update(layer_3_weight_0=np.zeros((2, 4), np.float32)), "shape"),
    (lambda a: a.update(layer_0_weight_1=np.zeros(10 ** 6, np.float32)), "more than"),
    (lambda a: a.update(layer_0_weight_1=np.zeros(6 * 24 + 1, np.float32)), "shape"),
    (lambda a: a.update(layer_3_weight_1=np.zeros(2, np.int64)), "dtype"),
    (lambda a: a.update(layer_3_weight_1=np.zeros(2, np.complex64)), "dtype"),
    (lambda a: a.update(layer_3_weight_1=np.zeros(2, "U3")), "dtype"),
    (lambda a: a.update(layer_3_weight_1=np.zeros(2, [("a", "f4")])), "records"),
    (lambda a: a.update(layer_3_weight_1=np.zeros(2, np.longdouble)), "dtype|shape"),
    (lambda a: a.update(layer_3_weight_1=np.array([0.0, np.nan], np.float32)), "NaN"),
    (lambda a: a.update(layer_3_weight_1=np.array([np.inf, 0], np.float32)), "NaN"),
    (lambda a: a.pop("layer_2_weight_2"), "lacks"),
    (lambda a: a.update(layer_9_weight_0=np.zeros(1, np.float32)), "does not have"),
    (lambda a: a.update(extra=np.zeros(1, np.float32)), "does not have"),
    (lambda a: a.update(big=np.zeros(4 << 20, np.float32)), "more than"),
])
def test_bad_weights(saved, tmp_path, replace, match):
    _, path, _, _ = saved
    arrays = weights_of(path)
    replace(arrays)
    bad = with_weights(path, str(tmp_path / "bad.keras"), **arrays)
    with pytest.raises(ValueError, match=match):
        load_model(bad)


def test_weights_in_other_float_dtypes_and_fortran_order_load(saved, tmp_path):
    model, path, x, _ = saved
    arrays = {k: np.asfortranarray(v.astype(np.float64)) for k, v in weights_of(path).items()}
    ok = with_weights(path, str(tmp_path / "ok.keras"), **arrays)
    assert np.array_equal(load_model(ok).predict(x), model.predict(x))


def test_npy_header_lying_about_its_size(saved, tmp_path):
    """A header claiming a huge shape (or the right shape with too little data) is
    refused from the header alone."""
    _, path, _, _ = saved
    arrays = weights_of(path)
    buf = io.BytesIO()
    np.save(buf, arrays["layer_3_weight_1"])
    raw = buf.getvalue()
    for fake in (raw.replace(b"(2,)", b"(2000000000000,)"), raw[:-4]):
        inner = io.BytesIO()
        with zipfile.ZipFile(inner, "w") as zf:
            for key, value in arrays.items():
                b = io.BytesIO()
                np.save(b, value)
                zf.writestr(key + ".npy", fake if key == "layer_3_weight_1" else b.getvalue())
        bad = rewrite(path, str(tmp_path / "bad.keras"), weights__npz=inner.getvalue())
        with pytest.raises(ValueError, match="shape|size"):
            load_model(bad)


def test_npz_member_that_is_not_npy(saved, tmp_path):
    _, path, _, _ = saved
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("readme.txt", b"hi")
    bad = rewrite(path, str(tmp_path / "bad.keras"), weights__npz=inner.getvalue())
    with pytest.raises(ValueError, match="only .npy"):
        load_model(bad)


@pytest.mark.parametrize("change, match", [
    (lambda s: s.update(velocity_0=np.zeros((2, 2), np.float32)), "shape"),
    (lambda s: s.pop("momentum_3"), "missing"),
    (lambda s: s.update(extra_0=np.zeros(1, np.float32)), "Unexpected key"),
    (lambda s: s.update(iterations=np.array(-1)), "iterations"),
    (lambda s: s.update(iterations=np.array(1.5)), "dtype"),
    (lambda s: s.update(momentum_0=s["momentum_0"].astype(np.int32)), "dtype"),
    (lambda s: s.pop("iterations"), "iterations"),
])
def test_bad_optimizer_state(saved, tmp_path, change, match):
    _, path, _, _ = saved
    state = npz_arrays(members_of(path)["optimizer.npz"])
    change(state)
    bad = rewrite(path, str(tmp_path / "bad.keras"), optimizer__npz=npz_bytes(**state))
    with pytest.raises(ValueError, match=match):
        load_model(bad)


def test_optimizer_state_size_limit(saved, tmp_path):
    _, path, _, _ = saved
    state = npz_arrays(members_of(path)["optimizer.npz"])
    state["junk"] = np.zeros(8 << 20, np.float32)
    bad = rewrite(path, str(tmp_path / "bad.keras"), optimizer__npz=npz_bytes(**state))
    with pytest.raises(ValueError, match="more than"):
        load_model(bad)


def test_encrypted_member_flag(saved, tmp_path):
    _, path, _, _ = saved
    blob = bytearray(pathlib.Path(path).read_bytes())
    # set the "encrypted" bit of every central-directory entry
    pos = 0
    while (pos := blob.find(b"PK\x01\x02", pos)) >= 0:
        blob[pos + 8] |= 1
        pos += 4
    bad = tmp_path / "bad.keras"
    bad.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="encrypted"):
        load_model(bad)


# --------------------------------------------------------------- load_weights
@pytest.mark.parametrize("name", ["w.weights.h5", "w.weights.npz"])
def test_save_and_load_weights(tmp_path, rng, name):
    x, y = data(rng)
    model = stacked_model()
    model.fit(x, y, epochs=1, verbose=0)
    model.save_weights(tmp_path / name)
    assert set(members_of(tmp_path / name)) == {"metadata.json", "weights.npz"}
    assert read_json(tmp_path / name, "metadata.json")["kind"] == "weights"
    other = stacked_model()
    assert not np.array_equal(other.predict(x), model.predict(x))
    other.load_weights(tmp_path / name)
    assert_same_weights(other, model)
    assert np.array_equal(other.predict(x), model.predict(x))


def test_load_weights_from_a_keras_file(saved):
    model, path, x, _ = saved
    other = stacked_model(optimizer="adam")
    other.load_weights(path)
    assert_same_weights(other, model)


def test_load_model_refuses_a_weights_file(tmp_path):
    path = tmp_path / "w.weights.h5"
    stacked_model().save_weights(path)
    renamed = tmp_path / "w.keras"
    renamed.write_bytes(path.read_bytes())
    with pytest.raises(ValueError, match="load_weights"):
        load_model(renamed)


def test_load_weights_into_an_unbuilt_model(tmp_path, rng):
    x, _ = data(rng)
    model = stacked_model()
    model.save_weights(tmp_path / "w.weights.h5")
    lazy = Sequential([LSTM(6, return_sequences=True), GRU(5, return_sequences=True),
                       SimpleRNN(4, activation="relu"), Dense(2, activation="tanh")])
    lazy.load_weights(tmp_path / "w.weights.h5")
    assert np.array_equal(lazy.predict(x), model.predict(x))


def test_load_weights_requires_extension(tmp_path):
    with pytest.raises(ValueError, match="weights.h5"):
        stacked_model().load_weights(tmp_path / "w.h5")


def _unchanged_after(model, path, match):
    before = model.get_weights()
    with pytest.raises(ValueError, match=match):
        model.load_weights(path)
    for a, b in zip(before, model.get_weights()):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("other, match", [
    (lambda: Sequential([Input(shape=(T, I)), LSTM(6, return_sequences=True),
                         GRU(5, return_sequences=True), SimpleRNN(4)]), "Layer count"),
    (lambda: Sequential([Input(shape=(T, I)), LSTM(6, return_sequences=True),
                         GRU(5, return_sequences=True), SimpleRNN(4), Dense(2),
                         Dense(1)]), "Layer count"),
    (lambda: Sequential([Input(shape=(T, I)), LSTM(6, return_sequences=True),
                         GRU(5, return_sequences=True), SimpleRNN(4), Dense(3)]), "shapes"),
    (lambda: Sequential([Input(shape=(T, I)), LSTM(6, return_sequences=True),
                         GRU(5, return_sequences=True, reset_after=False), SimpleRNN(4),
                         Dense(2)]), "shapes"),
    (lambda: Sequential([Input(shape=(T, I + 1)), LSTM(6, return_sequences=True),
                         GRU(5, return_sequences=True), SimpleRNN(4), Dense(2)]), "shapes"),
    (lambda: Sequential([Input(shape=(T, I)), LSTM(6, return_sequences=True),
                         GRU(5, return_sequences=True), GRU(4), Dense(2)]), "SimpleRNN"),
])
def test_load_weights_mismatch_changes_nothing(tmp_path, other, match):
    stacked_model().save_weights(tmp_path / "w.weights.h5")
    _unchanged_after(other(), tmp_path / "w.weights.h5", match)


def test_load_weights_bad_last_array_changes_nothing(tmp_path):
    """The error is in the last layer: no earlier layer may have been overwritten."""
    path = tmp_path / "w.weights.h5"
    stacked_model().save_weights(path)
    arrays = weights_of(path)
    arrays["layer_3_weight_1"] = np.array([1.0, np.nan], np.float32)
    with_weights(path, None, **arrays)
    _unchanged_after(stacked_model(), path, "NaN")
    arrays["layer_3_weight_1"] = np.zeros(3, np.float32)
    with_weights(path, None, **arrays)
    _unchanged_after(stacked_model(), path, "shape")


@pytest.mark.parametrize("content", [b"", b"junk" * 100])
def test_load_weights_damaged_file_changes_nothing(tmp_path, content):
    path = tmp_path / "w.weights.h5"
    path.write_bytes(content)
    _unchanged_after(stacked_model(), path, "zip")


def test_load_weights_truncated_changes_nothing(tmp_path):
    path = tmp_path / "w.weights.h5"
    stacked_model().save_weights(path)
    blob = path.read_bytes()
    model = stacked_model()
    for n in range(0, len(blob), max(1, len(blob) // 100)):
        path.write_bytes(blob[:n])
        _unchanged_after(model, path, "zip|truncated|corrupted")


# ------------------------------------------------------------ get_config
def test_sequential_config_round_trip(rng):
    model = stacked_model()
    config = model.get_config()
    assert set(config) == {"name", "layers", "input_shape"}
    assert json.loads(json.dumps(config)) == config
    clone = Sequential.from_config(config)
    assert clone.get_config() == config and clone.built and not clone.compiled
    clone.set_weights(model.get_weights())
    x, _ = data(rng)
    assert np.array_equal(clone.predict(x), model.predict(x))
    assert config == model.get_config()          # from_config did not modify it


def test_from_config_accepts_keras_shaped_configs():
    keras_config = {
        "name": "seq", "trainable": True, "dtype": "float32",
        "layers": [
            {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
             "config": {"batch_shape": [None, T, I], "dtype": "float32", "sparse": False,
                        "name": "input_layer"}},
            {"module": "keras.layers", "class_name": "SimpleRNN", "registered_name": None,
             "config": {"name": "simple_rnn", "units": 4}, "build_config":
                 {"input_shape": [None, T, I]}},
            {"module": "keras.layers", "class_name": "Dense", "config": {"units": 1}},
        ],
        "build_input_shape": [None, T, I],
    }
    model = Sequential.from_config(keras_config)
    assert model.built and model._input_shape == (T, I)
    assert [w.shape for w in model.get_weights()] == [(I, 4), (4, 4), (4,), (4, 1), (1,)]


def test_from_config_envelope_and_errors():
    config = stacked_model().get_config()
    model = saving.sequential_from_config({"class_name": "Sequential", "config": config})
    assert model.get_config() == config
    with pytest.raises(ValueError, match="Sequential"):
        saving.sequential_from_config({"class_name": "Model", "config": config})
    with pytest.raises(ValueError, match="unknown layer class"):
        Sequential.from_config({"layers": [{"class_name": "os.system", "config": {}}]})


def test_registry_has_every_exported_layer_class_and_nothing_else():
    registry = saving.layer_registry()
    exported = {obj for name, obj in vars(layers).items()
                if not name.startswith("_") and isinstance(obj, type)
                and issubclass(obj, Layer) and obj is not Layer}
    assert set(registry.values()) == exported
    assert "Input" not in registry and "Layer" not in registry
    assert all(isinstance(c, type) and issubclass(c, Layer) for c in registry.values())


# Constructor arguments for every layer class fastrnn.layers exports (and, as they
# appear, the ones being added): the test below builds its list from the exports.
_EXAMPLES = {
    "Dense": lambda: Dense(3, activation="tanh", use_bias=False,
                           kernel_initializer="he_uniform", name="d"),
    "SimpleRNN": lambda: SimpleRNN(3, activation="relu", return_sequences=True,
                                   go_backwards=True),
    "LSTM": lambda: LSTM(3, unit_forget_bias=False, recurrent_activation="tanh",
                         recurrent_initializer="glorot_normal"),
    "GRU": lambda: GRU(3, reset_after=False, use_bias=True,
                       bias_initializer={"class_name": "Constant",
                                         "config": {"value": 0.5}}),
    "RNN": lambda: layers.RNN(3),
    "Embedding": lambda: layers.Embedding(10, 4, mask_zero=True),
    "Dropout": lambda: layers.Dropout(0.3, seed=7),
    "Activation": lambda: layers.Activation("relu"),
    "Masking": lambda: layers.Masking(mask_value=0.5),
    "TimeDistributed": lambda: layers.TimeDistributed(Dense(2, activation="sigmoid")),
    "Bidirectional": lambda: layers.Bidirectional(LSTM(3, return_sequences=True),
                                                  merge_mode="sum"),
    "InputLayer": lambda: layers.InputLayer(shape=(T, I), name="inp"),
}
_GUESSES = {   # values for required constructor arguments of layers not listed above
    "units": lambda: 3, "rate": lambda: 0.25, "input_dim": lambda: 10,
    "output_dim": lambda: 4, "n": lambda: 2, "shape": lambda: (T, I),
    "activation": lambda: "tanh",
    "layer": lambda: LSTM(3, return_sequences=True),
    "cell": lambda: getattr(layers, "SimpleRNNCell", lambda u: None)(3),
}
_CONFIG_ONLY = {"InputLayer", "RNN"}   # abstract or not a model layer: config round trip only


def _exported_layer_names():
    return sorted(name for name, obj in vars(layers).items()
                  if not name.startswith("_") and isinstance(obj, type)
                  and issubclass(obj, Layer) and obj is not Layer)


def _make(name):
    if name in _EXAMPLES:
        return _EXAMPLES[name]()
    cls = getattr(layers, name)
    kwargs = {}
    for p in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_OR_KEYWORD,
                                                               p.KEYWORD_ONLY):
            assert p.name in _GUESSES, (
                f"fastrnn.layers.{name} needs argument {p.name!r}: add an example for it to "
                "_EXAMPLES in tests/test_saving.py")
            kwargs[p.name] = _GUESSES[p.name]()
    return cls(**kwargs)


def _normalized(config):
    return json.loads(json.dumps(config))


@pytest.mark.parametrize("name", _exported_layer_names())
def test_layer_config_round_trip(name):
    layer = _make(name)
    config = layer.get_config()
    json.dumps(config)                                   # JSON-compatible as it is
    clone = type(layer).from_config(_normalized(config))
    assert type(clone) is type(layer)
    assert _normalized(clone.get_config()) == _normalized(config)
    via_registry = saving.deserialize_layer(_normalized(saving.serialize_layer(layer)))
    assert type(via_registry) is type(layer)
    assert _normalized(via_registry.get_config()) == _normalized(config)


@pytest.mark.parametrize("name", [n for n in _exported_layer_names() if n not in _CONFIG_ONLY])
def test_layer_model_save_load_round_trip(tmp_path, rng, name):
    layer = _make(name)
    if getattr(layer, "input_kind", "float") == "int":
        shape = (T,)
        x = rng.integers(0, 4, size=(4, T))
    else:
        shape = (T, I)
        x = rng.normal(size=(4, T, I)).astype(np.float32)
    model = Sequential([Input(shape=shape), layer])
    model.compile(optimizer="adam", loss="mse")
    if model.weights:
        model.set_weights([rng.normal(size=w.shape) for w in model.weights])
    out = model.predict(x)
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert type(loaded.layers[0]) is type(layer)
    assert _normalized(loaded.get_config()) == _normalized(model.get_config())
    assert_same_weights(loaded, model)
    assert np.array_equal(loaded.predict(x), out)


# ---------------------------------------------------------- custom objects
class Scale(Layer):
    """A custom layer: y = x * s (one weight)."""

    def __init__(self, init=2.0, **kwargs):
        super().__init__(**kwargs)
        self.init = init

    def build(self, input_shape):
        self.s = self.add_weight("s", (input_shape[-1],), {"class_name": "Constant",
                                                           "config": {"value": self.init}})
        super().build(input_shape)

    def forward(self, x, training=False):
        self._x = x
        return x * self.s

    def backward(self, dy):
        self.grads[0][...] = (dy * self._x).reshape(-1, self._x.shape[-1]).sum(0)
        return dy * self.s

    def get_config(self):
        cfg = super().get_config()
        cfg["init"] = self.init
        return cfg


class Wrap(Layer):
    """A minimal wrapper layer with a nested "layer" config (like TimeDistributed)."""

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape):
        self.layer.build(input_shape)
        self.weights = self.layer.weights
        self.grads = self.layer.grads
        self._weight_names = self.layer._weight_names
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def forward(self, x, training=False):
        return self.layer.forward(x, training=training)

    def backward(self, dy):
        return self.layer.backward(dy)

    def get_config(self):
        cfg = super().get_config()
        cfg["layer"] = saving.serialize_layer(self.layer)
        return cfg

    @classmethod
    def from_config(cls, cfg):
        cfg = dict(cfg)
        cfg["layer"] = saving.deserialize_layer(cfg["layer"])
        return cls(**cfg)


def test_custom_layer_needs_custom_objects(tmp_path, rng):
    x, y = data(rng)
    model = Sequential([Input(shape=(T, I)), Scale(3.0), SimpleRNN(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match="unknown layer class 'Scale'.*custom_objects"):
        load_model(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras", custom_objects={"Scale": Scale})
    assert np.array_equal(loaded.predict(x), model.predict(x))
    with saving.custom_object_scope({"Scale": Scale}):
        assert np.array_equal(load_model(tmp_path / "m.keras").predict(x), model.predict(x))
    with pytest.raises(ValueError):
        load_model(tmp_path / "m.keras")     # the scope is gone


def test_non_layer_custom_object_is_not_a_layer(tmp_path):
    model = Sequential([Input(shape=(T, I)), Scale(), SimpleRNN(2)])
    model.save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match="unknown layer class"):
        load_model(tmp_path / "m.keras", custom_objects={"Scale": os.system})


def test_wrapper_with_nested_layer(tmp_path, rng):
    x, _ = data(rng)
    model = Sequential([Input(shape=(T, I)), Wrap(GRU(3, return_sequences=True)),
                        Wrap(Wrap(Dense(2)))])
    model.save(tmp_path / "m.keras")
    cfg = read_json(tmp_path / "m.keras", "config.json")
    assert cfg["config"]["layers"][0]["config"]["layer"]["class_name"] == "GRU"
    loaded = load_model(tmp_path / "m.keras", custom_objects={"Wrap": Wrap})
    assert np.array_equal(loaded.predict(x), model.predict(x))
    assert isinstance(loaded.layers[1].layer.layer, Dense)


def test_nested_unknown_class_is_refused_before_the_wrapper_runs(tmp_path, monkeypatch):
    model = Sequential([Input(shape=(T, I)), Wrap(GRU(3))])
    model.save(tmp_path / "m.keras")
    calls = []
    monkeypatch.setattr(Wrap, "from_config", classmethod(lambda cls, cfg: calls.append(cfg)))

    def mutate(cfg):
        cfg["config"]["layers"][0]["config"]["layer"]["class_name"] = "os.system"
    bad = layer_config_file(tmp_path / "m.keras", str(tmp_path / "bad.keras"), mutate)
    with pytest.raises(ValueError, match="unknown layer class 'os.system'"):
        load_model(bad, custom_objects={"Wrap": Wrap})
    assert calls == []


def test_custom_loss_and_metric(tmp_path, rng):
    class Halved(fastrnn.losses.MeanSquaredError):
        default_name = "halved"

    def my_metric(y_true, y_pred):
        return np.mean(np.abs(y_true - y_pred), axis=-1)

    x, y = data(rng)
    model = stacked_model(compile=False)
    model.compile(optimizer="sgd", loss=Halved(), metrics=[my_metric, "mae"])
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    assert read_json(tmp_path / "m.keras", "config.json")["compile_config"]["metrics"] == \
        ["my_metric", "mae"]
    with pytest.raises(ValueError, match="Halved"):
        load_model(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras",
                        custom_objects={"Halved": Halved, "my_metric": my_metric})
    assert isinstance(loaded.loss, Halved)
    assert loaded.evaluate(x, y, return_dict=True) == model.evaluate(x, y, return_dict=True)


# ------------------------------------------------- fastrnn's own wrapper layers
def _has(*names):
    return all(isinstance(getattr(layers, n, None), type) for n in names)


def _wrapped_model(optimizer="adam"):
    model = Sequential([
        Input(shape=(T,)),
        layers.Embedding(12, 4, mask_zero=True),
        layers.Bidirectional(LSTM(3, return_sequences=True), merge_mode="concat"),
        layers.Bidirectional(GRU(2, return_sequences=True),
                             backward_layer=GRU(2, return_sequences=True, go_backwards=True,
                                                reset_after=False)),
        layers.TimeDistributed(Dense(2, activation="tanh")),
    ])
    model.compile(optimizer=optimizer, loss="mse")
    return model


def _wrapped_data(rng, n=20):
    x = rng.integers(0, 12, size=(n, T))
    x[: n // 2, -2:] = 0                     # padding, masked by mask_zero
    y = rng.normal(size=(n, T, 2)).astype(np.float32)
    return x, y


# the lists below are empty (no test) until these layers exist in fastrnn.layers
_WRAPPED = ["embedding-bidirectional-timedistributed"] if _has(
    "Embedding", "Bidirectional", "TimeDistributed") else []


@pytest.mark.parametrize("case", _WRAPPED)
def test_wrapped_model_round_trip_and_resume(tmp_path, rng, case):
    x, y = _wrapped_data(rng)
    model = _wrapped_model()
    model.fit(x, y, epochs=2, batch_size=6, verbose=0, shuffle=False)
    model.save(tmp_path / "m.keras")
    cfg = read_json(tmp_path / "m.keras", "config.json")["config"]["layers"]
    assert cfg[2]["config"]["layer"]["class_name"] == "GRU"
    assert cfg[2]["config"]["backward_layer"]["config"]["reset_after"] is False
    loaded = load_model(tmp_path / "m.keras")
    assert _normalized(loaded.get_config()) == _normalized(model.get_config())
    assert np.array_equal(loaded.predict(x), model.predict(x))
    model.fit(x, y, epochs=2, batch_size=6, verbose=0, shuffle=False)
    loaded.fit(x, y, epochs=2, batch_size=6, verbose=0, shuffle=False)
    assert_same_weights(model, loaded)
    other = _wrapped_model()
    other.load_weights(tmp_path / "m.keras")
    assert np.array_equal(other.predict(x), load_model(tmp_path / "m.keras").predict(x))


@pytest.mark.parametrize("case", _WRAPPED)
@pytest.mark.parametrize("key", ["layer", "backward_layer"])
def test_wrapped_unknown_nested_class_is_refused(tmp_path, case, key):
    _wrapped_model().save(tmp_path / "m.keras")

    def mutate(cfg):
        cfg["config"]["layers"][2]["config"][key]["class_name"] = "os.system"
    bad = layer_config_file(tmp_path / "m.keras", str(tmp_path / "bad.keras"), mutate)
    with pytest.raises(ValueError, match="unknown layer class 'os.system'.*"):
        load_model(bad)


@pytest.mark.parametrize("case", _WRAPPED)
def test_wrapped_nested_custom_layer(tmp_path, rng, case):
    x = rng.normal(size=(3, T, I)).astype(np.float32)
    model = Sequential([Input(shape=(T, I)), layers.TimeDistributed(Scale(1.5))])
    model.save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match="'Scale'"):
        load_model(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras", custom_objects={"Scale": Scale})
    assert np.array_equal(loaded.predict(x), model.predict(x))


def test_loaded_names_are_not_repeated_by_new_layers(tmp_path):
    from fastrnn.layers import LSTM, Dense, Input
    from fastrnn.models import Sequential, load_model
    model = Sequential([Input(shape=(3, 2)), LSTM(4, name="lstm_41"), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert loaded.layers[0].name == "lstm_41"
    assert LSTM(2).name not in {layer.name for layer in loaded.layers}
