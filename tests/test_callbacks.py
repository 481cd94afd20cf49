"""Callbacks: Keras 3 semantics of each callback, on real small models and on scripted logs,
and the exact bytes of Keras's progress bar (the expected strings were produced by
Keras 3.15.1's ProgbarLogger driven with the same fake clock and logs)."""
import csv
import io
import re

import numpy as np
import pytest

import fastrnn
from fastrnn import callbacks as cbm
from fastrnn.callbacks import (Callback, CallbackList, CSVLogger, EarlyStopping, History,
                               LambdaCallback, LearningRateScheduler, ModelCheckpoint,
                               ProgbarLogger, ReduceLROnPlateau, TerminateOnNaN)
from fastrnn.layers import Dense, Input, SimpleRNN
from fastrnn.models import Sequential


# ---------------------------------------------------------------- helpers
def make_model(optimizer="sgd", metrics=None, seed=0):
    fastrnn.utils.set_random_seed(seed)
    model = Sequential([Input(shape=(5, 2)), SimpleRNN(4), Dense(1)])
    model.compile(optimizer=optimizer, loss="mse", metrics=metrics)
    return model


def make_data(n=32, seed=1):
    r = np.random.default_rng(seed)
    x = r.normal(size=(n, 5, 2)).astype(np.float32)
    y = np.tanh(x.sum(axis=(1, 2)))[:, None].astype(np.float32)
    return x, y


def inject(key, values):
    """A LambdaCallback that writes values[epoch] into the epoch logs under ``key``; put
    it first: every callback of one hook call receives the same logs dict."""
    def on_epoch_end(epoch, logs):
        logs[key] = values[epoch]
    return LambdaCallback(on_epoch_end=on_epoch_end)


class FakeClock:
    def __init__(self, start=1000.0):
        self.t = start

    def __call__(self):
        return self.t


@pytest.fixture
def clock(monkeypatch):
    c = FakeClock()
    monkeypatch.setattr(cbm, "_now", c)
    return c


class FakeModel:
    """What the callbacks use of a model, for driving them with scripted logs."""

    def __init__(self):
        self.stop_training = False
        self.history = None
        self.optimizer = fastrnn.optimizers.SGD(learning_rate=0.1)
        self.weights = [np.zeros(2)]

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [w.copy() for w in weights]


def run_scripted(callbacks, values, key="val_loss", model=None):
    """Drive callbacks like fit does, one epoch per value; the weights of epoch e are
    [e, e].  Returns (epochs run, model)."""
    model = model or FakeModel()
    cbl = CallbackList(callbacks, add_history=True, model=model, verbose=0,
                       epochs=len(values), steps=1)
    cbl.on_train_begin()
    ran = 0
    for epoch, value in enumerate(values):
        cbl.on_epoch_begin(epoch)
        model.weights = [np.full(2, float(epoch))]
        logs = {"loss": 1.0}
        if value is not None:
            logs[key] = value
        cbl.on_epoch_end(epoch, logs)
        ran += 1
        if model.stop_training:
            break
    cbl.on_train_end()
    return ran, model




# ----------------------------------------------------------- progress bar
def bold(s):
    return f"\x1b[1m{s}\x1b[0m"


def bar_line(count, done, todo, seconds, per_step, metrics=""):
    """One rendering of Keras's bar: count, green/grey bar, ETA or elapsed, time/step."""
    green = f"\x1b[32m{'━' * done}\x1b[0m" if done else ""
    return (f"\r{bold(count)} {green}\x1b[37m{'━' * todo}\x1b[0m {bold(seconds)} "
            f"{per_step}{metrics}")


