"""Optimizers against the Keras 3 update rules, written out here in plain NumPy float64.

The reference below is transcribed from keras/src/optimizers/{sgd,rmsprop,adam,
adagrad}.py (update_step) and base_optimizer.py (_clip_gradients, _clip_by_norm,
clip_by_global_norm, iterations incremented after the update).
"""
import math

import numpy as np
import pytest

from fastrnn import optimizers
from fastrnn.optimizers import SGD, Adagrad, Adam, RMSprop

SHAPES = [(3, 4), (5,), (2, 3, 2), ()]
DTYPES = [np.float32, np.float64]
N_STEPS = 6


# ----------------------------------------------------------------------------
# Reference: Keras 3 formulas in float64
# ----------------------------------------------------------------------------
DEFAULTS = {
    "sgd": dict(learning_rate=0.01, momentum=0.0, nesterov=False),
    "rmsprop": dict(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                    centered=False),
    "adam": dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False),
    "adagrad": dict(learning_rate=0.001, initial_accumulator_value=0.1,
                    epsilon=1e-7),
}
CLASSES = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adagrad": Adagrad}


def ref_clip(grads, clipnorm=None, clipvalue=None, global_clipnorm=None):
    if clipnorm:
        out = []
        for g in grads:
            l2norm = np.sqrt(np.sum(g * g))
            out.append(g * clipnorm / np.maximum(l2norm, clipnorm))
        return out
    if global_clipnorm:
        use_norm = np.sqrt(sum(np.sum(g * g) for g in grads))
        scale = global_clipnorm * min(1.0 / use_norm, 1.0 / global_clipnorm)
        scale = scale + (use_norm - use_norm)
        return [g * scale for g in grads]
    if clipvalue:
        return [np.clip(g, -clipvalue, clipvalue) for g in grads]
    return grads


class Reference:
    """Keras 3 optimizer, float64, slots keyed by position."""

    def __init__(self, kind, **config):
        self.kind = kind
        self.clip = {k: config.pop(k, None)
                     for k in ("clipnorm", "clipvalue", "global_clipnorm")}
        self.cfg = dict(DEFAULTS[kind], **config)
        self.iterations = 0
        self.slots = {}

    def slot(self, name, i, like, init=0.0):
        return self.slots.setdefault((name, i), np.full(like.shape, init))

    def apply(self, gs, ws):
        gs = ref_clip([np.asarray(g, np.float64) for g in gs], **self.clip)
        for i, (w, g) in enumerate(zip(ws, gs)):
            getattr(self, self.kind)(i, w, g)
        self.iterations += 1

    def sgd(self, i, w, g):
        c = self.cfg
        lr, mu = c["learning_rate"], c["momentum"]
        if mu != 0:
            m = self.slot("momentum", i, w)
            m[...] = m * mu - g * lr
            if c["nesterov"]:
                w += m * mu - g * lr
            else:
                w += m
        else:
            w -= g * lr

    def rmsprop(self, i, w, g):
        c = self.cfg
        lr, rho, eps = c["learning_rate"], c["rho"], c["epsilon"]
        v = self.slot("velocity", i, w)
        v[...] = rho * v + (1 - rho) * g ** 2
        if c["centered"]:
            a = self.slot("average_gradient", i, w)
            a[...] = rho * a + (1 - rho) * g
            denominator = v - a ** 2 + eps
        else:
            denominator = v + eps
        increment = lr * g / np.sqrt(denominator)
        if c["momentum"] > 0:
            m = self.slot("momentum", i, w)
            m[...] = c["momentum"] * m + increment
            w -= m
        else:
            w -= increment

    def adam(self, i, w, g):
        c = self.cfg
        t = self.iterations + 1
        b1, b2 = c["beta_1"], c["beta_2"]
        alpha = c["learning_rate"] * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        m = self.slot("momentum", i, w)
        v = self.slot("velocity", i, w)
        m += (g - m) * (1 - b1)
        v += (g ** 2 - v) * (1 - b2)
        if c["amsgrad"]:
            v_hat = self.slot("velocity_hat", i, w)
            v_hat[...] = np.maximum(v_hat, v)
            v = v_hat
        w -= (m * alpha) / (np.sqrt(v) + c["epsilon"])

    def adagrad(self, i, w, g):
        c = self.cfg
        acc = self.slot("accumulator", i, w, c["initial_accumulator_value"])
        acc += g ** 2
        w -= c["learning_rate"] * g / np.sqrt(acc + c["epsilon"])


