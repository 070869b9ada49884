"""Keras' layer contract for every kerasrnn layer: shapes, config, training, saving.

Uses Keras' own ``run_layer_test`` (shapes, ``get_config``/``from_config``
round trip, a training step, mixed precision, symbolic calls), then checks
what it does not: ``.keras`` save/load, wrappers, stateful use, dropout in
``fit``, and the error messages.
"""

import os

import keras
import numpy as np
import pytest
from keras.src import testing

import kerasrnn
from kerasrnn import layers

SEQUENCE_LAYERS = [
    (layers.PeepholeLSTM, {}),
    (layers.LayerNormLSTM, {}),
    (layers.MUT1, {}),
    (layers.MUT2, {}),
    (layers.MUT3, {}),
    (layers.IndRNN, {}),
    (layers.MGU, {}),
    (layers.NAS, {}),
]
CELLS = [
    (layers.PeepholeLSTMCell, 2),
    (layers.LayerNormLSTMCell, 2),
    (layers.MUT1Cell, 1),
    (layers.MUT2Cell, 1),
    (layers.MUT3Cell, 1),
    (layers.IndRNNCell, 1),
    (layers.MGUCell, 1),
    (layers.NASCell, 2),
]


def _ids(params):
    return [cls.__name__ for cls, _ in params]


class LayerContractTest(testing.TestCase):
    def test_sequence_layers(self):
        for layer_cls, extra in SEQUENCE_LAYERS:
            for return_sequences in (False, True):
                with self.subTest(layer=layer_cls.__name__, return_sequences=return_sequences):
                    self.run_layer_test(
                        layer_cls,
                        init_kwargs={"units": 6, "return_sequences": return_sequences, **extra},
                        input_shape=(3, 5, 4),
                        expected_output_shape=(3, 5, 6) if return_sequences else (3, 6),
                        supports_masking=True,
                    )

    def test_conv_lstm_layers(self):
        cases = [
            (layers.ConvLSTM1D, (2, 3, 8, 2), (2, 6, 4)),
            (layers.ConvLSTM2D, (2, 3, 6, 6, 2), (2, 4, 4, 4)),
        ]
        for layer_cls, input_shape, output_shape in cases:
            for peephole in (True, False):
                with self.subTest(layer=layer_cls.__name__, peephole=peephole):
                    self.run_layer_test(
                        layer_cls,
                        init_kwargs={"filters": 4, "kernel_size": 3, "peephole": peephole},
                        input_shape=input_shape,
                        expected_output_shape=output_shape,
                        supports_masking=True,
                    )

    def test_recurrent(self):
        self.run_layer_test(
            layers.Recurrent,
            init_kwargs={
                "cell": "mut2",
                "units": 6,
                "num_layers": 2,
                "bidirectional": True,
                "dropout": 0.1,
                "return_sequences": True,
            },
            input_shape=(3, 5, 4),
            expected_output_shape=(3, 5, 12),
            supports_masking=True,
        )


@pytest.mark.parametrize("cell_cls,n_states", CELLS, ids=[c.__name__ for c, _ in CELLS])
def test_cell_in_keras_rnn_and_bidirectional(cell_cls, n_states):
    x = np.random.default_rng(0).normal(size=(3, 5, 4)).astype("float32")
    rnn = keras.layers.RNN(cell_cls(6), return_sequences=True, return_state=True)
    outputs, *states = rnn(x)
    assert tuple(outputs.shape) == (3, 5, 6)
    assert len(states) == n_states
    # The output is the first state (what the JAX masking loop relies on).
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(outputs[:, -1]), keras.ops.convert_to_numpy(states[0]), rtol=0, atol=0
    )
    bi = keras.layers.Bidirectional(keras.layers.RNN(cell_cls(6)), merge_mode="sum")
    assert tuple(bi(x).shape) == (3, 6)


