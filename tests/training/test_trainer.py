"""kerasrnn.training: options, presets, checkpoints, batches, and fit/resume on tiny data.

Everything trains tiny models (a few units, a few dozen samples, 1-3 epochs)
so that the file runs in well under a minute on each backend.
"""

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from kerasrnn.data.mnist import shift_images
from kerasrnn.storage import atomic
from kerasrnn.training import (
    PRESETS,
    ConfigError,
    NaNLossError,
    RunConfig,
    RunDir,
    RunDirExistsError,
    fit,
    resume,
)
from kerasrnn.training.callbacks import scheduled_lr
from kerasrnn.training.checkpoint import Checkpoint, TrainingState
from kerasrnn.training.inputs import ShuffledBatches

ROOT = Path(__file__).resolve().parents[2]

# A tiny MNIST run: 48 training images, 4 GRU units, 2 epochs.
TINY = dict(arch="gru", units=4, batch_size=16, epochs=2, max_samples=48, time_budget=0.0)


# --------------------------------------------------------------------------- #
# RunConfig and presets
# --------------------------------------------------------------------------- #


def test_config_resolves_dataset_defaults_and_round_trips_json():
    config = RunConfig().resolve()
    assert (config.arch, config.dataset, config.units, config.batch_size) == ("bigru", "mnist", 128, 128)
    assert config.clipnorm == 1.0 and config.augment_shift == 2 and config.time_budget == 240.0
    assert RunConfig.from_json(config.to_json()) == config
    text = RunConfig(dataset="shakespeare").resolve()
    assert text.arch == "gru" and text.augment_shift == 0
    assert RunConfig(dataset="sunspots", units=7).resolve().units == 7
    # conv-lstm's units are filters per frame position: its own default, still overridable.
    assert RunConfig(arch="conv-lstm").resolve().units == 16
    assert RunConfig(arch="conv-lstm", units=8).resolve().units == 8
    # Earlier spellings resolve to the canonical names (old run directories, old commands).
    assert RunConfig(arch="convlstm").resolve().arch == "conv-lstm"
    assert RunConfig(arch="bilayernorm-lstm").resolve().arch == "bilayer-norm-lstm"
    assert RunConfig(init="pytorch").resolve().init == "pytorch"


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(dataset="cifar"), "unknown dataset 'cifar'; expected one of: mnist"),
        (dict(optimizer="adagrad"), "expected one of: adam, sgd, rmsprop"),
        (dict(units=0), "units must be an integer >= 1"),
        (dict(lr=-1.0), "lr must be a number"),
        (dict(dropout=1.0), "dropout must be a number"),
        (dict(dataset="file"), "needs a data file"),
        (dict(dataset="sunspots", augment_shift=2), "augment_shift = 2 does not apply to dataset 'sunspots'"),
        (dict(init="xavier"), "unknown weight initialization 'xavier'; expected one of: keras, pytorch"),
        (dict(jit_compile="yes"), "unknown jit_compile 'yes'; expected one of: auto, on, off"),
    ],
)
def test_config_errors_name_what_is_accepted(options, message):
    with pytest.raises(ConfigError, match=message):
        RunConfig(**options).resolve()


@pytest.mark.parametrize("jit_compile, expected", [("on", True), ("off", False)])
def test_jit_compile_reaches_model_compile(jit_compile, expected):
    from types import SimpleNamespace

    from kerasrnn.training.model import build_and_compile

    config = RunConfig(arch="mut1", units=4, jit_compile=jit_compile).resolve()
    data = SimpleNamespace(task="classification", num_outputs=3, variable_length=False, input_shape=(5, 2))
    model = build_and_compile(config, data)
    assert model.jit_compile is expected


def test_config_rejects_unknown_keys():
    with pytest.raises(ConfigError, match="unknown option.*colour.*accepted: arch"):
        RunConfig.from_dict({"colour": "red"})


def test_presets_are_the_course_labs():
    lab = PRESETS["lstm-2x128-adam"]["options"]
    assert (
        lab["arch"],
        lab["layers"],
        lab["units"],
        lab["optimizer"],
        lab["lr"],
        lab["batch_size"],
        lab["epochs"],
    ) == ("lstm", 2, 128, "adam", 0.01, 50, 5)
    assert PRESETS["lstm-2x128-adam"]["reported_test_accuracy"] == 0.973
    table = {
        "table-rnn-relu-1": ("rnn-relu", 1, 0.9212),
        "table-rnn-relu-2": ("rnn-relu", 2, 0.6344),
        "table-rnn-tanh-2": ("rnn", 2, 0.9514),
        "table-lstm-1": ("lstm", 1, 0.9637),
        "table-lstm-2": ("lstm", 2, 0.9574),
        "table-lstm-3": ("lstm", 3, 0.9314),
    }
    for name, (arch, layers, reported) in table.items():
        options = PRESETS[name]["options"]
        assert (options["arch"], options["layers"], options["units"]) == (arch, layers, 100)
        assert (options["optimizer"], options["lr"], options["batch_size"], options["iterations"]) == (
            "sgd",
            0.1,
            100,
            3000,
        )
        assert PRESETS[name]["reported_test_accuracy"] == reported
    for preset in PRESETS.values():  # every preset is a valid configuration, run as configured
        config = RunConfig(**preset["options"]).resolve()
        assert config.clipnorm is None and config.patience == 0 and config.time_budget == 0
        assert config.augment_shift == 0 and config.lr_schedule == "constant"
        assert config.init == "pytorch"  # the course trained with PyTorch


