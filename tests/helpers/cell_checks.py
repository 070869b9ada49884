"""Checks shared by the tests of the cell-zoo cells (IndRNN, MGU, NAS, LayerNormSimpleRNN, LayerNormGRU, ESN).

Each test file passes its layer class (or a factory ``(units, **kwargs) ->
layer``), cell class and float64 NumPy reference
(``tests/helpers/numpy_reference.py``) to these functions.
"""

import json
import os

import keras
import numpy as np

import kerasrnn
from kerasrnn import layers
from tests.helpers import numpy_reference as ref

BATCH, TIME, INPUT, UNITS = 3, 7, 5, 6
TOLERANCE = 1e-5


def numpy(tensors):
    if not isinstance(tensors, (list, tuple)):
        tensors = [tensors]
    return [np.asarray(keras.ops.convert_to_numpy(t), dtype=np.float64) for t in tensors]


def cheap(cls, **kwargs):
    """Zero kernel initializers (overwritten by the tests; random ones compile anew per shape on JAX)."""
    names = ["kernel_initializer", "recurrent_initializer"]
    return {**{name: "zeros" for name in names if name in cls.cell_argument_names()}, **kwargs}


def check_reference(label, make, reference, seed, frame=(INPUT,), go_backwards=False, with_initial_state=False):
    """Float32 layer with random weights against the float64 reference: every step and the final state."""
    rng = np.random.default_rng([seed, len(label)])
    layer = make(return_sequences=True, return_state=True, go_backwards=go_backwards)
    x = rng.normal(size=(BATCH, TIME) + frame).astype("float32")
    layer.build(x.shape)
    ref.randomize_weights(layer, rng)
    weights = ref.named_weights(layer)
    kwargs, initial_state = {}, None
    if with_initial_state:
        initial_state = [rng.uniform(-1.0, 1.0, (BATCH, layer.cell.units)).astype("float32")]
        kwargs["initial_state"] = initial_state
    outputs, *states = numpy(layer(x, **kwargs))
    expected_outputs, expected_states = reference(x, weights, initial_state=initial_state, go_backwards=go_backwards)
    label += (" go_backwards" if go_backwards else "") + (" initial_state" if with_initial_state else "")
    assert outputs.shape == expected_outputs.shape
    assert len(states) == len(expected_states) == 1
    for t in range(TIME):
        err = ref.record_error(label, ref.relative_error(outputs[:, t], expected_outputs[:, t]))
        assert err < TOLERANCE, f"{label}: output step {t}: relative error {err:.2e}"
    err = ref.record_error(label, ref.relative_error(states[0], expected_states[0]))
    assert err < TOLERANCE, f"{label}: final state: relative error {err:.2e}"
    np.testing.assert_array_equal(outputs[:, -1], states[0])  # the output is states[0]


LENGTHS = [6, 3, 1]


def check_masking(label, make, seed=0):
    """A right-padded masked batch (garbage in the padding) gives each sequence's unpadded result."""
    rng = np.random.default_rng(seed)
    steps = max(LENGTHS)
    x = rng.normal(size=(len(LENGTHS), steps, INPUT)).astype("float32")
    mask = np.arange(steps)[None, :] < np.array(LENGTHS)[:, None]
    sequences = make(return_sequences=True, return_state=True)
    sequences.build(x.shape)
    ref.randomize_weights(sequences, rng)
    last = make(return_sequences=False, return_state=True)
    last.build(x.shape)
    last.set_weights(sequences.get_weights())
    seq_out, seq_h = numpy(sequences(x, mask=mask))
    last_out, last_h = numpy(last(x, mask=mask))
    for i, length in enumerate(LENGTHS):
        alone_seq, alone_h = numpy(sequences(x[i : i + 1, :length]))
        for got, want in (
            (seq_out[i, :length], alone_seq[0]),
            (last_out[i], alone_seq[0, -1]),
            (seq_h[i], alone_h[0]),
            (last_h[i], alone_h[0]),
        ):
            err = ref.record_error(f"mask {label}", ref.relative_error(got, want))
            assert err < TOLERANCE, f"mask {label} sequence {i}: relative error {err:.2e}"


def check_bidirectional_masking(label, make, seed=1):
    rng = np.random.default_rng(seed)
    steps = max(LENGTHS)
    x = rng.normal(size=(len(LENGTHS), steps, INPUT)).astype("float32")
    mask = np.arange(steps)[None, :] < np.array(LENGTHS)[:, None]
    layer = keras.layers.Bidirectional(make(return_sequences=True, return_state=True))
    layer.build(x.shape)
    ref.randomize_weights(layer.forward_layer, rng)
    ref.randomize_weights(layer.backward_layer, rng)
    out, *states = numpy(layer(x, mask=mask))
    for i, length in enumerate(LENGTHS):
        alone_out, *alone_states = numpy(layer(x[i : i + 1, :length]))
        err = ref.record_error(f"bidirectional mask {label}", ref.relative_error(out[i, :length], alone_out[0]))
        assert err < TOLERANCE
        for state, alone in zip(states, alone_states):
            assert ref.relative_error(state[i], alone[0]) < TOLERANCE


def check_cell_in_rnn_and_bidirectional(cell_cls, **kwargs):
    x = np.random.default_rng(0).normal(size=(3, 5, 4)).astype("float32")
    rnn = keras.layers.RNN(cell_cls(6, **kwargs), return_sequences=True, return_state=True)
    outputs, *states = rnn(x)
    assert tuple(outputs.shape) == (3, 5, 6) and len(states) == 1
    np.testing.assert_array_equal(numpy(outputs[:, -1])[0], numpy(states[0])[0])
    bi = keras.layers.Bidirectional(keras.layers.RNN(cell_cls(6, **kwargs)), merge_mode="concat")
    assert tuple(bi(x).shape) == (3, 12)


def check_fast_path(layer_cls, cell_cls, monkeypatch, go_backwards=False, **kwargs):
    """The ready layer's loop (hoisted and per step) equals ``keras.layers.RNN(cell)``: outputs, states."""
    from kerasrnn.layers.cell_rnn import CellRNN

    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 6, 4)).astype("float32")
    mask = np.ones(x.shape[:2], bool)
    mask[1, 3:] = False
    plain = keras.layers.RNN(cell_cls(5, **kwargs), return_sequences=True, return_state=True, go_backwards=go_backwards)
    plain.build(x.shape)
    weights = [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in plain.get_weights()]
    plain.set_weights(weights)
    for hoist in (True, False):
        monkeypatch.setattr(CellRNN, "hoist_input_projection", hoist)
        fast = layer_cls(5, return_sequences=True, return_state=True, go_backwards=go_backwards, **kwargs)
        fast.build(x.shape)
        fast.set_weights(weights)
        for m in (None, mask):
            for got, want in zip(numpy(fast(x, mask=m)), numpy(plain(x, mask=m))):
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def check_config_round_trip(layer_cls, cell, **layer_kwargs):
    config = cell.get_config()
    assert type(cell).from_config(config).get_config() == config
    layer = layer_cls(7, go_backwards=True, **layer_kwargs)
    config = layer.get_config()
    for key, value in {"units": 7, "go_backwards": True, **layer_kwargs}.items():
        if not isinstance(value, str):  # identifiers are stored serialized
            assert config[key] == value, key
    clone = layer_cls.from_config(config)
    assert clone.get_config() == config
    for name in layer.cell_argument_names():
        assert name in config, f"{layer_cls.__name__}.get_config() lacks {name!r}"


