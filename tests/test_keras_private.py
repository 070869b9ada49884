"""Pins the Keras internals kerasrnn relies on (``kerasrnn/keras_private.py``).

Each test names one private symbol or hook and checks what kerasrnn uses of
it: that it exists, its signature, and the behaviour the package depends on.
A Keras upgrade that moves one fails here by name rather than deep inside a
layer.
"""

import importlib
import importlib.util
import inspect
import os
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest

from kerasrnn import keras_private, layers
from kerasrnn.layers.cell_rnn import CellRNN
from kerasrnn.layers.fused_rnn import FusedKernelLoop
from kerasrnn.layers.recurrent_cell import RecurrentCell


def _parameters(function):
    """``[(name, default)]`` of a function, ``inspect.Parameter.empty`` for no default."""
    return [(p.name, p.default) for p in inspect.signature(function).parameters.values()]


def _keras_rnn_module():
    return sys.modules[keras.layers.RNN.__module__]


# -- the module itself -----------------------------------------------------------


@pytest.mark.backend_independent
def test_importing_keras_private_imports_neither_keras_nor_tensorflow():
    code = (
        "import sys\n"
        "import kerasrnn.keras_private\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n"
        "assert 'keras.src.export.tf2onnx_lib' not in sys.modules\n"
    )
    if importlib.util.find_spec("jax") is not None:
        # With a non-TensorFlow backend, the names themselves need no TensorFlow.
        code += (
            "kerasrnn.keras_private.backend_rnn, kerasrnn.keras_private.DropoutRNNCell\n"
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported by the names'\n"
        )
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_exports_exactly_the_documented_names():
    assert sorted(keras_private.__all__) == [
        "DropoutRNNCell",
        "backend_rnn",
        "patch_tf2onnx",
        "patch_tf_trainer_for_multi_worker",
    ]
    for name in keras_private.__all__:
        assert f"``{name}``" in keras_private.__doc__ or f":func:`{name}`" in keras_private.__doc__
        assert name in dir(keras_private)
    with pytest.raises(AttributeError):
        keras_private.no_such_name  # noqa: B018


def test_package_imports_keras_src_only_in_keras_private():
    import kerasrnn

    root = os.path.dirname(kerasrnn.__file__)
    offenders = []
    for directory, _, files in os.walk(root):
        for file in files:
            path = os.path.join(directory, file)
            if not file.endswith(".py") or path == keras_private.__file__:
                continue
            with open(path, encoding="utf-8") as handle:
                if "keras.src" in handle.read():
                    offenders.append(os.path.relpath(path, root))
    assert offenders == [], offenders


# -- backend_rnn -----------------------------------------------------------------


def test_backend_rnn_signature():
    empty = inspect.Parameter.empty
    assert _parameters(keras_private.backend_rnn) == [
        ("step_function", empty),
        ("inputs", empty),
        ("initial_states", empty),
        ("go_backwards", False),
        ("mask", None),
        ("constants", None),
        ("unroll", False),
        ("input_length", None),
        ("time_major", False),
        ("zero_output_for_mask", False),
        ("return_all_outputs", True),
    ]


def test_backend_rnn_is_the_loop_keras_rnn_runs():
    assert _keras_rnn_module().backend.rnn is keras_private.backend_rnn


def test_backend_rnn_contract():
    # A running sum: returns (last_output, outputs, new_states), outputs (batch, time, ...).
    x = np.arange(2 * 3 * 1, dtype="float32").reshape(2, 3, 1)

    def step(inputs, states):
        total = states[0] + inputs
        return total, [total]

    last, outputs, states = keras_private.backend_rnn(
        step, keras.ops.convert_to_tensor(x), [keras.ops.zeros((2, 1))], input_length=3
    )
    expected = np.cumsum(x, axis=1)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(outputs), expected)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(last), expected[:, -1])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(states[0]), expected[:, -1])


# -- DropoutRNNCell --------------------------------------------------------------


def test_dropout_rnn_cell_methods():
    cls = keras_private.DropoutRNNCell
    assert _parameters(cls.get_dropout_mask) == [
        ("self", inspect.Parameter.empty),
        ("step_input", inspect.Parameter.empty),
    ]
    assert _parameters(cls.get_recurrent_dropout_mask) == [
        ("self", inspect.Parameter.empty),
        ("step_input", inspect.Parameter.empty),
    ]
    assert _parameters(cls.reset_dropout_mask) == [("self", inspect.Parameter.empty)]
    assert _parameters(cls.reset_recurrent_dropout_mask) == [("self", inspect.Parameter.empty)]


