"""MGU (Zhou et al. 2016): the gate's double role, config, saving, wrappers, export.

Its equations against the float64 reference, masking, gradients, the fast
loop and the memory task are in the shared parametrized tests
(test_reference_equations, test_masking, test_gradients, test_fast_path,
test_learning), where ``mgu`` is one of the cases.
"""

import keras
import numpy as np

import kerasrnn
from kerasrnn import registry
from kerasrnn.layers import MGU, MGUCell
from tests.helpers import cell_checks as cells


def test_weight_shapes_in_gate_order():
    layer = MGU(6)
    layer.build((2, 3, 4))
    shapes = {w.name: tuple(w.shape) for w in layer.cell.weights}
    assert shapes == {"kernel": (4, 12), "recurrent_kernel": (6, 12), "bias": (12,)}


def test_closed_gate_keeps_the_state_open_gate_takes_the_candidate():
    # f = 0 (bias -> -inf): h_t = h_{t-1}; f = 1: h_t = tanh(W_h x + U_h h + b_h), a GRU-free RNN.
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    h0 = np.random.default_rng(1).normal(size=(2, 5)).astype("float32")
    layer = MGU(5, return_state=True)
    layer.build(x.shape)
    kernel, recurrent, bias = [w.copy() for w in layer.cell.get_weights()]
    bias[:5] = -1e4
    layer.cell.set_weights([kernel, recurrent, bias])
    _, h = cells.numpy(layer(x, initial_state=[h0]))
    np.testing.assert_allclose(h, h0, rtol=1e-6)
    bias[:5] = 1e4
    layer.cell.set_weights([kernel, recurrent, bias])
    _, h = cells.numpy(layer(x, initial_state=[h0]))
    expected = h0.astype(np.float64)
    for t in range(4):
        expected = np.tanh(x[:, t] @ kernel[:, 5:] + expected @ recurrent[:, 5:] + bias[5:])
    np.testing.assert_allclose(h, expected, rtol=1e-5, atol=1e-6)


def test_pytorch_initialization_bounds():
    units = 16
    keras.utils.set_random_seed(0)
    model = kerasrnn.build_model("bimgu", "classification", (6, 3), 5, units=units, init="pytorch")
    bound = 1 / np.sqrt(units)
    for variable in model.weights:
        if variable.path.startswith("classifier"):
            continue
        value = keras.ops.convert_to_numpy(variable.value)
        assert np.abs(value).max() <= bound + 1e-7, variable.path
        assert np.unique(value).size >= 0.9 * value.size, variable.path


def test_architectures_are_registered():
    assert registry.architecture("mgu").cell == "mgu"
    assert registry.architecture("bimgu").bidirectional


def test_config_round_trip():
    cell = MGUCell(
        3,
        activation="softsign",
        recurrent_activation="hard_sigmoid",
        use_bias=False,
        dropout=0.1,
        recurrent_dropout=0.2,
        seed=4,
    )
    config = cell.get_config()
    assert MGUCell.from_config(config).get_config() == config
    layer = MGU(3, go_backwards=True, kernel_regularizer="l2")
    assert MGU.from_config(layer.get_config()).get_config() == layer.get_config()


def test_keras_file_round_trip(tmp_path):
    cells.check_keras_file_round_trip(tmp_path, MGU, MGUCell, "mgu")


def test_recurrent_matches_hand_stacked():
    cells.check_recurrent_matches_hand_stacked("mgu", MGU, 1)


def test_stateful():
    cells.check_stateful(MGU)


def test_dropout():
    cells.check_dropout(MGU)