def drive_fit(verbose, clock, epochs=2, durations=(0.2, 0.01, 0.03, 0.1)):
    cbl = CallbackList([], add_history=True, add_progbar=True, model=FakeModel(),
                       verbose=verbose, epochs=epochs, steps=len(durations))
    cbl.on_train_begin()
    for epoch in range(epochs):
        cbl.on_epoch_begin(epoch)
        for step, dt in enumerate(durations):
            cbl.on_train_batch_begin(step)
            clock.t += dt
            cbl.on_train_batch_end(step, {"mae": 0.5 / (step + 1),
                                          "loss": 1.0 / (step + 1 + epoch)})
        clock.t += 0.05
        cbl.on_epoch_end(epoch, {"loss": 0.25, "mae": 0.125, "val_loss": 0.375,
                                 "val_mae": 0.0005})
    cbl.on_train_end()


def test_progbar_verbose1_exact_bytes(clock, capsys):
    drive_fit(1, clock)
    out = capsys.readouterr().out
    val = " - val_loss: 0.3750 - val_mae: 5.0000e-04"
    expected = ""
    for epoch in range(2):
        expected += (
            f"Epoch {epoch + 1}/2\n"
            + bar_line("1/4", 5, 15, "0s", "200ms/step",
                       f" - loss: {1 / (1 + epoch):.4f} - mae: 0.5000")
            # steps 2 and 3 come within 0.05 s of a redraw: skipped.  Step 4 is drawn
            # with an ETA of 0s; width 66 < 67 so one blank pads the old text.
            + "\b" * 67 + bar_line("4/4", 20, 0, "0s", "47ms/step",
                                   f" - loss: {1 / (4 + epoch):.4f} - mae: 0.1250 ")
            # The epoch end: elapsed time, epoch logs including the val_* ones, newline.
            + "\b" * 66 + bar_line("4/4", 20, 0, "0s", "63ms/step",
                                   " - loss: 0.2500 - mae: 0.1250" + val) + "\n")
    assert out == expected


def test_progbar_verbose1_single_epoch_throttles_and_pads(clock, capsys):
    drive_fit(1, clock, epochs=1, durations=(0.004,) * 16)
    out = capsys.readouterr().out
    assert "Epoch" not in out  # Keras prints 'Epoch i/N' only when N > 1
    expected = (
        bar_line(" 1/16", 1, 19, "0s", "4ms/step", " - loss: 1.0000 - mae: 0.5000")
        + "\b" * 67 + bar_line("14/16", 17, 3, "0s", "4ms/step",
                               " - loss: 0.0714 - mae: 0.0357")
        + "\b" * 67 + bar_line("16/16", 20, 0, "0s", "7ms/step",
                               " - loss: 0.2500 - mae: 0.1250 - val_loss: 0.3750"
                               " - val_mae: 5.0000e-04") + "\n")
    assert out == expected


def test_progbar_verbose2_one_line_per_epoch(clock, capsys):
    drive_fit(2, clock)
    line = ("4/4 - 0s - 97ms/step - loss: 0.2500 - mae: 0.1250 - val_loss: 0.3750"
            " - val_mae: 5.0000e-04\n")
    assert capsys.readouterr().out == "Epoch 1/2\n" + line + "Epoch 2/2\n" + line


def test_progbar_eta_and_long_times(clock, capsys):
    bar = cbm.Progbar(target=100, verbose=1)
    clock.t += 2.0
    bar.update(1, [("loss", 2.5)])
    clock.t += 75.0
    bar.update(2, [("loss", -0.5)])
    out = capsys.readouterr().out
    # 99 steps left at 2 s/step; then the first step is ignored: 98 x 75 s.  A plain
    # Progbar averages the values it is given (ProgbarLogger shows them as they are).
    assert bold("3:18") in out and " 2s/step - loss: 2.5000" in out
    assert bold("2:02:30") in out and " 75s/step - loss: 1.0000" in out