# ----------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------
def make_problem(dtype, seed=0, n_steps=N_STEPS, shapes=SHAPES):
    rng = np.random.default_rng(seed)
    ws = [np.asarray(rng.normal(size=s), dtype=dtype) for s in shapes]
    # gradient scale varies per step so the clip options trigger on some steps only
    scales = [0.05, 3.0, 0.5, 10.0, 0.2, 1.5, 0.8, 4.0]
    gs = [[np.asarray(rng.normal(size=s) * scales[k % len(scales)], dtype=dtype)
           for s in shapes] for k in range(n_steps)]
    return ws, gs


def tolerances(dtype):
    if dtype == np.float64:
        return dict(rtol=1e-12, atol=1e-13)
    return dict(rtol=2e-5, atol=2e-6)


def check_against_reference(kind, config, dtype, n_steps=N_STEPS, seed=0):
    ws, steps = make_problem(dtype, seed, n_steps)
    opt = CLASSES[kind](**config)
    ref = Reference(kind, **config)
    ref_ws = [w.astype(np.float64) for w in ws]
    for k, gs in enumerate(steps):
        opt.apply(gs, ws)
        ref.apply(gs, ref_ws)
        assert opt.iterations == k + 1
        for w, rw in zip(ws, ref_ws):
            assert w.dtype == dtype
            np.testing.assert_allclose(w, rw, **tolerances(dtype),
                                       err_msg=f"{kind} {config} step {k}")
    return opt, ref


OPTION_CASES = [
    ("sgd", {}),
    ("sgd", dict(learning_rate=0.1)),
    ("sgd", dict(learning_rate=0.05, momentum=0.9)),
    ("sgd", dict(learning_rate=0.05, momentum=0.9, nesterov=True)),
    ("sgd", dict(learning_rate=0.05, nesterov=True)),  # no momentum: plain SGD
    ("sgd", dict(learning_rate=0.05, momentum=1.0)),
    ("rmsprop", {}),
    ("rmsprop", dict(learning_rate=0.01, rho=0.8)),
    ("rmsprop", dict(learning_rate=0.01, momentum=0.5)),
    ("rmsprop", dict(learning_rate=0.01, centered=True)),
    ("rmsprop", dict(learning_rate=0.01, rho=0.7, momentum=0.6, centered=True,
                     epsilon=1e-4)),
    ("rmsprop", dict(learning_rate=0.01, rho=0.0)),
    ("adam", {}),
    ("adam", dict(learning_rate=0.01, amsgrad=True)),
    ("adam", dict(learning_rate=0.01, beta_1=0.5, beta_2=0.9, epsilon=1e-3)),
    ("adam", dict(learning_rate=0.01, beta_1=0.0, beta_2=0.5, amsgrad=True)),
    ("adagrad", {}),
    ("adagrad", dict(learning_rate=0.1)),
    ("adagrad", dict(learning_rate=0.1, initial_accumulator_value=0.0,
                     epsilon=1e-3)),
]

CLIP_CASES = [
    dict(clipnorm=1.0),
    dict(clipnorm=5.0),
    dict(clipvalue=0.5),
    dict(global_clipnorm=2.0),
    dict(global_clipnorm=30.0),
]

# one run of each optimizer (with a non-default option) under each clip option
CLIPPED_CASES = [
    (kind, dict(cfg, **clip))
    for kind, cfg in [("sgd", dict(learning_rate=0.05, momentum=0.9,
                                   nesterov=True)),
                      ("rmsprop", dict(learning_rate=0.01, centered=True,
                                       momentum=0.3)),
                      ("adam", dict(learning_rate=0.01, amsgrad=True)),
                      ("adagrad", dict(learning_rate=0.1))]
    for clip in CLIP_CASES
]


def case_id(case):
    kind, cfg = case
    return kind + "-" + ("-".join(f"{k}={v}" for k, v in cfg.items()) or "default")


