"""The ready layers' loop (direct step calls, optionally a hoisted input projection) against the plain cell.

``CellRNN`` runs a different loop from ``keras.layers.RNN(cell)``; both must
give the same outputs, states and gradients for the same weights.
"""

import keras
import numpy as np
import pytest

from kerasrnn import layers
from tests.helpers.gradients import gradients_of as _gradients

CASES = {
    "peephole_lstm": (layers.PeepholeLSTM, lambda **kw: layers.PeepholeLSTMCell(5, **kw), (3, 6, 4)),
    "layer_norm_lstm": (layers.LayerNormLSTM, lambda **kw: layers.LayerNormLSTMCell(5, **kw), (3, 6, 4)),
    "mut1_projected": (layers.MUT1, lambda **kw: layers.MUT1Cell(5, **kw), (3, 6, 4)),
    "mut1_exact": (layers.MUT1, lambda **kw: layers.MUT1Cell(5, **kw), (3, 6, 5)),
    "mut2_projected": (layers.MUT2, lambda **kw: layers.MUT2Cell(5, **kw), (3, 6, 4)),
    "mut3": (layers.MUT3, lambda **kw: layers.MUT3Cell(5, **kw), (3, 6, 4)),
    "ind_rnn": (layers.IndRNN, lambda **kw: layers.IndRNNCell(5, **kw), (3, 6, 4)),
    "mgu": (layers.MGU, lambda **kw: layers.MGUCell(5, **kw), (3, 6, 4)),
    # The parallel scan (MinGRU, MinLSTM) against the same cell stepped by keras.layers.RNN.
    "min_gru": (layers.MinGRU, lambda **kw: layers.MinGRUCell(5, **kw), (3, 6, 4)),
    "min_lstm": (layers.MinLSTM, lambda **kw: layers.MinLSTMCell(5, **kw), (3, 6, 4)),
    "nas_projected": (
        lambda units, **kw: layers.NAS(units, projection=3, use_bias=True, **kw),
        lambda **kw: layers.NASCell(5, projection=3, use_bias=True, **kw),
        (3, 6, 4),
    ),
    "conv_lstm2d": (
        lambda units, **kw: layers.ConvLSTM2D(units, 3, padding="same", **kw),
        lambda **kw: layers.ConvLSTMCell(2, 5, 3, padding="same", **kw),
        (2, 4, 5, 5, 2),
    ),
}


@pytest.fixture(params=[True, False], ids=["hoisted", "per-step"], autouse=True)
def hoisting(request, monkeypatch):
    """Runs every test with the input projection hoisted out of the loop and not."""
    from kerasrnn.layers.cell_rnn import CellRNN

    monkeypatch.setattr(CellRNN, "hoist_input_projection", request.param)
    return request.param


def _pair(name, cell_options=None, **options):
    fast_cls, make_cell, shape = CASES[name]
    cell_options = cell_options or {}
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype("float32")
    fast = fast_cls(5, return_sequences=True, return_state=True, **cell_options, **options)
    fast.build(shape)
    plain = keras.layers.RNN(make_cell(**cell_options), return_sequences=True, return_state=True, **options)
    if name == "conv_lstm2d":
        # keras.layers.RNN cannot infer image-shaped states symbolically, but
        # runs the cell eagerly; build it by calling it.
        plain.cell.build((shape[0],) + shape[2:])
    else:
        plain.build(shape)
    weights = [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in fast.get_weights()]
    fast.set_weights(weights)
    plain.cell.set_weights(weights)
    return fast, plain, x


def _np(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize(
    "name,go_backwards",
    [(name, False) for name in CASES] + [("peephole_lstm", True), ("mut2_projected", True), ("conv_lstm2d", True)],
)
def test_outputs_and_states_match_plain_cell(name, go_backwards):
    fast, plain, x = _pair(name, go_backwards=go_backwards)
    mask = np.ones(x.shape[:2], bool)
    mask[1, 3:] = False
    # A plain keras.layers.RNN needs a ConvLSTM mask of the states' rank on
    # JAX (see ConvLSTM.call); the ready layer takes the (batch, time) mask.
    plain_mask = mask.reshape(mask.shape + (1,) * (x.ndim - 2)) if x.ndim > 3 else mask
    for got, want in zip(fast(x, mask=mask), plain(x, mask=plain_mask)):
        np.testing.assert_allclose(_np(got), _np(want), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["peephole_lstm", "mut1_projected", "layer_norm_lstm", "min_lstm"])
def test_gradients_match_plain_cell(name):
    fast, plain, x = _pair(name)
    weights = np.random.default_rng(1).normal(size=(x.shape[0], x.shape[1], 5)).astype("float32")

    def gradients(layer):
        return _gradients(layer, x, weights)

    for got, want in zip(gradients(fast), gradients(plain)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_dropout_masks_are_the_same_per_step_in_both_loops():
    # With only input dropout, the fast loop applies the sequence's mask to
    # the whole sequence; it must equal the per-step application.
    fast, plain, x = _pair("mut3", cell_options={"dropout": 0.5, "seed": 3})
    # Both cells have seed=3, so their seed generators draw the same masks.
    got = fast(x, training=True)
    want = plain(x, training=True)
    np.testing.assert_allclose(_np(got[0]), _np(want[0]), rtol=1e-5, atol=1e-6)


def _refuse_sequence_function(*args, **kwargs):
    raise NotImplementedError


@pytest.mark.parametrize("name", ["peephole_lstm", "mut3", "conv_lstm2d"])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_unmasked_loop_matches_plain_cell(name, go_backwards, return_sequences, monkeypatch):
    # Without a mask the torch backend runs kerasrnn.backend's lean loop
    # (other backends raise NotImplementedError and run Keras' loop).
    from kerasrnn import backend as fast_paths

    served = []
    original = fast_paths.rnn

    def counted(*args, **kwargs):
        result = original(*args, **kwargs)
        served.append(True)
        return result

    monkeypatch.setattr(fast_paths, "rnn", counted)
    # The lean loop is what runs once a cell's whole-sequence function (tests/backend) refuses.
    monkeypatch.setattr(fast_paths, "peephole_lstm", _refuse_sequence_function)
    monkeypatch.setattr(fast_paths, "reset_before_rnn", _refuse_sequence_function)
    monkeypatch.setattr(fast_paths, "conv_lstm", _refuse_sequence_function)
    fast, plain, x = _pair(name, go_backwards=go_backwards)
    fast.return_sequences = plain.return_sequences = return_sequences
    got, want = fast(x), plain(x)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert tuple(g.shape) == tuple(w.shape)
        np.testing.assert_allclose(_np(g), _np(w), rtol=1e-5, atol=1e-6)
    assert bool(served) == (keras.backend.backend() == "torch")