def test_progbar_evaluate_and_predict(clock, capsys):
    cbl = CallbackList([], add_progbar=True, model=FakeModel(), verbose="auto", epochs=1,
                       steps=3)
    cbl.on_test_begin()
    for step in range(3):
        cbl.on_test_batch_begin(step)
        clock.t += 0.5
        cbl.on_test_batch_end(step, {"loss": 2.0, "mae": 1.0})
    cbl.on_test_end({"loss": 2.0, "mae": 1.0})
    cbl.on_predict_begin()
    for step in range(3):
        cbl.on_predict_batch_begin(step)
        clock.t += 0.002
        cbl.on_predict_batch_end(step, {"outputs": np.zeros((4, 1))})
    cbl.on_predict_end()
    m = " - loss: 2.0000 - mae: 1.0000"
    expected = (bar_line("1/3", 6, 14, "1s", "500ms/step", m)
                + "\b" * 67 + bar_line("2/3", 13, 7, "0s", "500ms/step", m)
                + "\b" * 67 + bar_line("3/3", 20, 0, "0s", "500ms/step", m)
                + "\b" * 67 + bar_line("3/3", 20, 0, "2s", "500ms/step", m) + "\n"
                + bar_line("1/3", 6, 14, "0s", "2ms/step")
                + "\b" * 36 + bar_line("3/3", 20, 0, "0s", "2ms/step") + "\n")
    assert capsys.readouterr().out == expected


def test_progbar_silent_during_validation_inside_fit(clock, capsys):
    cbl = CallbackList([], add_progbar=True, model=FakeModel(), verbose=2, epochs=1, steps=1)
    cbl.on_train_begin()
    cbl.on_epoch_begin(0)
    cbl.on_train_batch_end(0, {"loss": 1.0})
    cbl.on_test_begin()
    cbl.on_test_batch_end(0, {"loss": 3.0})
    cbl.on_test_end({"loss": 3.0})
    cbl.on_epoch_end(0, {"loss": 1.0, "val_loss": 3.0})
    assert capsys.readouterr().out == "1/1 - 0s - 0s/step - loss: 1.0000 - val_loss: 3.0000\n"


def test_progbar_verbose0_prints_nothing(clock, capsys):
    drive_fit(0, clock)
    assert capsys.readouterr().out == ""


def test_fit_verbose2_lines(capsys):
    x, y = make_data()
    model = make_model()
    hist = model.fit(x, y, epochs=2, batch_size=8, validation_split=0.25, verbose=2)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    for epoch, line in zip(range(2), (lines[1], lines[3])):
        m = re.fullmatch(r"3/3 - \d+s - \d+(us|ms|s)/step - (.*)", line)
        assert m, line
        assert m.group(2) == (f"loss: {hist.history['loss'][epoch]:.4f} - "
                              f"val_loss: {hist.history['val_loss'][epoch]:.4f}")


def test_fit_verbose1_live_bar(capsys, monkeypatch):
    ticks = iter(np.arange(10000) * 0.001 + 1000.0)
    monkeypatch.setattr(cbm, "_now", lambda: next(ticks))
    x, y = make_data()
    model = make_model(metrics=["mae"])
    hist = model.fit(x, y, epochs=2, batch_size=8, verbose=1)
    out = capsys.readouterr().out
    assert out.startswith("Epoch 1/2\n\r")
    assert out.count("\n") == 4 and "Epoch 2/2\n" in out
    last = out.rstrip("\n").split("\r")[-1].rstrip(" ")
    assert last == (bar_line("4/4", 20, 0, "0s", "1ms/step")[1:]
                    + f" - loss: {hist.history['loss'][1]:.4f}"
                    + f" - mae: {hist.history['mae'][1]:.4f}")
    model.fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


# ----------------------------------------------------------- EarlyStopping
VAL = [1.0, 0.9, 0.95, 0.91, 0.89, 0.9, 0.9, 0.9, 0.95, 1.2, 0.5, 0.4]


@pytest.mark.parametrize("kwargs, ran, weights", [
    (dict(), 3, 2.0),                                     # patience 0: first worse epoch
    (dict(patience=2, restore_best_weights=True), 4, 1.0),
    (dict(patience=3, min_delta=0.02, restore_best_weights=True), 5, 1.0),
    (dict(patience=3, baseline=0.85, restore_best_weights=True), 3, 1.0),
    (dict(patience=1, start_from_epoch=4), 6, 5.0),
    (dict(patience=20, restore_best_weights=True), 12, 11.0),  # never stops
])
def test_early_stopping_scripted(kwargs, ran, weights):
    es = EarlyStopping(**kwargs)
    n, model = run_scripted([es], VAL)
    assert n == ran
    assert model.stop_training == (ran < len(VAL))
    assert model.weights[0].tolist() == [weights, weights]
    if ran < len(VAL):
        assert es.stopped_epoch == ran - 1


