"""``Recurrent(..., residual=True)``: residual connections between stacked layers of equal width (as GNMT).

The stacks use the ``rnn_tanh`` cell and are checked against a float64 NumPy
stack written here: h_t = tanh(x_t W + h_{t-1} U + b) per layer and direction.
"""

import keras
import numpy as np
import pytest

from kerasrnn.layers import Recurrent
from tests.helpers import cell_checks as cells
from tests.helpers import numpy_reference as ref

UNITS = 4
TOLERANCE = 1e-5


def _run(layer, x, training=False):
    """The layer's outputs as NumPy; on JAX through one compiled call (cheaper than a compile per scan)."""
    if keras.backend.backend() != "jax" or training:
        return cells.numpy(layer(x, training=training))
    inputs = keras.Input(x.shape[1:])
    return cells.numpy(keras.Model(inputs, layer(inputs)).predict(x, verbose=0))


def _simple_rnn(x, weights, go_backwards=False):
    """Time-ordered outputs and final state of h_t = tanh(x_t W + h_{t-1} U + b)."""
    h = np.zeros((x.shape[0], weights["recurrent_kernel"].shape[0]))
    steps = range(x.shape[1] - 1, -1, -1) if go_backwards else range(x.shape[1])
    outputs = np.zeros(x.shape[:2] + h.shape[1:])
    for t in steps:
        h = np.tanh(x[:, t] @ weights["kernel"] + h @ weights["recurrent_kernel"] + weights["bias"])
        outputs[:, t] = h
    return outputs, h


def _reference(recurrent, x, residual_layers, dropped=()):
    """The stack in NumPy: every layer's time-ordered outputs (bidirectional: concatenated), the residual added
    where ``residual_layers`` says; the layers in ``dropped`` have their recurrent output dropped entirely."""
    h, states = np.asarray(x, np.float64), []
    for index, layer in enumerate(recurrent.rnn_layers):
        directions = [(layer.forward_layer, False), (layer.backward_layer, True)] if recurrent.bidirectional else []
        parts = []
        for rnn, backwards in directions or [(layer, False)]:
            outputs, state = _simple_rnn(h, ref.named_weights(rnn), go_backwards=backwards)
            parts.append(outputs)
            states.append(state)
        out = np.concatenate(parts, axis=-1) * (0.0 if index in dropped else 1.0)
        h = out + h if index in residual_layers else out
    return h, states


def _stack(x, **kwargs):
    options = {"num_layers": 2, "return_sequences": True, **kwargs}
    recurrent = Recurrent("rnn_tanh", UNITS, residual=True, **options)
    recurrent.build(x.shape)
    rng = np.random.default_rng(1)
    for layer in recurrent.rnn_layers:
        for rnn in (layer.forward_layer, layer.backward_layer) if recurrent.bidirectional else (layer,):
            ref.randomize_weights(rnn, rng)
    return recurrent


def _check(label, got, want):
    err = ref.record_error(f"residual {label}", ref.relative_error(got, want))
    assert err < TOLERANCE, f"{label}: relative error {err:.2e}"


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
    _check(
        f"widths {input_width} bidirectional={bidirectional}",
        _run(recurrent, x)[0],
        _reference(recurrent, x, residual_layers)[0],
    )


def test_last_layer_without_sequences_and_states():
    """With return_sequences=False the last layer gives its final output (no residual); states are the RNNs' own."""
    x = np.random.default_rng(2).normal(size=(2, 6, UNITS)).astype("float32")
    recurrent = _stack(x, num_layers=3, return_sequences=False, return_state=True)
    output, *states = _run(recurrent, x)
    expected, expected_states = _reference(recurrent, x, residual_layers={0, 1})
    assert output.shape == (2, UNITS) and len(states) == 3
    _check("final output", output, expected[:, -1])
    for got, want in zip(states, expected_states):
        _check("states", got, want)


def test_dropout_then_residual():
    """Between layers in training: dropout on the recurrent output, then the input added (GNMT's order)."""
    keras.utils.set_random_seed(3)
    x = np.random.default_rng(3).normal(size=(2, 5, UNITS)).astype("float32")
    recurrent = _stack(x, dropout=0.999)  # practically all of the first layer's output dropped
    expected = _reference(recurrent, x, residual_layers={0, 1}, dropped={0})[0]
    got = _run(recurrent, x, training=True)[0]
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
    recurrent = _stack(x)
    model = keras.Model(inputs, recurrent(inputs))
    path = str(tmp_path / "residual.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert reloaded.layers[1].residual is True
    _check("reloaded", cells.numpy(reloaded(x))[0], _reference(recurrent, x, residual_layers={0, 1})[0])


def test_streaming_export_refuses_a_residual_stack():
    from kerasrnn.export import ExportError, build_streaming_model

    inputs = keras.Input((5, 4))
    outputs = Recurrent("gru", 4, num_layers=2, residual=True, return_sequences=True)(inputs)
    with pytest.raises(ExportError, match="residual connections.*without streaming"):
        build_streaming_model(keras.Model(inputs, outputs))


def test_native_onnx_form_declines_residual_stacks_and_projections():
    from kerasrnn.export.native_onnx import supports_native
    from kerasrnn.layers import PeepholeLSTM

    inputs = keras.Input((5, 4))
    residual = keras.Model(inputs, Recurrent("gru", 4, num_layers=2, residual=True)(inputs))
    assert supports_native(residual) == (
        False,
        f"layer {residual.layers[1].name!r}: residual connections between layers",
    )
    projected = keras.Model(inputs, PeepholeLSTM(6, proj_size=3)(inputs))
    assert supports_native(projected) == (False, "cell PeepholeLSTMCell with a projection (proj_size)")
    plain = keras.Model(inputs, Recurrent("gru", 4, num_layers=2)(inputs))
    assert supports_native(plain) == (True, "")
