"""LayerNormGRU: its equations (reset-after, LN per gate group), Keras' contract, learning, export."""

import functools

import keras
import numpy as np
import pytest
from keras.src import testing

from kerasrnn import layers
from tests.helpers import cell_checks as cells
from tests.helpers import numpy_reference as ref
from tests.layers.test_learning import _train, memory_task

L = layers.LayerNormGRU
CELL = layers.LayerNormGRUCell


def _make(**cell):
    return lambda **rnn: L(cells.UNITS, **cells.cheap(L, **cell), **rnn)


REFERENCE_CASES = {
    "layer_norm_gru": (_make(), ref.run_layer_norm_gru),
    "layer_norm_gru_eps=0.1": (_make(norm_epsilon=0.1), functools.partial(ref.run_layer_norm_gru, eps=0.1)),
}


@pytest.mark.parametrize("name", list(REFERENCE_CASES))
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_reference(name, seed):
    make, reference = REFERENCE_CASES[name]
    cells.check_reference(name, make, reference, seed)


def test_input_width_equal_to_units_matches_reference():
    make, reference = REFERENCE_CASES["layer_norm_gru"]
    cells.check_reference("layer_norm_gru_d=u", make, reference, 4, frame=(cells.UNITS,))


def test_go_backwards_and_initial_state_match_reference():
    make, reference = REFERENCE_CASES["layer_norm_gru"]
    cells.check_reference("layer_norm_gru", make, reference, 2, go_backwards=True)
    cells.check_reference("layer_norm_gru", make, reference, 3, with_initial_state=True)


def test_normalization_is_per_gate_group():
    # Scaling the candidate's recurrent columns U_h leaves the output unchanged
    # (its LN removes the scale), but not so for a joint LN over all 3u features.
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 4, 3)).astype("float32")
    layer = L(4, return_sequences=True, norm_epsilon=1e-10)  # epsilon would see the scale
    layer.build(x.shape)
    ref.randomize_weights(layer, rng)
    before = cells.numpy(layer(x))[0]
    kernel = keras.ops.convert_to_numpy(layer.cell.recurrent_kernel).copy()
    kernel[:, 8:] *= 7.0
    layer.cell.recurrent_kernel.assign(kernel)
    np.testing.assert_allclose(cells.numpy(layer(x))[0], before, rtol=1e-4, atol=1e-5)


def test_weights_and_gate_order():
    layer = L(4)
    layer.build((2, 3, 5))
    shapes = {w.name: tuple(w.shape) for w in layer.cell.weights}
    assert shapes == {
        "kernel": (5, 12),
        "recurrent_kernel": (4, 12),
        "bias": (12,),
        "kernel_norm_gamma": (12,),
        "kernel_norm_beta": (12,),
        "recurrent_norm_gamma": (12,),
        "recurrent_norm_beta": (12,),
    }


class ContractTest(testing.TestCase):
    def test_layer(self):
        for return_sequences in (False, True):
            self.run_layer_test(
                L,
                init_kwargs={"units": 6, "return_sequences": return_sequences},
                input_shape=(3, 5, 4),
                expected_output_shape=(3, 5, 6) if return_sequences else (3, 6),
                expected_num_trainable_weights=7,
                supports_masking=True,
            )


def test_cell_in_keras_rnn_and_bidirectional():
    cells.check_cell_in_rnn_and_bidirectional(CELL)


def test_config_round_trip():
    cells.check_config_round_trip(
        L,
        CELL(3, norm_epsilon=1e-5, norm_gamma_initializer="zeros", recurrent_activation="hard_sigmoid"),
        dropout=0.25,
        recurrent_dropout=0.125,
        seed=3,
        use_bias=False,
        norm_epsilon=0.01,
        kernel_regularizer="l2",
    )


def test_keras_file_round_trip(tmp_path):
    cells.check_keras_file(tmp_path, L, CELL, "layer_norm_gru")


def test_masking():
    cells.check_masking("layer_norm_gru", _make())
    cells.check_bidirectional_masking("layer_norm_gru", _make())


@pytest.mark.parametrize("go_backwards", [False, True])
def test_fast_path_matches_plain_cell(monkeypatch, go_backwards):
    cells.check_fast_path(L, CELL, monkeypatch, go_backwards=go_backwards)


def test_stateful():
    cells.check_stateful(L)


def test_dropout():
    cells.check_dropout(L)


def test_recurrent_and_registry():
    import kerasrnn

    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    out = layers.Recurrent("layer_norm_gru", 4, num_layers=2, bidirectional=True)(x)
    assert tuple(out.shape) == (2, 8)
    for arch in ("layer-norm-gru", "bilayer-norm-gru"):
        model = kerasrnn.build_model(arch, "classification", (5, 3), 2, units=4, init="pytorch")
        assert keras.ops.convert_to_numpy(model(x)).shape == (2, 2)
    for variable in model.weights:
        if variable.path.startswith("recurrent") and "norm" not in variable.name:
            assert np.abs(keras.ops.convert_to_numpy(variable)).max() <= 0.5 + 1e-7


@pytest.mark.slow
def test_learns_memory_task():
    x, y = memory_task(1024, seed=0)
    x_test, y_test = memory_task(400, seed=1)
    model = _train(L(16), x, y)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    ref.record_error("learning layer_norm_gru (1 - test accuracy)", 1.0 - accuracy)
    assert accuracy >= 0.95, f"reached only {accuracy:.3f} test accuracy on the memory task"