# ----------------------------------------------------------------------------
# Update rules
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", OPTION_CASES, ids=case_id)
def test_update_matches_keras_formula(case, dtype):
    kind, cfg = case
    check_against_reference(kind, cfg, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", CLIPPED_CASES, ids=case_id)
def test_clipped_update_matches_keras_formula(case, dtype):
    kind, cfg = case
    check_against_reference(kind, cfg, dtype)


@pytest.mark.parametrize("clip", CLIP_CASES, ids=lambda c: str(c))
def test_clipping_actually_triggers(clip):
    # Sanity check of the test data: the clip must change some but not all steps.
    _, steps = make_problem(np.float64)
    changed = []
    for gs in steps:
        clipped = ref_clip(gs, **clip)
        changed.append(any(not np.allclose(a, b, rtol=1e-12, atol=0)
                           for a, b in zip(gs, clipped)))
    assert any(changed) and not all(changed)


def test_keras_docstring_example_rmsprop():
    # keras.optimizers.RMSprop docstring: lr 0.1, var 10, loss var**2/2 -> 9.683772
    var = np.array(10.0, dtype=np.float32)
    opt = RMSprop(learning_rate=0.1)
    opt.apply([var.copy()], [var])
    assert var == pytest.approx(9.683772, abs=1e-6)


def test_sgd_momentum_by_hand():
    w = np.array([1.0])
    opt = SGD(learning_rate=0.1, momentum=0.9)
    opt.apply([np.array([1.0])], [w])   # m = -0.1, w = 0.9
    opt.apply([np.array([1.0])], [w])   # m = -0.09 - 0.1 = -0.19, w = 0.71
    np.testing.assert_allclose(w, [0.71], rtol=1e-15)
    w = np.array([1.0])
    opt = SGD(learning_rate=0.1, momentum=0.9, nesterov=True)
    opt.apply([np.array([1.0])], [w])   # m = -0.1, w = 1 + (-0.09 - 0.1) = 0.81
    np.testing.assert_allclose(w, [0.81], rtol=1e-15)


def test_adam_bias_correction_uses_iterations():
    ws, steps = make_problem(np.float64, n_steps=1)
    opt = Adam(learning_rate=0.01)
    opt.set_state({"iterations": np.array(99)})
    ref = Reference("adam", learning_rate=0.01)
    ref.iterations = 99
    ref_ws = [w.copy() for w in ws]
    opt.apply(steps[0], ws)
    ref.apply(steps[0], ref_ws)
    for w, rw in zip(ws, ref_ws):
        np.testing.assert_allclose(w, rw, rtol=1e-12, atol=1e-13)
    assert opt.iterations == 100


@pytest.mark.parametrize("kind", list(CLASSES))
def test_learning_rate_change_takes_effect(kind):
    ws, steps = make_problem(np.float64)
    opt = CLASSES[kind](learning_rate=0.01)
    ref = Reference(kind, learning_rate=0.01)
    ref_ws = [w.copy() for w in ws]
    for k, gs in enumerate(steps):
        if k == 3:
            opt.learning_rate = np.float32(0.5)    # what a callback may assign
            ref.cfg["learning_rate"] = float(np.float32(0.5))
        opt.apply(gs, ws)
        ref.apply(gs, ref_ws)
    assert isinstance(opt.learning_rate, float)
    for w, rw in zip(ws, ref_ws):
        np.testing.assert_allclose(w, rw, rtol=1e-12, atol=1e-13)


def test_mixed_dtypes_in_one_list():
    w32 = np.ones((2, 2), np.float32)
    w64 = np.ones(3, np.float64)
    opt = Adam(learning_rate=0.1)
    opt.apply([np.ones((2, 2), np.float32), np.ones(3)], [w32, w64])
    assert w32.dtype == np.float32 and w64.dtype == np.float64
    # first Adam step moves each weight by about lr
    np.testing.assert_allclose(w32, 0.9, rtol=1e-5)
    np.testing.assert_allclose(w64, 0.9, rtol=1e-6)


def test_empty_and_scalar_variables():
    ws = [np.zeros((0, 3)), np.array(1.0)]
    opt = RMSprop(momentum=0.5, centered=True)
    opt.apply([np.zeros((0, 3)), np.array(2.0)], ws)
    assert ws[0].shape == (0, 3) and ws[1] < 1.0
    assert opt.get_state()["velocity_0"].shape == (0, 3)


def test_non_contiguous_gradient_is_accepted():
    w = np.ones((3, 4))
    g = np.arange(12.0).reshape(4, 3).T        # (3, 4), Fortran order
    ref_w = np.ones((3, 4))
    SGD(learning_rate=0.1).apply([g], [w])
    ref_w -= 0.1 * g
    np.testing.assert_array_equal(w, ref_w)


def test_global_clipnorm_non_finite_norm_gives_nan_as_keras():
    w = [np.ones(2), np.ones(2)]
    SGD(learning_rate=0.1, global_clipnorm=1.0).apply([np.array([np.inf, 0.0]), np.array([1.0, 1.0])], w)
    assert np.isnan(w[0]).all() and np.isnan(w[1]).all()


def test_zero_gradient_with_clipnorm_is_not_nan():
    for clip in (dict(clipnorm=1.0), dict(global_clipnorm=1.0)):
        w = np.ones(3)
        SGD(**clip).apply([np.zeros(3)], [w])
        np.testing.assert_array_equal(w, np.ones(3))


def test_clip_zero_means_off_as_keras():
    ws, steps = make_problem(np.float64)
    opt = SGD(learning_rate=0.1, clipnorm=0.0)
    ref = Reference("sgd", learning_rate=0.1)
    ref_ws = [w.copy() for w in ws]
    opt.apply(steps[3], ws)
    ref.apply(steps[3], ref_ws)
    for w, rw in zip(ws, ref_ws):
        np.testing.assert_array_equal(w, rw)


# ----------------------------------------------------------------------------
# In place, and grads untouched
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", OPTION_CASES[::3] + CLIPPED_CASES[::2],
                         ids=case_id)