def test_early_stopping_max_mode_and_auto_accuracy():
    acc = [0.5, 0.6, 0.6, 0.59, 0.7]
    for es in (EarlyStopping(monitor="val_acc", mode="max", patience=2),
               EarlyStopping(monitor="val_accuracy", patience=2)):
        n, _ = run_scripted([es], acc, key=es.monitor)
        assert n == 4 and es.best == 0.6 and es.best_epoch == 1


def test_early_stopping_auto_mode_unknown_metric_raises():
    with pytest.raises(ValueError, match="maximized or minimized"):
        run_scripted([EarlyStopping(monitor="val_my_score")], [1.0, 2.0],
                     key="val_my_score")
    n, _ = run_scripted([EarlyStopping(monitor="val_my_score", mode="min")], [1.0, 2.0],
                        key="val_my_score")
    assert n == 2


def test_early_stopping_missing_monitor_warns_and_continues():
    with pytest.warns(UserWarning, match="Early stopping conditioned on metric `val_loss` "
                                         "which is not available. Available metrics are: "
                                         "loss"):
        n, model = run_scripted([EarlyStopping()], [None, None, None])
    assert n == 3 and not model.stop_training


def test_early_stopping_unknown_mode_warns():
    with pytest.warns(UserWarning, match="mode 'foo' is unknown"):
        es = EarlyStopping(mode="foo")
    assert es.mode == "auto"


def test_early_stopping_verbose_messages(capsys):
    run_scripted([EarlyStopping(patience=2, restore_best_weights=True, verbose=1)], VAL)
    assert capsys.readouterr().out == ("Epoch 4: early stopping\n"
                                       "Restoring model weights from the end of the best "
                                       "epoch: 2.\n")


def test_early_stopping_in_fit_restores_best_weights():
    x, y = make_data()
    model = make_model()
    seen = []
    record = LambdaCallback(on_epoch_end=lambda e, logs: seen.append(model.get_weights()))
    es = EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    hist = model.fit(x, y, epochs=10, batch_size=16, verbose=0,
                     callbacks=[inject("val_loss", [0.5, 0.3, 0.4, 0.35, 0.1, 0.1, 0.1]),
                                record, es])
    assert len(hist.history["loss"]) == 4 and hist.epoch == [0, 1, 2, 3]
    assert es.stopped_epoch == 3 and es.best_epoch == 1 and es.best == 0.3
    for got, want in zip(model.get_weights(), seen[1]):
        np.testing.assert_array_equal(got, want)
    assert not np.array_equal(seen[1][0], seen[3][0])
    # A second fit reuses the callback from scratch.
    hist = model.fit(x, y, epochs=3, batch_size=16, verbose=0,
                     callbacks=[inject("val_loss", [0.5, 0.4, 0.3]), es])
    assert len(hist.history["loss"]) == 3 and es.stopped_epoch == 0


def test_early_stopping_on_real_validation_loss():
    x, y = make_data()
    model = make_model(optimizer=fastrnn.optimizers.SGD(learning_rate=0.0))
    # lr 0: val_loss never changes, so with patience 1 training stops at epoch 2.
    hist = model.fit(x, y, epochs=10, batch_size=16, validation_split=0.25, verbose=0,
                     callbacks=[EarlyStopping(patience=1)])
    assert len(hist.history["val_loss"]) == 2


