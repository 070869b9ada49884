"""User data from a file: ``kerasrnn fit --data FILE`` (:class:`SequenceFileDataset`).

Two formats are read (parsers in :mod:`kerasrnn.data.formats`; labels to
tasks in :mod:`kerasrnn.data.labels`).

``.npz`` (NumPy archive)
    Arrays ``x`` and ``y``, optionally ``x_test``/``y_test`` and
    ``x_val``/``y_val``.  ``x`` is ``(N, T)`` (univariate, becomes
    ``(N, T, 1)``) or ``(N, T, F, ...)``.  Time steps whose features are all
    NaN at the *end* of a sequence mark a shorter sequence.  ``y`` is ``(N,)``
    labels or targets, ``(N, k)`` regression targets, or integer ``(N, T)``
    per-step labels (task ``labelling``).

Delimited text (anything else: ``.csv``, ``.tsv``, ``.txt``, UCR files)
    The UCR time-series archive convention: one sequence per line, the label
    in the first column (``label_col``; negative counts from the end of the
    row), the values in the others.  The delimiter (comma, tab or whitespace)
    is detected from the first data line unless given.  Rows may have
    different lengths: trailing empty fields or trailing NaNs mean "shorter
    sequence"; a NaN or empty field *inside* a sequence is an error.  A
    header line whose value fields are not numbers is skipped.  A file named
    ``FOO_TRAIN.ext`` with a sibling ``FOO_TEST.ext`` (the UCR naming) uses the
    sibling as its test split.

Labels: text labels, or integral numbers (``1``, ``1.0000000e+00``; named
``"1"``), mean classification; other numbers mean regression.  Integral
labels with more than ``max_classes`` distinct values are taken as
regression targets.  ``task=`` overrides the inference.

Variable-length sequences are right-padded with :data:`PAD_VALUE` to the
longest sequence of the file(s), and their true lengths are kept in
``lengths_*``.  Without a test file the rows are split deterministically
(seeded; stratified for classification) into train/validation/test, and
the split is recorded in ``info["split"]``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from kerasrnn.data.dataset import Dataset
from kerasrnn.data.formats.delimited import read_delimited
from kerasrnn.data.formats.npz import npz_sequences, read_training_arrays
from kerasrnn.data.labels import (
    MAX_INFERRED_CLASSES,
    interpret_labels,
    is_one_hot,
    number_name,
)
from kerasrnn.data.padding import pad_sequences, warn_if_pad_value_in_data
from kerasrnn.data.sequence_data import PAD_VALUE, SequenceData
from kerasrnn.data.splits import file_md5, indices_digest, split_indices
from kerasrnn.errors import DataError

logger = logging.getLogger(__name__)

_TRAIN_NAME = re.compile(r"^(?P<stem>.*)_(?P<train>TRAIN|train|Train)(?P<ext>\.[^.]*)?$")


def companion_test_file(path: str | os.PathLike) -> Path | None:
    """The UCR test file next to ``FOO_TRAIN.ext`` (``FOO_TEST.ext``), if it exists."""
    path = Path(path)
    match = _TRAIN_NAME.match(path.name)
    if not match:
        return None
    test_word = {"TRAIN": "TEST", "train": "test", "Train": "Test"}[match["train"]]
    candidate = path.with_name(f"{match['stem']}_{test_word}{match['ext'] or ''}")
    return candidate if candidate.is_file() else None


def _resolve_path(path: Path) -> Path:
    """A directory holding exactly one ``*_TRAIN*`` file (UCR layout) resolves to it."""
    if not path.is_dir():
        return path
    candidates = sorted(p for p in path.iterdir() if p.is_file() and _TRAIN_NAME.match(p.name))
    if len(candidates) != 1:
        raise DataError(
            f"{path} is a directory; expected a data file (.npz, .csv, .tsv, .txt) or a "
            f"directory with one *_TRAIN file, found {len(candidates)}"
        )
    return candidates[0]


def load_sequence_file(
    path: str | os.PathLike,
    label_col: int = 0,
    task: str | None = None,
    seed: int = 0,
    validation_fraction: float = 0.1,
    test_fraction: float = 0.2,
    test_path: str | os.PathLike | None = None,
    delimiter: str | None = None,
    header: bool | None = None,
    max_classes: int = MAX_INFERRED_CLASSES,
) -> SequenceData:
    """Load user sequences from a ``.npz`` or delimited text file.

    Args:
        path: The file (or a UCR directory with one ``*_TRAIN`` file).
        label_col: Label column of delimited files (0-based, negative from
            the end of each row).
        task: ``"classification"``, ``"regression"`` or ``"labelling"``
            (``.npz`` only) to override the inference from the labels.
        seed: Seed of the deterministic train/validation/test split.
        validation_fraction: Fraction of the training rows held out for
            validation (stratified for classification).
        test_fraction: Fraction of all rows held out for testing when there is
            no test file (``test_path``, UCR companion, or ``x_test`` in an
            ``.npz``).
        test_path: An explicit test file in the same format.
        delimiter: ``"comma"``, ``"tab"``, ``"whitespace"`` (default: detect).
        header: Whether delimited files start with a header (default: detect).
        max_classes: Integral labels with more distinct values are regression
            targets (unless ``task`` says otherwise).

    Returns:
        :class:`SequenceData`; ``x`` float32 ``(N, T, F)``, right-padded with
        :data:`PAD_VALUE` and with ``lengths_*`` when lengths differ.

    Raises:
        DataError: For a missing, empty or malformed file, naming file, line
            and column where it applies.
    """
    if task not in (None, "classification", "regression", "labelling"):
        raise DataError(f"task must be 'classification', 'regression', 'labelling' or None (infer); got {task!r}")
    if isinstance(label_col, bool) or not isinstance(label_col, (int, np.integer)):
        raise DataError(f"label_col must be an integer column index; got {label_col!r}")
    path = _resolve_path(Path(path).expanduser())
    if not path.exists():
        raise DataError(f"data file not found: {path}")
    if test_path is None:
        test_path = companion_test_file(path)
        test_origin = "UCR companion file" if test_path is not None else None
    else:
        test_path = Path(test_path).expanduser()
        if not test_path.is_file():
            raise DataError(f"test file not found: {test_path}")
        test_origin = "test file"
    split = _SplitPlan(seed, validation_fraction, test_fraction, test_path, test_origin)

    if path.suffix.lower() == ".npz" or _read_head(path) == b"PK\x03\x04":
        rows = _read_npz_rows(path, task, max_classes, split)
    else:
        if task == "labelling":
            raise DataError(f"{path}: task='labelling' needs per-step labels, which only .npz files can hold")
        rows = _read_delimited_rows(path, label_col, task, delimiter, header, max_classes, split)
    return _assemble(path, rows, split)


@dataclasses.dataclass
class _SplitPlan:
    """How to split: seed, fractions, and where a given test split comes from."""

    seed: int
    validation_fraction: float
    test_fraction: float
    test_path: Path | None
    test_origin: str | None  # None: carve the test split from the rows


@dataclasses.dataclass
class _Rows:
    """All sequences of a file in the order train [, given val] [, given test]."""

    sequences: list
    y: np.ndarray
    task: str
    num_outputs: int
    class_names: list | None
    reason: str
    n_train: int
    n_given_val: int
    variable: bool
    info: dict


def _read_head(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(4)
    except OSError as error:
        raise DataError(f"cannot read {path}: {error.strerror or error}") from None


def _read_delimited_rows(path, label_col, task, delimiter, header, max_classes, split) -> _Rows:
    train = read_delimited(path, label_col, delimiter, header)
    test = None
    if split.test_path is not None:
        test = read_delimited(split.test_path, label_col, delimiter or train.delimiter, header)
    sequences = train.sequences + (test.sequences if test else [])
    labels = np.array(train.labels + (test.labels if test else []), dtype=str)
    task, y, class_names, num_outputs, reason = interpret_labels(labels, task, max_classes, str(path))
    lengths = {len(sequence) for sequence in sequences}
    return _Rows(
        sequences,
        y,
        task,
        num_outputs,
        class_names,
        reason,
        n_train=len(train.sequences),
        n_given_val=0,
        variable=len(lengths) > 1,
        info={
            "format": f"delimited text ({train.delimiter}-separated, label column {label_col})",
            "header_skipped": train.header_skipped,
        },
    )


def _read_npz_rows(path, task, max_classes, split) -> _Rows:
    arrays = read_training_arrays(path)
    if split.test_path is not None and "x_test" in arrays:
        raise DataError(f"{path} already holds 'x_test'; do not also give a test file ({split.test_path})")
    parts = [("x", "y")]
    if "x_val" in arrays:
        parts.append(("x_val", "y_val"))
    if split.test_path is not None:
        test_arrays = read_training_arrays(split.test_path)
        arrays["x_test"], arrays["y_test"] = test_arrays["x"], test_arrays["y"]
    elif "x_test" in arrays:
        split.test_origin = "'x_test' in the archive"
    if "x_test" in arrays:
        parts.append(("x_test", "y_test"))

    sequences, variable = [], False
    for x_name, _ in parts:
        part_sequences, part_variable = npz_sequences(arrays[x_name], x_name, path)
        sequences.extend(part_sequences)
        variable |= part_variable
    feature_shapes = {np.asarray(s).shape[1:] for s in sequences}
    if len(feature_shapes) != 1:
        raise DataError(f"{path}: all x arrays must have the same feature shape; found {sorted(feature_shapes)}")
    y_parts = [np.asarray(arrays[y_name]) for _, y_name in parts]
    if len({y.ndim for y in y_parts}) != 1:
        raise DataError(
            f"{path}: all y arrays must have the same number of dimensions; found shapes {[y.shape for y in y_parts]}"
        )
    labels = np.concatenate(y_parts)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    steps = np.asarray(arrays["x"]).shape[1]

    if labels.ndim == 1:
        task, y, class_names, num_outputs, reason = interpret_labels(labels, task, max_classes, str(path))
    elif labels.ndim == 2 and task in (None, "classification") and is_one_hot(labels):
        task, y = "classification", labels.argmax(axis=1).astype(np.int32)
        class_names, num_outputs = [str(index) for index in range(labels.shape[1])], labels.shape[1]
        reason = f"one-hot labels ({labels.shape[1]} columns) read as class indices 0-{labels.shape[1] - 1}"
    elif labels.ndim == 2 and (
        task == "labelling" or (task is None and labels.shape[1] == steps and labels.dtype.kind in "iu")
    ):
        if labels.shape[1] != steps or labels.dtype.kind not in "iub":
            raise DataError(
                f"{path}: task 'labelling' needs integer y of shape (N, {steps}); found {labels.dtype} {labels.shape}"
            )
        reason = "task='labelling' given" if task == "labelling" else "integer per-step labels"
        class_values = np.unique(labels)
        task, y = "labelling", np.searchsorted(class_values, labels).astype(np.int32)
        class_names, num_outputs = [number_name(v) for v in class_values], len(class_values)
    elif labels.ndim == 2 and task in (None, "regression"):
        if labels.dtype.kind not in "iuf" or not np.all(np.isfinite(labels)):
            raise DataError(f"{path}: regression targets y must be finite numbers; found dtype {labels.dtype}")
        task, y, class_names, num_outputs = "regression", labels.astype(np.float32), None, labels.shape[1]
        reason = f"{labels.shape[1]} numeric targets per sample"
    elif labels.ndim == 2:
        raise DataError(f"{path}: task='classification' needs y of shape (N,); found {labels.shape}")
    else:
        raise DataError(f"{path}: y must have shape (N,), (N, k) or (N, T); found {labels.shape}")

    return _Rows(
        sequences,
        y,
        task,
        num_outputs,
        class_names,
        reason,
        n_train=len(arrays["x"]),
        n_given_val=len(arrays["x_val"]) if "x_val" in arrays else 0,
        variable=variable,
        info={"format": ".npz archive", "arrays": sorted(arrays)},
    )


def _labels_not_in_training(rows: _Rows, train_idx: np.ndarray, test_idx: np.ndarray) -> dict | None:
    """Classes of the test split that the training split lacks (a test file with other labels)."""
    if rows.task != "classification":
        return None
    missing = np.setdiff1d(np.unique(rows.y[test_idx]), np.unique(rows.y[train_idx]))
    if not len(missing):
        return None
    names = [rows.class_names[index] if rows.class_names else str(index) for index in missing.tolist()]
    return {"labels": names, "samples": int(np.isin(rows.y[test_idx], missing).sum())}


def _assemble(path: Path, rows: _Rows, plan: _SplitPlan) -> SequenceData:
    """Pad the sequences, split them and wrap everything in a SequenceData."""
    if rows.task == "classification" and rows.num_outputs < 2:
        raise DataError(
            f"{path}: classification needs at least 2 classes; found only {rows.class_names} "
            f"(pass task='regression' for numeric targets)"
        )
    warn_if_pad_value_in_data(rows.sequences, path)
    x, lengths = pad_sequences(rows.sequences)
    n_total, n_train = len(rows.sequences), rows.n_train
    stratify = rows.y if rows.task == "classification" else None
    split = {
        "seed": plan.seed,
        "validation_fraction": plan.validation_fraction,
        "row_order": "data rows in file order, 0-based (header and blank lines skipped)",
    }

    train_pool = np.arange(n_train)
    if plan.test_origin is not None:
        test_idx = np.arange(n_train + rows.n_given_val, n_total)
        split["test"] = f"{plan.test_origin}" + (f": {plan.test_path}" if plan.test_path else "")
        if not len(test_idx):
            raise DataError(f"{plan.test_path or path}: the test split holds no rows")
        test_description = f"test from {plan.test_origin}" + (f" {plan.test_path.name}" if plan.test_path else "")
    else:
        try:
            kept, held = split_indices(
                n_train,
                plan.test_fraction,
                plan.seed,
                None if stratify is None else stratify[:n_train],
            )
        except DataError as error:
            raise DataError(f"{path}: cannot split {n_train} rows into train and test ({error})") from None
        train_pool, test_idx = train_pool[kept], train_pool[held]
        split.update(
            test_fraction=plan.test_fraction,
            test_indices_sha256_16=indices_digest(test_idx),
            test_indices=test_idx.tolist() if len(test_idx) <= 1000 else None,
        )
        kind = "stratified " if stratify is not None else ""
        test_description = f"seeded {kind}{plan.test_fraction:.0%} test split, seed {plan.seed}"

    if rows.n_given_val:
        train_idx, val_idx = train_pool, np.arange(n_train, n_train + rows.n_given_val)
        split["validation"] = "'x_val' in the archive"
    else:
        try:
            kept, held = split_indices(
                len(train_pool),
                plan.validation_fraction,
                plan.seed,
                None if stratify is None else stratify[train_pool],
            )
        except DataError as error:
            raise DataError(f"{path}: cannot hold out validation rows ({error})") from None
        train_idx, val_idx = train_pool[kept], train_pool[held]
        split["validation_indices_sha256_16"] = indices_digest(val_idx)

    unseen = _labels_not_in_training(rows, train_idx, test_idx)
    if unseen:
        logger.warning(
            "%s: the test split has %d sample(s) with label(s) %s that no training sample has; "
            "the model cannot predict them",
            path,
            unseen["samples"],
            ", ".join(unseen["labels"]),
        )
    files = {str(path): file_md5(path)}
    if plan.test_path is not None:
        files[str(plan.test_path)] = file_md5(plan.test_path)
    if rows.variable:
        length_text = f"lengths {lengths.min()}-{lengths.max()}"
    else:
        length_text = f"length {lengths.max()}"
    info = {
        **rows.info,
        "dataset": "file",
        "path": str(path),
        "md5": files,
        "task_inferred": rows.reason,
        "variable_length": rows.variable,
        "pad_value": PAD_VALUE if rows.variable else None,
        "split": split,
        "sizes": {"train": len(train_idx), "val": len(val_idx), "test": len(test_idx)},
    }
    if unseen:
        info["test_labels_not_in_training"] = unseen

    def take(indices: np.ndarray):
        return x[indices], rows.y[indices], (lengths[indices] if rows.variable else None)

    (x_train, y_train, l_train), (x_val, y_val, l_val), (x_test, y_test, l_test) = (
        take(train_idx),
        take(val_idx),
        take(test_idx),
    )
    return SequenceData(
        x_train=x_train,
        y_train=y_train,
        x_val=x_val,
        y_val=y_val,
        x_test=x_test,
        y_test=y_test,
        task=rows.task,
        num_outputs=int(rows.num_outputs),
        source=(f"user file {path} ({info['format']}; {n_total} sequences, {length_text}; {test_description})"),
        class_names=rows.class_names,
        lengths_train=l_train,
        lengths_val=l_val,
        lengths_test=l_test,
        info=info,
    )


class SequenceFileDataset(Dataset):
    """``--data FILE``: the user's sequences, ``.npz`` or delimited text (:func:`load_sequence_file`)."""

    name = "file"
    defaults = dict(
        arch="bigru",
        units=64,
        batch_size=32,
        epochs=100,
        lr=1e-3,
        lr_schedule="constant",
        patience=10,
        augment_shift=0,
        time_budget=240.0,
    )
    options = ("data_file", "test_file", "label_col", "task")
    loader = staticmethod(load_sequence_file)

    def load(self) -> SequenceData:
        config = self.config
        options: dict[str, Any] = {"label_col": config.label_col, "seed": config.seed}
        if config.validation_fraction is not None:
            options["validation_fraction"] = config.validation_fraction
        if config.task:
            options["task"] = config.task
        if config.test_file:
            options["test_path"] = config.test_file
        return load_sequence_file(str(config.data_file), **options)

    def label(self) -> str:
        return Path(self.config.data_file).stem or self.name if self.config.data_file else self.name
