"""``fit(config) -> run directory`` and ``resume(path)``: train a :class:`~kerasrnn.training.run.Run`.

The steps:

1. :meth:`Run.start` / :meth:`Run.reopen` prepare the run (options, data,
   compiled model, batches, directory, checkpoint);
2. :func:`train` runs ``model.fit`` with the callbacks of
   :mod:`kerasrnn.training.callbacks` (learning-rate schedule, NaN guard,
   iteration limit, time budget, early stopping, per-epoch checkpoint);
3. :func:`finish` restores the best weights (when early stopping is on),
   saves ``model.keras``, evaluates on the validation and test splits, and
   writes ``metrics.json``, ``history.csv``, ``curves.png`` (and
   ``samples.txt`` for language models).

Progress goes to the ``kerasrnn`` logger (the CLI prints it on stderr).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import keras

from kerasrnn.errors import NaNLossError
from kerasrnn.training import distribution, inputs, truncated_bptt
from kerasrnn.training.callbacks import (
    Clock,
    EpochCheckpoint,
    EpochSetup,
    StopConditions,
)
from kerasrnn.training.evaluation import EVAL_BATCH_SIZE, model_metrics
from kerasrnn.training.run import Run, now
from kerasrnn.training.run_config import RunConfig

logger = logging.getLogger("kerasrnn")

SAMPLE_TEMPERATURES = (0.5, 0.8, 1.0)


def fit(
    config: RunConfig,
    out: str | os.PathLike | None = None,
    *,
    progress: bool = True,
    extra_callbacks: Sequence[keras.callbacks.Callback] = (),
) -> Path:
    """Train a model as ``config`` says and write a run directory.

    Args:
        config: The options (unset ones take the data set's defaults).
        out: The new run directory (default ``runs/<time>-<arch>-<dataset>``);
            it must not exist or be empty.
        progress: Show Keras' progress bar (one line per epoch when stdout is
            not a terminal).
        extra_callbacks: More Keras callbacks for ``model.fit`` (they run
            after the run's own).

    Returns:
        The run directory.

    Raises:
        ConfigError: Invalid options (incl. an unknown architecture).
        RunDirExistsError: ``out`` exists and is not empty.
        RunDirError: ``out`` cannot be written.
        kerasrnn.errors.DataError: The data cannot be loaded or is invalid.
        NaNLossError: The loss became NaN; the last good checkpoint is kept.
    """
    with distribution.activate(config.distribute, config.devices, config.seed) as placement:
        run = Run.start(config, distribution.worker_directory(out, placement))  # rank 0 writes `out`
        distribution.record_placement(run, placement)
        return train(run, progress=progress, extra_callbacks=extra_callbacks)


def resume(
    path: str | os.PathLike,
    *,
    progress: bool = True,
    extra_callbacks: Sequence[keras.callbacks.Callback] = (),
    overrides: Mapping[str, Any] | None = None,
    allow_changed_data: bool = False,
) -> Path:
    """Continue the run in ``path`` from its last completed epoch (see :meth:`Run.reopen`).

    ``overrides`` may set ``lr``, ``epochs`` and ``time_budget`` anew;
    ``allow_changed_data`` continues on data that changed since the run began.
    """
    with distribution.activate_for_run(path) as placement:  # the distribution of its config.json
        path = distribution.worker_copy(path, placement)  # rank 0 resumes `path`, the others a copy
        with placement.scope():  # restoring the checkpoint makes the optimizer's variables: in the strategy's scope
            run = Run.reopen(path, overrides=overrides, allow_changed_data=allow_changed_data)
        return train(run, progress=progress, extra_callbacks=extra_callbacks)


def train(run: Run, *, progress: bool = True, extra_callbacks: Sequence[keras.callbacks.Callback] = ()) -> Path:
    """Train ``run`` up to its last epoch, then :func:`finish` it; returns its directory.

    The run directory's writer lock is released at the end, however training ends.
    """
    try:
        return _train(run, progress, extra_callbacks)
    finally:
        run.directory.unlock()


def _train(run: Run, progress: bool, extra_callbacks: Sequence[keras.callbacks.Callback]) -> Path:
    config, state = run.config, run.state
    clock = Clock(state.train_seconds)
    validation = inputs.eval_input(run.data, "val", EVAL_BATCH_SIZE)
    monitor = "val_loss" if validation is not None else "loss"
    setup = EpochSetup(config, state, clock, run.train, run.rng_state)
    stops = StopConditions(config, state, clock, monitor)
    saver = EpochCheckpoint(run.checkpoint, run.directory, state, clock, setup, stops, run.data.task)

    if state.stop_reason is None and state.epochs_done < config.epochs:
        budget = f", time budget {config.time_budget:g} s" if config.time_budget else ""
        logger.info(
            "model: %s (%d x %d units), %s parameters, backend %s; training up to %d epochs%s -> %s",
            config.arch,
            config.layers,
            config.units,
            f"{run.model.count_params():,}",
            config.backend,
            config.epochs,
            budget,
            run.directory.path,
        )
        # --tbptt trains a carried model that Keras' validation cannot run: its callbacks validate instead.
        fit_validation, before_stops = truncated_bptt.fit_validation(run, validation)
        fit_options = {"validation_batch_size": EVAL_BATCH_SIZE} if isinstance(fit_validation, tuple) else {}
        try:
            run.model.fit(
                distribution.fit_input(run.train),  # this worker's rows of each global batch
                validation_data=fit_validation,
                epochs=config.epochs,
                initial_epoch=state.epochs_done,
                shuffle=False,  # the batches shuffle themselves, by (seed, epoch): resumable
                verbose=(1 if sys.stdout.isatty() else 2) if progress else 0,
                callbacks=[setup, *before_stops, stops, saver, *extra_callbacks],
                **fit_options,
            )
        except KeyboardInterrupt:
            logger.info(
                "interrupted after epoch %d; continue with: kerasrnn fit --resume %s",
                state.epochs_done,
                run.directory.path,
            )
            raise

    if state.stop_reason == "nan":
        _fail_nan(run)
    return finish(run)


def _fail_nan(run: Run) -> None:
    state, checkpoint = run.state, run.checkpoint
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
    run.record.update(status="failed", failure=message, finished=now())
    run.directory.write_record(run.record)
    run.directory.write_history(state.history)
    raise NaNLossError(message)


def finish(run: Run) -> Path:
    """Save the model, evaluate it and write the run's result files; returns the directory."""
    config, state, directory = run.config, run.state, run.directory
    restored = "last epoch"
    if config.patience and run.checkpoint.exists() and state.best_epoch:
        run.checkpoint.restore_best_weights(run.model)
        restored = f"best epoch ({state.best_epoch}, lowest {'val_loss' if len(run.data.x_val) else 'loss'})"
    model = truncated_bptt.inference_model(run.model, config, run.data)  # the uncarried form of a --tbptt run
    directory.save_model(model)

    metrics: dict[str, Any] = model_metrics(model, run.data, run.dataset)
    metrics.update(truncated_bptt.carried_metrics(run))  # a --tbptt language model read as it was trained
    metrics.update(
        stopped_by=state.stop_reason or ("iterations" if config.iterations else "epochs"),
        epochs_completed=state.epochs_done,
        iterations=state.global_step,
        best_epoch=state.best_epoch,
        weights=restored,
        train_seconds=round(state.train_seconds, 2),
        backend=config.backend,
        data_source=run.data.source,
    )
    if config.preset:
        from kerasrnn.registry import preset

        reported = preset(config.preset)
        metrics["preset"] = config.preset
        metrics["reported_test_accuracy"] = reported["reported_test_accuracy"]
        metrics["reported_on"] = reported["reported_on"]
    if run.data.task == "language_model":
        directory.write_samples(_samples(run, model))
    if run.data.task == "seq2seq" and len(run.data.x_test):
        _translation_samples(run, model)

    directory.write_metrics(metrics)
    directory.write_history(state.history)
    title = f"{config.preset or config.arch} on {run.dataset.label()} ({config.backend})"
    directory.write_curves(state.history, title)
    run.record.update(status="complete", finished=now(), metrics=_headline(metrics))
    directory.write_record(run.record)
    run.checkpoint.remove()
    return directory.path


def _samples(run: Run, model: keras.Model) -> str:
    """``samples.txt`` of a language model: one sample per temperature."""
    from kerasrnn.data.text import CharVocabulary
    from kerasrnn.training.generation import sample_text

    vocabulary = CharVocabulary.from_config(run.data.info["vocabulary"])
    config = run.config
    texts = []
    for temperature in SAMPLE_TEMPERATURES:
        sample = sample_text(
            model, vocabulary, config.sample_length, temperature, "\n", config.seq_len, seed=config.seed
        )[0]
        texts.append(f"=== temperature {temperature} ===\n{sample}\n")
    return "\n".join(texts)


def _translation_samples(run: Run, model: keras.Model) -> None:
    """``samples.txt`` (20 test sentences) and, with attention, ``attention.png`` (one of them)."""
    from kerasrnn.training.translation import attention_png, samples_text

    text, _, (source, output, weights) = samples_text(model, run.data, run.config.beam, run.config.seed)
    run.directory.write_samples(text)
    if weights is not None:
        run.directory.write_attention(attention_png(source, output, weights, run.data.info))


def _headline(metrics: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "test_bleu",
        "test_exact_match",
        "test_accuracy",
        "test_rmse",
        "test_bits_per_char",
        "val_bits_per_char",
        "stopped_by",
        "epochs_completed",
    )
    return {key: metrics[key] for key in keys if key in metrics}


#: Task-specific test metrics the summary line shows when a run has them (generated memory tasks).
_TASK_HEADLINES = (
    ("test_copy_accuracy", "copied-symbol accuracy"),
    ("test_answer_accuracy", "answer-character accuracy"),
    ("test_exact_answers", "exact answers"),
    ("test_closing_accuracy", "closing-tag accuracy"),
)


def key_beam(key: str) -> str:
    """The beam size in a ``test_bleu_beam<K>`` key."""
    return key.rsplit("beam", 1)[1]


def summary_line(metrics: dict[str, Any]) -> str:
    """One line with the headline test metric and how training ended."""
    parts = []
    if "test_bleu" in metrics:
        beam = next((key for key in metrics if key.startswith("test_bleu_beam")), None)
        beside = f", beam {key_beam(beam)} {metrics[beam]:.2f}" if beam else ""
        parts.append(
            f"test BLEU {metrics['test_bleu']:.2f} (greedy{beside}), exact match {metrics['test_exact_match']:.4f}"
        )
    if "test_accuracy" in metrics:
        what = "next-token accuracy" if "test_bleu" in metrics else "accuracy"  # teacher-forced, for translations
        parts.append(f"test {what} {metrics['test_accuracy']:.4f}")
    if "test_rmse" in metrics:
        baselines = metrics.get("baselines") or {}
        beside = ""
        if "persistence_rmse" in baselines:
            beside = f" (persistence {baselines['persistence_rmse']:.2f}, AR(9) {baselines['ar9_rmse']:.2f})"
        parts.append(f"test RMSE {metrics['test_rmse']:.4g}{beside}")
    if "test_mse" in metrics and "constant_one_mse" in (metrics.get("baselines") or {}):
        parts.append(
            f"test MSE {metrics['test_mse']:.4g} (answering 1: {metrics['baselines']['constant_one_mse']:.3f})"
        )
    if "test_memoryless_loss" in metrics:
        parts.append(f"test loss {metrics['test_loss']:.4g} (memoryless {metrics['test_memoryless_loss']:.4g})")
    for key, label in _TASK_HEADLINES:
        if key in metrics:
            parts.append(f"{label} {metrics[key]:.4f}")
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