def test_cosine_schedule_follows_epochs_or_time_whichever_is_first():
    config = RunConfig(lr=1.0, epochs=10, lr_schedule="cosine", time_budget=100.0).resolve()
    assert scheduled_lr(config, 0, 0.0) == 1.0
    assert scheduled_lr(config, 5, 0.0) == pytest.approx(0.5)
    assert scheduled_lr(config, 1, 50.0) == pytest.approx(0.5)  # half the time used
    assert scheduled_lr(config, 9, 200.0) == pytest.approx(0.0)
    constant = RunConfig(lr=0.3, lr_schedule="constant").resolve()
    assert scheduled_lr(constant, 7, 1e9) == 0.3


# --------------------------------------------------------------------------- #
# Files: atomic writes, run directory, checkpoint
# --------------------------------------------------------------------------- #


def test_atomic_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "state.json"
    atomic.write_json(target, {"epoch": 1})

    def failing(handle):
        handle.write(b'{"epoch": 2')  # killed half-way
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic.write_atomic(target, failing)
    assert json.loads(target.read_text()) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_run_dir_is_never_reused(tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "model.keras").write_text("precious")
    with pytest.raises(RunDirExistsError, match="exists and is not empty.*--resume"):
        RunDir.create(tmp_path / "old")
    assert (tmp_path / "old" / "model.keras").read_text() == "precious"
    (tmp_path / "empty").mkdir()
    assert RunDir.create(tmp_path / "empty").path == tmp_path / "empty"


def _tiny_model(seed):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [keras.Input((5, 2)), keras.layers.GRU(3), keras.layers.Dropout(0.1), keras.layers.Dense(2)]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    model.optimizer.build(model.trainable_variables)
    for variable in model.optimizer.variables:  # as if trained: non-zero moments
        variable.assign(np.random.default_rng(seed).normal(size=variable.shape).astype(variable.dtype))
    return model


def test_checkpoint_round_trip_and_crash_between_files(tmp_path):
    model = _tiny_model(1)
    checkpoint = Checkpoint(tmp_path / "checkpoint")
    state = TrainingState(epochs_done=1, history=[{"epoch": 1, "loss": 0.5}], best_value=0.5, best_epoch=1)
    checkpoint.save(model, state, best_improved=True)
    saved = [v.numpy().copy() for v in model.variables]
    saved_optimizer = [v.numpy().copy() for v in model.optimizer.variables]

    # A later epoch whose state.json was never committed (killed between the two writes),
    # plus a torn temporary file: both must be ignored.
    atomic.write_npz(tmp_path / "checkpoint" / "epoch-0002.npz", {"model_0": np.zeros(1)})
    (tmp_path / "checkpoint" / ".state.json.123.tmp").write_text('{"trunc')

    other = _tiny_model(2)
    restored = checkpoint.restore(other)
    assert restored.epochs_done == 1 and restored.history == [{"epoch": 1, "loss": 0.5}]
    for a, b in zip(saved, [v.numpy() for v in other.variables]):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(saved_optimizer, [v.numpy() for v in other.optimizer.variables]):
        np.testing.assert_array_equal(a, b)
    assert not list((tmp_path / "checkpoint").glob("*.tmp"))


# --------------------------------------------------------------------------- #
# Batches and augmentation
# --------------------------------------------------------------------------- #


def test_shift_images_moves_pixels_without_wrapping():
    image = np.zeros((1, 5, 5), np.float32)
    image[0, 2, 2] = 1.0
    image[0, 0, 4] = 2.0

    class Fixed:
        def __init__(self, values):
            self.values = iter(values)

        def integers(self, low, high, size):
            return np.array([next(self.values)])

    shifted = shift_images(image, 1, Fixed([1, -1]))  # down 1, left 1
    assert shifted[0, 3, 1] == 1.0
    assert shifted.sum() == 3.0 and shifted[0, 1, 3] == 2.0
    gone = shift_images(image, 1, Fixed([-1, 1]))  # up 1, right 1: the corner pixel falls off
    assert gone.sum() == 1.0 and gone[0, 1, 3] == 1.0


def test_shuffled_batches_depend_only_on_seed_and_epoch():
    x = np.arange(50, dtype=np.float32).reshape(50, 1, 1)
    y = np.arange(50)
    a, b = ShuffledBatches(x, y, 16, seed=3), ShuffledBatches(x, y, 16, seed=3)
    assert len(a) == 3  # full batches only
    b.epoch = 1
    b[0]
    b.epoch = 0
    np.testing.assert_array_equal(a[1][1], b[1][1])
    a.epoch = 1
    assert not np.array_equal(a[0][1], b[0][1])


# --------------------------------------------------------------------------- #
# fit, determinism, NaN, resume
# --------------------------------------------------------------------------- #


