"""Run directories keep their data honest and their writers apart.

Data identity (a changed file is refused on evaluate and --resume unless
allowed, and the allowance is recorded), absolute data paths, resume with new
lr / epochs / time budget, one writer per run directory, unique default
directories, and --text reaching the loader.
"""

import json
import os

import keras
import numpy as np
import pytest

from kerasrnn.errors import ConfigError, DataError, RunDirError, RunDirExistsError
from kerasrnn.training import RunConfig, evaluate_run, fit, resume
from kerasrnn.training.run import DataChangedError
from kerasrnn.training.run_dir import RunDir

TINY = dict(arch="gru", units=4, batch_size=8, time_budget=0.0, patience=0)


def _write_series(path, rows=40, seed=0):
    rng = np.random.default_rng(seed)
    lines = [",".join([str(i % 2)] + [f"{v:.4f}" for v in rng.normal(size=6) + (i % 2)]) for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


class _StopAfterFirstEpoch(keras.callbacks.Callback):
    """Ctrl-C after the first checkpoint: an interrupted run to resume."""

    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt


def _interrupted_run(tmp_path, data_file):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        fit(
            RunConfig(data_file=str(data_file), dataset="file", epochs=3, **TINY),
            out=out,
            progress=False,
            extra_callbacks=(_StopAfterFirstEpoch(),),
        )
    return out


def _record(run):
    return json.loads((run / "config.json").read_text())


def test_evaluate_refuses_changed_data_unless_allowed_and_then_records_it(tmp_path):
    data = _write_series(tmp_path / "series.csv")
    run = fit(RunConfig(data_file=str(data), dataset="file", epochs=1, **TINY), out=tmp_path / "run", progress=False)
    assert len(_record(run)["data"]["sha256"]) == 64
    assert "data_changed" not in evaluate_run(run)

    _write_series(data, seed=1)  # same sizes, other values: sizes alone would not see it
    with pytest.raises(DataChangedError, match="changed since the run was trained.*--allow-changed-data"):
        evaluate_run(run)
    result = evaluate_run(run, allow_changed_data=True)
    assert result["data_changed"] is True
    (change,) = _record(run)["data_changes"]
    assert change["by"] == "evaluate" and change["now"] != change["then"]


def test_the_data_path_is_absolute_so_a_run_is_usable_from_anywhere(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    _write_series(tmp_path / "a" / "series.csv")
    monkeypatch.chdir(tmp_path / "a")
    run = fit(RunConfig(data_file="series.csv", dataset="file", epochs=1, **TINY), out=tmp_path / "run", progress=False)
    assert _record(run)["config"]["data_file"] == str(tmp_path / "a" / "series.csv")
    (tmp_path / "b").mkdir()
    _write_series(tmp_path / "b" / "series.csv", seed=5)  # a different file of the same relative name
    monkeypatch.chdir(tmp_path / "b")
    assert "test_accuracy" in evaluate_run(run) and "data_changed" not in evaluate_run(run)


def test_resume_refuses_changed_data_and_takes_new_lr_and_epochs(tmp_path):
    data = _write_series(tmp_path / "series.csv")
    out = _interrupted_run(tmp_path, data)
    assert _record(out)["status"] == "running"
    _write_series(data, seed=3)
    with pytest.raises(DataChangedError, match="--allow-changed-data"):
        resume(out, progress=False)
    with pytest.raises(ConfigError, match="only lr, epochs, time_budget may change, not units"):
        resume(out, progress=False, overrides={"units": 8})
    run = resume(out, progress=False, overrides={"lr": 1e-4, "epochs": 2}, allow_changed_data=True)
    record = _record(run)
    assert record["status"] == "complete"
    assert record["config"]["lr"] == 1e-4 and record["config"]["epochs"] == 2
    assert record["resumed"][-1]["overrides"] == {"lr": 1e-4, "epochs": 2}
    assert record["data_changes"][0]["by"] == "fit --resume"
    assert [row["epoch"] for row in RunDir(run).read_history()] == [1, 2]


def test_one_writer_per_run_directory(tmp_path):
    first = RunDir.create(tmp_path / "run")
    with pytest.raises(RunDirExistsError, match="being created by another kerasrnn process"):
        RunDir.create(tmp_path / "run")
    (tmp_path / "run" / "config.json").write_text(json.dumps({"config": {}, "status": "running"}))
    with pytest.raises(RunDirError, match=r"being written by another kerasrnn process \(pid \d+\)"):
        RunDir.open(tmp_path / "run").lock()
    first.unlock()
    RunDir.open(tmp_path / "run").lock().unlock()


def test_two_runs_in_the_same_second_get_two_default_directories(tmp_path):
    base = tmp_path / "runs" / "20260101-120000-gru-mnist"
    first = RunDir.create(base, unique=True)
    second = RunDir.create(base, unique=True)
    assert first.path == base and second.path == base.with_name(base.name + "-2")


def test_a_left_over_lock_file_is_not_content(tmp_path):
    out = tmp_path / "run"
    RunDir.create(out).unlock()  # a creation that got no further than its lock
    RunDir.create(out).unlock()


def test_text_reaches_the_loader(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("to be or not to be, that is the question\n" * 200)
    config = RunConfig(text_file=str(corpus), dataset="shakespeare", seq_len=20)
    data = config.resolve().make_dataset().load()
    assert str(corpus) in data.source and data.num_outputs == len(set(corpus.read_text()))
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(DataError, match="is empty"):
        RunConfig(text_file=str(tmp_path / "empty.txt"), dataset="shakespeare").resolve().make_dataset().load()
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(DataError, match="looks binary"):
        RunConfig(text_file=str(tmp_path / "binary.txt"), dataset="shakespeare").resolve().make_dataset().load()


def test_a_damaged_model_file_is_named_and_a_missing_one_explained(tmp_path):
    data = _write_series(tmp_path / "series.csv")
    run = fit(RunConfig(data_file=str(data), dataset="file", epochs=1, **TINY), out=tmp_path / "run", progress=False)
    model = run / "model.keras"
    model.write_bytes(model.read_bytes()[:100])
    with pytest.raises(RunDirError, match="model.keras is damaged: not a complete .keras archive"):
        evaluate_run(run)
    os.remove(model)
    with pytest.raises(RunDirError, match="missing although the run completed"):
        evaluate_run(run)


def test_history_columns_do_not_depend_on_key_order():
    from kerasrnn.training.run_dir import history_columns

    fresh = ["epoch", "accuracy", "loss", "val_accuracy", "val_loss", "lr", "seconds", "steps"]
    assert history_columns(set(fresh)) == fresh  # a resumed run's rows come back with sorted keys
    text = ["epoch", "accuracy", "loss", "bits_per_char", "val_bits_per_char", "lr", "seconds", "steps"]
    assert history_columns(set(text)) == text


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(arch="gru", merge_mode="sum"), "merges the two directions of a bi- architecture; gru has one"),
        (dict(epochs=3, iterations=10), r"give epochs \(3\) or iterations \(10\), not both"),
    ],
)
def test_options_that_would_be_ignored_are_refused(tmp_path, options, message):
    with pytest.raises(ConfigError, match=message):
        fit(RunConfig(**{**TINY, **options}), out=tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_an_empty_data_dir_is_an_error_not_a_fallback(tmp_path):
    with pytest.raises(ConfigError, match="holds no MNIST IDX files"):
        RunConfig(data_dir=str(tmp_path)).resolve().make_dataset().load()


def test_one_hot_labels_are_classes_not_regression_targets(tmp_path):
    from kerasrnn.data.sequence_file import load_sequence_file

    rng = np.random.default_rng(0)
    classes = rng.integers(0, 3, 30)
    np.savez(tmp_path / "d.npz", x=rng.normal(size=(30, 5)), y=np.eye(3)[classes])
    data = load_sequence_file(tmp_path / "d.npz")
    assert data.task == "classification" and data.num_outputs == 3
    assert "one-hot" in data.info["task_inferred"]


def test_test_labels_never_seen_in_training_are_reported(tmp_path, caplog):
    from kerasrnn.data.sequence_file import load_sequence_file

    train = tmp_path / "train.csv"
    train.write_text("".join(f"{'a' if i % 2 else 'b'},{i},{i + 1}\n" for i in range(20)))
    test = tmp_path / "test.csv"
    test.write_text("a,1,2\nc,3,4\nc,5,6\n")
    with caplog.at_level("WARNING", logger="kerasrnn"):
        data = load_sequence_file(train, test_path=test)
    assert data.info["test_labels_not_in_training"] == {"labels": ["c"], "samples": 2}
    assert "no training sample has" in caplog.text


def test_a_full_disk_names_the_file(tmp_path):
    import errno

    from kerasrnn.storage import atomic

    def fill(handle):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError) as caught:
        atomic.write_atomic(tmp_path / "metrics.json", fill)
    assert caught.value.filename == str(tmp_path / "metrics.json") and caught.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []
