"""The run directory that ``kerasrnn fit`` writes and the other commands read.

Layout::

    RUN/
      config.json    every resolved option ("config"), the data actually used
                     ("data": source, sizes, checksums, split), the backend and
                     versions ("environment"), and the run's "status"
      model.keras    the trained model (best validation weights)
      history.csv    one row per completed epoch: epoch, losses and metrics,
                     learning rate, seconds
      metrics.json   test metrics (test_accuracy / test_rmse + baselines /
                     bits per character), how training stopped
      curves.png     loss and metric per epoch
      samples.txt    generated text (language models only)
      checkpoint/    the training state of the last completed epoch, for
                     ``kerasrnn fit --resume RUN``; removed once the run is
                     complete

Every file is written atomically (:mod:`kerasrnn.storage.atomic`), and an
existing non-empty directory is never reused except by a resume.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from pathlib import Path
from typing import Any

from kerasrnn.errors import RunDirError, RunDirExistsError
from kerasrnn.storage import atomic
from kerasrnn.storage.destinations import DestinationError, Problem, check_new_directory
from kerasrnn.storage.locks import LOCK_FILE, LockedError, WriterLock
from kerasrnn.training.run_config import RunConfig

CONFIG = "config.json"
MODEL = "model.keras"
HISTORY = "history.csv"
METRICS = "metrics.json"
CURVES = "curves.png"
SAMPLES = "samples.txt"
ATTENTION = "attention.png"
CHECKPOINT = "checkpoint"


def default_run_path(label: str, root: str | os.PathLike = "runs") -> Path:
    """``runs/<YYYYmmdd-HHMMSS>-<label>`` (label: ``<arch or preset>-<data>``), not existing yet.

    Two runs started in the same second may both be given this path; the
    second to create it moves on to ``-2``, ``-3`` ... (:meth:`RunDir.create`
    with ``unique=True``).
    """
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{stamp}-{label}"
    path, counter = base, 1
    while path.exists():
        counter += 1
        path = base.with_name(f"{base.name}-{counter}")
    return path


def _is_empty(path: Path) -> bool:
    """Empty, or holding nothing but the lock file of a creation that did not get further."""
    return all(entry.name == LOCK_FILE for entry in path.iterdir())


def check_new_run_dir(path: Path) -> None:
    """Fail early (before loading data) if ``path`` cannot become a new run directory.

    Raises:
        RunDirExistsError: ``path`` exists and is not an empty directory.
        RunDirError: ``path`` cannot be created or written.
    """
    existing = "replace" if path.is_dir() and _is_empty(path) else "empty"  # a left-over lock file is no content
    try:
        check_new_directory(path, "--out", existing=existing)
    except DestinationError as error:
        if error.problem in (Problem.NOT_EMPTY, Problem.NOT_A_DIRECTORY):
            raise RunDirExistsError(
                f"{error}; give a new directory, or continue that run with --resume {path}"
            ) from None
        raise RunDirError(f"{error}; give a writable --out") from None


class RunDir:
    """A run directory (see the module documentation for its files)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._lock = WriterLock.of_directory(self.path, f"the run directory {self.path}")

    def lock(self) -> RunDir:
        """Hold the run's writer lock until :meth:`unlock` or the end of the process.

        Raises:
            RunDirError: Another process is training or resuming this run.
        """
        try:
            self._lock.acquire()
        except LockedError as error:
            raise RunDirError(str(error)) from None
        except OSError as error:
            raise RunDirError(f"cannot write the run directory {self.path}: {error.strerror or error}") from None
        return self

    def unlock(self) -> None:
        self._lock.release()

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # -- creating and opening ------------------------------------------ #

    @classmethod
    def create(cls, path: str | os.PathLike, unique: bool = False) -> RunDir:
        """Create a new run directory and lock it for this process.

        Args:
            path: The directory; it may exist if it is empty.
            unique: ``path`` is a default name: if it exists by now (another
                run took it), use ``path-2``, ``path-3`` ... instead.

        Raises:
            RunDirExistsError: ``path`` exists and is not an empty directory,
                or another process is creating it.
            RunDirError: ``path`` cannot be created or written.
        """
        path = Path(path).expanduser()
        base, counter = path, 1
        while True:
            check_new_run_dir(path)
            try:
                path.mkdir(parents=True, exist_ok=not unique)
                break
            except FileExistsError:
                counter += 1
                path = base.with_name(f"{base.name}-{counter}")
            except OSError as error:
                raise RunDirError(
                    f"cannot write the run directory {path}: {error.strerror or error}; give a writable --out"
                ) from None
        run = cls(path)
        try:
            run.lock()
        except RunDirError:
            raise RunDirExistsError(
                f"--out {path} is being created by another kerasrnn process; give another directory"
            ) from None
        if not _is_empty(path):  # filled between the check and the lock
            run.unlock()
            check_new_run_dir(path)
        return run

    @classmethod
    def open(cls, path: str | os.PathLike) -> RunDir:
        """An existing run directory (one with a ``config.json``).

        Raises:
            RunDirError: If it does not exist or holds no ``config.json``.
        """
        path = Path(path).expanduser()
        if not path.is_dir():
            raise RunDirError(f"run directory not found: {path}")
        if not (path / CONFIG).is_file():
            raise RunDirError(f"{path} is not a kerasrnn run directory (no {CONFIG})")
        return cls(path)

    # -- paths ---------------------------------------------------------- #

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def model_path(self) -> Path:
        return self.path / MODEL

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / CHECKPOINT

    # -- model.keras ---------------------------------------------------- #

    def save_model(self, model: Any) -> None:
        """Save ``model.keras`` atomically (a temporary ``.keras`` file, then rename)."""
        try:
            atomic.write_with(self.model_path, model.save)
        except OSError as error:
            raise RunDirError(f"cannot write {self.model_path}: {error.strerror or error}") from None

    # -- config.json ---------------------------------------------------- #

    def read_record(self) -> dict[str, Any]:
        """The whole ``config.json``."""
        try:
            record = json.loads((self.path / CONFIG).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:  # ValueError: not UTF-8, not JSON
            raise RunDirError(f"cannot read {self.path / CONFIG}: {error}") from None
        if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
            raise RunDirError(f"{self.path / CONFIG} has no 'config' object; is it a kerasrnn run?")
        return record

    def read_config(self) -> RunConfig:
        return RunConfig.from_dict(self.read_record()["config"])

    def write_record(self, record: dict[str, Any]) -> None:
        self._write(CONFIG, atomic.write_json, record)

    def update_record(self, **changes: Any) -> dict[str, Any]:
        record = self.read_record()
        record.update(changes)
        self.write_record(record)
        return record

    # -- history.csv ---------------------------------------------------- #

    def write_history(self, rows: list[dict[str, Any]]) -> None:
        """``history.csv``: one row per epoch, columns in :func:`history_columns` order."""
        columns = history_columns({key for row in rows for key in row})
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: _csv_value(row.get(key)) for key in columns})
        self._write(HISTORY, atomic.write_text, buffer.getvalue())

    def read_history(self) -> list[dict[str, Any]]:
        path = self.path / HISTORY
        if not path.is_file():
            return []
        try:
            with open(path, newline="", encoding="utf-8") as handle:
                return [
                    {str(key): _parse_csv_value(value) for key, value in row.items() if isinstance(value, str)}
                    for row in csv.DictReader(handle)
                ]
        except (OSError, ValueError, csv.Error) as error:  # ValueError: not UTF-8
            raise RunDirError(f"cannot read {path}: {error}") from None

    # -- metrics.json, samples.txt ----------------------------------------- #

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        self._write(METRICS, atomic.write_json, metrics)

    def read_metrics(self) -> dict[str, Any] | None:
        path = self.path / METRICS
        if not path.is_file():
            return None
        try:
            metrics = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:  # ValueError: not UTF-8, not JSON
            raise RunDirError(f"cannot read {path}: {error}") from None
        if not isinstance(metrics, dict):
            raise RunDirError(f"{path} holds no metrics object")
        return metrics

    def write_samples(self, text: str) -> None:
        self._write(SAMPLES, atomic.write_text, text)

    def write_attention(self, png: bytes) -> None:
        """``attention.png``: the alignment heat map of a sequence-to-sequence run."""
        self._write(ATTENTION, atomic.write_bytes, png)

    # -- curves.png ------------------------------------------------------ #

    def write_curves(self, rows: list[dict[str, Any]], title: str = "") -> Path | None:
        """Plot loss and the main metric per epoch (matplotlib, Agg, imported here)."""
        if not rows:
            return None
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        epochs = [row["epoch"] for row in rows]
        metric = next((name for name in ("accuracy", "rmse", "bits_per_char") if name in rows[0]), None)
        figure = Figure(figsize=(10, 4), dpi=100)
        FigureCanvasAgg(figure)
        panels = [("loss", "loss")] + ([(metric, metric.replace("_", " "))] if metric else [])
        for index, (key, label) in enumerate(panels, start=1):
            axes = figure.add_subplot(1, len(panels), index)
            for prefix, style in (("", "-o"), ("val_", "--s")):
                values = [_finite(row.get(prefix + key)) for row in rows]
                if any(value is not None for value in values):
                    axes.plot(
                        epochs,
                        [math.nan if v is None else v for v in values],
                        style,
                        markersize=3,
                        label="validation" if prefix else "training",
                    )
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
            axes.set_xlabel("epoch")
            axes.set_ylabel(label)
            axes.grid(alpha=0.3)
            axes.legend()
        if title:
            figure.suptitle(title, fontsize=10)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return self._write(CURVES, atomic.write_bytes, buffer.getvalue())

    # -- helpers --------------------------------------------------------- #

    def _write(self, name: str, writer, value) -> Path:
        try:
            return writer(self.path / name, value)
        except OSError as error:
            raise RunDirError(f"cannot write {self.path / name}: {error.strerror or error}") from None


#: history.csv's first and last columns; the metrics lie between them, sorted.
_HISTORY_FIRST = ("epoch",)
_HISTORY_LAST = ("bits_per_char", "val_bits_per_char", "lr", "seconds", "steps")


def history_columns(keys: set[str]) -> list[str]:
    """The column order of ``history.csv``, the same for a fresh and a resumed run.

    (A resumed run's rows come back from the checkpoint's JSON with sorted
    keys; the order must not depend on that.)
    """
    first = [key for key in _HISTORY_FIRST if key in keys]
    last = [key for key in _HISTORY_LAST if key in keys]
    return first + sorted(keys - set(first) - set(last)) + last


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return value


def _parse_csv_value(text: str | None) -> Any:
    if text is None or text == "":
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number


def _finite(value: Any) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None
