"""``Recurrent`` against the same network stacked by hand from keras.layers."""

import json
import os
import re
import zipfile

import keras
import numpy as np
import pytest

from kerasrnn import layers
from kerasrnn.layers.cell_rnn import CellRNN
from kerasrnn.layers.recurrent import CELL_ALIASES, CELL_LAYERS


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _hand_stacked(cell, units, input_dim, return_sequences, merge_mode="concat"):
    """Two bidirectional layers, built the way a Keras user would."""
    inputs = keras.Input((None, input_dim))
    h, *states0 = keras.layers.Bidirectional(
        CELL_LAYERS[cell](units, return_sequences=True, return_state=True), merge_mode=merge_mode
    )(inputs)
    outputs, *states1 = keras.layers.Bidirectional(
        CELL_LAYERS[cell](units, return_sequences=return_sequences, return_state=True),
        merge_mode=merge_mode,
    )(h)
    return keras.Model(inputs, [outputs, *states0, *states1])


@pytest.mark.parametrize(
    "cell", ["lstm", "gru", "rnn_relu", "peephole_lstm", "mut1", "layer_norm_lstm", "ind_rnn", "mgu"]
)
@pytest.mark.parametrize("return_sequences", [False, True])
def test_two_layer_bidirectional_matches_hand_stacked(cell, return_sequences):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 6, 4)).astype("float32")
    recurrent = layers.Recurrent(
        cell, 5, num_layers=2, bidirectional=True, return_sequences=return_sequences, return_state=True
    )
    outputs, *states = recurrent(x)
    reference = _hand_stacked(cell, 5, 4, return_sequences)
    reference.set_weights([w * 1.0 for w in recurrent.get_weights()])
    expected_outputs, *expected_states = reference(x)
    np.testing.assert_allclose(_np(outputs), _np(expected_outputs), rtol=1e-5, atol=1e-6)
    per_cell = 2 if "lstm" in cell else 1
    assert len(states) == 2 * 2 * per_cell
    for got, want in zip(states, expected_states):
        np.testing.assert_allclose(_np(got), _np(want), rtol=1e-5, atol=1e-6)


def test_state_order_is_layer_then_direction():
    # Layer 1's forward h at the last step equals the first half of the
    # output at the last step (concat merge, return_sequences=True).
    x = np.random.default_rng(1).normal(size=(2, 5, 3)).astype("float32")
    recurrent = layers.Recurrent("lstm", 4, num_layers=2, bidirectional=True, return_sequences=True, return_state=True)
    outputs, l0f_h, l0f_c, l0b_h, l0b_c, l1f_h, l1f_c, l1b_h, l1b_c = recurrent(x)
    np.testing.assert_allclose(_np(outputs)[:, -1, :4], _np(l1f_h), rtol=1e-6)
    np.testing.assert_allclose(_np(outputs)[:, 0, 4:], _np(l1b_h), rtol=1e-6)


def test_initial_state_in_return_state_order():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    recurrent = layers.Recurrent("gru", 4, num_layers=2, return_state=True)
    recurrent(x)
    initial = [rng.normal(size=(2, 4)).astype("float32") for _ in range(2)]
    out, *states = recurrent(x, initial_state=initial)
    # Equivalent by hand: layer by layer with the same weights.
    first, second = recurrent.rnn_layers
    h0, s0 = first(x, initial_state=[initial[0]])
    expected, s1 = second(h0, initial_state=[initial[1]])
    np.testing.assert_allclose(_np(out), _np(expected), rtol=1e-6)
    np.testing.assert_allclose(_np(states[1]), _np(s1), rtol=1e-6)


def test_dropout_only_between_layers_and_only_in_training():
    x = np.random.default_rng(3).normal(size=(2, 5, 3)).astype("float32")
    recurrent = layers.Recurrent("mut2", 4, num_layers=2, dropout=0.5)
    inference = _np(recurrent(x))
    np.testing.assert_allclose(_np(recurrent(x, training=False)), inference)
    assert not np.allclose(_np(recurrent(x, training=True)), inference)
    single = layers.Recurrent("mut2", 4, num_layers=1, dropout=0.5)
    np.testing.assert_allclose(_np(single(x, training=True)), _np(single(x)), rtol=1e-6)


def test_mask_is_passed_to_every_layer():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 6, 3)).astype("float32")
    x[1, 4:] = 0.0
    inputs = keras.Input((None, 3))
    masked = keras.layers.Masking(0.0)(inputs)
    model = keras.Model(inputs, layers.Recurrent("mut3", 4, num_layers=2, bidirectional=True)(masked))
    full = _np(model(x))
    short = _np(model(x[1:, :4]))
    np.testing.assert_allclose(full[1:], short, rtol=1e-5, atol=1e-6)