def _metrics(run):
    return json.loads((Path(run) / "metrics.json").read_text())


def test_fit_writes_every_file_and_a_rerun_is_identical(tmp_path):
    first = fit(RunConfig(**TINY), out=tmp_path / "a", progress=False)
    second = fit(RunConfig(**TINY), out=tmp_path / "b", progress=False)
    names = {p.name for p in first.iterdir()}
    assert {"model.keras", "config.json", "history.csv", "metrics.json", "curves.png"} <= names
    assert "checkpoint" not in names  # removed once complete
    record = json.loads((first / "config.json").read_text())
    assert record["status"] == "complete"
    assert record["config"]["backend"] == keras.backend.backend()
    assert record["environment"]["keras"] == keras.__version__
    assert "mnist-10k" in record["data"]["source"]
    a, b = _metrics(first), _metrics(second)
    for key in ("test_accuracy", "test_loss", "val_loss"):
        assert a[key] == b[key], key
    assert (first / "history.csv").read_text().split("\n")[1].split(",")[:5] == (
        (second / "history.csv").read_text().split("\n")[1].split(",")[:5]
    )


class _PoisonWeights(keras.callbacks.Callback):
    """Makes the loss NaN from the second epoch on, as a diverging run would."""

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            variable = self.model.trainable_variables[0]
            variable.assign(np.full(variable.shape, np.nan, np.float32))


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    config = RunConfig(**{**TINY, "epochs": 3})
    with pytest.raises(NaNLossError, match="loss became nan at epoch 2, batch 1.*epoch 1"):
        fit(config, out=tmp_path / "run", progress=False, extra_callbacks=(_PoisonWeights(),))
    run = RunDir.open(tmp_path / "run")
    assert run.read_record()["status"] == "failed"
    assert not run.model_path.exists()
    state = Checkpoint(run.checkpoint_dir).state()
    assert state.epochs_done == 1 and len(state.history) == 1
    assert [row["epoch"] for row in run.read_history()] == [1]
    assert math.isfinite(run.read_history()[0]["loss"])


_KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time, keras
    from kerasrnn.training import RunConfig, fit

    class Slow(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            time.sleep(1.0)  # room for the test to kill us after a checkpoint

    fit(RunConfig(**{config}), out=sys.argv[1], progress=False, extra_callbacks=(Slow(),))
    """
)


def test_resume_after_kill_9_runs_every_epoch_exactly_once(tmp_path):
    # The sunspots load fast (no TensorFlow import for tensorflow-datasets in the child process).
    config = dict(
        dataset="sunspots", arch="gru", units=4, batch_size=16, epochs=4, max_samples=48, time_budget=0.0, dropout=0.2
    )
    out = tmp_path / "run"
    script = tmp_path / "train.py"
    script.write_text(_KILL_SCRIPT.format(config=repr(config)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen(
        [sys.executable, str(script), str(out)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    state = out / "checkpoint" / "state.json"
    deadline = time.time() + 240
    try:
        while time.time() < deadline and process.poll() is None:
            if state.is_file() and json.loads(state.read_text())["state"]["epochs_done"] >= 1:
                break
            time.sleep(0.05)
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    done = json.loads(state.read_text())["state"]["epochs_done"]
    assert 1 <= done < 4
    assert not (out / "model.keras").exists()

    run = resume(out, progress=False)
    history = RunDir(run).read_history()
    assert [row["epoch"] for row in history] == [1, 2, 3, 4]
    record = json.loads((out / "config.json").read_text())
    assert record["status"] == "complete" and record["resumed"][0]["after_epoch"] == done
    assert _metrics(run)["epochs_completed"] == 4
    with pytest.raises(RunDirExistsError, match="complete"):
        resume(out, progress=False)

    # Nothing was lost: the same run uninterrupted ends with the very same model
    # (data order, augmentation, dropout and optimizer state are all restored).
    uninterrupted = fit(RunConfig(**config), out=tmp_path / "whole", progress=False)
    for key in ("test_loss", "test_rmse", "val_loss"):
        assert _metrics(run)[key] == _metrics(uninterrupted)[key], key


@pytest.mark.backend_independent
def test_summary_line_puts_the_memory_tasks_baselines_beside_their_metrics():
    from kerasrnn.training.trainer import summary_line

    ended = {"stopped_by": "time_budget", "epochs_completed": 3, "train_seconds": 40.0}
    adding = summary_line({**ended, "test_rmse": 0.1, "test_mse": 0.01, "baselines": {"constant_one_mse": 1 / 6}})
    assert "test MSE 0.01 (answering 1: 0.167)" in adding
    copy = summary_line({**ended, "test_loss": 0.2, "test_memoryless_loss": 0.1733, "test_copy_accuracy": 0.5})
    assert "test loss 0.2 (memoryless 0.1733)" in copy and "copied-symbol accuracy 0.5000" in copy
    arithmetic = summary_line({**ended, "test_answer_accuracy": 0.25, "test_exact_answers": 0.125})
    assert "answer-character accuracy 0.2500" in arithmetic and "exact answers 0.1250" in arithmetic