def test_updates_in_place_and_leaves_grads_alone(case, dtype):
    kind, cfg = case
    ws, steps = make_problem(dtype)
    ids = [id(w) for w in ws]
    ptrs = [w.ctypes.data for w in ws]
    before = [w.copy() for w in ws]
    opt = CLASSES[kind](**cfg)
    for gs in steps:
        gs_copy = [g.copy() for g in gs]
        opt.apply(gs, ws)
        for g, gc in zip(gs, gs_copy):
            np.testing.assert_array_equal(g, gc)
    assert [id(w) for w in ws] == ids
    assert [w.ctypes.data for w in ws] == ptrs
    assert any(not np.array_equal(w, b) for w, b in zip(ws, before))


def test_slots_are_not_shared_with_caller():
    w, g = np.ones(4), np.full(4, 0.5)
    opt = SGD(learning_rate=0.1, momentum=0.9)
    opt.apply([g], [w])
    state = opt.get_state()
    state["momentum_0"][...] = 123.0
    assert opt.get_state()["momentum_0"][0] != 123.0


# ----------------------------------------------------------------------------
# State
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", OPTION_CASES + CLIPPED_CASES[:4], ids=case_id)
def test_state_round_trip_continues_identically(case, dtype):
    kind, cfg = case
    ws, steps = make_problem(dtype)
    opt = CLASSES[kind](**cfg)
    for gs in steps[:3]:
        opt.apply(gs, ws)
    state = opt.get_state()
    assert state["iterations"] == 3

    clone = type(opt).from_config(opt.get_config())
    clone.set_state(state)                       # before any apply: builds
    clone_ws = [w.copy() for w in ws]
    for gs in steps[3:]:
        opt.apply(gs, ws)
        clone.apply(gs, clone_ws)
    for w, cw in zip(ws, clone_ws):
        np.testing.assert_array_equal(w, cw)
    assert clone.iterations == opt.iterations == len(steps)
    new_state, old_state = clone.get_state(), opt.get_state()
    assert new_state.keys() == old_state.keys()
    for key in new_state:
        np.testing.assert_array_equal(new_state[key], old_state[key])


