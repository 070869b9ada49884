"""IndRNN (Li et al. 2018): clipping, initialization, config, saving, wrappers, export.

Its equations against the float64 reference, masking, gradients, the fast
loop and the memory task are in the shared parametrized tests
(test_reference_equations, test_masking, test_gradients, test_fast_path,
test_learning), where ``ind_rnn`` is one of the cases.
"""

import keras
import numpy as np
import pytest

import kerasrnn
from kerasrnn import registry
from kerasrnn.layers import IndRNN, IndRNNCell
from kerasrnn.layers.ind_rnn import MaxAbs, relu_recurrent_bound
from tests.helpers import cell_checks as cells


def _u(layer):
    return keras.ops.convert_to_numpy(layer.cell.recurrent_kernel.value)


def test_paper_bound():
    assert relu_recurrent_bound(1) == 2.0
    assert relu_recurrent_bound(784) == pytest.approx(2 ** (1 / 784))
    assert relu_recurrent_bound(10, magnitude=4.0) == pytest.approx(4**0.1)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="time_steps"):
            relu_recurrent_bound(bad)


def test_default_initialization_is_uniform_0_1():
    keras.utils.set_random_seed(0)
    layer = IndRNN(256)
    layer.build((2, 3, 4))
    u = _u(layer)
    assert u.shape == (256,)
    assert 0.0 <= u.min() and u.max() <= 1.0
    assert 0.2 < u.std() < 0.38  # U(0, 1): std 0.289
    assert layer.cell.recurrent_bound is None
    assert layer.cell.recurrent_kernel.constraint is None
    bias = keras.ops.convert_to_numpy(layer.cell.bias.value)
    np.testing.assert_array_equal(bias, np.zeros(256))


def test_time_steps_clip_and_initialize_within_the_bound():
    keras.utils.set_random_seed(0)
    bound = 2 ** (1 / 50)
    layer = IndRNN(64, time_steps=50)
    layer.build((2, 3, 4))
    assert layer.cell.recurrent_bound == pytest.approx(bound)
    u = _u(layer)
    assert 0.0 <= u.min() and u.max() <= bound and u.max() > 0.9
    constraint = layer.cell.recurrent_kernel.constraint
    assert isinstance(constraint, MaxAbs) and constraint.max_value == pytest.approx(bound)
    clipped = keras.ops.convert_to_numpy(constraint(keras.ops.convert_to_tensor([-3.0, 0.5, 3.0])))
    np.testing.assert_allclose(clipped, [-bound, 0.5, bound], rtol=1e-6)


def test_training_keeps_the_recurrent_weights_clipped():
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(32, 6, 3)).astype("float32")
    y = np.random.default_rng(1).normal(size=(32, 1)).astype("float32") * 10
    layer = IndRNN(8, recurrent_max_abs=0.3, recurrent_initializer="ones")
    model = keras.Sequential([keras.Input((6, 3)), layer, keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(1.0), "mse")
    model.fit(x, y, epochs=2, verbose=0)
    u = _u(layer)
    assert np.abs(u).max() <= 0.3 + 1e-7
    assert np.isclose(np.abs(u), 0.3).any()  # the initial 1s were clipped, not merely small


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="no gate.*recurrent_activation"):
        IndRNNCell(3, recurrent_activation="sigmoid")
    with pytest.raises(ValueError, match="not both"):
        IndRNNCell(3, time_steps=10, recurrent_max_abs=1.1)
    with pytest.raises(ValueError, match="derived for relu"):
        IndRNNCell(3, time_steps=10, activation="tanh")
    with pytest.raises(ValueError, match="recurrent_constraint"):
        IndRNNCell(3, recurrent_max_abs=1.0, recurrent_constraint="non_neg")
    with pytest.raises(ValueError, match="recurrent_max_abs"):
        IndRNNCell(3, recurrent_max_abs=-1.0)
    with pytest.raises(ValueError, match="time_steps"):
        IndRNNCell(3, time_steps=0)
    # Without a bound any activation and constraint are fine.
    IndRNNCell(3, activation="tanh", recurrent_max_abs=0.9)
    IndRNNCell(3, recurrent_constraint="non_neg")


def test_pytorch_initialization_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="does not apply to ind_rnn"):
        kerasrnn.build_model("ind-rnn", "classification", (6, 3), 2, units=3, init="pytorch")
    with pytest.raises(ValueError, match="does not apply to ind_rnn"):
        kerasrnn.build_model("biind-rnn", "classification", (6, 3), 2, units=3, init="pytorch")


def test_architectures_are_registered():
    assert registry.architecture("ind-rnn").cell == "ind_rnn"
    bi = registry.architecture("biind-rnn")
    assert bi.cell == "ind_rnn" and bi.bidirectional


def test_config_round_trip():
    for kwargs in (
        {},
        {"time_steps": 100},
        {"recurrent_max_abs": 0.7, "activation": "tanh"},
        {"recurrent_initializer": "ones", "recurrent_constraint": "non_neg"},
    ):
        cell = IndRNNCell(3, **kwargs)
        config = cell.get_config()
        assert config["recurrent_activation"] is None
        for key, value in kwargs.items():
            if key not in ("activation", "recurrent_initializer", "recurrent_constraint"):
                assert config[key] == value
        assert IndRNNCell.from_config(config).get_config() == config
        layer = IndRNN(3, **kwargs)
        assert IndRNN.from_config(layer.get_config()).get_config() == layer.get_config()


def test_keras_file_round_trip(tmp_path):
    cells.check_keras_file_round_trip(
        tmp_path,
        lambda units, **kw: IndRNN(units, time_steps=6, **kw),
        lambda units: IndRNNCell(units, recurrent_max_abs=1.2),
        "ind_rnn",
        {"time_steps": 6},
    )


def test_recurrent_matches_hand_stacked():
    cells.check_recurrent_matches_hand_stacked("ind_rnn", IndRNN, 1, {"time_steps": 6})


def test_stateful():
    cells.check_stateful(IndRNN, activation="tanh")


def test_dropout():
    cells.check_dropout(IndRNN)
