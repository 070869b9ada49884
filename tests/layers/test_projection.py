"""LSTM with projection (``proj_size``; Sak et al. 2014, torch.nn.LSTM's semantics).

kerasrnn's ``LSTM`` (a ``ProjectedLSTMCell`` when ``proj_size > 0``), ``PeepholeLSTM`` and
``Recurrent(proj_size=...)``: the float64 NumPy reference, state sizes, masking, stateful
use, training with dropout, config and ``.keras`` round trips, and the torch fast path.
"""

import os

import keras
import numpy as np
import pytest

from kerasrnn.layers import LSTM, PeepholeLSTM, PeepholeLSTMCell, ProjectedLSTMCell, Recurrent
from tests.helpers import cell_checks as cells
from tests.helpers import numpy_reference as ref

BATCH, TIME, INPUT, UNITS, PROJ = 3, 6, 5, 6, 3
TOLERANCE = 1e-5

LAYERS = {
    "lstm": (lambda **kw: LSTM(UNITS, proj_size=PROJ, **kw), False),
    "lstm generic loop": (lambda **kw: LSTM(UNITS, proj_size=PROJ, use_cudnn=False, **kw), False),
    "peephole_lstm": (lambda **kw: PeepholeLSTM(UNITS, proj_size=PROJ, **kw), True),
}


@pytest.mark.parametrize(
    "name, go_backwards",
    [
        ("lstm", False),
        ("lstm", True),
        ("lstm generic loop", False),
        ("lstm generic loop", True),
        ("peephole_lstm", False),
    ],
)
def test_against_numpy_reference(name, go_backwards):
    if name == "lstm generic loop" and keras.backend.backend() != "torch":
        pytest.skip("only the torch backend has a fused path to bypass")
    make, peephole = LAYERS[name]
    rng = np.random.default_rng([7, len(name), go_backwards])
    layer = make(return_sequences=True, return_state=True, go_backwards=go_backwards)
    x = rng.normal(size=(BATCH, TIME, INPUT)).astype("float32")
    layer.build(x.shape)
    ref.randomize_weights(layer, rng)
    initial_state = [rng.uniform(-1, 1, (BATCH, size)).astype("float32") for size in (PROJ, UNITS)]
    outputs, h, c = cells.numpy(layer(x, initial_state=initial_state))
    expected, (expected_h, expected_c) = ref.run_projected_lstm(
        x, ref.named_weights(layer), peephole=peephole, initial_state=initial_state, go_backwards=go_backwards
    )
    label = f"projected {name}" + (" go_backwards" if go_backwards else "")
    assert outputs.shape == (BATCH, TIME, PROJ) and h.shape == (BATCH, PROJ) and c.shape == (BATCH, UNITS)
    for got, want in ((outputs, expected), (h, expected_h), (c, expected_c)):
        err = ref.record_error(label, ref.relative_error(got, want))
        assert err < TOLERANCE, f"{label}: relative error {err:.2e}"
    np.testing.assert_array_equal(outputs[:, -1], h)


def test_cell_sizes_and_weights():
    for layer in (LSTM(UNITS, proj_size=PROJ), PeepholeLSTM(UNITS, proj_size=PROJ)):
        layer.build((2, 4, INPUT))
        assert list(layer.cell.state_size) == [PROJ, UNITS] and layer.cell.output_size == PROJ
        shapes = {w.name: tuple(w.shape) for w in layer.cell.weights}
        assert shapes["kernel"] == (INPUT, 4 * UNITS)
        assert shapes["recurrent_kernel"] == (PROJ, 4 * UNITS)
        assert shapes["projection_kernel"] == (UNITS, PROJ)
        assert np.allclose(cells.numpy(layer.cell.bias)[0][UNITS : 2 * UNITS], 1.0)  # unit_forget_bias
    assert type(LSTM(UNITS).cell) is keras.layers.LSTMCell  # proj_size=0: Keras' own LSTM
    assert PeepholeLSTM(UNITS).cell.state_size == [UNITS, UNITS]


