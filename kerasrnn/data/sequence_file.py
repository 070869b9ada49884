"""User data from a file: ``kerasrnn fit --data FILE``.

Two formats are read.

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
import os
import re
import warnings
from pathlib import Path

import numpy as np

from kerasrnn.data.dataset import PAD_VALUE, DataError, SequenceData
from kerasrnn.data.splits import file_md5, indices_digest, split_indices

#: Integral labels with more distinct values than this are regression targets.
MAX_INFERRED_CLASSES = 100
_DELIMITERS = {"comma": ",", "tab": "\t", "whitespace": None}
_TRAIN_NAME = re.compile(r"^(?P<stem>.*)_(?P<train>TRAIN|train|Train)(?P<ext>\.[^.]*)?$")


@dataclasses.dataclass
class _Table:
    """Rows of one delimited file: 1-D float64 sequences and raw text labels."""

    sequences: list
    labels: list
    lines: list
    delimiter: str
    header_skipped: bool


# --------------------------------------------------------------------------- #
# Delimited text
# --------------------------------------------------------------------------- #


def _detect_delimiter(line: str) -> str:
    if "\t" in line:
        return "tab"
    if "," in line:
        return "comma"
    return "whitespace"


def _split_fields(line: str, delimiter: str) -> list[str]:
    separator = _DELIMITERS[delimiter]
    if separator is None:
        return line.split()
    fields = [field.strip() for field in line.split(separator)]
    while fields and fields[-1] == "":
        fields.pop()  # trailing empty fields: a shorter sequence
    return fields


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _clean_label(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text


def read_delimited(
    path: str | os.PathLike,
    label_col: int = 0,
    delimiter: str | None = None,
    header: bool | None = None,
) -> _Table:
    """Parse a delimited sequence file (UCR convention).

    Args:
        path: The file.
        label_col: Column of the label (0-based; negative counts from the last
            non-empty field of each row).
        delimiter: ``"comma"``, ``"tab"``, ``"whitespace"``, or ``None`` to
            detect it from the first data line.
        header: Whether the first line is a header; ``None`` detects it (a
            first line none of whose value fields is a number).

    Returns:
        The parsed rows (sequences with trailing missing values removed).

    Raises:
        DataError: Naming file, line and column for a malformed value, a
            missing value inside a sequence, an out-of-range label column, an
            empty file ...
    """
    path = Path(path)
    if delimiter is not None and delimiter not in _DELIMITERS:
        # Accept the characters themselves too.
        by_char = {",": "comma", "\t": "tab", " ": "whitespace"}
        if delimiter not in by_char:
            raise DataError(
                f"delimiter must be one of {', '.join(_DELIMITERS)} (or ',', '\\t', ' '); got {delimiter!r}"
            )
        delimiter = by_char[delimiter]
    raw = _read_bytes(path)
    if b"\x00" in raw[:65536]:
        raise DataError(f"{path} looks binary (NUL bytes); expected delimited text or .npz")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(
            f"{path} is not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start})"
        ) from None

    sequences, labels, lines = [], [], []
    header_skipped = False
    first_data_line = True
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if delimiter is None:
            delimiter = _detect_delimiter(line)
        fields = _split_fields(line, delimiter)
        n_columns = len(fields)
        label_index = label_col if label_col >= 0 else n_columns + label_col
        if not 0 <= label_index < n_columns:
            raise DataError(
                f"{path}, line {line_number}: label_col={label_col} is out of range for a row "
                f"with {n_columns} column(s)"
            )
        value_fields = fields[:label_index] + fields[label_index + 1 :]
        if first_data_line:
            first_data_line = False
            looks_like_header = bool(value_fields) and not any(_is_number(f) for f in value_fields if f)
            if header or (header is None and looks_like_header):
                header_skipped = True
                continue
        label = _clean_label(fields[label_index])
        if label == "" or label.lower() == "nan":
            raise DataError(
                f"{path}, line {line_number}, column {label_index + 1}: expected a label, found "
                f"{'an empty field' if label == '' else repr(label)}"
            )
        values = _parse_values(value_fields, path, line_number, label_index)
        sequences.append(values)
        labels.append(label)
        lines.append(line_number)
    if not sequences:
        raise DataError(f"{path} holds no data rows (expected one sequence per line)")
    return _Table(sequences, labels, lines, delimiter, header_skipped)


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise DataError(f"data file not found: {path}")
    if path.is_dir():
        raise DataError(f"expected a data file, got a directory: {path}")
    return path.read_bytes()


def _column_of(value_index: int, label_index: int) -> int:
    """1-based file column of the value at ``value_index``."""
    return value_index + 1 + (1 if value_index >= label_index else 0)


def _parse_values(fields: list[str], path: Path, line_number: int, label_index: int) -> np.ndarray:
    """Floats of one row, trailing missing values removed, errors located."""
    try:
        values = np.array(fields, dtype=np.float64) if fields else np.zeros(0)
    except ValueError:
        values = np.empty(len(fields))
        for index, field in enumerate(fields):
            if field == "":
                values[index] = np.nan
                continue
            try:
                values[index] = float(field)
            except ValueError:
                raise DataError(
                    f"{path}, line {line_number}, column {_column_of(index, label_index)}: "
                    f"expected a number, found {field!r}"
                ) from None
    present = ~np.isnan(values)
    if not present.any():
        raise DataError(f"{path}, line {line_number}: the row has a label but no values")
    length = int(np.flatnonzero(present)[-1]) + 1
    values = values[:length]
    inner_missing = np.flatnonzero(np.isnan(values))
    if inner_missing.size:
        column = _column_of(int(inner_missing[0]), label_index)
        raise DataError(
            f"{path}, line {line_number}, column {column}: missing value (NaN or empty) inside "
            f"the sequence; only trailing missing values may shorten a sequence"
        )
    infinite = np.flatnonzero(np.isinf(values))
    if infinite.size:
        column = _column_of(int(infinite[0]), label_index)
        raise DataError(f"{path}, line {line_number}, column {column}: expected a finite number, found {values[infinite[0]]}")
    return values


# --------------------------------------------------------------------------- #
# Labels and tasks
# --------------------------------------------------------------------------- #


def _number_name(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _interpret_labels(
    labels: np.ndarray, task: str | None, max_classes: int, what: str
) -> tuple[str, np.ndarray, list | None, int, str]:
    """Decide the task and encode labels.

    Args:
        labels: 1-D array of text (``str``) or numeric labels.

    Returns:
        ``(task, y, class_names, num_outputs, reason)``; ``y`` is int32 class
        indices or float32 ``(N, 1)`` targets.
    """
    if labels.dtype.kind in "iub":
        numeric = labels.astype(np.float64)
    elif labels.dtype.kind == "f":
        numeric = labels.astype(np.float64)
        if not np.all(np.isfinite(numeric)):
            bad = int(np.flatnonzero(~np.isfinite(numeric))[0])
            raise DataError(f"{what}: label of sample {bad} is {float(numeric[bad])}; expected a finite number")
    else:
        texts = labels.astype(str)
        try:
            numeric = np.array([float(text) for text in texts], dtype=np.float64)
            if not np.all(np.isfinite(numeric)):
                numeric = None
        except ValueError:
            numeric = None

    if numeric is None:
        texts = labels.astype(str)
        if task == "regression":
            example = str(next(text for text in texts if not _is_number(text)))
            raise DataError(f"{what}: task='regression' needs numeric labels; found {example!r}")
        names = sorted(set(texts.tolist()))
        reason = "text labels"
        lookup = {name: index for index, name in enumerate(names)}
        y = np.array([lookup[text] for text in texts], dtype=np.int32)
        return "classification", y, names, len(names), reason

    integral = bool(np.all(numeric == np.round(numeric)))
    distinct = np.unique(numeric)
    if task is None:
        if integral and len(distinct) <= max_classes:
            task, reason = "classification", f"integral labels with {len(distinct)} distinct values"
        else:
            task = "regression"
            reason = (
                f"integral labels with {len(distinct)} > max_classes={max_classes} distinct values"
                if integral
                else "non-integral numeric labels"
            )
    else:
        reason = f"task={task!r} given"
    if task == "classification":
        if not integral:
            example = float(numeric[numeric != np.round(numeric)][0])
            raise DataError(
                f"{what}: task='classification' needs integral or text labels; found {example!r}"
            )
        names = [_number_name(value) for value in distinct]
        y = np.searchsorted(distinct, numeric).astype(np.int32)
        return task, y, names, len(names), reason
    return "regression", numeric.astype(np.float32).reshape(-1, 1), None, 1, reason


# --------------------------------------------------------------------------- #
# Padding
# --------------------------------------------------------------------------- #


def pad_sequences(
    sequences: list, length: int | None = None, pad_value: float = PAD_VALUE
) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad ``(T_i, F)`` or ``(T_i,)`` sequences to ``(N, T, F)`` float32.

    Returns:
        ``(padded, lengths)`` with int32 ``lengths``.
    """
    lengths = np.array([len(sequence) for sequence in sequences], dtype=np.int32)
    length = int(lengths.max(initial=0)) if length is None else int(length)
    first = np.asarray(sequences[0]) if sequences else np.zeros((0, 1))
    features = first.shape[1:] if first.ndim > 1 else (1,)
    padded = np.full((len(sequences), length, *features), pad_value, dtype=np.float32)
    for index, sequence in enumerate(sequences):
        sequence = np.asarray(sequence, dtype=np.float32)
        padded[index, : len(sequence)] = sequence.reshape(len(sequence), *features)
    return padded, lengths


