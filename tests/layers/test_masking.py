"""Masked, right-padded batches give what each sequence gives unpadded on its own.

The padding is filled with random garbage (not zeros, except behind
``keras.layers.Masking``), so a mask that is ignored anywhere shows up in the
final states. Errors are relative: ``max|a - b| / max(max|b|, 1e-3)``.
"""

import keras
import numpy as np
import pytest

import kerasrnn
from tests.helpers import numpy_reference as ref

UNITS, INPUT = 5, 4
LENGTHS = [6, 3, 1]  # batch of 3, right-padded to 6 steps
TOLERANCE = 1e-5
L = kerasrnn.layers


def _zero_init(cls):
    names = ["kernel_initializer", "recurrent_initializer", "peephole_initializer"]
    return {n: "zeros" for n in names if n in cls.cell_argument_names()}  # overwritten anyway


def _maker(cls, *args, **kwargs):
    return lambda **rnn: cls(*args, **_zero_init(cls), **kwargs, **rnn)


CASES = {
    "peephole_lstm": (_maker(L.PeepholeLSTM, UNITS), (INPUT,)),
    "layer_norm_lstm": (_maker(L.LayerNormLSTM, UNITS), (INPUT,)),
    "mut1_exact": (_maker(L.MUT1, UNITS), (UNITS,)),
    "mut2_projected": (_maker(L.MUT2, UNITS), (INPUT,)),
    "mut3": (_maker(L.MUT3, UNITS), (INPUT,)),
    "ind_rnn": (_maker(L.IndRNN, UNITS), (INPUT,)),
    "mgu": (_maker(L.MGU, UNITS), (INPUT,)),
    "min_gru": (_maker(L.MinGRU, UNITS), (INPUT,)),
    "min_lstm_linear": (_maker(L.MinLSTM, UNITS, log_space=False), (INPUT,)),
    "nas_projected": (_maker(L.NAS, UNITS, projection=3, use_bias=True), (INPUT,)),
    "conv_lstm1d": (_maker(L.ConvLSTM1D, 3, 3, padding="same"), (6, 2)),
    "conv_lstm2d": (_maker(L.ConvLSTM2D, 2, (2, 2), padding="valid"), (4, 4, 2)),
}


def _numpy(tensors):
    if not isinstance(tensors, (list, tuple)):
        tensors = [tensors]
    return [np.asarray(keras.ops.convert_to_numpy(t), dtype=np.float64) for t in tensors]


def _padded_batch(rng, frame, pad_value=None):
    steps = max(LENGTHS)
    x = rng.normal(size=(len(LENGTHS), steps) + frame).astype("float32")
    mask = np.arange(steps)[None, :] < np.array(LENGTHS)[:, None]
    if pad_value is not None:
        x[~mask] = pad_value
    return x, mask


def _check(label, actual, expected):
    # Recorded per case (the text before the first space-separated detail).
    err = ref.record_error(f"mask {label.split(' [')[0]}", ref.relative_error(actual, expected))
    assert err < TOLERANCE, f"{label}: relative error {err:.2e}"


@pytest.mark.parametrize("name", list(CASES))
def test_masked_batch_equals_unpadded_sequences(name):
    make, frame = CASES[name]
    rng = np.random.default_rng(list(CASES).index(name))
    x, mask = _padded_batch(rng, frame)

    sequences = make(return_sequences=True, return_state=True)
    sequences.build(x.shape)
    ref.randomize_weights(sequences, rng)
    last = make(return_sequences=False, return_state=True)
    last.build(x.shape)
    last.set_weights(sequences.get_weights())

    seq_out, *seq_states = _numpy(sequences(x, mask=mask))
    last_out, *last_states = _numpy(last(x, mask=mask))
    for i, length in enumerate(LENGTHS):
        alone_seq, *alone_states = _numpy(sequences(x[i : i + 1, :length]))
        _check(f"{name} [outputs {i}]", seq_out[i, :length], alone_seq[0])
        _check(f"{name} [final output {i}]", last_out[i], alone_seq[0, -1])
        for k, alone in enumerate(alone_states):
            _check(f"{name} [state {k} of {i}, return_sequences]", seq_states[k][i], alone[0])
            _check(f"{name} [state {k} of {i}]", last_states[k][i], alone[0])


@pytest.mark.parametrize("name", ["peephole_lstm", "conv_lstm1d"])
def test_bidirectional_masked_batch_equals_unpadded_sequences(name):
    make, frame = CASES[name]
    rng = np.random.default_rng(100 + list(CASES).index(name))
    x, mask = _padded_batch(rng, frame)
    layer = keras.layers.Bidirectional(make(return_sequences=True, return_state=True))
    layer.build(x.shape)
    ref.randomize_weights(layer.forward_layer, rng)
    ref.randomize_weights(layer.backward_layer, rng)

    out, *states = _numpy(layer(x, mask=mask))
    for i, length in enumerate(LENGTHS):
        alone_out, *alone_states = _numpy(layer(x[i : i + 1, :length]))
        # The backward half at valid steps sees only the valid steps too.
        _check(f"bidirectional {name} [outputs {i}]", out[i, :length], alone_out[0])
        for k, alone in enumerate(alone_states):
            _check(f"bidirectional {name} [state {k} of {i}]", states[k][i], alone[0])


def test_masking_layer_in_functional_model():
    rng = np.random.default_rng(200)
    x, mask = _padded_batch(rng, (INPUT,), pad_value=0.0)
    inputs = keras.Input((None, INPUT))
    masked = keras.layers.Masking(mask_value=0.0)(inputs)
    rnn = L.PeepholeLSTM(UNITS, return_sequences=True, return_state=True, **_zero_init(L.PeepholeLSTM))
    seq, h, c = rnn(masked)
    model = keras.Model(inputs, [seq, h, c])
    ref.randomize_weights(rnn, rng)

    out, h, c = _numpy(model(x))
    for i, length in enumerate(LENGTHS):
        alone_out, alone_h, alone_c = _numpy(model(x[i : i + 1, :length]))
        _check(f"Masking layer [outputs {i}]", out[i, :length], alone_out[0])
        _check(f"Masking layer [h {i}]", h[i], alone_h[0])
        _check(f"Masking layer [c {i}]", c[i], alone_c[0])
    # Without the mask the padded zeros would change the final states.
    _, h_unmasked, _ = _numpy(rnn(x))
    assert ref.relative_error(h_unmasked[1:], h[1:]) > 1e-3
