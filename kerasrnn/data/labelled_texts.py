"""Labelled texts: ``kerasrnn fit --data texts.tsv --task text-classification``.

The file: UTF-8 (a byte-order mark is ignored), one text and its label a line,
separated by one tab, in either order: ``label<TAB>text`` or
``text<TAB>label``.  Blank lines are skipped and counted; a line without a tab,
with more than one tab or with an empty side stops the load with a
:class:`~kerasrnn.errors.DataError` naming the line numbers (1-based).

Which column holds the labels is detected: a label has no whitespace inside,
and the label column is the column whose values all have none, or, when both
columns qualify (one-word texts), the one with fewer distinct values; a tie,
or no such column, is an error.  Labels are integers (classes in numeric
order, named by their text) or any text (classes in code-point order).  The
detection is stated in the data's ``source`` line, which ``kerasrnn fit``
prints.

The split (:func:`text_classification_data`, shared with ``--dataset
sentiment``) is seeded and stratified: ``test_fraction`` of every class for
testing, then ``validation_fraction`` (of all rows) for validation.  The
vocabulary comes from the training split only; ``x`` is int32 ``(N, T)`` token
ids right-padded with 0 (no BOS/EOS), with the true lengths in ``lengths_*``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kerasrnn.data.dataset import Dataset
from kerasrnn.data.sentence_pairs import bad_lines_error, read_text_lines, text_options
from kerasrnn.data.sequence_data import SequenceData
from kerasrnn.data.splits import file_md5, indices_digest, split_indices
from kerasrnn.data.vocabulary import Vocabulary, tokenize
from kerasrnn.errors import DataError


def read_labelled_texts(path: str | os.PathLike) -> tuple[list[str], list[str], str, int]:
    """``(texts, labels, detection, blank_lines)`` of a two-column text file (module docstring).

    Raises:
        DataError: For an unreadable file, bad lines (line numbers given) or
            no recognizable label column.
    """
    path = Path(path)
    read = read_text_lines(path, "labelled-text file")
    rows, bad = [], []
    for number, line in read.lines:
        fields = [field.strip() for field in line.split("\t")]
        if len(fields) != 2:
            bad.append((number, "no tab" if len(fields) == 1 else f"{len(fields) - 1} tabs"))
        elif not fields[0] or not fields[1]:
            bad.append((number, f"empty {'first' if not fields[0] else 'second'} column"))
        else:
            rows.append(fields)
    if bad:
        raise bad_lines_error(path, bad, "'label<TAB>text' or 'text<TAB>label'")
    columns = list(zip(*rows, strict=True))
    qualifies = [all(len(value.split()) == 1 for value in column) for column in columns]
    distinct = [len(set(column)) for column in columns]
    if qualifies[0] and qualifies[1]:
        if distinct[0] == distinct[1]:
            raise DataError(
                f"{path}: cannot tell which column holds the labels: both hold single words with "
                f"{distinct[0]} distinct values"
            )
        label_col = 0 if distinct[0] < distinct[1] else 1
    elif qualifies[0] or qualifies[1]:
        label_col = 0 if qualifies[0] else 1
    else:
        raise DataError(
            f"{path}: no column holds labels: a label is one word without spaces, and both columns have "
            f"values with spaces (e.g. {columns[0][0]!r} and {columns[1][0]!r})"
        )
    layout = "label<TAB>text" if label_col == 0 else "text<TAB>label"
    detection = f"labels in column {label_col + 1} ({layout}, {distinct[label_col]} distinct)"
    return list(columns[1 - label_col]), list(columns[label_col]), detection, read.blank


def encode_labels(labels: Sequence[str], what: str) -> tuple[np.ndarray, list[str]]:
    """int32 class indices and class names: integers in numeric order, other text in code-point order."""
    names = sorted(set(labels))
    try:
        names.sort(key=int)
    except ValueError:
        pass
    if len(names) < 2:
        raise DataError(f"{what}: text classification needs at least 2 classes; found only {names}")
    lookup = {name: index for index, name in enumerate(names)}
    return np.asarray([lookup[label] for label in labels], dtype=np.int32), names


def stratified_three_way_split(
    strata: np.ndarray, validation_fraction: float, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices (in file order) of train, validation and test, each stratum split alike (seeded)."""
    for name, value in (("validation_fraction", validation_fraction), ("test_fraction", test_fraction)):
        if not 0.0 < value < 1.0:
            raise DataError(f"{name} must be in (0, 1); got {value!r}")
    if validation_fraction + test_fraction >= 1.0:
        raise DataError(
            f"validation_fraction + test_fraction must leave rows for training; got {validation_fraction} + "
            f"{test_fraction}"
        )
    rest, test = split_indices(len(strata), test_fraction, seed, labels=strata)
    kept, held = split_indices(len(rest), validation_fraction / (1.0 - test_fraction), seed, labels=strata[rest])
    return rest[kept], rest[held], test