# ------------------------------------------------------- ReduceLROnPlateau
def test_reduce_lr_scripted_patience_cooldown_min_lr(capsys):
    model = FakeModel()
    lrs = []
    rec = LambdaCallback(on_epoch_end=lambda e, logs: lrs.append(logs["learning_rate"]))
    rlr = ReduceLROnPlateau(patience=1, factor=0.5, cooldown=2, min_lr=0.02, verbose=1)
    run_scripted([rlr, rec], VAL, model=model)
    # logs['learning_rate'] is the rate the epoch ran with, before any reduction.
    assert lrs == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.02,
                                 0.02, 0.02, 0.02])
    assert model.optimizer.learning_rate == pytest.approx(0.02)
    assert capsys.readouterr().out == (
        "\nEpoch 3: ReduceLROnPlateau reducing learning rate to 0.05.\n"
        "\nEpoch 6: ReduceLROnPlateau reducing learning rate to 0.025.\n"
        "\nEpoch 8: ReduceLROnPlateau reducing learning rate to 0.02.\n")


def test_reduce_lr_min_delta_and_max_mode():
    model = FakeModel()
    rlr = ReduceLROnPlateau(monitor="val_acc", mode="max", patience=1, min_delta=0.05)
    run_scripted([rlr], [0.5, 0.52, 0.6, 0.64, 0.7], key="val_acc", model=model)
    # improvements by more than 0.05: epochs 0, 2, 4; epochs 1 and 3 each reduce.
    assert model.optimizer.learning_rate == pytest.approx(0.001)


def test_reduce_lr_factor_check_and_missing_metric():
    with pytest.raises(ValueError, match="factor >= 1.0"):
        ReduceLROnPlateau(factor=1.0)
    with pytest.warns(UserWarning, match="Learning rate reduction is conditioned on metric "
                                         "`val_loss` which is not available"):
        run_scripted([ReduceLROnPlateau()], [None])


def test_reduce_lr_in_fit_changes_optimizer_learning_rate():
    x, y = make_data()
    model = make_model(optimizer=fastrnn.optimizers.Adam(learning_rate=0.01))
    hist = model.fit(x, y, epochs=5, batch_size=16, verbose=0,
                     callbacks=[inject("val_loss", [1.0, 1.0, 1.0, 1.0, 1.0]),
                                ReduceLROnPlateau(factor=0.5, patience=2)])
    # No improvement after epoch 0: reductions at the ends of epochs 2 and 4.
    assert model.optimizer.learning_rate == pytest.approx(0.0025)
    assert hist.history["learning_rate"] == pytest.approx([0.01, 0.01, 0.01, 0.005, 0.005])


# ------------------------------------------------------------ TerminateOnNaN
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_terminate_on_nan_in_fit(capsys):
    x, y = make_data()
    model = make_model()
    weights = model.get_weights()
    weights[3][:] = 1e30  # Dense kernel: the squared error overflows float32
    model.set_weights(weights)
    hist = model.fit(x, y, epochs=5, batch_size=8, verbose=0, callbacks=[TerminateOnNaN()])
    assert len(hist.history["loss"]) == 1 and model.stop_training
    assert capsys.readouterr().out.startswith("Batch 0: Invalid loss, terminating training\n")


def test_terminate_on_nan_scripted_and_raise_error():
    model = FakeModel()
    cbl = CallbackList([TerminateOnNaN()], model=model)
    cbl.on_train_batch_end(0, {"loss": 1.0})
    assert not model.stop_training
    cbl.on_train_batch_end(1, {"loss": float("inf")})
    assert model.stop_training
    cbl = CallbackList([TerminateOnNaN(raise_error=True)], model=FakeModel())
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 3"):
        cbl.on_train_batch_end(3, {"loss": np.float32("nan")})


# ------------------------------------------------------------------ CSVLogger
def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_csv_logger_contents(tmp_path):
    x, y = make_data()
    model = make_model(metrics=["mae"])
    path = tmp_path / "log.csv"
    hist = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0,
                     callbacks=[CSVLogger(path)])
    rows = read_csv(path)
    assert rows[0] == ["epoch", "loss", "mae", "val_loss", "val_mae"]
    assert len(rows) == 4
    for epoch, row in enumerate(rows[1:]):
        assert row[0] == str(epoch)
        for key, cell in zip(rows[0][1:], row[1:]):
            assert float(cell) == pytest.approx(hist.history[key][epoch], rel=1e-12)
    assert path.read_bytes().count(b"\r\n") == 4  # csv's excel dialect, as in Keras