def test_set_state_on_built_optimizer():
    ws, steps = make_problem(np.float32)
    a = Adam(learning_rate=0.01, amsgrad=True)
    b = Adam(learning_rate=0.01, amsgrad=True)
    wa, wb = [w.copy() for w in ws], [w.copy() for w in ws]
    a.apply(steps[0], wa)
    a.apply(steps[1], wa)
    b.apply(steps[5], wb)                         # b built, different history
    b.set_state(a.get_state())
    wb = [w.copy() for w in wa]
    a.apply(steps[2], wa)
    b.apply(steps[2], wb)
    for x, y in zip(wa, wb):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("opt, keys", [
    (SGD(), set()),
    (SGD(momentum=0.5), {"momentum"}),
    (RMSprop(), {"velocity"}),
    (RMSprop(momentum=0.1, centered=True),
     {"velocity", "momentum", "average_gradient"}),
    (Adam(), {"momentum", "velocity"}),
    (Adam(amsgrad=True), {"momentum", "velocity", "velocity_hat"}),
    (Adagrad(), {"accumulator"}),
], ids=repr)
def test_state_keys_follow_keras_slot_names(opt, keys):
    ws = [np.ones((2, 3), np.float32), np.ones(4, np.float32)]
    assert set(opt.get_state()) == {"iterations"}
    opt.apply([np.ones((2, 3), np.float32), np.ones(4, np.float32)], ws)
    state = opt.get_state()
    assert set(state) == {"iterations"} | {f"{k}_{i}" for k in keys for i in (0, 1)}
    for k in keys:
        assert state[f"{k}_0"].shape == (2, 3) and state[f"{k}_0"].dtype == np.float32
        assert state[f"{k}_1"].shape == (4,)
    assert state["iterations"].dtype == np.int64


def test_adagrad_initial_accumulator():
    opt = Adagrad(initial_accumulator_value=0.25)
    opt.build([np.zeros(3)])
    np.testing.assert_array_equal(opt.get_state()["accumulator_0"], 0.25)


def test_set_state_errors():
    ws = [np.ones((2, 3)), np.ones(4)]
    gs = [np.ones((2, 3)), np.ones(4)]
    opt = RMSprop(momentum=0.5)
    opt.apply(gs, ws)
    good = opt.get_state()
    snapshot = opt.get_state()

    with pytest.raises(ValueError, match="iterations"):
        opt.set_state({k: v for k, v in good.items() if k != "iterations"})
    with pytest.raises(ValueError, match="non-negative integer"):
        opt.set_state(dict(good, iterations=np.array(-1)))
    with pytest.raises(ValueError, match="Unexpected key 'average_gradient_0'"):
        opt.set_state(dict(good, average_gradient_0=np.ones((2, 3))))
    with pytest.raises(ValueError, match="missing key 'momentum_1'"):
        opt.set_state({k: v for k, v in good.items() if k != "momentum_1"})
    with pytest.raises(ValueError, match="built with shape"):
        opt.set_state(dict(good, velocity_1=np.ones(5), momentum_1=np.ones(5)))
    with pytest.raises(ValueError, match="other slots of variable 0"):
        opt.set_state(dict(good, velocity_0=np.ones((3, 2))))
    with pytest.raises(ValueError, match="float32 or float64"):
        opt.set_state(dict(good, velocity_0=np.ones((2, 3), np.int64)))
    with pytest.raises(ValueError, match="slots for 1 variables"):
        opt.set_state({k: v for k, v in good.items() if not k.endswith("_1")})
    with pytest.raises(ValueError, match="dict"):
        opt.set_state([1, 2])
    # nothing changed by the failed calls
    for k, v in opt.get_state().items():
        np.testing.assert_array_equal(v, snapshot[k])

    # a state restored into an unbuilt optimizer fixes the shapes apply accepts
    fresh = RMSprop(momentum=0.5)
    fresh.set_state(good)
    with pytest.raises(ValueError, match="built with shape"):
        fresh.apply([np.ones((3, 2)), np.ones(4)], [np.ones((3, 2)), np.ones(4)])


