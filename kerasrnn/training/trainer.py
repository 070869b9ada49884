"""``fit(config) -> run directory``: data, model, ``model.fit``, evaluation, files.

The steps of :func:`fit`:

1. resolve and check the options, and check that ``out`` may be created
   (nothing is written before the data and the model are known to be good);
2. seed everything (``keras.utils.set_random_seed``), load the data, build
   the model with :func:`kerasrnn.build_model` and compile it (Adam, SGD or
   RMSprop; learning rate; gradient clipping by norm);
3. create the run directory and write ``config.json``;
4. train with ``model.fit`` and the callbacks of
   :mod:`kerasrnn.training.callbacks` (learning-rate schedule, NaN guard,
   iteration limit, time budget, early stopping, per-epoch checkpoint);
5. restore the best weights (when early stopping is on), save
   ``model.keras``, evaluate on the validation and test splits, and write
   ``metrics.json``, ``history.csv``, ``curves.png`` (and ``samples.txt``).

:func:`resume` continues a run from the checkpoint of its last completed
epoch, after a crash, ``kill -9`` or Ctrl-C.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

from kerasrnn.training import inputs
from kerasrnn.training.callbacks import Clock, EpochCheckpoint, EpochSetup, StopConditions
from kerasrnn.training.checkpoint import Checkpoint, TrainingState
from kerasrnn.training.errors import ConfigError, NaNLossError, RunDirError, RunDirExistsError
from kerasrnn.training.run_config import JIT_COMPILE, RunConfig
from kerasrnn.training.run_dir import RunDir, default_run_path

Log = Callable[[str], None]

SAMPLE_TEMPERATURES = (0.5, 0.8, 1.0)


def _stderr_log(message: str) -> None:
    print(f"kerasrnn: {message}", file=sys.stderr, flush=True)


def _quiet(message: str) -> None:
    pass


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


# --------------------------------------------------------------------------- #
# Model
# --------------------------------------------------------------------------- #


def check_arch(config: RunConfig, task: str | None = None) -> None:
    """Raise :class:`ConfigError` for an unknown architecture or one unfit for the task."""
    from kerasrnn.models import ARCHITECTURES

    if config.arch not in ARCHITECTURES:
        raise ConfigError(f"unknown architecture {config.arch!r}; expected one of: {', '.join(ARCHITECTURES)}")
    if task == "language_model" and config.arch.startswith("bi"):
        raise ConfigError(
            f"{config.arch} is bidirectional: as a language model it would read the characters it "
            f"has to predict; use a unidirectional architecture such as {config.arch[2:]}"
        )


def make_optimizer(config: RunConfig):
    import keras

    classes = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop}
    options: dict[str, Any] = {"learning_rate": float(config.lr)}
    if config.clipnorm is not None:
        options["clipnorm"] = float(config.clipnorm)
    return classes[config.optimizer](**options)


def build_and_compile(config: RunConfig, data):
    """The compiled model of a resolved configuration for its data."""
    import keras

    import kerasrnn

    model = kerasrnn.build_model(
        config.arch,
        data.task,
        inputs.model_input_shape(data),
        data.num_outputs,
        units=config.units,
        layers=config.layers,
        dropout=config.dropout,
        merge_mode=config.merge_mode,
        variable_length=data.variable_length and data.task != "language_model",
        embedding_dim=config.embedding_dim,
        init=config.init,
    )
    if data.task == "regression":
        loss = keras.losses.MeanSquaredError()
        metrics = [keras.metrics.RootMeanSquaredError(name="rmse")]
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=data.task == "language_model")
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    model.compile(
        optimizer=make_optimizer(config), loss=loss, metrics=metrics, jit_compile=JIT_COMPILE[config.jit_compile]
    )
    return model


def _save_model(model, run: RunDir) -> None:
    """Save ``model.keras`` atomically (a temporary ``.keras`` file, then rename)."""
    tmp = run.path / f".model-{os.getpid()}.tmp.keras"
    try:
        model.save(tmp)
        os.replace(tmp, run.model_path)
    except OSError as error:
        raise RunDirError(f"cannot write {run.model_path}: {error.strerror or error}") from None
    finally:
        tmp.unlink(missing_ok=True)


# --------------------------------------------------------------------------- #
# Public entry points
# --------------------------------------------------------------------------- #


def check_new_run_dir(path: Path) -> None:
    """Fail early (before loading data) if ``path`` exists and is not an empty directory."""
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        RunDir.create(path)  # raises RunDirExistsError with the full message


def fit(
    config: RunConfig,
    out: str | os.PathLike | None = None,
    *,
    progress: bool = True,
    log: Log | None = _stderr_log,
    extra_callbacks: tuple = (),
) -> Path:
    """Train a model as ``config`` says and write a run directory.

    Args:
        config: The options (unset ones take the data set's defaults).
        out: The new run directory (default ``runs/<time>-<arch>-<dataset>``);
            it must not exist or be empty.
        progress: Show Keras' progress bar (one line per epoch when stdout is
            not a terminal).
        log: Where to send one-line progress messages (``None``: nowhere).
        extra_callbacks: More Keras callbacks for ``model.fit`` (they run
            after the run's own).

    Returns:
        The run directory.

    Raises:
        ConfigError: Invalid options (incl. an unknown architecture).
        RunDirExistsError: ``out`` exists and is not empty.
        RunDirError: ``out`` cannot be written.
        kerasrnn.data.DataError: The data cannot be loaded or is invalid.
        NaNLossError: The loss became NaN; the last good checkpoint is kept.
    """
    import keras

    log = log or _quiet
    config = config.resolve()
    config = dataclasses.replace(config, backend=keras.backend.backend())
    check_arch(config)
    out_path = Path(out).expanduser() if out else default_run_path(config)
    check_new_run_dir(out_path)

    keras.utils.set_random_seed(config.seed)
    data = inputs.load_run_data(config)
    check_arch(config, data.task)
    log(f"data: {data.summary()}")
    model = build_and_compile(config, data)
    train = inputs.train_batches(config, data, inputs.make_augmentation(config, data))
    if config.iterations:
        config = dataclasses.replace(config, epochs=math.ceil(config.iterations / len(train)))

    run = RunDir.create(out_path)
    from kerasrnn.training.environment import environment

    record = {
        "kerasrnn_run": 1,
        "status": "running",
        "started": _now(),
        "command": sys.argv if sys.argv and sys.argv[0] else None,
        "config": config.to_dict(),
        "data": data.describe(),
        "model": {"parameters": int(model.count_params()), "name": model.name},
        "environment": environment(),
    }
    run.write_record(record)
    return _train(run, record, config, data, model, train, TrainingState(), progress, log, extra_callbacks)


def resume(
    path: str | os.PathLike,
    *,
    progress: bool = True,
    log: Log | None = _stderr_log,
    extra_callbacks: tuple = (),
) -> Path:
    """Continue the run in ``path`` from its last completed epoch.

    The options are those of its ``config.json``; the data is loaded again
    (and must be the same); model and optimizer variables, history, early
    stopping state and the time used come from its checkpoint.

    Raises:
        RunDirError: Not a run directory, or an unreadable checkpoint.
        RunDirExistsError: The run is already complete.
    """
    import keras

    log = log or _quiet
    run = RunDir.open(path)
    record = run.read_record()
    if record.get("status") == "complete":
        raise RunDirExistsError(
            f"{run.path} is complete (see its metrics.json); nothing to resume -- start a new run with fit"
        )
    config = RunConfig.from_dict(record["config"]).resolve()
    backend = keras.backend.backend()
    if config.backend and config.backend != backend:
        log(f"note: the run was trained on {config.backend}; resuming it on {backend}")

    keras.utils.set_random_seed(config.seed)
    data = inputs.load_run_data(config)
    saved = record.get("data") or {}
    if saved.get("sizes") and saved["sizes"] != data.describe()["sizes"]:
        raise RunDirError(
            f"the data of {run.path} changed since the run started: sizes {saved['sizes']} then, "
            f"{data.describe()['sizes']} now ({data.source})"
        )
    model = build_and_compile(config, data)
    train = inputs.train_batches(config, data, inputs.make_augmentation(config, data))

    checkpoint = Checkpoint(run.checkpoint_dir)
    if checkpoint.exists():
        state = checkpoint.restore(model)
        log(f"resuming {run.path} after epoch {state.epochs_done} ({state.train_seconds:.0f} s trained)")
    else:
        state = TrainingState()
        log(f"{run.path} has no completed epoch; training it from the start")
    record.setdefault("resumed", []).append(
        {"at": _now(), "after_epoch": state.epochs_done, "backend": backend}
    )
    record["status"] = "running"
    run.write_record(record)
    return _train(run, record, config, data, model, train, state, progress, log, extra_callbacks,
                  checkpoint.rng_state)


# --------------------------------------------------------------------------- #
# Training and the run's files
# --------------------------------------------------------------------------- #


def _train(run, record, config, data, model, train, state, progress, log, extra_callbacks, rng_state=None) -> Path:
    from kerasrnn.training.evaluation import EVAL_BATCH_SIZE

    checkpoint = Checkpoint(run.checkpoint_dir)
    clock = Clock(state.train_seconds)
    validation = inputs.eval_input(data, "val", EVAL_BATCH_SIZE)
    monitor = "val_loss" if validation is not None else "loss"
    setup = EpochSetup(config, state, clock, train, rng_state)
    stops = StopConditions(config, state, clock, monitor)
    saver = EpochCheckpoint(checkpoint, run, state, clock, setup, stops, data.task)

    if state.stop_reason is None and state.epochs_done < config.epochs:
        budget = f", time budget {config.time_budget:g} s" if config.time_budget else ""
        log(
            f"model: {config.arch} ({config.layers} x {config.units} units), "
            f"{model.count_params():,} parameters, backend {config.backend}; training up to "
            f"{config.epochs} epochs{budget} -> {run.path}"
        )
        try:
            _fit(model, train, validation, config, state, progress, [setup, stops, saver, *extra_callbacks])
        except KeyboardInterrupt:
            log(f"interrupted after epoch {state.epochs_done}; continue with: kerasrnn fit --resume {run.path}")
            raise

    if state.stop_reason == "nan":
        return _fail_nan(run, record, state, checkpoint)
    return _finish(run, record, config, data, model, state, checkpoint, log)


def _fit(model, train, validation, config, state, progress, callbacks) -> None:
    from kerasrnn.training.evaluation import EVAL_BATCH_SIZE

    fit_options = {}
    if isinstance(validation, tuple):
        fit_options["validation_batch_size"] = EVAL_BATCH_SIZE
    model.fit(
        train,
        validation_data=validation,
        epochs=config.epochs,
        initial_epoch=state.epochs_done,
        shuffle=False,  # the batches shuffle themselves, by (seed, epoch): resumable
        verbose=(1 if sys.stdout.isatty() else 2) if progress else 0,
        callbacks=callbacks,
        **fit_options,
    )


def _fail_nan(run, record, state, checkpoint) -> Path:
    where = state.nan_at or {}
    kept = (
        f"the last good checkpoint (epoch {state.epochs_done}) is kept in {checkpoint.directory}"
        if checkpoint.exists()
        else "no epoch completed, so there is no checkpoint"
    )
    message = (
        f"training stopped: the loss became {where.get('loss', 'nan')} at epoch {where.get('epoch')}, "
        f"batch {where.get('batch')}; {kept}; try a lower --lr or --clipnorm"
    )
    record.update(status="failed", failure=message, finished=_now())
    run.write_record(record)
    run.write_history(state.history)
    raise NaNLossError(message)


def _finish(run, record, config, data, model, state, checkpoint, log) -> Path:
    from kerasrnn.training.evaluation import model_metrics

    restored = "last epoch"
    if config.patience and checkpoint.exists() and state.best_epoch:
        checkpoint.restore_best_weights(model)
        restored = f"best epoch ({state.best_epoch}, lowest {'val_loss' if len(data.x_val) else 'loss'})"
    _save_model(model, run)

    metrics: dict[str, Any] = model_metrics(model, data)
    metrics.update(
        stopped_by=state.stop_reason or ("iterations" if config.iterations else "epochs"),
        epochs_completed=state.epochs_done,
        iterations=state.global_step,
        best_epoch=state.best_epoch,
        weights=restored,
        train_seconds=round(state.train_seconds, 2),
        backend=config.backend,
        data_source=data.source,
    )
    if config.preset:
        from kerasrnn.training.presets import PRESETS, REPORTED_ON

        metrics["preset"] = config.preset
        metrics["reported_test_accuracy"] = PRESETS[config.preset]["reported_test_accuracy"]
        metrics["reported_on"] = REPORTED_ON

    if data.task == "language_model":
        from kerasrnn.data.text import CharVocabulary
        from kerasrnn.training.generation import sample_text

        vocabulary = CharVocabulary.from_config(data.info["vocabulary"])
        texts = []
        for temperature in SAMPLE_TEMPERATURES:
            sample = sample_text(
                model, vocabulary, config.sample_length, temperature, "\n", config.seq_len, seed=config.seed
            )[0]
            texts.append(f"=== temperature {temperature} ===\n{sample}\n")
        run.write_samples("\n".join(texts))

    run.write_metrics(metrics)
    run.write_history(state.history)
    title = f"{config.preset or config.arch} on {config.dataset_label()} ({config.backend})"
    run.write_curves(state.history, title)
    record.update(status="complete", finished=_now(), metrics=_headline(metrics))
    run.write_record(record)
    checkpoint.remove()
    return run.path


def _headline(metrics: dict[str, Any]) -> dict[str, Any]:
    keys = ("test_accuracy", "test_rmse", "test_bits_per_char", "val_bits_per_char", "stopped_by", "epochs_completed")
    return {key: metrics[key] for key in keys if key in metrics}


def summary_line(metrics: dict[str, Any]) -> str:
    """One line with the headline test metric and how training ended."""
    parts = []
    if "test_accuracy" in metrics:
        parts.append(f"test accuracy {metrics['test_accuracy']:.4f}")
    if "test_rmse" in metrics:
        baselines = metrics.get("baselines") or {}
        beside = ""
        if "persistence_rmse" in baselines:
            beside = f" (persistence {baselines['persistence_rmse']:.2f}, AR(9) {baselines['ar9_rmse']:.2f})"
        parts.append(f"test RMSE {metrics['test_rmse']:.4g}{beside}")
    if "val_bits_per_char" in metrics:
        parts.append(f"validation {metrics['val_bits_per_char']:.3f} bits/char")
    if "test_bits_per_char" in metrics:
        parts.append(f"test {metrics['test_bits_per_char']:.3f} bits/char")
    if "test_samples" in metrics:
        parts.append(f"on {metrics['test_samples']} test samples")
    parts.append(
        f"stopped by {metrics.get('stopped_by')} after {metrics.get('epochs_completed')} epoch(s), "
        f"{metrics.get('train_seconds', 0):.0f} s of training"
    )
    return ", ".join(parts)