def test_csv_logger_without_validation_separator_and_append(tmp_path):
    x, y = make_data()
    model = make_model()
    path = tmp_path / "log.csv"
    model.fit(x, y, epochs=2, batch_size=16, verbose=0,
              callbacks=[CSVLogger(str(path), separator=";")])
    lines = path.read_text().splitlines()
    # Keras adds a val_ column per key when the first epoch has none, filled with NA.
    assert lines[0] == "epoch;loss;val_loss"
    assert [line.split(";")[0] for line in lines[1:]] == ["0", "1"]
    assert all(line.endswith(";NA") for line in lines[1:])
    model.fit(x, y, epochs=1, batch_size=16, verbose=0,
              callbacks=[CSVLogger(str(path), separator=";", append=True)])
    lines = path.read_text().splitlines()
    assert len(lines) == 4 and lines[3].startswith("0;")  # no second header
    model.fit(x, y, epochs=1, batch_size=16, verbose=0,
              callbacks=[CSVLogger(str(path), separator=";")])
    assert len(path.read_text().splitlines()) == 2  # overwritten


# ------------------------------------------------------------- LambdaCallback
def test_lambda_callback_calls_in_fit():
    x, y = make_data(n=20)
    model = make_model()
    calls = []
    cb = LambdaCallback(
        on_train_begin=lambda logs: calls.append(("train_begin",)),
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch)),
        on_train_batch_begin=lambda batch, logs: calls.append(("batch_begin", batch)),
        on_train_batch_end=lambda batch, logs: calls.append(("batch_end", batch,
                                                             sorted(logs))),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, sorted(logs))),
        on_train_end=lambda logs: calls.append(("train_end",)),
        on_test_end=lambda logs: calls.append(("test_end",)),  # any hook by keyword
    )
    assert cb.on_test_end is not Callback.on_test_end
    model.fit(x, y, epochs=2, batch_size=10, verbose=0, callbacks=[cb])
    epoch = lambda e: [("epoch_begin", e), ("batch_begin", 0), ("batch_end", 0, ["loss"]),
                       ("batch_begin", 1), ("batch_end", 1, ["loss"]),
                       ("epoch_end", e, ["loss"])]
    assert calls == [("train_begin",)] + epoch(0) + epoch(1) + [("train_end",)]


# ------------------------------------------------------------ ModelCheckpoint
def test_model_checkpoint_save_best_only_writes_on_improvement(tmp_path, monkeypatch):
    x, y = make_data()
    model = make_model()
    saved = []

    def fake_save(filepath, overwrite=True):
        saved.append(filepath)
        with open(filepath, "w") as f:
            f.write("model")
    monkeypatch.setattr(model, "save", fake_save)
    pattern = str(tmp_path / "ckpt" / "{epoch:02d}-{val_loss:.2f}.keras")
    ckpt = ModelCheckpoint(pattern, save_best_only=True)
    model.fit(x, y, epochs=6, batch_size=16, verbose=0,
              callbacks=[inject("val_loss", [0.9, 0.7, 0.8, 0.7, 0.5, 0.6]), ckpt])
    names = ["01-0.90.keras", "02-0.70.keras", "05-0.50.keras"]
    assert saved == [str(tmp_path / "ckpt" / n) for n in names]
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == names
    assert ckpt.best == 0.5