@pytest.mark.backend_independent
def test_bad_proj_size():
    for bad in (-1, UNITS, UNITS + 1, 1.5, True):
        for make in (LSTM, PeepholeLSTMCell):
            with pytest.raises(ValueError, match="proj_size"):
                make(UNITS, proj_size=bad)
    with pytest.raises(ValueError, match="proj_size"):
        ProjectedLSTMCell(UNITS, proj_size=0)
    with pytest.raises(ValueError, match="proj_size"):
        Recurrent("gru", UNITS, proj_size=2)
    with pytest.raises(ValueError, match="proj_size"):
        Recurrent(ProjectedLSTMCell(UNITS, 2), proj_size=2)
    with pytest.raises(ValueError, match="proj_size"):
        Recurrent("lstm", UNITS, proj_size=UNITS)


@pytest.mark.parametrize("name", ["lstm", "peephole_lstm"])
def test_masking(name):
    """A right-padded masked batch (garbage in the padding): each sequence's outputs and states as the reference's."""
    make, peephole = LAYERS[name]
    lengths = [6, 3, 1]
    rng = np.random.default_rng(3)
    x = rng.normal(size=(len(lengths), max(lengths), INPUT)).astype("float32")
    mask = np.arange(max(lengths))[None, :] < np.array(lengths)[:, None]
    layer = make(return_sequences=True, return_state=True)
    layer.build(x.shape)
    ref.randomize_weights(layer, rng)
    outputs, h, c = cells.numpy(layer(x, mask=mask))
    weights = ref.named_weights(layer)
    for i, length in enumerate(lengths):
        expected, (expected_h, expected_c) = ref.run_projected_lstm(x[i : i + 1, :length], weights, peephole=peephole)
        for got, want in ((outputs[i, :length], expected[0]), (h[i], expected_h[0]), (c[i], expected_c[0])):
            err = ref.record_error(f"mask projected {name}", ref.relative_error(got, want))
            assert err < TOLERANCE, f"mask {name} sequence {i}: relative error {err:.2e}"
        np.testing.assert_array_equal(outputs[i, length:], np.broadcast_to(h[i], outputs[i, length:].shape))


def test_stateful():
    """Two halves through a stateful layer = the whole sequence in the reference (states [h, c] of [2, 4])."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 6, 3)).astype("float32")
    stateful = LSTM(4, proj_size=2, return_sequences=True, stateful=True)
    stateful.build(x.shape)
    ref.randomize_weights(stateful, rng)
    halves = np.concatenate(cells.numpy([stateful(x[:, :3]), stateful(x[:, 3:])]), axis=1)
    expected, _ = ref.run_projected_lstm(x, ref.named_weights(stateful))
    err = ref.record_error("stateful projected lstm", ref.relative_error(halves, expected))
    assert err < TOLERANCE, f"stateful: relative error {err:.2e}"


def test_training():
    """fit() lowers the loss (input dropout on); every weight, the projections included, gets a gradient."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 5, 3)).astype("float32")
    y = x.sum(axis=(1, 2))[:, None] / 4
    model = keras.Sequential(
        [
            keras.Input((5, 3)),
            LSTM(6, proj_size=2, dropout=0.2, seed=1, return_sequences=True),
            PeepholeLSTM(6, proj_size=2, dropout=0.2, seed=1),
            keras.layers.Dense(1),
        ]
    )
    model.compile(keras.optimizers.Adam(0.03), "mse")
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(x, y, epochs=20, batch_size=8, verbose=0).history["loss"]
    assert np.mean(history[-4:]) < 0.75 * history[0], history
    for variable, old in zip(model.weights, before):
        assert not np.allclose(cells.numpy(variable)[0], old), variable.path


@pytest.mark.parametrize("name", ["lstm", "peephole_lstm"])
def test_recurrent_dropout_on_the_projected_state(name):
    """Identical sequences come out different in training: each draws its own mask on the (batch, proj_size) state."""
    make, _ = LAYERS[name]
    layer = make(recurrent_dropout=0.5, seed=3, return_sequences=True)
    out = cells.numpy(layer(np.ones((8, 4, INPUT), "float32"), training=True))[0]
    assert out.shape == (8, 4, PROJ) and np.all(np.isfinite(out))
    np.testing.assert_array_equal(out[:, 0], np.broadcast_to(out[0, 0], (8, PROJ)))  # step 0 reads h = 0
    assert not all(np.allclose(out[0, 1:], row) for row in out[1:, 1:])  # (masks of 3 units can coincide)


