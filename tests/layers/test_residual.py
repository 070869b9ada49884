"""``Recurrent(..., residual=True)``: residual connections between stacked layers of equal width (as GNMT)."""

import keras
import numpy as np
import pytest

from kerasrnn.layers import Recurrent
from tests.helpers import cell_checks as cells
from tests.helpers import numpy_reference as ref

UNITS = 4


def _by_hand(recurrent, x, residual_layers):
    """The stack run layer by layer with the residual added where ``residual_layers`` says."""
    h = x
    for index, layer in enumerate(recurrent.rnn_layers):
        out = cells.numpy(layer(h))[0]
        h = out + h if index in residual_layers else out
    return h


def _stack(x, **kwargs):
    recurrent = Recurrent("rnn_tanh", UNITS, num_layers=2, return_sequences=True, residual=True, **kwargs)
    recurrent.build(x.shape)
    rng = np.random.default_rng(1)
    for layer in recurrent.rnn_layers:
        for rnn in (layer.forward_layer, layer.backward_layer) if recurrent.bidirectional else (layer,):
            ref.randomize_weights(rnn, rng)
    return recurrent


@pytest.mark.parametrize(
    "input_width, bidirectional, residual_layers",
    [
        (5, False, {1}),  # first layer 5 -> 4: no residual
        (UNITS, False, {0, 1}),  # equal widths: every layer
        (5, True, {1}),  # concat: 5 -> 8, then 8 -> 8
    ],
)
def test_residual_where_widths_match(input_width, bidirectional, residual_layers):
    x = np.random.default_rng(0).normal(size=(2, 6, input_width)).astype("float32")
    recurrent = _stack(x, bidirectional=bidirectional)
    got = cells.numpy(recurrent(x))[0]
    np.testing.assert_allclose(got, _by_hand(recurrent, x, residual_layers), rtol=1e-5, atol=1e-6)


def test_last_layer_without_sequences_and_states():
    """With return_sequences=False the last layer gives its final output (no residual); states are the RNNs' own."""
    x = np.random.default_rng(2).normal(size=(2, 6, UNITS)).astype("float32")
    recurrent = Recurrent("rnn_tanh", UNITS, num_layers=3, residual=True, return_state=True)
    recurrent.build(x.shape)
    rng = np.random.default_rng(1)
    for layer in recurrent.rnn_layers:
        ref.randomize_weights(layer, rng)
    output, *states = cells.numpy(recurrent(x))
    h, expected_states = x, []
    for index, layer in enumerate(recurrent.rnn_layers):
        out, state = cells.numpy(layer(h))
        expected_states.append(state)
        h = out + h if index < 2 else out
    assert output.shape == (2, UNITS)
    np.testing.assert_allclose(output, h, rtol=1e-5, atol=1e-6)
    for got, want in zip(states, expected_states):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_dropout_then_residual():
    """Between layers in training: dropout on the recurrent output, then the input added (GNMT's order)."""
    keras.utils.set_random_seed(3)
    x = np.random.default_rng(3).normal(size=(2, 5, UNITS)).astype("float32")
    recurrent = Recurrent("rnn_tanh", UNITS, num_layers=2, dropout=0.999, residual=True, return_sequences=True)
    recurrent.build(x.shape)
    first, second = recurrent.rnn_layers
    h = cells.numpy(first(x))[0] * 0.0 + x  # dropout 0.999: practically all of the first output dropped
    expected = cells.numpy(second(h))[0] + h
    got = cells.numpy(recurrent(x, training=True))[0]
    assert np.mean(np.isclose(got, expected, rtol=1e-5, atol=1e-6)) > 0.9


@pytest.mark.backend_independent
def test_config():
    recurrent = Recurrent("gru", UNITS, num_layers=2, residual=True)
    config = recurrent.get_config()
    assert config["residual"] is True
    assert Recurrent.from_config(config).residual is True
    assert Recurrent("gru", UNITS).get_config()["residual"] is False


def test_keras_file_round_trip(tmp_path):
    x = np.random.default_rng(4).normal(size=(2, 5, UNITS)).astype("float32")
    inputs = keras.Input((None, UNITS))
    outputs = Recurrent("rnn_tanh", UNITS, num_layers=2, residual=True, return_sequences=True)(inputs)
    model = keras.Model(inputs, outputs)
    path = str(tmp_path / "residual.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert reloaded.layers[1].residual is True
    np.testing.assert_allclose(cells.numpy(reloaded(x))[0], cells.numpy(model(x))[0], rtol=1e-6)