def text_classification_data(
    texts: Sequence[str],
    y: np.ndarray,
    class_names: list[str],
    *,
    groups: Sequence[str] | None = None,
    tokens: str = "word",
    min_count: int = 1,
    max_vocabulary: int | None = None,
    seed: int = 0,
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
    description: str,
    info: dict[str, Any] | None = None,
) -> SequenceData:
    """Texts and class indices, split, tokenized and encoded (module docstring).

    Args:
        texts: Raw texts.
        y: int32 class indices, one per text.
        class_names: Name of each class index.
        groups: The group of each text (e.g. the site it comes from): the
            split is then stratified by label and group, and ``info["counts"]``
            gives every split's count per group and class.
        tokens, min_count, max_vocabulary: Tokens and the vocabulary's limits.
        seed, validation_fraction, test_fraction: The split.
        description: The start of :attr:`SequenceData.source`.
        info: Facts to record beside the split's.
    """
    group_names = sorted(set(groups)) if groups is not None else ["all"]
    group_of_row = np.zeros(len(texts), dtype=np.int64)
    if groups is not None:
        lookup = {name: index for index, name in enumerate(group_names)}
        group_of_row = np.asarray([lookup[group] for group in groups], dtype=np.int64)
    strata = group_of_row * len(class_names) + y
    try:
        train, val, test = stratified_three_way_split(strata, validation_fraction, test_fraction, seed)
    except DataError as error:
        raise DataError(f"{description}: cannot split {len(texts)} texts ({error})") from None
    token_lists = [tokenize(text, tokens) for text in texts]
    vocabulary = Vocabulary.build(
        [token_lists[i] for i in train], min_count=min_count, max_size=max_vocabulary, kind=tokens
    )
    x, lengths = vocabulary.encode_all(token_lists)
    known = x[np.concatenate([val, test])]
    unknown_rate = float((known == 1).sum()) / max(1, int((known > 0).sum()))
    rows = {"train": train, "val": val, "test": test}
    sizes = {name: len(index) for name, index in rows.items()}
    counts = {
        split: {
            group: {
                name: int(((group_of_row[index] == g) & (y[index] == c)).sum()) for c, name in enumerate(class_names)
            }
            for g, group in enumerate(group_names)
        }
        for split, index in rows.items()
    }
    if groups is None:
        counts = {split: by_group["all"] for split, by_group in counts.items()}
    return SequenceData(
        x_train=x[train],
        y_train=y[train],
        x_val=x[val],
        y_val=y[val],
        x_test=x[test],
        y_test=y[test],
        task="text_classification",
        num_outputs=len(class_names),
        source=(
            f"{description} ({len(texts):,} texts, {len(class_names)} classes; {tokens} tokens, "
            f"{vocabulary.size:,}-token vocabulary from the training split; seeded stratified split, seed {seed}: "
            f"train/val/test {sizes['train']:,}/{sizes['val']:,}/{sizes['test']:,})"
        ),
        class_names=list(class_names),
        lengths_train=lengths[train],
        lengths_val=lengths[val],
        lengths_test=lengths[test],
        info={
            **(info or {}),
            "tokens": tokens,
            "tokenization": "kerasrnn.data.vocabulary.tokenize (docs/text.md)",
            "min_count": min_count,
            "max_vocabulary": max_vocabulary,
            "split": {
                "stratified_by": "label" if groups is None else "label and group",
                "seed": seed,
                "validation_fraction": validation_fraction,
                "test_fraction": test_fraction,
                "test_indices_sha256_16": indices_digest(test),
                "validation_indices_sha256_16": indices_digest(val),
            },
            "sizes": sizes,
            "counts": counts,
            "max_length": int(x.shape[1]),
            "unknown_token_rate_held_out": round(unknown_rate, 4),
            "vocabulary": vocabulary.to_config(),
        },
    )


def load_labelled_texts(
    path: str | os.PathLike,
    tokens: str = "word",
    min_count: int = 1,
    max_vocabulary: int | None = None,
    seed: int = 0,
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
) -> SequenceData:
    """A ``label<TAB>text`` / ``text<TAB>label`` file as a text-classification data set (module docstring).

    Raises:
        DataError: For an unreadable file, bad lines (line numbers given) or
            an undetectable label column.
    """
    path = Path(path).expanduser()
    texts, labels, detection, blank = read_labelled_texts(path)
    y, class_names = encode_labels(labels, str(path))
    skipped = f", {blank} blank line(s) skipped" if blank else ""
    return text_classification_data(
        texts,
        y,
        class_names,
        tokens=tokens,
        min_count=min_count,
        max_vocabulary=max_vocabulary,
        seed=seed,
        validation_fraction=validation_fraction,
        test_fraction=test_fraction,
        description=f"labelled texts {path} ({detection}{skipped})",
        info={
            "dataset": "texts",
            "path": str(path),
            "md5": file_md5(path),
            "label_column": detection,
            "blank_lines_skipped": blank,
        },
    )


class LabelledTextsDataset(Dataset):
    """``--data texts.tsv --task text-classification``: the user's labelled texts (:func:`load_labelled_texts`)."""

    name = "texts"
    defaults = dict(
        arch="gru",
        units=64,
        batch_size=32,
        epochs=20,
        lr=3e-3,
        lr_schedule="constant",
        patience=4,
        time_budget=240.0,
    )
    options = ("data_file", "task", "tokens", "min_count", "max_vocabulary", "embeddings")
    loader = staticmethod(load_labelled_texts)

    def load(self) -> SequenceData:
        if not self.config.data_file:
            raise DataError("--task text-classification reads a labelled-text file: give it with --data FILE")
        return load_labelled_texts(self.config.data_file, **text_options(self.config))

    def label(self) -> str:
        return Path(self.config.data_file).stem if self.config.data_file else self.name
