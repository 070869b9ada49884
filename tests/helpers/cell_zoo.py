"""Checks shared by the cell-zoo tests (IndRNN, MGU, NAS): wrappers, saving, stateful, export."""

import json
import os

import keras
import numpy as np

import kerasrnn
from tests.helpers import numpy_reference as ref


def numpy(tensors):
    if not isinstance(tensors, (list, tuple)):
        tensors = [tensors]
    return [np.asarray(keras.ops.convert_to_numpy(t), dtype=np.float64) for t in tensors]


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
    h = kerasrnn.layers.Recurrent(
        cell_name, 5, num_layers=2, bidirectional=True, cell_kwargs=cell_kwargs
    )(h)
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


def check_stateful(make_layer):
    """Two half-sequences through a stateful layer = the whole sequence; reset_state restarts."""
    x = np.random.default_rng(1).normal(size=(2, 6, 3)).astype("float32")
    whole = make_layer(4, return_sequences=True)
    whole.build((2, 6, 3))
    rng = np.random.default_rng(2)
    ref.randomize_weights(whole, rng)
    stateful = make_layer(4, return_sequences=True, stateful=True)
    stateful.build((2, 6, 3))
    stateful.set_weights(whole.get_weights())
    first = numpy(stateful(x[:, :3]))[0]
    second = numpy(stateful(x[:, 3:]))[0]
    np.testing.assert_allclose(
        np.concatenate([first, second], axis=1), numpy(whole(x))[0], rtol=1e-5, atol=1e-6
    )
    stateful.reset_state()
    np.testing.assert_allclose(numpy(stateful(x[:, :3]))[0], first, rtol=1e-5, atol=1e-6)


def check_recurrent_matches_hand_stacked(cell_name, make_layer, n_states, cell_kwargs=None):
    """Recurrent(cell_name, bidirectional, 2 layers, return_state) = the same stack by hand."""
    cell_kwargs = cell_kwargs or {}
    x = np.random.default_rng(3).normal(size=(3, 6, 4)).astype("float32")
    recurrent = kerasrnn.layers.Recurrent(
        cell_name, 5, num_layers=2, bidirectional=True, return_sequences=True,
        return_state=True, cell_kwargs=cell_kwargs,
    )
    outputs, *states = recurrent(x)
    assert len(states) == 2 * 2 * n_states
    inputs = keras.Input((None, 4))
    h, *s0 = keras.layers.Bidirectional(
        make_layer(5, return_sequences=True, return_state=True, **cell_kwargs)
    )(inputs)
    out, *s1 = keras.layers.Bidirectional(
        make_layer(5, return_sequences=True, return_state=True, **cell_kwargs)
    )(h)
    by_hand = keras.Model(inputs, [out, *s0, *s1])
    by_hand.set_weights(recurrent.get_weights())
    for got, want in zip(numpy([outputs, *states]), numpy(by_hand(x))):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def check_dropout(make_layer):
    """fit() with both dropouts; masks new per call, fixed within a sequence; none at inference."""
    keras.utils.set_random_seed(0)
    x = np.ones((4, 5, 3), "float32")
    layer = make_layer(6, dropout=0.5, recurrent_dropout=0.5, seed=1, return_sequences=True)
    model = keras.Sequential([keras.Input((5, 3)), layer, keras.layers.Dense(1)])
    model.compile("adam", "mse")
    history = model.fit(x, np.ones((4, 5, 1)), epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    a = numpy(layer(x, training=True))[0]
    b = numpy(layer(x, training=True))[0]
    assert not np.allclose(a, b)
    np.testing.assert_allclose(numpy(layer(x, training=False))[0], numpy(layer(x))[0], rtol=1e-6)


def check_export(tmp_path, archs):
    """kerasrnn.export of a small build_model model per architecture, ONNX and SavedModel,
    unidirectional ones with their streaming form too. Returns {arch: figures}."""
    from kerasrnn.export import export_models

    models = {}
    for arch in archs:
        keras.utils.set_random_seed(0)
        models[arch] = kerasrnn.build_model(arch, "classification", (8, 3), 3, units=4)
    jobs = [
        {"model": models[arch], "path": tmp_path / arch, "streaming": not arch.startswith("bi")}
        for arch in archs
    ]
    reports = export_models(jobs, format="all", raise_errors=False, check_trained_backend=False)
    figures = {}
    for arch, report in zip(archs, reports):
        assert report.get("passed"), (arch, report.get("error"))
        artifacts = report["artifacts"]
        for name, artifact in artifacts.items():
            assert artifact["max_abs_error"] <= 1e-5, (arch, name, artifact)
            ref.record_error(f"export {arch} {name} (abs)", artifact["max_abs_error"])
        figures[arch] = {name: artifact["max_abs_error"] for name, artifact in artifacts.items()}
        assert (tmp_path / arch / "model.onnx").is_file()
        assert (tmp_path / arch / "savedmodel" / "saved_model.pb").is_file()
    return figures