def _warn_if_pad_value_in_data(sequences: list, path: Path) -> None:
    for sequence in sequences:
        if np.any(np.asarray(sequence) == PAD_VALUE):
            warnings.warn(
                f"{path} contains the padding value {PAD_VALUE} as data; Masking will hide those steps",
                stacklevel=3,
            )
            return


# --------------------------------------------------------------------------- #
# .npz
# --------------------------------------------------------------------------- #


def _npz_sequences(x: np.ndarray, name: str, path: Path) -> tuple[list | np.ndarray, bool]:
    """Split NaN-padded ``x`` into per-sample sequences; (sequences, variable)."""
    if x.dtype.kind not in "iuf":
        raise DataError(f"{path}: array {name!r} must be numeric; found dtype {x.dtype}")
    if x.ndim < 2:
        raise DataError(f"{path}: array {name!r} must have shape (N, T) or (N, T, F); found {x.shape}")
    x = x.astype(np.float64)
    if x.ndim == 2:
        x = x[..., np.newaxis]
    missing_step = np.isnan(x).reshape(x.shape[0], x.shape[1], -1).all(axis=2)
    any_missing = np.isnan(x).reshape(x.shape[0], x.shape[1], -1).any(axis=2)
    sequences = []
    variable = False
    for index in range(len(x)):
        present = np.flatnonzero(~missing_step[index])
        if present.size == 0:
            raise DataError(f"{path}: {name}[{index}] has no values (all NaN)")
        length = int(present[-1]) + 1
        variable |= length != x.shape[1]
        inner = np.flatnonzero(any_missing[index, :length])
        if inner.size:
            raise DataError(
                f"{path}: {name}[{index}] has a NaN at step {int(inner[0])} inside the sequence; "
                f"only trailing all-NaN steps may shorten a sequence"
            )
        if np.isinf(x[index, :length]).any():
            raise DataError(f"{path}: {name}[{index}] holds an infinite value")
        sequences.append(x[index, :length])
    return sequences, variable


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except ValueError as error:
        raise DataError(f"{path}: cannot read the .npz archive ({error}); object arrays are not supported") from None
    except (OSError, EOFError) as error:
        raise DataError(f"{path}: not a valid .npz archive ({error})") from None
    for required in ("x", "y"):
        if required not in arrays:
            raise DataError(
                f"{path}: expected arrays 'x' and 'y' (optionally 'x_test', 'y_test', 'x_val', "
                f"'y_val'); found {sorted(arrays) or 'none'}"
            )
    for split in ("test", "val"):
        if (f"x_{split}" in arrays) != (f"y_{split}" in arrays):
            raise DataError(f"{path}: 'x_{split}' and 'y_{split}' must be given together; found only one")
    for prefix in ("", "_test", "_val"):
        if f"x{prefix}" in arrays and len(arrays[f"x{prefix}"]) != len(arrays[f"y{prefix}"]):
            raise DataError(
                f"{path}: 'x{prefix}' has {len(arrays[f'x{prefix}'])} samples but "
                f"'y{prefix}' has {len(arrays[f'y{prefix}'])}"
            )
    return arrays


