"""One training run, prepared: options, data set, data, model, batches, directory, checkpoint.

:meth:`Run.start` (``kerasrnn fit``) and :meth:`Run.reopen` (``kerasrnn fit
--resume``) build a :class:`Run` through the same steps (:func:`_load_and_build`):
resolve the options (the architecture is parsed once, there), seed
everything, load the data set, build and compile the model, make the training
batches.  They differ only in where the directory, the record and the
training state come from: a new directory, or the run's own files and last
checkpoint.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import math
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras
import numpy as np

from kerasrnn.data import Dataset, SequenceData
from kerasrnn.errors import ConfigError, DataError, RunDirExistsError
from kerasrnn.training import inputs
from kerasrnn.training.checkpoint import Checkpoint, TrainingState
from kerasrnn.training.model import build_and_compile
from kerasrnn.training.run_config import RunConfig
from kerasrnn.training.run_dir import RunDir, check_new_run_dir, default_run_path

logger = logging.getLogger("kerasrnn")

#: ``config.json``'s format version.
RECORD_VERSION = 1


def now() -> str:
    """The local time as ``config.json`` records it."""
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


@dataclasses.dataclass
class Run:
    """A run ready to train (or to finish, when its last epoch is done).

    Attributes:
        config: The resolved options (``epochs`` derived from ``iterations``).
        dataset: The :class:`~kerasrnn.data.Dataset` of ``config``.
        data: Its loaded splits.
        model: The compiled model (weights restored on a resumed run).
        train: The training input of ``model.fit``.
        directory: The run directory.
        record: ``config.json``'s content.
        checkpoint: The per-epoch checkpoint in the directory.
        state: Epochs done, history, early-stopping state, time used.
        rng_state: The backend's random state at the checkpoint (resumed runs).
    """

    config: RunConfig
    dataset: Dataset
    data: SequenceData
    model: keras.Model
    train: keras.utils.PyDataset
    directory: RunDir
    record: dict[str, Any]
    checkpoint: Checkpoint
    state: TrainingState
    rng_state: np.ndarray | None = None

    @classmethod
    def start(cls, config: RunConfig, out: str | os.PathLike | None = None) -> Run:
        """A new run of ``config`` in ``out`` (default ``runs/<time>-<arch>-<data>``).

        Nothing is written before the options, the data and the model are
        known to be good.

        Raises:
            ConfigError: Invalid options.
            RunDirExistsError: ``out`` exists and is not empty.
            RunDirError: ``out`` cannot be written.
            kerasrnn.errors.DataError: The data cannot be loaded or is invalid.
        """
        if config.iterations is not None and config.epochs is not None:
            raise ConfigError(
                f"give epochs ({config.epochs}) or iterations ({config.iterations}), not both: "
                f"iterations decide the number of epochs"
            )
        config = dataclasses.replace(config.resolve(), backend=keras.backend.backend())
        label = f"{config.preset or config.arch}-{config.make_dataset().label()}"
        out_path = Path(out).expanduser() if out else default_run_path(label)
        check_new_run_dir(out_path)
        config, dataset, data, model, train = _load_and_build(config)
        directory = RunDir.create(out_path, unique=out is None)
        try:
            record = _new_record(config, data, model)
            directory.write_record(record)
        except BaseException:
            directory.unlock()
            raise
        checkpoint = Checkpoint(directory.checkpoint_dir)
        return cls(config, dataset, data, model, train, directory, record, checkpoint, TrainingState())

    @classmethod
    def reopen(
        cls,
        path: str | os.PathLike,
        *,
        overrides: Mapping[str, Any] | None = None,
        allow_changed_data: bool = False,
    ) -> Run:
        """The run in ``path``, from the checkpoint of its last completed epoch.

        The options are those of its ``config.json`` (but ``overrides``); the
        data is loaded again and must be the same; model and optimizer
        variables, history, early stopping state and the time used come from
        its checkpoint.  The run directory is locked against a second writer.

        Args:
            path: The run directory.
            overrides: New values of :data:`RESUME_OVERRIDES` (``lr``,
                ``epochs``, ``time_budget``), e.g. a lower learning rate for a
                run that diverged; recorded in ``config.json``.
            allow_changed_data: Continue on data that differs from the data
                the run started on (recorded, and logged as a warning).

        Raises:
            RunDirError: Not a run directory, another process writing it, or
                an unreadable checkpoint.
            RunDirExistsError: The run is already complete.
            ConfigError: An option that cannot be overridden.
            DataChangedError: The data changed (without ``allow_changed_data``).
        """
        directory = RunDir.open(path).lock()
        try:
            return cls._reopen_locked(directory, dict(overrides or {}), allow_changed_data)
        except BaseException:
            directory.unlock()
            raise

    @classmethod
    def _reopen_locked(cls, directory: RunDir, overrides: dict[str, Any], allow_changed_data: bool) -> Run:
        record = directory.read_record()
        if record.get("status") == "complete":
            raise RunDirExistsError(
                f"{directory.path} is complete (see its metrics.json); nothing to resume -- start a new run with fit"
            )
        config = RunConfig.from_dict(record["config"]).resolve()
        if overrides:
            config = _override(config, overrides)
            record["config"] = config.to_dict()
        backend = keras.backend.backend()
        if config.backend and config.backend != backend:
            logger.info("note: the run was trained on %s; resuming it on %s", config.backend, backend)
        config, dataset, data, model, train = _load_and_build(config)
        check_same_data(record, data, directory, allow_changed_data, "fit --resume")
        checkpoint = Checkpoint(directory.checkpoint_dir)
        if checkpoint.exists():
            state = checkpoint.restore(model)
            logger.info(
                "resuming %s after epoch %d (%.0f s trained)", directory.path, state.epochs_done, state.train_seconds
            )
        else:
            state = TrainingState()
            logger.info("%s has no completed epoch; training it from the start", directory.path)
        resumed: dict[str, Any] = {"at": now(), "after_epoch": state.epochs_done, "backend": backend}
        if overrides:
            resumed["overrides"] = overrides
        record.setdefault("resumed", []).append(resumed)
        record["status"] = "running"
        directory.write_record(record)
        return cls(config, dataset, data, model, train, directory, record, checkpoint, state, checkpoint.rng_state)


#: The options ``fit --resume`` may change.
RESUME_OVERRIDES = ("lr", "epochs", "time_budget")


def _override(config: RunConfig, overrides: dict[str, Any]) -> RunConfig:
    unknown = sorted(set(overrides) - set(RESUME_OVERRIDES))
    if unknown:
        raise ConfigError(
            f"a resumed run keeps its options; only {', '.join(RESUME_OVERRIDES)} may change, not {', '.join(unknown)}"
        )
    if "epochs" in overrides:
        overrides = {**overrides, "iterations": None}  # an explicit epoch count replaces an iteration count
    return dataclasses.replace(config, **overrides).resolve()


class DataChangedError(DataError):
    """The data a run reads now differs from the data it was trained on."""


def check_same_data(
    record: dict[str, Any], data: SequenceData, directory: RunDir, allow_changed: bool, by: str
) -> bool:
    """Compare ``data`` with what ``config.json`` recorded; ``True`` if it changed (and that is allowed).

    Runs written before the digest was recorded are compared by split sizes.
    An allowed change is logged as a warning and recorded under
    ``"data_changes"`` in ``config.json``.

    Raises:
        DataChangedError: The data changed and ``allow_changed`` is false.
    """
    saved = record.get("data") or {}
    now_described = data.describe()
    if "sha256" in saved:
        changed = saved["sha256"] != now_described["sha256"]
        then, current = f"sha256 {saved['sha256'][:12]}", f"sha256 {now_described['sha256'][:12]}"
    else:
        changed = bool(saved.get("sizes")) and saved["sizes"] != now_described["sizes"]
        then, current = f"sizes {saved.get('sizes')}", f"sizes {now_described['sizes']}"
    if not changed:
        return False
    message = (
        f"the data of {directory.path} changed since the run was trained ({then} then, {current} now; {data.source})"
    )
    if not allow_changed:
        raise DataChangedError(f"{message}; pass --allow-changed-data to use it anyway")
    logger.warning("%s; continuing as --allow-changed-data says", message)
    record.setdefault("data_changes", []).append(
        {
            "at": now(),
            "by": by,
            "then": saved.get("sha256") or saved.get("sizes"),
            "now": now_described["sha256"],
            "source": data.source,
        }
    )
    return True


def _new_record(config: RunConfig, data: SequenceData, model: keras.Model) -> dict[str, Any]:
    """``config.json`` of a new run."""
    from kerasrnn.training.environment import environment

    return {
        "kerasrnn_run": RECORD_VERSION,
        "status": "running",
        "started": now(),
        "command": sys.argv if sys.argv and sys.argv[0] else None,
        "config": config.to_dict(),
        "data": data.describe(),
        "model": {"parameters": int(model.count_params()), "name": model.name},
        "environment": environment(),
    }


def _load_and_build(config: RunConfig) -> tuple[RunConfig, Dataset, SequenceData, keras.Model, Any]:
    """Seed, load the data set, build and compile the model, make the batches."""
    keras.utils.set_random_seed(config.seed)
    dataset = config.make_dataset()
    data = inputs.load_run_data(config, dataset)
    check_fits_task(config, data.task)
    logger.info("data: %s", data.summary())
    model = build_and_compile(config, data)
    train = inputs.train_batches(config, data, dataset.augmentation(data))
    if config.iterations:
        config = dataclasses.replace(config, epochs=math.ceil(config.iterations / len(train)))
    return config, dataset, data, model, train


def check_fits_task(config: RunConfig, task: str) -> None:
    """Raise :class:`ConfigError` for an architecture that cannot do ``task``."""
    architecture = config.architecture
    if task == "language_model" and architecture.bidirectional:
        raise ConfigError(
            f"{architecture.name} is bidirectional: as a language model it would read the characters it "
            f"has to predict; use a unidirectional architecture such as {architecture.base}"
        )
    if task != "seq2seq":
        for name, default in (("attention", "luong"), ("beam", 5)):
            if getattr(config, name) != default:
                raise ConfigError(
                    f"--{name} applies to sequence-to-sequence data (fra-eng, --task seq2seq); this data's task is {task}"
                )
    elif importlib.util.find_spec("sacrebleu") is None:  # found out before training, not after it
        raise ConfigError(
            "sequence-to-sequence runs report BLEU with sacrebleu, which is not installed: "
            "pip install 'kerasrnn[text]' (or pip install sacrebleu)"
        )
    elif architecture.cell is None:
        raise ConfigError(
            f"{architecture.name} cannot be an encoder-decoder: it has no recurrent state to hand from the "
            f"encoder to the decoder; use a recurrent architecture such as gru, lstm or bigru"
        )
