"""The callbacks of a training run, sharing one :class:`TrainingState`.

* :class:`EpochSetup` -- before each epoch: tells the data which epoch it is
  (seeded shuffling and augmentation) and sets the learning rate.
* :class:`StopConditions` -- NaN loss, the iteration limit, the time budget,
  early stopping.
* :class:`EpochCheckpoint` -- after each good epoch: appends the history row,
  commits the checkpoint and rewrites ``history.csv``.

They must run in that order (the trainer passes them so).
"""

from __future__ import annotations

import math
import time
from typing import Any

import keras
import numpy as np

from kerasrnn.training.checkpoint import (
    Checkpoint,
    TrainingState,
    set_backend_rng_state,
)
from kerasrnn.training.run_config import RunConfig
from kerasrnn.training.run_dir import RunDir

LN2 = math.log(2.0)


class Clock:
    """Seconds of training so far, including those of earlier (resumed) sessions."""

    def __init__(self, previous_seconds: float = 0.0):
        self.previous = float(previous_seconds)
        self._started: float | None = None
        self.epoch_started: float | None = None
        self.epoch_seconds: list[float] = []

    def start(self) -> None:
        self._started = time.perf_counter()

    def elapsed(self) -> float:
        if self._started is None:
            return self.previous
        return self.previous + time.perf_counter() - self._started


def scheduled_lr(config: RunConfig, epoch: int, elapsed: float) -> float:
    """Learning rate of ``epoch``: constant, or cosine over epochs or time.

    The cosine schedule's progress is the larger of the fraction of epochs
    done and the fraction of the time budget used, so the rate reaches (near)
    zero by the last epoch that fits, however fast the machine.
    """
    if config.lr_schedule != "cosine":
        return float(config.lr)
    progress = epoch / config.epochs
    if config.time_budget:
        progress = max(progress, elapsed / config.time_budget)
    progress = min(progress, 1.0)
    return float(config.lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


class EpochSetup(keras.callbacks.Callback):
    def __init__(
        self,
        config: RunConfig,
        state: TrainingState,
        clock: Clock,
        train_data: keras.utils.PyDataset,
        rng_state: np.ndarray | None = None,
    ) -> None:
        super().__init__()
        self.config, self.state, self.clock, self.train_data = config, state, clock, train_data
        self.rng_state = rng_state  # a resumed run's backend RNG state, set as the epoch begins
        self.lr = float(config.lr)

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.clock.start()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if self.rng_state is not None:
            set_backend_rng_state(self.rng_state)
            self.rng_state = None
        if hasattr(self.train_data, "set_epoch"):
            self.train_data.set_epoch(epoch)
        elif hasattr(self.train_data, "epoch"):
            self.train_data.epoch = epoch
        self.lr = scheduled_lr(self.config, epoch, self.clock.elapsed())
        self.model.optimizer.learning_rate = self.lr
        self.clock.epoch_started = time.perf_counter()


class StopConditions(keras.callbacks.Callback):
    """Stops training for a NaN loss, the iteration limit, time, or patience.

    Sets ``state.stop_reason`` to ``"nan"``, ``"iterations"``,
    ``"time_budget"`` or ``"early_stopping"``.
    """

    def __init__(self, config: RunConfig, state: TrainingState, clock: Clock, monitor: str):
        super().__init__()
        self.config, self.state, self.clock, self.monitor = config, state, clock, monitor
        self.epoch = 0
        self.best_improved = False

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch
        self.best_improved = False

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.state.global_step += 1
        loss = _float((logs or {}).get("loss"))
        if not math.isfinite(loss):
            self.state.stop_reason = "nan"
            self.state.nan_at = {"epoch": self.epoch + 1, "batch": batch + 1, "loss": repr(loss)}
            self.model.stop_training = True
        elif self.config.iterations and self.state.global_step >= self.config.iterations:
            self.state.stop_reason = "iterations"
            self.model.stop_training = True
        elif self.config.time_budget and self.clock.elapsed() > self.config.time_budget:
            self.state.stop_reason = "time_budget"
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.state.stop_reason == "nan":
            return
        logs = logs or {}
        value = _float(logs.get(self.monitor))
        if math.isfinite(value) and (self.state.best_value is None or value < self.state.best_value):
            self.state.best_value, self.state.best_epoch, self.state.wait = value, epoch + 1, 0
            self.best_improved = True
        else:
            self.state.wait += 1
        if self.state.stop_reason or epoch + 1 >= self.config.epochs:
            return
        if self.config.patience and self.state.wait >= self.config.patience:
            self.state.stop_reason = "early_stopping"
            self.model.stop_training = True
            return
        if self.config.time_budget and self.clock.epoch_seconds:
            # Would another epoch as long as this one overrun the budget?  (Not
            # judged on a session's first epoch, whose time is mostly
            # compilation; an epoch that overruns is cut at the budget anyway.)
            estimate = time.perf_counter() - (self.clock.epoch_started or time.perf_counter())
            if self.clock.elapsed() + estimate > self.config.time_budget:
                self.state.stop_reason = "time_budget"
                self.model.stop_training = True


class EpochCheckpoint(keras.callbacks.Callback):
    """Records the epoch and commits the checkpoint (skipped after a NaN loss)."""

    def __init__(
        self,
        checkpoint: Checkpoint,
        run_dir: RunDir,
        state: TrainingState,
        clock: Clock,
        setup: EpochSetup,
        stops: StopConditions,
        task: str,
    ) -> None:
        super().__init__()
        self.checkpoint, self.run_dir, self.state, self.clock = checkpoint, run_dir, state, clock
        self.setup, self.stops, self.task = setup, stops, task

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        seconds = time.perf_counter() - (self.clock.epoch_started or time.perf_counter())
        if self.state.stop_reason == "nan":
            return
        self.clock.epoch_seconds.append(seconds)
        row: dict[str, Any] = {"epoch": epoch + 1}
        for key, value in sorted((logs or {}).items()):
            if key == "learning_rate":
                continue
            row[key] = _float(value)
        if self.task == "language_model":
            for prefix in ("", "val_"):
                if prefix + "loss" in row:
                    row[prefix + "bits_per_char"] = row[prefix + "loss"] / LN2
        row["lr"] = self.setup.lr
        row["seconds"] = round(seconds, 3)
        row["steps"] = self.state.global_step
        self.state.history.append(row)
        self.state.epochs_done = epoch + 1
        self.state.train_seconds = self.clock.elapsed()
        self.checkpoint.save(self.model, self.state, self.stops.best_improved)
        self.run_dir.write_history(self.state.history)
