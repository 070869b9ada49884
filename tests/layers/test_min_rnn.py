"""MinGRU and MinLSTM (Feng et al. 2024): the parallel scan against the step-by-step cell.

The float64 reference of their equations, masking, gradients against central
differences, the plain-cell comparison and the memory task are in the shared
parametrized tests (test_reference_equations, test_masking, test_gradients,
test_fast_path, test_learning), where ``min_gru`` and ``min_lstm`` are cases.
Here: the scan (the layers' default) equals Keras' step loop over the same
cell in every configuration the layer supports, numerically, including long
sequences, extreme gates and gradients.
"""

import keras
import numpy as np
import pytest

from kerasrnn import registry
from kerasrnn.layers import MinGRU, MinGRUCell, MinLSTM, MinLSTMCell
from kerasrnn.layers.linear_recurrence import candidate_activation, log_candidate_activation
from tests.helpers import cell_checks as cells
from tests.helpers import numpy_reference as ref
from tests.helpers.gradients import gradients_of

LAYERS = {"min_gru": (MinGRU, MinGRUCell, ref.run_min_gru), "min_lstm": (MinLSTM, MinLSTMCell, ref.run_min_lstm)}
UNITS, INPUT = 5, 4
SHAPE = (3, 13, INPUT)  # one shape wherever possible: JAX compiles each op per shape
TOLERANCE = 1e-5
BACKEND = keras.backend.backend()


def _np(tensors):
    return cells.numpy(tensors)


def _twins(name, log_space=True, **options):
    """The same weights in a scanning layer and a step-by-step one."""
    cls = LAYERS[name][0]
    kwargs = dict(log_space=log_space, return_sequences=True, return_state=True, **options)
    scan = cls(UNITS, **kwargs)
    step = cls(UNITS, parallel_scan=False, **kwargs)
    return scan, step


def _randomized(layers, shape, seed, scale=1.0):
    rng = np.random.default_rng(seed)
    for layer in layers:
        layer.build(shape)
    ref.randomize_weights(layers[0], rng, scale=scale)
    for layer in layers[1:]:
        layer.set_weights(layers[0].get_weights())
    return rng


def _agreement(label, got, want, tolerance=TOLERANCE):
    for g, w in zip(got, want):
        err = ref.record_error(label, ref.relative_error(g, w))
        assert err < tolerance, f"{label}: relative error {err:.2e}"


# -- the function the docstrings state ---------------------------------------------------