# ----------------------------------------------------------------------------
# apply() validation
# ----------------------------------------------------------------------------
def test_apply_validation():
    opt = SGD(learning_rate=0.1, momentum=0.5)
    w = np.ones((2, 3))
    with pytest.raises(ValueError, match="1 variables but 2 gradients"):
        opt.apply([w, w], [w])
    with pytest.raises(ValueError, match="Gradient 0 has shape \\(2, 3\\) float32"):
        opt.apply([np.ones((2, 3), np.float32)], [w])
    with pytest.raises(ValueError, match="Gradient 0 has shape \\(3, 2\\)"):
        opt.apply([np.ones((3, 2))], [w])
    with pytest.raises(ValueError, match="NumPy array"):
        opt.apply([[1.0] * 6], [w])
    with pytest.raises(ValueError, match="C-contiguous"):
        opt.apply([np.ones((2, 3))], [np.ones((3, 2)).T])
    with pytest.raises(ValueError, match="float32 or float64"):
        opt.apply([np.ones(3, np.int32)], [np.ones(3, np.int32)])
    ro = np.ones(3)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        opt.apply([np.ones(3)], [ro])
    assert not opt.built and opt.iterations == 0

    opt.apply([], [])                             # no-op, as Keras
    assert opt.iterations == 0

    w2 = np.ones(4)
    opt.apply([np.ones((2, 3)), np.ones(4)], [w, w2])
    before = [w.copy(), w2.copy()]
    with pytest.raises(ValueError, match="built for 2 variables but received 1"):
        opt.apply([np.ones((2, 3))], [w])
    with pytest.raises(ValueError, match="Variable 1 has shape \\(5,\\) float64"):
        opt.apply([np.ones((2, 3)), np.ones(5)], [w, np.ones(5)])
    with pytest.raises(ValueError, match="Variable 0 has shape \\(2, 3\\) float32"):
        opt.apply([np.ones((2, 3), np.float32), np.ones(4)], [w.astype(np.float32), w2])
    with pytest.raises(ValueError, match="No gradients"):
        opt.apply([None, None], [w, w2])
    # validation happens before any update
    with pytest.raises(ValueError):
        opt.apply([np.ones((2, 3)), np.ones(5)], [w, w2])
    np.testing.assert_array_equal(w, before[0])
    np.testing.assert_array_equal(w2, before[1])
    assert opt.iterations == 1


def test_none_gradient_skips_variable_with_warning():
    w1, w2 = np.ones(2), np.ones(3)
    opt = SGD(learning_rate=0.1)
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        opt.apply([None, np.ones(3)], [w1, w2])
    np.testing.assert_array_equal(w1, 1.0)
    np.testing.assert_allclose(w2, 0.9)


def test_apply_gradients_keras_style():
    w = np.ones(3)
    opt = SGD(learning_rate=0.1)
    assert opt.apply_gradients([(np.ones(3), w)]) == 1
    np.testing.assert_allclose(w, 0.9)


# ----------------------------------------------------------------------------
# Constructor, config, get()
# ----------------------------------------------------------------------------
def test_keras_defaults():
    assert SGD().get_config() == dict(
        name="SGD", learning_rate=0.01, clipnorm=None, global_clipnorm=None,
        clipvalue=None, momentum=0.0, nesterov=False)
    assert RMSprop().get_config() == dict(
        name="rmsprop", learning_rate=0.001, clipnorm=None, global_clipnorm=None,
        clipvalue=None, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False)
    assert Adam().get_config() == dict(
        name="adam", learning_rate=0.001, clipnorm=None, global_clipnorm=None,
        clipvalue=None, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False)
    assert Adagrad().get_config() == dict(
        name="adagrad", learning_rate=0.001, clipnorm=None, global_clipnorm=None,
        clipvalue=None, initial_accumulator_value=0.1, epsilon=1e-7)


@pytest.mark.parametrize("case", OPTION_CASES + CLIPPED_CASES, ids=case_id)
def test_config_round_trip(case):
    kind, cfg = case
    opt = CLASSES[kind](name="mine", **cfg)
    config = opt.get_config()
    for k, v in cfg.items():
        assert config[k] == v
    clone = type(opt).from_config(config)
    assert clone.get_config() == config
    again = optimizers.deserialize(optimizers.serialize(opt))
    assert type(again) is type(opt) and again.get_config() == config


