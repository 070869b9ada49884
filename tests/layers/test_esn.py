"""ESN: tensorflow-addons' ESNCell equations, the fixed reservoir, Keras' contract, a trained readout, export."""

import functools

import keras
import numpy as np
import pytest

import kerasrnn
from kerasrnn import layers
from tests.helpers import cell_checks as cells
from tests.helpers import numpy_reference as ref

L = layers.ESN
CELL = layers.ESNCell


def _make(**cell):
    return lambda **rnn: L(cells.UNITS, **cells.cheap(L, **cell), **rnn)


REFERENCE_CASES = {
    "esn": (_make(), ref.run_esn),
    "esn_leaky=0.3": (_make(leaky=0.3), functools.partial(ref.run_esn, leaky=0.3)),
    "esn_no_bias_relu_leaky=0.7": (
        _make(use_bias=False, activation="relu", leaky=0.7),
        functools.partial(ref.run_esn, leaky=0.7, activation=lambda v: np.maximum(v, 0.0)),
    ),
}


@pytest.mark.parametrize("name", list(REFERENCE_CASES))
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_reference(name, seed):
    make, reference = REFERENCE_CASES[name]
    cells.check_reference(name, make, reference, seed)


def test_go_backwards_and_initial_state_match_reference():
    make, reference = REFERENCE_CASES["esn_leaky=0.3"]
    cells.check_reference("esn_leaky=0.3", make, reference, 2, go_backwards=True)
    cells.check_reference("esn_leaky=0.3", make, reference, 3, with_initial_state=True)


# -- the reservoir -------------------------------------------------------------------


def _reservoir(units=60, input_dim=3, **kwargs):
    layer = L(units, **kwargs)
    layer.build((1, 2, input_dim))
    return {w.name: keras.ops.convert_to_numpy(w).astype(np.float64) for w in layer.cell.weights}


def test_spectral_radius_and_connectivity():
    w = _reservoir(connectivity=0.2, spectral_radius=0.8, seed=4)["recurrent_kernel"]
    assert abs(np.max(np.abs(np.linalg.eigvals(w))) - 0.8) < 1e-5
    assert 0.15 < np.mean(w != 0) < 0.25
    w = _reservoir(spectral_radius=0.9, use_norm2=True, seed=4)["recurrent_kernel"]
    assert abs(np.sqrt(np.sum(w**2)) - 0.9) < 1e-5  # tensorflow-addons' "norm2": the Frobenius norm
    assert np.max(np.abs(np.linalg.eigvals(w))) < 0.9  # an upper bound of the spectral radius
    np.testing.assert_array_equal(_reservoir(connectivity=0.0, seed=4)["recurrent_kernel"], 0.0)


def test_seeded_reservoir_is_reproducible():
    seeded = dict(
        kernel_initializer=keras.initializers.GlorotUniform(seed=1),
        recurrent_initializer=keras.initializers.GlorotUniform(seed=2),
    )
    a = _reservoir(seed=7, **seeded)
    b = _reservoir(seed=7, **seeded)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    c = _reservoir(seed=8, **seeded)
    assert not np.array_equal(a["recurrent_kernel"] != 0, c["recurrent_kernel"] != 0)
    keras.utils.set_random_seed(3)
    d = _reservoir()
    keras.utils.set_random_seed(3)
    e = _reservoir()
    np.testing.assert_array_equal(d["recurrent_kernel"], e["recurrent_kernel"])


def test_weights_are_not_trainable_and_call_draws_nothing():
    cell = CELL(5)
    rnn = keras.layers.RNN(cell)
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    first = cells.numpy(rnn(x))[0]
    assert cell.trainable_weights == [] and rnn.trainable_weights == []
    assert sorted(w.name for w in cell.non_trainable_weights) == ["bias", "kernel", "recurrent_kernel"]
    np.testing.assert_array_equal(cells.numpy(rnn(x, training=True))[0], first)
    layer = L(5)
    layer(x)
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 3