def test_dropout_rnn_cell_is_the_class_keras_rnn_checks():
    # keras.layers.RNN draws masks before its loop for isinstance(cell, DropoutRNNCell).
    assert _keras_rnn_module().DropoutRNNCell is keras_private.DropoutRNNCell
    assert issubclass(keras.layers.LSTMCell, keras_private.DropoutRNNCell)
    assert issubclass(RecurrentCell, keras_private.DropoutRNNCell)
    source = inspect.getsource(keras.layers.RNN._maybe_config_dropout_masks)
    assert "DropoutRNNCell" in source


def test_dropout_masks_are_cached_per_sequence_until_reset():
    # What RecurrentCell.dropped_inputs / dropped_state rely on: one mask per
    # sequence, from the cell's dropout, recurrent_dropout and seed_generator.
    cell = layers.PeepholeLSTMCell(3, dropout=0.5, recurrent_dropout=0.5, seed=1)
    x = keras.ops.ones((4, 6))
    h = keras.ops.ones((4, 3))
    first = cell.get_dropout_mask(x)
    assert tuple(first.shape) == (4, 6)
    assert cell.get_dropout_mask(x) is first
    recurrent = cell.get_recurrent_dropout_mask(h)
    assert tuple(recurrent.shape) == (4, 3)
    assert cell.get_recurrent_dropout_mask(h) is recurrent
    cell.reset_dropout_mask()
    cell.reset_recurrent_dropout_mask()
    assert cell.get_dropout_mask(x) is not first
    assert cell.get_recurrent_dropout_mask(h) is not recurrent
    assert layers.PeepholeLSTMCell(3).get_dropout_mask(x) is None  # no dropout, no mask


# -- hooks no import can hold ----------------------------------------------------


def test_rnn_inner_loop_hook():
    # CellRNN and FusedKernelLoop override it; keras.layers.RNN.call must call it.
    expected = [
        ("self", inspect.Parameter.empty),
        ("sequences", inspect.Parameter.empty),
        ("initial_state", inspect.Parameter.empty),
        ("mask", inspect.Parameter.empty),
        ("training", False),
    ]
    for cls in (keras.layers.RNN, keras.layers.LSTM, keras.layers.GRU, CellRNN, FusedKernelLoop):
        assert _parameters(cls.inner_loop) == expected, cls
    assert "self.inner_loop(" in inspect.getsource(keras.layers.RNN.call)


def test_lstm_and_gru_have_use_cudnn():
    for cls in (keras.layers.LSTM, keras.layers.GRU):
        assert cls(2).use_cudnn == "auto"
        assert cls(2, use_cudnn=False).use_cudnn is False


# -- patch_tf2onnx ---------------------------------------------------------------


@pytest.mark.backend_independent
def test_patch_tf2onnx_is_keras_function():
    assert _parameters(keras_private.patch_tf2onnx) == []
    spec = importlib.util.find_spec("keras.src.export.tf2onnx_lib")
    assert spec is not None
    module = importlib.import_module("keras.src.export.tf2onnx_lib")  # needs neither onnx nor tf2onnx
    assert _parameters(module.patch_tf2onnx) == []


@pytest.mark.backend_independent
def test_patch_tf2onnx_patches_tf2onnx():
    for name in ("tensorflow", "onnx", "tf2onnx"):
        if importlib.util.find_spec(name) is None:
            pytest.skip(f"{name} is not installed")
    tf2onnx = importlib.import_module("tf2onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # np.object, touched by the patch
        keras_private.patch_tf2onnx()
        keras_private.patch_tf2onnx()  # cached: a second call is harmless
    assert tf2onnx.tfonnx.rewrite_constant_fold.__name__ == "patched_rewrite_constant_fold"
    assert tf2onnx.graph.Node.get_value_attr.__name__ == "patched_get_value_attr"


# -- test-only internals (used directly by tests/layers) -------------------------


@pytest.mark.backend_independent
def test_test_only_internals_exist():
    from keras.src import testing
    from keras.src.backend.common import dtypes

    assert callable(testing.TestCase.run_layer_test)  # tests/layers/test_layers.py
    assert callable(dtypes.result_type)  # tests/layers/test_gradients.py


# -- patch_tf_trainer_for_multi_worker ---------------------------------------------


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow's trainer")
def test_tf_trainer_internals_the_multi_worker_patch_replaces():
    from keras.src.backend.tensorflow import trainer as tf_trainer

    assert [name for name, _ in _parameters(tf_trainer.reduce_per_replica)] == ["values", "strategy", "reduction"]
    assert callable(tf_trainer._collective_all_reduce_multi_worker)
    assert [name for name, _ in _parameters(tf_trainer.TensorFlowTrainer._maybe_symbolic_build)] == [
        "self",
        "iterator",
        "data_batch",
    ]