def test_model_checkpoint_modes_threshold_freq_and_messages(tmp_path, monkeypatch, capsys):
    model = FakeModel()
    saved = []
    model.save = lambda fp, overwrite=True: saved.append(("model", fp))
    model.save_weights = lambda fp, overwrite=True: saved.append(("weights", fp))

    ckpt = ModelCheckpoint(str(tmp_path / "b.keras"), monitor="val_acc", mode="max",
                           save_best_only=True, initial_value_threshold=0.55, verbose=1)
    run_scripted([ckpt], [0.5, 0.6, 0.58, 0.7], key="val_acc", model=model)
    assert len(saved) == 2
    out = capsys.readouterr().out
    assert "\nEpoch 1: val_acc did not improve from 0.55000\n" in out
    assert (f"\nEpoch 2: val_acc improved from 0.55000 to 0.60000, saving model to "
            f"{tmp_path / 'b.keras'}\n") in out
    assert f"\nEpoch 4: finished saving model to {tmp_path / 'b.keras'}\n" in out

    saved.clear()
    ckpt = ModelCheckpoint(str(tmp_path / "w{epoch}.weights.h5"), save_weights_only=True)
    run_scripted([ckpt], [3.0, 2.0, 1.0], model=model)  # every epoch, whatever the value
    assert saved == [("weights", str(tmp_path / f"w{e}.weights.h5")) for e in (1, 2, 3)]

    saved.clear()
    ckpt = ModelCheckpoint(str(tmp_path / "e{epoch}-b{batch}.keras"), save_freq=3)
    cbl = CallbackList([ckpt], model=model, verbose=0, epochs=2, steps=4)
    for epoch in range(2):
        cbl.on_epoch_begin(epoch)
        for batch in range(4):
            cbl.on_train_batch_end(batch, {"loss": 1.0})
        cbl.on_epoch_end(epoch, {"loss": 1.0})
    assert saved == [("model", str(tmp_path / n)) for n in ("e1-b3.keras", "e2-b2.keras")]

    with pytest.raises(ValueError, match="Unrecognized save_freq"):
        ModelCheckpoint("x.keras", save_freq="batch")
    with pytest.raises(ValueError, match="must end in `.keras`"):
        ModelCheckpoint("x.h5")
    with pytest.raises(ValueError, match="must end in `.weights.h5`"):
        ModelCheckpoint("x.keras", save_weights_only=True)
    with pytest.raises(KeyError, match="Failed to format this callback filepath"):
        run_scripted([ModelCheckpoint(str(tmp_path / "{val_acc}.keras"))], [1.0], model=model)
    with pytest.warns(UserWarning, match="Can save best model only with val_loss available"):
        run_scripted([ModelCheckpoint(str(tmp_path / "m.keras"), save_best_only=True)],
                     [None], model=model)


def test_model_checkpoint_with_real_saving(tmp_path):
    from fastrnn.models import load_model
    x, y = make_data()
    model = make_model()
    seen = []
    record = LambdaCallback(on_epoch_end=lambda e, logs: seen.append(model.predict(x)))
    path = tmp_path / "best.keras"
    model.fit(x, y, epochs=4, batch_size=16, verbose=0,
              callbacks=[inject("val_loss", [0.5, 0.2, 0.3, 0.4]), record,
                         ModelCheckpoint(str(path), save_best_only=True)])
    np.testing.assert_allclose(load_model(str(path)).predict(x), seen[1], rtol=1e-6)

    wpath = tmp_path / "w" / "{epoch}.weights.h5"
    model.fit(x, y, epochs=2, batch_size=16, verbose=0,
              callbacks=[ModelCheckpoint(str(wpath), save_weights_only=True)])
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == ["1.weights.h5",
                                                                  "2.weights.h5"]
    other = make_model(seed=5)
    other.load_weights(str(tmp_path / "w" / "2.weights.h5"))
    np.testing.assert_allclose(other.predict(x), model.predict(x), rtol=1e-6)


