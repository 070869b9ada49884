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
import logging
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from kerasrnn.data import Dataset, SequenceData
from kerasrnn.errors import ConfigError, RunDirError, RunDirExistsError
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
        config = dataclasses.replace(config.resolve(), backend=keras.backend.backend())
        label = f"{config.preset or config.arch}-{config.make_dataset().label()}"
        out_path = Path(out).expanduser() if out else default_run_path(label)
        check_new_run_dir(out_path)
        config, dataset, data, model, train = _load_and_build(config)
        directory = RunDir.create(out_path)
        from kerasrnn.training.environment import environment

        record = {
            "kerasrnn_run": RECORD_VERSION,
            "status": "running",
            "started": now(),
            "command": sys.argv if sys.argv and sys.argv[0] else None,
            "config": config.to_dict(),
            "data": data.describe(),
            "model": {"parameters": int(model.count_params()), "name": model.name},
            "environment": environment(),
        }
        directory.write_record(record)
        checkpoint = Checkpoint(directory.checkpoint_dir)
        return cls(config, dataset, data, model, train, directory, record, checkpoint, TrainingState())

    @classmethod
    def reopen(cls, path: str | os.PathLike) -> Run:
        """The run in ``path``, from the checkpoint of its last completed epoch.

        The options are those of its ``config.json``; the data is loaded again
        (and must be the same); model and optimizer variables, history, early
        stopping state and the time used come from its checkpoint.

        Raises:
            RunDirError: Not a run directory, changed data, or an unreadable
                checkpoint.
            RunDirExistsError: The run is already complete.
        """
        directory = RunDir.open(path)
        record = directory.read_record()
        if record.get("status") == "complete":
            raise RunDirExistsError(
                f"{directory.path} is complete (see its metrics.json); nothing to resume -- start a new run with fit"
            )
        config = RunConfig.from_dict(record["config"]).resolve()
        backend = keras.backend.backend()
        if config.backend and config.backend != backend:
            logger.info("note: the run was trained on %s; resuming it on %s", config.backend, backend)
        config, dataset, data, model, train = _load_and_build(config)
        saved = record.get("data") or {}
        if saved.get("sizes") and saved["sizes"] != data.describe()["sizes"]:
            raise RunDirError(
                f"the data of {directory.path} changed since the run started: sizes {saved['sizes']} then, "
                f"{data.describe()['sizes']} now ({data.source})"
            )
        checkpoint = Checkpoint(directory.checkpoint_dir)
        if checkpoint.exists():
            state = checkpoint.restore(model)
            logger.info(
                "resuming %s after epoch %d (%.0f s trained)", directory.path, state.epochs_done, state.train_seconds
            )
        else:
            state = TrainingState()
            logger.info("%s has no completed epoch; training it from the start", directory.path)
        record.setdefault("resumed", []).append({"at": now(), "after_epoch": state.epochs_done, "backend": backend})
        record["status"] = "running"
        directory.write_record(record)
        return cls(
            config, dataset, data, model, train, directory, record, checkpoint, state, checkpoint.rng_state
        )


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