def _functional_model(seed=1):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((None, 4))
    h = keras.layers.Masking()(inputs)
    h = keras.layers.Bidirectional(layers.PeepholeLSTM(5, return_sequences=True))(h)
    h = layers.LayerNormLSTM(5, return_sequences=True)(h)
    h = keras.layers.RNN(layers.MUT1Cell(5), return_sequences=True)(h)
    h = layers.MUT2(5, return_sequences=True, input_projection=True)(h)
    h = layers.Recurrent("mut3", 5, num_layers=2, bidirectional=True, merge_mode="ave")(h)
    frames = keras.Input((3, 6, 6, 2))
    c = layers.ConvLSTM2D(3, 3, peephole=True)(frames)
    c = keras.layers.Flatten()(c)
    c1 = layers.ConvLSTM1D(2, 3, padding="same")(keras.layers.Reshape((3, 36, 2))(frames))
    outputs = keras.layers.Concatenate()([h, c, keras.layers.Flatten()(c1)])
    return keras.Model([inputs, frames], keras.layers.Dense(3)(outputs))


def test_keras_file_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    x = [rng.normal(size=(4, 7, 4)).astype("float32"), rng.normal(size=(4, 3, 6, 6, 2)).astype("float32")]
    model = _functional_model()
    path = os.fspath(tmp_path / "model.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(model.predict(x, verbose=0), reloaded.predict(x, verbose=0))


@pytest.mark.parametrize("layer_cls", [cls for cls, _ in SEQUENCE_LAYERS], ids=_ids(SEQUENCE_LAYERS))
def test_get_config_lists_every_argument(layer_cls):
    layer = layer_cls(
        7,
        dropout=0.25,
        recurrent_dropout=0.125,
        seed=3,
        go_backwards=True,
        activation="relu",
        use_bias=False,
        kernel_regularizer="l2",
    )
    config = layer.get_config()
    for key, value in {
        "units": 7,
        "dropout": 0.25,
        "recurrent_dropout": 0.125,
        "seed": 3,
        "go_backwards": True,
        "use_bias": False,
    }.items():
        assert config[key] == value
    clone = layer_cls.from_config(config)
    assert clone.get_config() == config
    for name in layer.cell_argument_names():
        assert name in config, f"{layer_cls.__name__}.get_config() lacks {name!r}"


def test_cell_configs_round_trip():
    for cell in [
        layers.PeepholeLSTMCell(3, unit_forget_bias=False, peephole_initializer="ones"),
        layers.LayerNormLSTMCell(3, norm_epsilon=1e-5),
        layers.MUT1Cell(3, input_projection=True),
        layers.MUT2Cell(3, input_projection=False),
        layers.MUT3Cell(3, recurrent_activation="hard_sigmoid"),
        layers.IndRNNCell(3, time_steps=100),
        layers.MGUCell(3, activation="softsign"),
        layers.NASCell(3, projection=2, use_bias=True),
        layers.ConvLSTMCell(2, 3, (3, 1), padding="same", peephole=False),
    ]:
        config = cell.get_config()
        assert type(cell).from_config(config).get_config() == config


def test_stateful_carries_states_between_batches():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 6, 3)).astype("float32")
    whole = layers.MUT3(4, return_sequences=True)
    whole.build((2, 6, 3))
    stateful = layers.MUT3(4, return_sequences=True, stateful=True)
    stateful.build((2, 6, 3))
    stateful.set_weights(whole.get_weights())
    first = keras.ops.convert_to_numpy(stateful(x[:, :3]))
    second = keras.ops.convert_to_numpy(stateful(x[:, 3:]))
    np.testing.assert_allclose(
        np.concatenate([first, second], axis=1), keras.ops.convert_to_numpy(whole(x)), rtol=1e-5, atol=1e-6
    )
    stateful.reset_state()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(stateful(x[:, :3])), first, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("layer_cls", [cls for cls, _ in SEQUENCE_LAYERS], ids=_ids(SEQUENCE_LAYERS))