def check_keras_file(tmp_path, layer_cls, cell_cls, cell_name, **kwargs):
    """A model with the layer, the cell in RNN and Bidirectional, and Recurrent survives .keras."""
    keras.utils.set_random_seed(1)
    inputs = keras.Input((None, 4))
    h = keras.layers.Masking()(inputs)
    h = layer_cls(5, return_sequences=True, **kwargs)(h)
    h = keras.layers.Bidirectional(keras.layers.RNN(cell_cls(4, **kwargs), return_sequences=True))(h)
    h = layers.Recurrent(cell_name, 3, num_layers=2, bidirectional=True, merge_mode="ave")(h)
    model = keras.Model(inputs, keras.layers.Dense(2)(h))
    x = np.random.default_rng(0).normal(size=(4, 7, 4)).astype("float32")
    path = os.fspath(tmp_path / "model.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(model.predict(x, verbose=0), reloaded.predict(x, verbose=0))


def check_stateful(layer_cls, **kwargs):
    """Two half-sequences through a stateful layer = the whole sequence; reset_state restarts."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 6, 3)).astype("float32")
    whole = layer_cls(4, return_sequences=True, **kwargs)
    whole.build((2, 6, 3))
    ref.randomize_weights(whole, np.random.default_rng(2))
    stateful = layer_cls(4, return_sequences=True, stateful=True, **kwargs)
    stateful.build((2, 6, 3))
    stateful.set_weights(whole.get_weights())
    first = numpy(stateful(x[:, :3]))[0]
    second = numpy(stateful(x[:, 3:]))[0]
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), numpy(whole(x))[0], rtol=1e-5, atol=1e-6)
    stateful.reset_state()
    np.testing.assert_allclose(numpy(stateful(x[:, :3]))[0], first, rtol=1e-5, atol=1e-6)


def check_dropout(layer_cls, **kwargs):
    """fit() with both dropouts; masks differ between calls; inference is deterministic."""
    keras.utils.set_random_seed(0)
    x = np.ones((4, 5, 3), "float32")
    layer = layer_cls(6, dropout=0.5, recurrent_dropout=0.5, seed=1, return_sequences=True, **kwargs)
    model = keras.Sequential([keras.Input((5, 3)), layer, keras.layers.Dense(1)])
    model.compile("adam", "mse")
    history = model.fit(x, np.ones((4, 5, 1)), epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    a = numpy(layer(x, training=True))[0]
    b = numpy(layer(x, training=True))[0]
    assert not np.allclose(a, b)
    np.testing.assert_allclose(numpy(layer(x, training=False))[0], numpy(layer(x))[0], rtol=1e-6)


def check_keras_file_round_trip(tmp_path, make_layer, make_cell, cell_name, cell_kwargs=None):
    """A functional model with the layer, Bidirectional(layer), RNN(cell) and
    Recurrent(cell_name) saved as ``.keras`` and loaded gives the same outputs
    and the same configs."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, 4))
    h = keras.layers.Masking()(inputs)
    h = keras.layers.Bidirectional(make_layer(5, return_sequences=True), merge_mode="sum")(h)
    h = keras.layers.RNN(make_cell(5), return_sequences=True)(h)
    h = make_layer(5, return_sequences=True, go_backwards=True)(h)
    h = kerasrnn.layers.Recurrent(cell_name, 5, num_layers=2, bidirectional=True, cell_kwargs=cell_kwargs)(h)
    model = keras.Model(inputs, keras.layers.Dense(2)(h))
    x = np.random.default_rng(0).normal(size=(3, 6, 4)).astype("float32")
    path = os.fspath(tmp_path / "model.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(model.predict(x, verbose=0), reloaded.predict(x, verbose=0))
    for a, b in zip(model.layers, reloaded.layers):
        if isinstance(a, keras.layers.Bidirectional):  # its config names the inner layers afresh
            a, b = a.forward_layer, b.forward_layer
            a_config, b_config = a.cell.get_config(), b.cell.get_config()
            a_config.pop("name"), b_config.pop("name")
            assert _json(a_config) == _json(b_config), a.name
        else:
            assert _json(a.get_config()) == _json(b.get_config()), a.name


def _json(config):
    """The config as JSON has it (tuples and lists alike, as a ``.keras`` file stores them)."""
    return json.loads(json.dumps(config))


def check_recurrent_matches_hand_stacked(cell_name, make_layer, n_states, cell_kwargs=None):
    """Recurrent(cell_name, bidirectional, 2 layers, return_state) = the same stack by hand."""
    cell_kwargs = cell_kwargs or {}
    x = np.random.default_rng(3).normal(size=(3, 6, 4)).astype("float32")
    recurrent = kerasrnn.layers.Recurrent(
        cell_name,
        5,
        num_layers=2,
        bidirectional=True,
        return_sequences=True,
        return_state=True,
        cell_kwargs=cell_kwargs,
    )
    outputs, *states = recurrent(x)
    assert len(states) == 2 * 2 * n_states
    inputs = keras.Input((None, 4))
    h, *s0 = keras.layers.Bidirectional(make_layer(5, return_sequences=True, return_state=True, **cell_kwargs))(inputs)
    out, *s1 = keras.layers.Bidirectional(make_layer(5, return_sequences=True, return_state=True, **cell_kwargs))(h)
    by_hand = keras.Model(inputs, [out, *s0, *s1])
    by_hand.set_weights(recurrent.get_weights())
    for got, want in zip(numpy([outputs, *states]), numpy(by_hand(x))):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
