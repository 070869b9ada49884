"""The training state of the last completed epoch, saved so that a run can resume.

Why not ``keras.callbacks.BackupAndRestore``: it writes the weights file in
place and then, separately, a metadata file (a ``kill -9`` between or during
the two leaves a torn or mismatched pair), it keeps no history (the resumed
run's ``history.csv`` would lack the earlier epochs) and no callback state
(early stopping's best value and patience, the time budget used so far).

A checkpoint directory holds:

* ``epoch-NNNN.npz`` -- every model variable (weights, and the states of the
  random seed generators that dropout uses) and every optimizer variable
  (iteration count, learning rate, moments) after epoch ``NNNN`` (and, on
  the torch backend, torch's global RNG state, which Keras' unseeded dropout
  uses there);
* ``state.json`` -- the commit record: :class:`TrainingState` (epochs done,
  history rows, early-stopping state, seconds trained) and the names of the
  latest and the best ``.npz``.

Saving writes the new ``.npz`` (atomically: temporary file, fsync, rename),
then ``state.json`` the same way -- that rename is the commit -- and only then
deletes ``.npz`` files no longer referenced.  Whenever the process dies, the
directory holds a complete, consistent checkpoint: the previous one or the new
one.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kerasrnn.data.formats.npz import DAMAGED
from kerasrnn.errors import RunDirError
from kerasrnn.storage import atomic

if TYPE_CHECKING:
    import keras

STATE = "state.json"
FORMAT = 1


@dataclasses.dataclass
class TrainingState:
    """What a resumed run needs besides the variables."""

    epochs_done: int = 0
    global_step: int = 0
    history: list = dataclasses.field(default_factory=list)
    best_value: float | None = None
    best_epoch: int | None = None
    wait: int = 0
    train_seconds: float = 0.0
    stop_reason: str | None = None
    nan_at: dict | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainingState:
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in names})


def model_arrays(model: keras.Model) -> list[np.ndarray]:
    """Values of every model variable, seed-generator states included."""
    return [np.asarray(variable.numpy()) for variable in model.variables]


def optimizer_arrays(model: keras.Model) -> list[np.ndarray]:
    """Values of every optimizer variable (step count, moments)."""
    return [np.asarray(variable.numpy()) for variable in model.optimizer.variables]


def backend_rng_state() -> np.ndarray | None:
    """The torch backend's global RNG state (Keras' unseeded dropout on torch draws from it)."""
    import keras

    if keras.backend.backend() != "torch":
        return None
    import torch

    return torch.random.get_rng_state().numpy().copy()


def set_backend_rng_state(state: np.ndarray | None) -> None:
    import keras

    if state is None or keras.backend.backend() != "torch":
        return
    import torch

    torch.random.set_rng_state(torch.from_numpy(np.asarray(state, dtype=np.uint8).copy()))


def assign_arrays(variables: Iterable[keras.Variable], arrays: Sequence[np.ndarray], what: str) -> None:
    variables = list(variables)
    if len(variables) != len(arrays):
        raise RunDirError(
            f"checkpoint does not match the model: {len(arrays)} saved {what} variables for "
            f"{len(variables)} in the model"
        )
    for variable, array in zip(variables, arrays):
        if tuple(variable.shape) != tuple(array.shape):
            raise RunDirError(
                f"checkpoint does not match the model: {what} variable {variable.path} has shape "
                f"{tuple(variable.shape)}, saved {tuple(array.shape)}"
            )
    for variable, array in zip(variables, arrays):
        variable.assign(array)


class Checkpoint:
    """Save and restore the training state in ``directory`` (see the module doc)."""

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        self.rng_state = None

    @property
    def state_path(self) -> Path:
        return self.directory / STATE

    def exists(self) -> bool:
        return self.state_path.is_file()

    # -- saving ----------------------------------------------------------- #

    def save(self, model: keras.Model, state: TrainingState, best_improved: bool) -> None:
        """Commit the state after ``state.epochs_done`` epochs."""
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"epoch-{state.epochs_done:04d}.npz"
        arrays = {f"model_{i}": a for i, a in enumerate(model_arrays(model))}
        arrays.update({f"optimizer_{i}": a for i, a in enumerate(optimizer_arrays(model))})
        rng_state = backend_rng_state()
        if rng_state is not None:
            arrays["backend_rng_state"] = rng_state
        atomic.write_npz(self.directory / name, arrays)
        previous = self._read_record() if self.exists() else {}
        best = name if best_improved or not previous.get("best") else previous["best"]
        record = {
            "format": FORMAT,
            "latest": name,
            "best": best,
            "model_variables": len(model.variables),
            "optimizer_variables": len(model.optimizer.variables),
            "state": state.to_dict(),
        }
        atomic.write_json(self.state_path, record)
        for path in self.directory.glob("epoch-*.npz"):
            if path.name not in (name, best):
                path.unlink(missing_ok=True)

    # -- loading ---------------------------------------------------------- #

    def _read_record(self) -> dict[str, Any]:
        try:
            record = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:  # ValueError: not UTF-8, not JSON
            raise RunDirError(f"cannot read the checkpoint {self.state_path}: {error}") from None
        if not isinstance(record, dict) or not isinstance(record.get("state"), dict):
            raise RunDirError(f"{self.state_path}: not a kerasrnn checkpoint (no 'state' object)")
        if record.get("format") != FORMAT:
            raise RunDirError(f"{self.state_path}: unknown checkpoint format {record.get('format')!r}")
        return record

    def state(self) -> TrainingState:
        atomic.remove_stale_temporaries(self.directory)
        return TrainingState.from_dict(self._read_record()["state"])

    def _load(self, which: str) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray | None]:
        record = self._read_record()
        path = self.directory / str(record.get(which))
        try:
            with np.load(path, allow_pickle=False) as archive:
                model = [archive[f"model_{i}"] for i in range(record["model_variables"])]
                optimizer = [archive[f"optimizer_{i}"] for i in range(record["optimizer_variables"])]
                rng_state = archive["backend_rng_state"] if "backend_rng_state" in archive.files else None
        except (ValueError, TypeError, *DAMAGED) as error:
            raise RunDirError(
                f"checkpoint file {path} is damaged or unreadable ({type(error).__name__}: {error}); "
                f"the run cannot resume from it"
            ) from None
        return model, optimizer, rng_state

    def restore(self, model: keras.Model) -> TrainingState:
        """Load the latest variables into ``model`` (and its built optimizer)."""
        state = self.state()
        model_values, optimizer_values, rng_state = self._load("latest")
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        assign_arrays(model.variables, model_values, "model")
        assign_arrays(model.optimizer.variables, optimizer_values, "optimizer")
        self.rng_state = rng_state  # applied when the next epoch begins (EpochSetup)
        return state

    def restore_best_weights(self, model: keras.Model) -> None:
        """Load the best epoch's model variables (not the optimizer's)."""
        model_values, _, _ = self._load("best")
        assign_arrays(model.variables, model_values, "model")

    def restore_latest_weights(self, model: keras.Model) -> None:
        model_values, _, _ = self._load("latest")
        assign_arrays(model.variables, model_values, "model")

    def remove(self) -> None:
        if not self.directory.is_dir():
            return
        for path in self.directory.iterdir():
            if path.is_file():
                path.unlink(missing_ok=True)
        try:
            self.directory.rmdir()
        except OSError:
            pass