def test_dropout_trains_and_draws_new_masks(layer_cls):
    # fit() with both dropouts must work on every backend (JAX traces the loop),
    # and masks must differ between calls but be fixed within a sequence.
    keras.utils.set_random_seed(0)
    x = np.ones((4, 5, 3), "float32")
    layer = layer_cls(6, dropout=0.5, recurrent_dropout=0.5, seed=1, return_sequences=True)
    model = keras.Sequential([keras.Input((5, 3)), layer, keras.layers.Dense(1)])
    model.compile("adam", "mse")
    history = model.fit(x, np.ones((4, 5, 1)), epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    a = keras.ops.convert_to_numpy(layer(x, training=True))
    b = keras.ops.convert_to_numpy(layer(x, training=True))
    assert not np.allclose(a, b)
    inference = keras.ops.convert_to_numpy(layer(x, training=False))
    np.testing.assert_allclose(inference, keras.ops.convert_to_numpy(layer(x)), rtol=1e-6)


def test_mixed_precision():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16" if keras.backend.backend() != "jax" else "mixed_bfloat16")
    try:
        x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
        for layer in [
            layers.PeepholeLSTM(4),
            layers.LayerNormLSTM(4),
            layers.MUT1(4),
            layers.MUT2(4),
            layers.IndRNN(4),
            layers.MGU(4),
            layers.NAS(4, projection=3),
            layers.MUT3(4),
            layers.Recurrent("mut1", 4, bidirectional=True),
        ]:
            y = layer(x)
            assert keras.backend.standardize_dtype(y.dtype) == keras.config.dtype_policy().compute_dtype
            assert all(keras.backend.standardize_dtype(w.dtype) == "float32" for w in layer.weights)
            assert np.all(np.isfinite(keras.ops.convert_to_numpy(keras.ops.cast(y, "float32"))))
    finally:
        keras.config.set_dtype_policy(previous)


# -- errors a user can act on ------------------------------------------------------


def test_wrong_rank_names_layer_and_shapes():
    layer = layers.MUT2(4, name="my_mut2")
    with pytest.raises(ValueError, match=r"my_mut2.*expected ndim=3, found ndim=2"):
        layer(np.zeros((2, 3), "float32"))


def test_wrong_feature_width_after_build():
    layer = layers.PeepholeLSTM(4, name="peep")
    layer(np.zeros((2, 3, 5), "float32"))
    with pytest.raises(ValueError, match=r"peep.*expected axis -1 of input shape to have value 5.*\(2, 3, 7\)"):
        layer(np.zeros((2, 3, 7), "float32"))


def test_exact_mut_form_with_unequal_widths():
    with pytest.raises(ValueError, match=r"input width == units = 4, but received input width 3"):
        layers.MUT1(4, input_projection=False)(np.zeros((2, 3, 3), "float32"))
    with pytest.raises(ValueError, match=r"MUT2Cell"):
        keras.layers.RNN(layers.MUT2Cell(4, input_projection=False))(np.zeros((2, 3, 3), "float32"))


def test_projection_is_automatic():
    same = keras.layers.RNN(layers.MUT1Cell(3))
    same(np.zeros((1, 2, 3), "float32"))
    assert same.cell.projection is None
    other = keras.layers.RNN(layers.MUT2Cell(4))
    other(np.zeros((1, 2, 3), "float32"))
    assert tuple(other.cell.projection.shape) == (3, 4)


def test_bad_arguments():
    with pytest.raises(ValueError, match="units"):
        layers.MUT3Cell(0)
    with pytest.raises(ValueError, match="dropout"):
        layers.PeepholeLSTMCell(3, dropout=1.5)
    with pytest.raises(TypeError, match="unexpected argument"):
        layers.MUT1(3, filters=2)
    with pytest.raises(ValueError, match="unknown cell 'lstmm'"):
        layers.Recurrent("lstmm", 3)
    with pytest.raises(ValueError, match="merge_mode"):
        layers.Recurrent("lstm", 3, merge_mode="max")
    with pytest.raises(ValueError, match="expects 4 initial states"):
        layers.Recurrent("lstm", 3, num_layers=2)(
            np.zeros((1, 2, 3), "float32"), initial_state=[np.zeros((1, 3), "float32")]
        )
    with pytest.raises(ValueError, match="static spatial"):
        layers.ConvLSTM2D(2, 3)(keras.Input((4, None, 5, 1)))


def test_import_does_not_load_tensorflow():
    import subprocess
    import sys

    code = "import sys, kerasrnn; print('tensorflow' in sys.modules)"
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False", result.stderr[-2000:]
    assert kerasrnn.__version__