@pytest.mark.backend_independent
def test_candidate_activation_is_the_papers_g():
    v = np.array([-30.0, -2.0, -1e-3, 0.0, 1e-3, 2.0, 30.0], "float32")
    expected = np.where(v >= 0, v + 0.5, 1 / (1 + np.exp(-v.astype(np.float64))))
    np.testing.assert_allclose(_np(candidate_activation(v))[0], expected, rtol=1e-6)
    np.testing.assert_allclose(_np(log_candidate_activation(v))[0], np.log(expected), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", list(LAYERS))
def test_weight_shapes_in_gate_order(name):
    cls = LAYERS[name][0]
    layer = cls(6)
    layer.build((2, 3, 4))
    gates = 2 if name == "min_gru" else 3
    assert {w.name: tuple(w.shape) for w in layer.cell.weights} == {"kernel": (4, gates * 6), "bias": (gates * 6,)}


# -- scan == steps -------------------------------------------------------------------


@pytest.mark.parametrize("log_space", [True, False], ids=["log_space", "linear"])
@pytest.mark.parametrize("name", list(LAYERS))
def test_scan_equals_steps(name, log_space):
    """Masks, an initial state of both signs, go_backwards, zero_output_for_mask: scan == Keras' loop."""
    x_shape = SHAPE
    right_padded = np.arange(13)[None, :] < np.array([13, 7, 2])[:, None]
    left_padded = right_padded[:, ::-1]
    # (go_backwards, zero_output_for_mask, mask, with an initial state)
    configurations = [(True, True, left_padded, True), (False, False, right_padded, True)]
    if log_space:
        configurations.append((False, False, left_padded, False))
    if log_space and BACKEND == "jax":
        # Before the first unmasked step Keras' TF and torch loops output zeros while the
        # state is h0; the scan (as Keras' JAX loop) outputs the carried state.
        configurations.append((False, False, left_padded, True))
    for go_backwards, zero_output, mask, with_initial_state in configurations:
        scan, step = _twins(name, log_space, go_backwards=go_backwards, zero_output_for_mask=zero_output)
        rng = _randomized([scan, step], x_shape, seed=[go_backwards, zero_output, log_space, with_initial_state])
        x = rng.normal(size=x_shape).astype("float32")
        h0 = [rng.uniform(-2.0, 2.0, (3, UNITS)).astype("float32")] if with_initial_state else None  # both signs
        label = f"scan vs steps {name}{'' if log_space else ' linear'}"
        _agreement(label, _np(scan(x, mask=mask, initial_state=h0)), _np(step(x, mask=mask, initial_state=h0)))


def test_scan_gradients_equal_step_gradients():
    name = "min_gru"  # min_lstm: test_fast_path, against keras.layers.RNN(MinLSTMCell)
    scan, step = _twins(name)
    rng = _randomized([scan, step], SHAPE, seed=4)
    x = rng.normal(size=SHAPE).astype("float32")
    probe = rng.normal(size=SHAPE[:2] + (UNITS,)).astype("float32")
    scan_grads, step_grads = gradients_of(scan, x, probe), gradients_of(step, x, probe)
    for got, want in zip(scan_grads, step_grads):
        err = ref.record_error(f"scan vs steps gradient {name}", ref.relative_error(got, want))
        assert err < 1e-4, f"{name}: gradient relative error {err:.2e}"


@pytest.mark.parametrize("name", list(LAYERS))
def test_long_sequence_against_float64_reference(name):
    """T = 1024 with slowly decaying gates (the state keeps ~all its past): the scan stays float32-accurate."""
    cls, _, reference = LAYERS[name]
    layer = cls(UNITS, return_sequences=True, return_state=True)
    length = 1024
    rng = _randomized([layer], (2, length, INPUT), seed=5, scale=0.3)
    weights = ref.named_weights(layer)
    bias = weights["bias"].copy()
    if name == "min_gru":
        bias[:UNITS] = -4.0  # z ≈ 0.02: the state decays by ~e^-20 over the sequence
    else:
        bias[:UNITS], bias[UNITS : 2 * UNITS] = 4.0, -4.0  # f' ≈ 0.98
    layer.cell.set_weights([weights["kernel"].astype("float32"), bias.astype("float32")])
    weights["bias"] = bias
    x = rng.normal(size=(2, length, INPUT)).astype("float32")
    h0 = rng.uniform(-1.0, 1.0, (2, UNITS)).astype("float32")
    # Through a compiled predict: one JAX compilation instead of one per eager op and scan level.
    x_in, h_in = keras.Input((length, INPUT)), keras.Input((UNITS,))
    model = keras.Model([x_in, h_in], layer(x_in, initial_state=[h_in]))
    outputs, state = _np(model.predict([x, h0], verbose=0))
    expected, (expected_state,) = reference(x, weights, initial_state=[h0])
    _agreement(f"long T=1024 {name}", [outputs, state], [expected, expected_state], tolerance=1e-4)


class _WithMask(keras.layers.Layer):
    """``layer(x, mask=mask)`` with a fixed mask, for ``gradients_of``."""

    def __init__(self, layer, mask):
        super().__init__()
        self.layer, self.mask = layer, mask
        self.built = True  # the wrapped layer is

    def call(self, x):
        return self.layer(x, mask=keras.ops.convert_to_tensor(self.mask))


@pytest.mark.parametrize("name", list(LAYERS))
def test_saturated_gates_stay_finite_with_masks(name):
    """Gates at ±60 (log a or log b at float32's ends) and whole masked prefixes: no inf, no nan."""
    scan, step = _twins(name)
    rng = _randomized([scan, step], SHAPE, seed=6, scale=40.0)
    x = rng.normal(size=SHAPE).astype("float32")
    mask = np.ones(SHAPE[:2], bool)
    mask[1, :5] = False
    got, want = _np(scan(x, mask=mask)), _np(step(x, mask=mask))
    assert all(np.all(np.isfinite(g)) for g in got)
    _agreement(f"saturated {name}", got, want)
    (grad_x, *grad_w) = gradients_of(_WithMask(scan, mask), x, np.ones(SHAPE[:2] + (UNITS,), "float32"))
    assert np.all(np.isfinite(grad_x)) and all(np.all(np.isfinite(g)) for g in grad_w)


def test_dropout_is_one_mask_per_sequence_in_both_paths():
    name = "min_lstm"
    # Both cells have seed=3, so they draw the same mask; the scan applies it to
    # the whole sequence, the loop step by step.
    scan, step = _twins(name, dropout=0.5, seed=3)
    rng = _randomized([scan, step], SHAPE, seed=7)
    x = rng.normal(size=SHAPE).astype("float32")
    got, want = _np(scan(x, training=True)), _np(step(x, training=True))
    _agreement(f"dropout scan vs steps {name}", got, want)
    assert not np.allclose(got[0], _np(scan(x))[0])  # the mask did something
    np.testing.assert_array_equal(_np(scan(x, training=False))[0], _np(scan(x))[0])


def test_stateful_by_the_scan():
    cells.check_stateful(MinGRU)  # the scan carries the state between calls


# -- keras integration ------------------------------------------------------------------


@pytest.mark.backend_independent
def test_architectures_and_aliases_are_registered():
    assert registry.architecture("min-gru").cell == "min_gru"
    assert registry.architecture("min-lstm").cell == "min_lstm"
    assert registry.architecture("bimingru").name == "bimin-gru" and registry.architecture("bimin-gru").bidirectional
    assert registry.architecture("minlstm").name == "min-lstm"
    assert registry.architecture("biminlstm").name == "bimin-lstm"


@pytest.mark.backend_independent
def test_config_round_trip_and_no_recurrent_arguments():
    cell = MinLSTMCell(3, log_space=False, use_bias=False, dropout=0.1, seed=4, kernel_regularizer="l2")
    config = cell.get_config()
    assert MinLSTMCell.from_config(config).get_config() == config
    assert not any(key.startswith(("recurrent", "activation")) for key in config)
    layer = MinGRU(3, go_backwards=True, parallel_scan=False, log_space=False)
    config = layer.get_config()
    assert config["parallel_scan"] is False and config["log_space"] is False
    assert MinGRU.from_config(config).get_config() == config
    with pytest.raises(TypeError, match="recurrent_dropout"):
        MinGRU(3, recurrent_dropout=0.1)


def test_keras_file_round_trip(tmp_path):
    """The layers (scan and step forms, both log_space settings) and a cell in Bidirectional(RNN) survive .keras."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, INPUT))
    h = keras.layers.Masking()(inputs)
    h = MinGRU(UNITS, return_sequences=True, log_space=False)(h)
    h = keras.layers.Bidirectional(keras.layers.RNN(MinLSTMCell(3), return_sequences=True))(h)
    h = MinLSTM(UNITS, parallel_scan=False, go_backwards=True)(h)
    model = keras.Model(inputs, keras.layers.Dense(2)(h))
    x = np.random.default_rng(0).normal(size=(3, 6, INPUT)).astype("float32")
    path = str(tmp_path / "model.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(model.predict(x, verbose=0), reloaded.predict(x, verbose=0))
    for index in (2, 4):  # MinGRU, MinLSTM (Bidirectional names its inner layers afresh)
        assert reloaded.layers[index].get_config() == model.layers[index].get_config()


def test_recurrent_matches_hand_stacked():
    cells.check_recurrent_matches_hand_stacked("min_lstm", MinLSTM, 1)


def test_cells_in_rnn_and_bidirectional():
    cells.check_cell_in_rnn_and_bidirectional(MinGRUCell)
    cells.check_cell_in_rnn_and_bidirectional(MinLSTMCell, log_space=False)
