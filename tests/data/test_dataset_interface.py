"""The data-set interface: every registered data set keeps its promises, and a new one plugs in."""

import dataclasses

import pytest

from kerasrnn import registry
from kerasrnn.data import DATASETS, Dataset, dataset_class
from kerasrnn.data.registry import DatasetEntry
from kerasrnn.errors import ConfigError
from kerasrnn.training.run_config import _PER_DATASET, RunConfig

FIELDS = {field.name for field in dataclasses.fields(RunConfig)}


@pytest.mark.backend_independent
@pytest.mark.parametrize("name", list(DATASETS))
def test_registered_data_sets_declare_what_training_needs(name):
    cls = dataset_class(name)
    assert issubclass(cls, Dataset) and cls.name == name
    assert set(cls.options) <= FIELDS, set(cls.options) - FIELDS
    assert "arch" in cls.defaults and set(cls.defaults) <= set(_PER_DATASET)
    assert callable(cls.loader)
    for preset in cls.presets.values():  # every preset is a valid run on its data set
        RunConfig(dataset=name, **preset["options"]).resolve()


@pytest.mark.backend_independent
def test_options_of_another_data_set_are_refused():
    with pytest.raises(ConfigError, match="window = 5 does not apply to dataset 'mnist'; it is an option of sunspots"):
        RunConfig(window=5).resolve()
    with pytest.raises(ConfigError, match="layout = 'pixel' does not apply to dataset 'sunspots'"):
        RunConfig(dataset="sunspots", layout="pixel").resolve()
    # Values equal to the field's or the data set's default are not "given".
    assert RunConfig(dataset="sunspots", augment_shift=0, seq_len=100).resolve().augment_shift == 0


@pytest.fixture
def sine_waves_registered(monkeypatch):
    """``sine-waves`` in the registry: the one line docs/contributing.md adds."""
    monkeypatch.setitem(
        DATASETS,
        "sine-waves",
        DatasetEntry("tests.data.sine_waves:SineWavesDataset", "noisy sines, slow or fast (worked example)"),
    )


@pytest.mark.backend_independent
def test_a_new_data_set_is_one_module_and_one_registry_line(sine_waves_registered):
    config = RunConfig(dataset="sine-waves", seq_len=40).resolve()
    assert (config.arch, config.units, config.epochs) == ("gru", 16, 5)
    data = config.make_dataset().load()
    assert data.x_train.shape == (360, 40, 1) and data.class_names == ["slow", "fast"]
    assert "sine-waves" in registry.dataset_options()["seq_len"]


@pytest.mark.slow
def test_a_new_data_set_trains_evaluates_and_predicts(sine_waves_registered, tmp_path):
    import numpy as np

    from kerasrnn.training import evaluate_run, fit
    from kerasrnn.training.prediction import predict_file

    run = fit(RunConfig(dataset="sine-waves", seq_len=30, epochs=6), out=tmp_path / "run", progress=False)
    metrics = evaluate_run(run)
    assert metrics["test_accuracy"] > 0.8, metrics
    assert run.name == "run" and (run / "model.keras").is_file()
    np.savez(tmp_path / "new.npz", x=np.sin(np.linspace(0, 6.3, 30))[None, :, None].astype("float32"))
    columns, rows, _ = predict_file(run, tmp_path / "new.npz")
    assert rows[0]["prediction"] in ("slow", "fast") and "p_slow" in columns