def test_refuses_what_does_not_apply():
    with pytest.raises(ValueError, match="kernel_regularizer.*fixed"):
        L(4, kernel_regularizer="l2")
    with pytest.raises(ValueError, match="recurrent_constraint"):
        CELL(4, recurrent_constraint="non_neg")
    with pytest.raises(ValueError, match="connectivity"):
        CELL(4, connectivity=1.5)
    with pytest.raises(ValueError, match="leaky"):
        CELL(4, leaky=0.0)
    with pytest.raises(ValueError, match="spectral_radius"):
        CELL(4, spectral_radius=-1.0)
    with pytest.raises(ValueError, match="esn.*use init='keras'"):
        kerasrnn.build_model("esn", "classification", (5, 3), 2, units=4, init="pytorch")


# -- Keras' contract -----------------------------------------------------------------


def test_cell_in_keras_rnn_and_bidirectional():
    cells.check_cell_in_rnn_and_bidirectional(CELL, leaky=0.5)


def test_config_round_trip():
    cells.check_config_round_trip(
        L,
        CELL(3, connectivity=0.3, leaky=0.2, spectral_radius=1.2, use_norm2=True),
        connectivity=0.5,
        leaky=0.25,
        spectral_radius=0.5,
        use_norm2=True,
        dropout=0.25,
        recurrent_dropout=0.125,
        seed=3,
        use_bias=False,
    )


def test_keras_file_round_trip(tmp_path):
    cells.check_keras_file(tmp_path, L, CELL, "esn", leaky=0.5)


def test_masking():
    cells.check_masking("esn", _make(leaky=0.5))
    cells.check_bidirectional_masking("esn", _make(leaky=0.5))


@pytest.mark.parametrize("go_backwards", [False, True])
def test_fast_path_matches_plain_cell(monkeypatch, go_backwards):
    cells.check_fast_path(L, CELL, monkeypatch, go_backwards=go_backwards, leaky=0.5)


def test_stateful():
    cells.check_stateful(L, leaky=0.5)


def test_dropout():
    cells.check_dropout(L)


def test_recurrent_and_registry():
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    out = layers.Recurrent("esn", 4, num_layers=2, bidirectional=True)(x)
    assert tuple(out.shape) == (2, 8)
    for arch in ("esn", "biesn"):
        model = kerasrnn.build_model(arch, "classification", (5, 3), 2, units=4)
        assert keras.ops.convert_to_numpy(model(x)).shape == (2, 2)
        assert [w.path.split("/")[0] for w in model.trainable_weights] == ["classifier", "classifier"]


# -- only the readout trains ---------------------------------------------------------

DELAY = 3


def delayed_recall(n, steps, seed):
    """u_t uniform in [-1, 1]; the target at t is u_{t-3} (0 before the start)."""
    rng = np.random.default_rng(seed)
    u = rng.uniform(-1.0, 1.0, (n, steps, 1)).astype("float32")
    y = np.zeros_like(u)
    y[:, DELAY:] = u[:, :-DELAY]
    return u, y


@pytest.mark.slow
def test_readout_learns_delayed_recall():
    x, y = delayed_recall(256, 40, seed=0)
    x_test, y_test = delayed_recall(128, 40, seed=1)
    keras.utils.set_random_seed(0)
    reservoir = L(100, connectivity=0.2, spectral_radius=0.9, return_sequences=True, seed=0)
    model = keras.Sequential([keras.Input((None, 1)), reservoir, keras.layers.Dense(1)])
    fixed = [keras.ops.convert_to_numpy(w).copy() for w in reservoir.weights]
    assert len(model.trainable_weights) == 2  # the Dense readout only
    model.compile(keras.optimizers.Adam(0.01), "mse")
    model.fit(x, y, epochs=40, batch_size=32, verbose=0)
    for before, after in zip(fixed, reservoir.weights):
        np.testing.assert_array_equal(before, keras.ops.convert_to_numpy(after))
    mse = model.evaluate(x_test, y_test, verbose=0)
    chance = float(np.mean((y_test - y_test.mean()) ** 2))  # the best constant prediction
    ref.record_error("learning esn (test mse / chance mse)", mse / chance)
    assert mse < 0.2 * chance, f"readout mse {mse:.4f} vs chance {chance:.4f}"
