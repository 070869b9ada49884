"""Delimited text: one sequence per line (the UCR time-series archive convention).

One parser for every delimited file kerasrnn reads -- training data
(``--data FILE``, labels in ``label_col``) and new inputs (``kerasrnn
predict``, with or without a label column).  The delimiter (comma, tab or
whitespace) is detected from the first data line unless given; rows may have
different lengths (trailing empty fields or NaNs shorten a sequence; a NaN or
empty field *inside* a sequence is an error); a header line whose value
fields are not numbers is skipped.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from kerasrnn.errors import DataError

_DELIMITERS = {"comma": ",", "tab": "\t", "whitespace": None}


@dataclasses.dataclass
class DelimitedTable:
    """Rows of one delimited file: 1-D float64 sequences and raw text labels (``None`` without a label column)."""

    sequences: list
    labels: list | None
    lines: list
    delimiter: str
    header_skipped: bool


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


def is_number(text: str) -> bool:
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
    label_col: int | None = 0,
    delimiter: str | None = None,
    header: bool | None = None,
) -> DelimitedTable:
    """Parse a delimited sequence file (UCR convention).

    Args:
        path: The file.
        label_col: Column of the label (0-based; negative counts from the last
            non-empty field of each row); ``None`` for rows of values only.
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
        raise DataError(f"{path} is not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start})") from None

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
        if label_col is None:
            label_index = n_columns  # past the last value: no label, no shift of columns
        else:
            label_index = label_col if label_col >= 0 else n_columns + label_col
        if label_col is not None and not 0 <= label_index < n_columns:
            raise DataError(
                f"{path}, line {line_number}: label_col={label_col} is out of range for a row "
                f"with {n_columns} column(s)"
            )
        value_fields = fields[:label_index] + fields[label_index + 1 :]
        if first_data_line:
            first_data_line = False
            looks_like_header = bool(value_fields) and not any(is_number(f) for f in value_fields if f)
            if header or (header is None and looks_like_header):
                header_skipped = True
                continue
        if label_col is None:
            sequences.append(_parse_values(value_fields, path, line_number, label_index, labelled=False))
            lines.append(line_number)
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
    return DelimitedTable(sequences, None if label_col is None else labels, lines, delimiter, header_skipped)


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise DataError(f"data file not found: {path}")
    if path.is_dir():
        raise DataError(f"expected a data file, got a directory: {path}")
    return path.read_bytes()


def _column_of(value_index: int, label_index: int) -> int:
    """1-based file column of the value at ``value_index``."""
    return value_index + 1 + (1 if value_index >= label_index else 0)


def _parse_values(
    fields: list[str], path: Path, line_number: int, label_index: int, labelled: bool = True
) -> np.ndarray:
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
        has = "a label but no values" if labelled else "no values"
        raise DataError(f"{path}, line {line_number}: the row has {has}")
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
        raise DataError(
            f"{path}, line {line_number}, column {column}: expected a finite number, found {values[infinite[0]]}"
        )
    return values