def test_torch_runs_the_projection_in_its_fused_kernel(monkeypatch):
    if keras.backend.backend() != "torch":
        pytest.skip("PyTorch's fused LSTM kernel is the torch backend's")

    def generic_loop(*args, **kwargs):
        raise AssertionError("the generic loop ran")

    layer = LSTM(UNITS, proj_size=PROJ, return_sequences=True)
    layer.build((2, 4, INPUT))
    monkeypatch.setattr(keras.layers.RNN, "inner_loop", generic_loop)
    assert tuple(layer(np.ones((2, 4, INPUT), "float32")).shape) == (2, 4, PROJ)


def test_recurrent_proj_size_against_reference():
    """Recurrent("lstm", proj_size, 2 layers, bidirectional): every layer and direction as the reference."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 5, INPUT)).astype("float32")
    recurrent = Recurrent(
        "lstm", UNITS, num_layers=2, bidirectional=True, proj_size=PROJ, return_sequences=True, return_state=True
    )
    recurrent.build(x.shape)
    inputs, expected_states = x, []
    for layer in recurrent.rnn_layers:
        directions = []
        for rnn, backwards in ((layer.forward_layer, False), (layer.backward_layer, True)):
            ref.randomize_weights(rnn, rng)
            outputs, states = ref.run_projected_lstm(inputs, ref.named_weights(rnn), go_backwards=backwards)
            directions.append(outputs[:, ::-1] if backwards else outputs)  # time order, as Bidirectional
            expected_states.extend(states)
        inputs = np.concatenate(directions, axis=-1)
    if keras.backend.backend() == "jax":  # one compiled call rather than a compile per scan
        model_inputs = keras.Input(x.shape[1:])
        outputs, *states = cells.numpy(keras.Model(model_inputs, recurrent(model_inputs)).predict(x, verbose=0))
    else:
        outputs, *states = cells.numpy(recurrent(x))
    assert outputs.shape == (2, 5, 2 * PROJ)
    assert [s.shape[1] for s in states] == [PROJ, UNITS] * 4  # h, c per layer and direction
    for got, want in zip([outputs, *states], [inputs, *expected_states]):
        err = ref.record_error("projected Recurrent lstm", ref.relative_error(got, want))
        assert err < TOLERANCE, f"Recurrent: relative error {err:.2e}"


def test_config_round_trip():
    layer = LSTM(UNITS, proj_size=PROJ, projection_regularizer="l2", go_backwards=True, dropout=0.1)
    config = layer.get_config()
    assert config["proj_size"] == PROJ and config["go_backwards"] and config["dropout"] == 0.1
    assert LSTM.from_config(config).get_config() == config
    assert LSTM(UNITS).get_config()["proj_size"] == 0
    cell = ProjectedLSTMCell(UNITS, PROJ, unit_forget_bias=False)
    assert ProjectedLSTMCell.from_config(cell.get_config()).get_config() == cell.get_config()
    peephole = PeepholeLSTM(UNITS, proj_size=PROJ)
    assert PeepholeLSTM.from_config(peephole.get_config()).get_config() == peephole.get_config()
    recurrent = Recurrent("peephole_lstm", UNITS, proj_size=PROJ)
    assert recurrent.get_config()["proj_size"] == PROJ
    assert Recurrent.from_config(recurrent.get_config()).get_config() == recurrent.get_config()


def test_keras_file_round_trip(tmp_path):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, 4))
    h = LSTM(UNITS, proj_size=PROJ, return_sequences=True)(inputs)
    h = Recurrent("peephole_lstm", UNITS, proj_size=2)(h)
    model = keras.Model(inputs, keras.layers.Dense(2)(h))
    x = np.random.default_rng(0).normal(size=(3, 5, 4)).astype("float32")
    path = os.fspath(tmp_path / "model.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(model.predict(x, verbose=0), reloaded.predict(x, verbose=0))
    assert isinstance(reloaded.layers[1], LSTM) and reloaded.layers[1].proj_size == PROJ
