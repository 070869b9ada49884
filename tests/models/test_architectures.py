"""``kerasrnn.build_model``: every architecture and task, options, and errors."""

import math

import keras
import numpy as np
import pytest

import kerasrnn
from kerasrnn import layers
from kerasrnn.models.architectures import TASKS

RECURRENT_ARCHS = [arch for arch in kerasrnn.ARCHITECTURES if arch != "conv-lstm"]


TOKEN_TASKS = ("language_model", "text_classification")


def _input_shape(task):
    return (6,) if task in TOKEN_TASKS else (6, 3)


def _inputs(task, batch=2):
    rng = np.random.default_rng(0)
    if task in TOKEN_TASKS:
        ids = rng.integers(1, 7, size=(batch, 6))
        if task == "text_classification":
            ids[0, 4:] = 0  # padding, masked by the embedding
        return ids
    return rng.normal(size=(batch, 6, 3)).astype("float32")


@pytest.mark.parametrize("arch", kerasrnn.ARCHITECTURES)
def test_every_architecture_classifies(arch):
    model = kerasrnn.build_model(arch, "classification", (6, 3), 4, units=3)
    probabilities = keras.ops.convert_to_numpy(model(_inputs("classification")))
    assert probabilities.shape == (2, 4)
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("arch", ["bigru", "mut2"])
def test_every_task(arch, task):
    vocabulary = {"vocabulary_size": 9} if task == "text_classification" else {}
    model = kerasrnn.build_model(arch, task, _input_shape(task), 7, units=3, layers=2, dropout=0.1, **vocabulary)
    outputs = keras.ops.convert_to_numpy(model(_inputs(task)))
    per_step = task in ("labelling", "language_model")
    assert outputs.shape == ((2, 6, 7) if per_step else (2, 7))


def test_plain_lstm_and_gru_use_the_fused_kernel_layers():
    # build_model's lstm / gru-cudnn go through kerasrnn's LSTM / GRU, which
    # try the backend's fused kernel before Keras' loop.
    model = kerasrnn.build_model("lstm", "classification", (6, 3), 2, units=3)
    assert any(type(layer) is layers.LSTM for layer in model._flatten_layers())
    model = kerasrnn.build_model("bigru-cudnn", "classification", (6, 3), 2, units=3)
    grus = [layer for layer in model._flatten_layers() if type(layer) is layers.GRU]
    assert len(grus) == 2 and all(gru.cell.reset_after for gru in grus)


@pytest.mark.parametrize("arch", ["rnn-relu", "lstm", "bigru-cudnn", "peephole-lstm", "mut1", "min-gru", "min-lstm"])
def test_pytorch_initialization_bounds(arch):
    units = 16
    keras.utils.set_random_seed(0)
    model = kerasrnn.build_model(arch, "classification", (6, 3), 5, units=units, init="pytorch")
    recurrent_bound = 1 / math.sqrt(units)
    head = model.get_layer("classifier")
    head_bound = 1 / math.sqrt(head.kernel.shape[0])
    for variable in model.weights:
        value = keras.ops.convert_to_numpy(variable.value)
        bound = head_bound if variable.path.startswith("classifier") else recurrent_bound
        if "peephole" in variable.path:
            continue  # no PyTorch counterpart: keeps its own initializer
        assert np.abs(value).max() <= bound + 1e-7, variable.path
        # A uniform draw, not zeros or ones (no forget-gate bias of 1): all
        # values (nearly all) distinct, and where there are enough of them, the spread of
        # U(-b, b) (std b/sqrt(3)); a 5-value bias is too few to test a spread.
        assert np.unique(value).size >= 0.9 * value.size, variable.path
        if value.size >= 64:
            assert 0.45 * bound < value.std() < 0.7 * bound, variable.path


def test_keras_initialization_is_the_layers_default():
    model = kerasrnn.build_model("lstm", "classification", (6, 3), 5, units=4)
    bias = keras.ops.convert_to_numpy(next(v for v in model.weights if v.path.endswith("bias")).value)
    np.testing.assert_array_equal(bias, np.r_[np.zeros(4), np.ones(4), np.zeros(8)])


def test_pytorch_initialized_model_round_trips(tmp_path):
    model = kerasrnn.build_model("bilstm", "classification", (6, 3), 2, units=3, init="pytorch")
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    x = _inputs("classification")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x)), rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"arch": "lstn"}, "unknown architecture 'lstn'; expected one of: rnn"),
        ({"task": "translation"}, "unknown task 'translation'"),
        ({"init": "xavier"}, "unknown initialization 'xavier'; expected one of: keras, pytorch"),
        ({"arch": "conv-lstm", "init": "pytorch"}, "not conv-lstm"),
        ({"layers": 0}, "layers must be an integer >= 1"),
        ({"input_shape": (6, 3, 2, 1, 1)}, "conv-lstm expects"),
        ({"arch": "lstm", "input_shape": (6, 4, 4, 1)}, "frame sequences need --arch conv-lstm"),
    ],
)
def test_errors_name_what_is_accepted(kwargs, message):
    options = {
        "arch": "conv-lstm" if "input_shape" in kwargs else "lstm",
        "task": "classification",
        "input_shape": (6, 3),
        "num_outputs": 2,
        **kwargs,
    }
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        kerasrnn.build_model(**options)


@pytest.mark.parametrize("task", ["classification", "labelling"])
def test_conv_lstm_keeps_the_mask_of_padded_steps(task):
    from kerasrnn.data import PAD_VALUE

    model = kerasrnn.build_model("conv-lstm", task, (None, 4), 3, units=2, variable_length=True)
    x = np.random.default_rng(0).normal(size=(1, 5, 4)).astype("float32")
    padded = np.concatenate([x, np.full((1, 3, 4), PAD_VALUE, "float32")], axis=1)
    got = keras.ops.convert_to_numpy(model(padded))
    want = keras.ops.convert_to_numpy(model(x))
    if task == "labelling":
        assert got.shape == (1, 8, 3)
        got = got[:, :5]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_conv_lstm_on_2d_frames_and_the_frame_layers_round_trip(tmp_path):
    model = kerasrnn.build_model("conv-lstm", "labelling", (3, 5, 5, 2), 4, units=2)
    x = np.random.default_rng(0).normal(size=(2, 3, 5, 5, 2)).astype("float32")
    assert tuple(model(x).shape) == (2, 3, 4)
    sequence_model = kerasrnn.build_model("conv-lstm", "classification", (6, 3), 2, units=2)
    for m, inputs in ((model, x), (sequence_model, _inputs("classification"))):
        m.save(tmp_path / "m.keras")
        loaded = keras.saving.load_model(tmp_path / "m.keras")
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(loaded(inputs)), keras.ops.convert_to_numpy(m(inputs)), rtol=1e-5, atol=1e-6
        )


def test_frame_layers_reject_wrong_shapes():
    from kerasrnn.layers.frames import FeaturesAsFrames, FlattenFrames

    with pytest.raises(ValueError, match=r"expects \(batch, time, features\)"):
        FeaturesAsFrames()(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="frame_rank"):
        FlattenFrames(0)
    with pytest.raises(ValueError, match="known frame of 2 axes"):
        FlattenFrames(2).compute_output_shape((None, None, 4))