def test_cell_instance_is_copied_per_layer_and_direction():
    recurrent = layers.Recurrent(layers.MUT1Cell(4), num_layers=2, bidirectional=True)
    recurrent(np.zeros((1, 3, 4), "float32"))
    kernels = [w for w in recurrent.weights if w.path.endswith("/kernel")]
    assert len(kernels) == 4
    assert recurrent.get_config()["cell"]["class_name"] == "MUT1Cell"
    clone = layers.Recurrent.from_config(recurrent.get_config())
    clone(np.zeros((1, 3, 4), "float32"))
    assert len(clone.weights) == len(recurrent.weights)


def test_stateful_recurrent():
    x = np.random.default_rng(5).normal(size=(2, 6, 3)).astype("float32")
    whole = layers.Recurrent("lstm", 4, num_layers=2, bidirectional=False, return_sequences=True)
    whole(x)
    stateful = layers.Recurrent("lstm", 4, num_layers=2, return_sequences=True, stateful=True)
    stateful.build((2, 6, 3))
    stateful.set_weights(whole.get_weights())
    parts = [_np(stateful(x[:, :3])), _np(stateful(x[:, 3:]))]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), _np(whole(x)), rtol=1e-5, atol=1e-6)
    stateful.reset_state()
    np.testing.assert_allclose(_np(stateful(x[:, :3])), parts[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("merge_mode", ["sum", "mul", "ave"])
def test_merge_modes(merge_mode):
    x = np.random.default_rng(6).normal(size=(2, 5, 3)).astype("float32")
    recurrent = layers.Recurrent("rnn_tanh", 4, num_layers=2, bidirectional=True, merge_mode=merge_mode)
    out = recurrent(x)
    assert tuple(out.shape) == (2, 4)
    reference = _hand_stacked("rnn_tanh", 4, 3, False, merge_mode=merge_mode)
    reference.set_weights(recurrent.get_weights())
    np.testing.assert_allclose(_np(out), _np(reference(x)[0]), rtol=1e-5, atol=1e-6)


def _snake_case(class_name):
    """``LayerNormLSTM`` -> ``layer_norm_lstm``, ``MUT1`` -> ``mut1``, ``ConvLSTM1D`` -> ``conv_lstm1d``."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", class_name).lower()


def test_cell_names_follow_the_class_name_rule():
    # kerasrnn's own layer classes: class name in snake_case = file = cell name.
    own = {
        name: factory
        for name, factory in CELL_LAYERS.items()
        if isinstance(factory, type) and issubclass(factory, CellRNN)
    }
    assert set(own) == {
        "peephole_lstm",
        "layer_norm_lstm",
        "mut1",
        "mut2",
        "mut3",
        "ind_rnn",
        "mgu",
        "nas",
        "layer_norm_simple_rnn",
        "layer_norm_gru",
        "esn",
        "min_gru",
        "min_lstm",
    }
    for name, layer_cls in own.items():
        assert _snake_case(layer_cls.__name__) == name
        assert layer_cls.__module__ == f"kerasrnn.layers.{name}"
    for alias, name in CELL_ALIASES.items():
        assert alias not in CELL_LAYERS and name in CELL_LAYERS


def test_former_cell_spelling_is_an_alias():
    x = np.random.default_rng(7).normal(size=(2, 5, 3)).astype("float32")
    old = layers.Recurrent("layernorm_lstm", 4, num_layers=2, bidirectional=True)
    assert old.cell == "layer_norm_lstm"
    assert old.get_config()["cell"] == "layer_norm_lstm"
    assert isinstance(old.rnn_layers[0].forward_layer, layers.LayerNormLSTM)
    new = layers.Recurrent("layer_norm_lstm", 4, num_layers=2, bidirectional=True)
    new(x)
    old.build(x.shape)
    old.set_weights(new.get_weights())
    np.testing.assert_allclose(_np(old(x)), _np(new(x)), rtol=1e-6)
    # A config as written before the rename: loads, and writes the cell name.
    config = {**new.get_config(), "cell": "layernorm_lstm"}
    clone = layers.Recurrent.from_config(config)
    assert clone.get_config() == new.get_config()


def test_keras_file_with_the_former_cell_spelling_loads(tmp_path):
    x = np.random.default_rng(8).normal(size=(2, 5, 3)).astype("float32")
    inputs = keras.Input((None, 3))
    outputs = layers.Recurrent("layer_norm_lstm", 4, num_layers=2, name="recurrent")(inputs)
    model = keras.Model(inputs, outputs)
    saved = os.fspath(tmp_path / "saved.keras")
    model.save(saved)
    # Rewrite the file as kerasrnn wrote it before the rename: cell "layernorm_lstm".
    before = os.fspath(tmp_path / "before_rename.keras")
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(before, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                (layer,) = [lay for lay in config["config"]["layers"] if lay["config"]["name"] == "recurrent"]
                assert layer["config"]["cell"] == "layer_norm_lstm"
                layer["config"]["cell"] = "layernorm_lstm"
                data = json.dumps(config).encode()
            target.writestr(item, data)
    reloaded = keras.saving.load_model(before)
    np.testing.assert_allclose(_np(reloaded(x)), _np(model(x)), rtol=1e-6)
    assert reloaded.get_layer("recurrent").get_config()["cell"] == "layer_norm_lstm"