# --------------------------------------------------------------------------- #
# The loader
# --------------------------------------------------------------------------- #


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
        raise DataError(
            "task must be 'classification', 'regression', 'labelling' or None (infer); "
            f"got {task!r}"
        )
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
            raise DataError(
                f"{path}: task='labelling' needs per-step labels, which only .npz files can hold"
            )
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
    task, y, class_names, num_outputs, reason = _interpret_labels(
        labels, task, max_classes, str(path)
    )
    lengths = {len(sequence) for sequence in sequences}
    return _Rows(
        sequences, y, task, num_outputs, class_names, reason,
        n_train=len(train.sequences),
        n_given_val=0,
        variable=len(lengths) > 1,
        info={
            "format": f"delimited text ({train.delimiter}-separated, label column {label_col})",
            "header_skipped": train.header_skipped,
        },
    )


def _read_npz_rows(path, task, max_classes, split) -> _Rows:
    arrays = _load_npz(path)
    if split.test_path is not None and "x_test" in arrays:
        raise DataError(
            f"{path} already holds 'x_test'; do not also give a test file ({split.test_path})"
        )
    parts = [("x", "y")]
    if "x_val" in arrays:
        parts.append(("x_val", "y_val"))
    if split.test_path is not None:
        test_arrays = _load_npz(split.test_path)
        arrays["x_test"], arrays["y_test"] = test_arrays["x"], test_arrays["y"]
    elif "x_test" in arrays:
        split.test_origin = "'x_test' in the archive"
    if "x_test" in arrays:
        parts.append(("x_test", "y_test"))

    sequences, variable = [], False
    for x_name, _ in parts:
        part_sequences, part_variable = _npz_sequences(arrays[x_name], x_name, path)
        sequences.extend(part_sequences)
        variable |= part_variable
    feature_shapes = {np.asarray(s).shape[1:] for s in sequences}
    if len(feature_shapes) != 1:
        raise DataError(
            f"{path}: all x arrays must have the same feature shape; found {sorted(feature_shapes)}"
        )
    y_parts = [np.asarray(arrays[y_name]) for _, y_name in parts]
    if len({y.ndim for y in y_parts}) != 1:
        raise DataError(
            f"{path}: all y arrays must have the same number of dimensions; "
            f"found shapes {[y.shape for y in y_parts]}"
        )
    labels = np.concatenate(y_parts)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    steps = np.asarray(arrays["x"]).shape[1]

    if labels.ndim == 1:
        task, y, class_names, num_outputs, reason = _interpret_labels(
            labels, task, max_classes, str(path)
        )
    elif labels.ndim == 2 and (
        task == "labelling" or (task is None and labels.shape[1] == steps and labels.dtype.kind in "iu")
    ):
        if labels.shape[1] != steps or labels.dtype.kind not in "iub":
            raise DataError(
                f"{path}: task 'labelling' needs integer y of shape (N, {steps}); "
                f"found {labels.dtype} {labels.shape}"
            )
        reason = "task='labelling' given" if task == "labelling" else "integer per-step labels"
        class_values = np.unique(labels)
        task, y = "labelling", np.searchsorted(class_values, labels).astype(np.int32)
        class_names, num_outputs = [_number_name(v) for v in class_values], len(class_values)
    elif labels.ndim == 2 and task in (None, "regression"):
        if labels.dtype.kind not in "iuf" or not np.all(np.isfinite(labels)):
            raise DataError(
                f"{path}: regression targets y must be finite numbers; found dtype {labels.dtype}"
            )
        task, y, class_names, num_outputs = "regression", labels.astype(np.float32), None, labels.shape[1]
        reason = f"{labels.shape[1]} numeric targets per sample"
    elif labels.ndim == 2:
        raise DataError(
            f"{path}: task='classification' needs y of shape (N,); found {labels.shape}"
        )
    else:
        raise DataError(f"{path}: y must have shape (N,), (N, k) or (N, T); found {labels.shape}")

    return _Rows(
        sequences, y, task, num_outputs, class_names, reason,
        n_train=len(arrays["x"]),
        n_given_val=len(arrays["x_val"]) if "x_val" in arrays else 0,
        variable=variable,
        info={"format": ".npz archive", "arrays": sorted(arrays)},
    )


