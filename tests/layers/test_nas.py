"""NAS cell (Zoph & Le 2017, tensorflow-addons' form): projection, state order, config, saving, export.

Its equations against the float64 reference (with and without projection and
bias), masking, gradients, the fast loop and the memory task are in the
shared parametrized tests (test_reference_equations, test_masking,
test_gradients, test_fast_path, test_learning).
"""

import keras
import numpy as np
import pytest

import kerasrnn
from kerasrnn import registry
from kerasrnn.layers import NAS, NASCell
from tests.helpers import cell_checks as cells


def test_weight_shapes_as_tensorflow_addons():
    layer = NAS(6)
    layer.build((2, 3, 4))
    shapes = {w.name: tuple(w.shape) for w in layer.cell.weights}
    assert shapes == {"kernel": (4, 48), "recurrent_kernel": (6, 48)}  # tfa: no bias by default
    layer = NAS(6, projection=3, use_bias=True)
    layer.build((2, 3, 4))
    shapes = {w.name: tuple(w.shape) for w in layer.cell.weights}
    assert shapes == {"kernel": (4, 48), "recurrent_kernel": (3, 48), "bias": (48,), "projection_weights": (6, 3)}


def test_projected_states_output_first():
    x = np.random.default_rng(0).normal(size=(2, 5, 4)).astype("float32")
    rnn = keras.layers.RNN(NASCell(6, projection=3), return_sequences=True, return_state=True)
    outputs, h, c = cells.numpy(rnn(x))
    assert outputs.shape == (2, 5, 3) and h.shape == (2, 3) and c.shape == (2, 6)
    np.testing.assert_array_equal(outputs[:, -1], h)
    bi = keras.layers.Bidirectional(NAS(6, projection=3, return_sequences=True))
    assert tuple(bi(x).shape) == (2, 5, 6)


def test_masked_projected_layer_in_functional_model():
    x = np.random.default_rng(1).normal(size=(2, 5, 4)).astype("float32")
    x[1, 3:] = 0.0
    inputs = keras.Input((None, 4))
    masked = keras.layers.Masking(0.0)(inputs)
    outputs = NAS(6, projection=3, return_sequences=True)(masked)
    model = keras.Model(inputs, outputs)
    full = cells.numpy(model(x))[0]
    short = cells.numpy(model(x[1:, :3]))[0]
    np.testing.assert_allclose(full[1, :3], short[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(full[1, 3:], np.broadcast_to(short[0, -1], (2, 3)), rtol=1e-5, atol=1e-6)


def test_bad_projection():
    for bad in (0, -2, 2.5, True):
        with pytest.raises(ValueError, match="projection"):
            NASCell(3, projection=bad)


def test_pytorch_initialization_bounds():
    units = 16
    keras.utils.set_random_seed(0)
    model = kerasrnn.build_model("nas", "classification", (6, 3), 5, units=units, init="pytorch")
    bound = 1 / np.sqrt(units)
    for variable in model.weights:
        if variable.path.startswith("classifier"):
            continue
        value = keras.ops.convert_to_numpy(variable.value)
        assert np.abs(value).max() <= bound + 1e-7, variable.path
        assert 0.45 * bound < value.std() < 0.7 * bound, variable.path


def test_architectures_are_registered():
    assert registry.architecture("nas").cell == "nas"
    assert registry.architecture("binas").bidirectional


def test_config_round_trip():
    cell = NASCell(
        3,
        projection=2,
        use_bias=True,
        projection_initializer="ones",
        projection_regularizer="l2",
        projection_constraint="non_neg",
        seed=2,
    )
    config = cell.get_config()
    assert config["projection"] == 2 and config["use_bias"] is True
    assert NASCell.from_config(config).get_config() == config
    layer = NAS(3, projection=2, return_state=True)
    assert NAS.from_config(layer.get_config()).get_config() == layer.get_config()


def test_keras_file_round_trip(tmp_path):
    cells.check_keras_file_round_trip(
        tmp_path,
        lambda units, **kw: NAS(units, use_bias=True, **kw),
        lambda units: NASCell(units, projection=3),
        "nas",
    )


def test_recurrent_matches_hand_stacked():
    cells.check_recurrent_matches_hand_stacked("nas", NAS, 2, {"use_bias": True})


def test_stateful():
    cells.check_stateful(NAS, projection=3, use_bias=True)


def test_dropout():
    cells.check_dropout(NAS)


def test_recurrent_with_a_projected_nas_reports_the_projected_width():
    inputs = keras.Input((None, 4))
    recurrent = kerasrnn.layers.Recurrent(
        "nas", 6, cell_kwargs={"projection": 3}, bidirectional=True, return_state=True
    )
    outputs = recurrent(inputs)
    assert [tuple(t.shape) for t in outputs] == [(None, 6), (None, 3), (None, 6), (None, 3), (None, 6)]
    model = keras.Model(inputs, outputs)
    computed = model(np.zeros((2, 5, 4), "float32"))
    assert [tuple(np.shape(t)) for t in computed] == [(2, 6), (2, 3), (2, 6), (2, 3), (2, 6)]