def test_keras_config_with_unsupported_noop_entries_loads():
    keras_config = {
        "name": "adam", "learning_rate": 0.002, "weight_decay": None,
        "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
        "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
        "loss_scale_factor": None, "gradient_accumulation_steps": None,
        "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": False,
    }
    opt = optimizers.get({"module": "keras.optimizers", "class_name": "Adam",
                          "config": keras_config, "registered_name": None})
    assert isinstance(opt, Adam) and opt.learning_rate == 0.002
    with pytest.raises(ValueError, match="`weight_decay` is not supported"):
        Adam(weight_decay=0.01)
    with pytest.raises(ValueError, match="`use_ema` is not supported"):
        Adam(use_ema=True)
    with pytest.raises(ValueError, match="not recognized"):
        Adam(betas=(0.9, 0.99))
    with pytest.warns(UserWarning, match="decay"):
        SGD(decay=0.1)


def test_get():
    for s, cls in [("sgd", SGD), ("SGD", SGD), ("rmsprop", RMSprop),
                   ("RMSprop", RMSprop), ("Adam", Adam), ("ADAGRAD", Adagrad)]:
        opt = optimizers.get(s)
        assert type(opt) is cls
        assert opt.get_config() == cls().get_config()
    opt = RMSprop(learning_rate=0.5)
    assert optimizers.get(opt) is opt
    assert optimizers.get(None) is None
    opt = optimizers.get({"class_name": "rmsprop",
                          "config": {"learning_rate": 0.25, "centered": True}})
    assert isinstance(opt, RMSprop) and opt.centered and opt.learning_rate == 0.25
    assert isinstance(optimizers.get({"class_name": "SGD"}), SGD)


def test_get_errors():
    with pytest.raises(ValueError) as e:
        optimizers.get("nadam")
    msg = str(e.value)
    assert "'nadam'" in msg
    for name in ("'sgd'", "'rmsprop'", "'adam'", "'adagrad'"):
        assert name in msg
    with pytest.raises(ValueError, match="Valid names"):
        optimizers.get({"class_name": "adamw", "config": {}})
    with pytest.raises(ValueError, match="class_name"):
        optimizers.get({"learning_rate": 0.1})
    with pytest.raises(ValueError, match="Could not interpret"):
        optimizers.get(3)