# ------------------------------------------------------ LearningRateScheduler
def test_learning_rate_scheduler_in_fit(capsys):
    x, y = make_data()
    model = make_model(optimizer=fastrnn.optimizers.SGD(learning_rate=0.1))
    hist = model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[
        LearningRateScheduler(lambda epoch, lr: lr if epoch == 0 else lr * 0.5, verbose=1)])
    assert hist.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.025])
    assert model.optimizer.learning_rate == pytest.approx(0.025)
    assert capsys.readouterr().out == (
        "\nEpoch 1: LearningRateScheduler setting learning rate to 0.1.\n"
        "\nEpoch 2: LearningRateScheduler setting learning rate to 0.05.\n"
        "\nEpoch 3: LearningRateScheduler setting learning rate to 0.025.\n")


def test_learning_rate_scheduler_old_api_and_type_check():
    model = FakeModel()
    run_scripted([LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))], [1, 1, 1],
                 model=model)
    assert model.optimizer.learning_rate == pytest.approx(0.03)
    with pytest.raises(ValueError, match="should be a float"):
        run_scripted([LearningRateScheduler(lambda epoch, lr: 1)], [1], model=FakeModel())


# --------------------------------------------------------- CallbackList etc.
def test_callback_list_keras_and_legacy_forms():
    model = FakeModel()
    user = Callback()
    cbl = CallbackList([user], add_history=True, add_progbar=True, model=model, verbose=0,
                       epochs=3, steps=2)
    assert [type(c) for c in cbl.callbacks] == [Callback, History, ProgbarLogger]
    assert model.history is cbl.callbacks[1]
    assert user.model is model and user.params == {"verbose": 0, "epochs": 3, "steps": 2}
    legacy = CallbackList([user], model, {"epochs": 1, "steps": 1, "verbose": 0})
    assert legacy.callbacks == [user] and legacy.model is model
    assert user.params == {"epochs": 1, "steps": 1, "verbose": 0}
    hist = History()
    assert CallbackList([hist], add_history=True).callbacks == [hist]
    with pytest.raises(TypeError, match="Callback instances"):
        CallbackList([object()])


def test_callback_list_logs_sorted_floats_shared_and_aliases():
    got = []

    class A(Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["extra"] = 1.0

        def on_batch_end(self, batch, logs=None):  # legacy alias of on_train_batch_end
            got.append(("alias", batch, list(logs.items())))

    class B(Callback):
        def on_epoch_end(self, epoch, logs=None):
            got.append(("B", list(logs)))

    cbl = CallbackList([A(), B()], model=FakeModel())
    cbl.on_train_batch_end(4, {"mae": np.float32(0.5), "loss": np.float64(2.0)})
    logs = {"loss": 1.0, "accuracy": 0.5}
    cbl.on_epoch_end(0, logs)
    assert got == [("alias", 4, [("loss", 2.0), ("mae", 0.5)]),
                   ("B", ["accuracy", "loss", "extra"])]
    assert type(got[0][2][1][1]) is float
    assert logs == {"loss": 1.0, "accuracy": 0.5}  # the caller's dict is left alone


def test_history_records_and_sets_model_history():
    x, y = make_data()
    model = make_model(metrics=["mae"])
    hist = model.fit(x, y, epochs=2, batch_size=16, validation_split=0.25, verbose=0)
    assert model.history is hist and isinstance(hist, History)
    assert list(hist.history) == ["loss", "mae", "val_loss", "val_mae"]
    assert hist.epoch == [0, 1]


def test_epoch_logger_kept_as_verbose2_progbar(clock, capsys):
    stream = io.StringIO()
    cbl = CallbackList([cbm.EpochLogger(stream=stream)], model=FakeModel(), verbose=1,
                       epochs=2, steps=2)
    cbl.on_train_begin()
    for epoch in range(2):
        cbl.on_epoch_begin(epoch)
        cbl.on_train_batch_end(0, {"loss": 1.0})
        clock.t += 0.004
        cbl.on_train_batch_end(1, {"loss": 0.5})
        cbl.on_epoch_end(epoch, {"loss": 0.5})
    assert stream.getvalue() == ("Epoch 1/2\n2/2 - 0s - 2ms/step - loss: 0.5000\n"
                                 "Epoch 2/2\n2/2 - 0s - 2ms/step - loss: 0.5000\n")
    assert capsys.readouterr().out == ""