def _assemble(path: Path, rows: _Rows, plan: _SplitPlan) -> SequenceData:
    """Pad the sequences, split them and wrap everything in a SequenceData."""
    if rows.task == "classification" and rows.num_outputs < 2:
        raise DataError(
            f"{path}: classification needs at least 2 classes; found only {rows.class_names} "
            f"(pass task='regression' for numeric targets)"
        )
    _warn_if_pad_value_in_data(rows.sequences, path)
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
        test_description = f"test from {plan.test_origin}" + (
            f" {plan.test_path.name}" if plan.test_path else ""
        )
    else:
        try:
            kept, held = split_indices(
                n_train, plan.test_fraction, plan.seed,
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
                len(train_pool), plan.validation_fraction, plan.seed,
                None if stratify is None else stratify[train_pool],
            )
        except DataError as error:
            raise DataError(f"{path}: cannot hold out validation rows ({error})") from None
        train_idx, val_idx = train_pool[kept], train_pool[held]
        split["validation_indices_sha256_16"] = indices_digest(val_idx)

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

    def take(indices: np.ndarray):
        return x[indices], rows.y[indices], (lengths[indices] if rows.variable else None)

    (x_train, y_train, l_train), (x_val, y_val, l_val), (x_test, y_test, l_test) = (
        take(train_idx), take(val_idx), take(test_idx)
    )
    return SequenceData(
        x_train=x_train, y_train=y_train,
        x_val=x_val, y_val=y_val,
        x_test=x_test, y_test=y_test,
        task=rows.task,
        num_outputs=int(rows.num_outputs),
        source=(
            f"user file {path} ({info['format']}; {n_total} sequences, {length_text}; "
            f"{test_description})"
        ),
        class_names=rows.class_names,
        lengths_train=l_train, lengths_val=l_val, lengths_test=l_test,
        info=info,
    )