@pytest.mark.parametrize("cls, kwargs, match", [
    (SGD, dict(learning_rate=-0.1), r"`learning_rate` must be in \[0.0, inf\)"),
    (SGD, dict(learning_rate=float("nan")), "`learning_rate` must be finite"),
    (SGD, dict(learning_rate="0.1"), "`learning_rate` must be a float"),
    (SGD, dict(learning_rate=True), "`learning_rate` must be a float"),
    (SGD, dict(momentum=-0.1), r"`momentum` must be in \[0.0, 1.0\]"),
    (SGD, dict(momentum=1.5), r"`momentum` must be in \[0.0, 1.0\]"),
    (SGD, dict(nesterov="yes"), "`nesterov` must be a bool"),
    (RMSprop, dict(rho=1.0), r"`rho` must be in \[0.0, 1.0\)"),
    (RMSprop, dict(rho=-0.5), r"`rho` must be in \[0.0, 1.0\)"),
    (RMSprop, dict(momentum=-1.0), "`momentum` must be in"),
    (RMSprop, dict(epsilon=-1e-7), r"`epsilon` must be in \[0.0, inf\)"),
    (RMSprop, dict(centered=1), "`centered` must be a bool"),
    (Adam, dict(beta_1=1.0), r"`beta_1` must be in \[0.0, 1.0\)"),
    (Adam, dict(beta_2=-0.1), r"`beta_2` must be in \[0.0, 1.0\)"),
    (Adam, dict(epsilon=float("inf")), "`epsilon` must be finite"),
    (Adam, dict(amsgrad=None), "`amsgrad` must be a bool"),
    (Adagrad, dict(initial_accumulator_value=-0.1),
     "`initial_accumulator_value` must be in"),
    (Adagrad, dict(clipnorm=-1.0), "`clipnorm` must be in"),
    (Adagrad, dict(clipvalue="big"), "`clipvalue` must be a float"),
    (Adam, dict(global_clipnorm=-2), "`global_clipnorm` must be in"),
    (Adam, dict(name=3), "`name` must be a string"),
], ids=lambda x: x if isinstance(x, str) else None)
def test_bad_hyperparameters(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


def test_learning_rate_setter_validates():
    opt = Adam()
    opt.learning_rate = 1          # ints are accepted and stored as float
    assert opt.learning_rate == 1.0 and isinstance(opt.learning_rate, float)
    opt.learning_rate = np.array(0.25)
    assert opt.learning_rate == 0.25
    with pytest.raises(ValueError, match="learning_rate"):
        opt.learning_rate = -1e-3
    with pytest.raises(ValueError, match="learning_rate"):
        opt.learning_rate = None
    assert opt.learning_rate == 0.25
    assert opt.get_config()["learning_rate"] == 0.25


@pytest.mark.parametrize("clip", [
    dict(clipnorm=1.0, clipvalue=1.0),
    dict(clipnorm=1.0, global_clipnorm=1.0),
    dict(clipvalue=1.0, global_clipnorm=1.0),
    dict(clipnorm=1.0, clipvalue=1.0, global_clipnorm=1.0),
    dict(clipnorm=0.0, clipvalue=1.0),    # Keras counts "is not None"
], ids=lambda c: "+".join(c))
@pytest.mark.parametrize("cls", list(CLASSES.values()), ids=lambda c: c.__name__)
def test_clip_options_mutually_exclusive(cls, clip):
    with pytest.raises(ValueError,
                       match="Only one of `clipnorm`, `clipvalue` and "
                             "`global_clipnorm` can be set"):
        cls(**clip)


def test_hyperparameter_toggled_after_build_creates_slot():
    # Keras would fail here; we create the newly needed slot (zeros) lazily.
    ws, steps = make_problem(np.float64)
    opt = RMSprop(learning_rate=0.01)
    ref = Reference("rmsprop", learning_rate=0.01)
    ref_ws = [w.copy() for w in ws]
    opt.apply(steps[0], ws)
    ref.apply(steps[0], ref_ws)
    opt.centered = True
    ref.cfg["centered"] = True
    opt.apply(steps[1], ws)
    ref.apply(steps[1], ref_ws)
    for w, rw in zip(ws, ref_ws):
        np.testing.assert_allclose(w, rw, rtol=1e-12, atol=1e-13)
    assert "average_gradient_0" in opt.get_state()


def test_kernel_module_direct():
    from fastrnn._ext import _optim
    x = np.arange(5, dtype=np.float32)
    assert _optim.sum_squares(x) == 30.0
    rng = np.random.default_rng(1)
    for n in range(12):                          # unrolled loop + every tail length
        for dtype in DTYPES:
            y = rng.normal(size=n).astype(dtype)
            assert math.isclose(_optim.sum_squares(y),
                                float(np.sum(y.astype(np.float64) ** 2)),
                                rel_tol=1e-14, abs_tol=1e-300)
    big = np.full(4, 3e30, np.float32)           # squares overflow float32
    assert math.isclose(math.sqrt(_optim.sum_squares(big)), 6e30, rel_tol=1e-6)
    with pytest.raises((TypeError, ValueError)):
        _optim.sgd(np.ones(3, np.float32), np.ones(3), None, 0.1, 0.0, False)


def test_repeated_steps_on_the_same_buffers_match_fresh_calls():
    """The cached fast path (validated once, all variables in one kernel call) gives
    what per-step fresh lists give, and follows changes made in place to the grads."""
    rng = np.random.default_rng(3)
    for make in (lambda: RMSprop(0.01), lambda: Adam(0.01, amsgrad=True),
                 lambda: SGD(0.1, momentum=0.9, nesterov=True), lambda: Adagrad(0.1)):
        ws1 = [rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=5).astype(np.float32)]
        ws2 = [w.copy() for w in ws1]
        gs = [np.zeros_like(w) for w in ws1]
        o1, o2 = make(), make()
        for _ in range(4):
            for g in gs:
                g[...] = rng.normal(size=g.shape)
            o1.apply(gs, ws1)                              # same lists: the fast path
            o2.apply([g.copy() for g in gs], list(ws2))    # new arrays every step
        for a, b in zip(ws1, ws2):
            np.testing.assert_array_equal(a, b)


def test_non_contiguous_gradient_is_not_cached_stale():
    w = np.zeros(4)
    g = np.zeros((4, 2))[:, 0]                     # a strided view: copied when flattened
    opt = SGD(1.0)
    g[...] = 1.0
    opt.apply([g], [w])
    g[...] = 2.0
    opt.apply([g], [w])
    np.testing.assert_array_equal(w, [-3.0] * 4)
