"""Sentence pairs for sequence to sequence: ``kerasrnn fit --data pairs.tsv --task seq2seq``.

The file: UTF-8 (a byte-order mark is ignored), one ``source<TAB>target`` pair
a line, any language or script.  Blank lines are skipped and counted; a line
without a tab, with more than one tab, or with an empty side stops the load
with a :class:`~kerasrnn.errors.DataError` naming the line numbers (1-based),
so nothing is dropped unseen.

The split (:func:`sentence_pair_data`, shared with ``--dataset fra-eng``) is
seeded and made by *unique source sentence* (compared lower-cased, outer
whitespace removed): every pair of one source lies in one split, so no source
sentence of the validation or test split was seen in training, and each row's
``references`` are all the targets of its source in the file (raw text), for
multi-reference BLEU.  ``test_fraction`` and ``validation_fraction`` are
fractions of the unique sources.  The vocabularies are built from the training
split only (:class:`~kerasrnn.data.vocabulary.Vocabulary`); other tokens become
``<unk>``.

Arrays: ``x`` int32 ``(N, S)`` = source ids then EOS, right-padded with 0;
``y`` int32 ``(N, T)`` = BOS, target ids, EOS, right-padded with 0 (the widths
are the longest of all splits).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from kerasrnn.data.dataset import Dataset
from kerasrnn.data.sequence_data import SequenceData
from kerasrnn.data.splits import file_md5, held_out_count, indices_digest, stable_permutation
from kerasrnn.data.vocabulary import Vocabulary, tokenize
from kerasrnn.errors import DataError

#: How many bad line numbers an error message lists.
_LISTED = 5


class TextLines(NamedTuple):
    """The non-blank lines of a text file with their 1-based line numbers, and the blank ones counted."""

    lines: list[tuple[int, str]]
    blank: int


def read_text_lines(path: str | os.PathLike, what: str) -> TextLines:
    """The lines of a UTF-8 file (BOM and ``\\r`` removed), blank ones counted apart.

    Raises:
        DataError: For a missing, binary, non-UTF-8 or empty file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what} not found: {path}" if not path.exists() else f"expected a file, got {path}")
    raw = path.read_bytes()
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise DataError(f"{path} looks binary (NUL byte at offset {nul}); expected UTF-8 text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{path} is not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start})") from None
    pieces = text.removeprefix("\ufeff").split("\n")
    if pieces[-1] == "":  # what follows a final newline is not a line
        pieces.pop()
    lines, blank = [], 0
    for number, line in enumerate(pieces, start=1):
        line = line.removesuffix("\r")
        if line.strip():
            lines.append((number, line))
        else:
            blank += 1
    if not lines:
        raise DataError(f"{what} {path} is empty")
    return TextLines(lines, blank)


def bad_lines_error(path: Path, bad: list[tuple[int, str]], expected: str) -> DataError:
    """One message for every bad line: the count, the first line numbers and why."""
    shown = "; ".join(f"line {number}: {why}" for number, why in bad[:_LISTED])
    more = f" (and {len(bad) - _LISTED} more)" if len(bad) > _LISTED else ""
    return DataError(f"{path}: {len(bad)} bad line(s), expected {expected}: {shown}{more}")


def read_sentence_pairs(path: str | os.PathLike) -> tuple[list[tuple[str, str]], int]:
    """The ``(source, target)`` pairs of a ``source<TAB>target`` file and the number of blank lines.

    Raises:
        DataError: For an unreadable file or bad lines (line numbers given).
    """
    path = Path(path)
    read = read_text_lines(path, "sentence-pair file")
    pairs, bad = [], []
    for number, line in read.lines:
        fields = line.split("\t")
        if len(fields) != 2:
            why = "no tab" if len(fields) == 1 else f"{len(fields) - 1} tabs"
            bad.append((number, why))
        elif not fields[0].strip() or not fields[1].strip():
            bad.append((number, f"empty {'source' if not fields[0].strip() else 'target'}"))
        else:
            pairs.append((fields[0].strip(), fields[1].strip()))
    if bad:
        raise bad_lines_error(path, bad, "one 'source<TAB>target' pair a line")
    return pairs, read.blank


def _split_sources(count: int, validation_fraction: float, test_fraction: float, seed: int) -> np.ndarray:
    """Split of every unique source: 0 train, 1 validation, 2 test (seeded)."""
    for name, value in (("validation_fraction", validation_fraction), ("test_fraction", test_fraction)):
        if not 0.0 < value < 1.0:
            raise DataError(f"{name} must be in (0, 1); got {value!r}")
    n_test = held_out_count(count, test_fraction)
    n_val = held_out_count(count, validation_fraction)
    if n_test + n_val >= count:
        raise DataError(
            f"{count} unique source sentences cannot give {n_val} for validation, {n_test} for testing "
            "and some for training; give more pairs"
        )
    order = stable_permutation(count, seed)
    split = np.zeros(count, dtype=np.int64)
    split[order[:n_test]] = 2
    split[order[n_test : n_test + n_val]] = 1
    return split


def _unknown_rate(ids: np.ndarray) -> float:
    """The fraction of the tokens of ``ids`` (reserved ids aside) that are ``<unk>``."""
    real = ids >= 4
    unknown = ids == 1
    total = int(real.sum() + unknown.sum())
    return round(float(unknown.sum()) / total, 4) if total else 0.0


def sentence_pair_data(
    pairs: Sequence[tuple[str, str]],
    *,
    tokens: str = "word",
    min_count: int = 1,
    max_vocabulary: int | None = None,
    seed: int = 0,
    validation_fraction: float = 0.1,
    test_fraction: float = 0.1,
    description: str,
    info: dict[str, Any] | None = None,
) -> SequenceData:
    """Pairs split by unique source, tokenized and encoded (module docstring).

    Args:
        pairs: ``(source, target)`` raw texts.
        tokens: ``"word"`` or ``"char"`` (:func:`~kerasrnn.data.vocabulary.tokenize`).
        min_count, max_vocabulary: Of both vocabularies (:meth:`Vocabulary.build`).
        seed: Seed of the split.
        validation_fraction, test_fraction: Fractions of the unique sources.
        description: The start of :attr:`SequenceData.source` (where the pairs came from).
        info: Facts to record beside the split's (path, checksum ...).
    """
    keys: dict[str, int] = {}
    source_of_pair = np.empty(len(pairs), dtype=np.int64)
    targets_of_source: list[list[str]] = []
    for row, (source, target) in enumerate(pairs):
        key = source.strip().lower()
        index = keys.setdefault(key, len(keys))
        if index == len(targets_of_source):
            targets_of_source.append([])
        targets_of_source[index].append(target)
        source_of_pair[row] = index
    split_of_source = _split_sources(len(keys), validation_fraction, test_fraction, seed)
    split_of_pair = split_of_source[source_of_pair]

    source_tokens = [tokenize(source, tokens) for source, _ in pairs]
    target_tokens = [tokenize(target, tokens) for _, target in pairs]
    train = np.flatnonzero(split_of_pair == 0)
    source_vocabulary = Vocabulary.build(
        [source_tokens[i] for i in train], min_count=min_count, max_size=max_vocabulary, kind=tokens
    )
    target_vocabulary = Vocabulary.build(
        [target_tokens[i] for i in train], min_count=min_count, max_size=max_vocabulary, kind=tokens
    )
    x, _ = source_vocabulary.encode_all(source_tokens, add_eos=True)
    y, _ = target_vocabulary.encode_all(target_tokens, add_bos=True, add_eos=True)

    names = ("train", "val", "test")
    rows = {name: np.flatnonzero(split_of_pair == code) for code, name in enumerate(names)}
    references = {name: [targets_of_source[source_of_pair[i]] for i in rows[name]] for name in names}
    sources = {name: int((split_of_source == code).sum()) for code, name in enumerate(names)}
    sizes = {name: len(rows[name]) for name in names}
    split = {
        "by": "unique source sentence (lower-cased, outer whitespace removed); all its pairs in one split",
        "seed": seed,
        "validation_fraction": validation_fraction,
        "test_fraction": test_fraction,
        "unique_sources": sources,
        "pairs": sizes,
        "test_sources_sha256_16": indices_digest(np.flatnonzero(split_of_source == 2)),
    }
    unknown = {
        name: {
            "source": _unknown_rate(x[rows[name]]),
            "target": _unknown_rate(y[rows[name]]),
        }
        for name in ("val", "test")
    }
    return SequenceData(
        x_train=x[rows["train"]],
        y_train=y[rows["train"]],
        x_val=x[rows["val"]],
        y_val=y[rows["val"]],
        x_test=x[rows["test"]],
        y_test=y[rows["test"]],
        task="seq2seq",
        num_outputs=target_vocabulary.size,
        source=(
            f"{description} ({len(pairs):,} pairs, {len(keys):,} unique sources; {tokens} tokens, "
            f"vocabularies {source_vocabulary.size:,} source / {target_vocabulary.size:,} target from the "
            f"training split; seeded split by unique source, seed {seed}: train/val/test "
            f"{sizes['train']:,}/{sizes['val']:,}/{sizes['test']:,} pairs, "
            f"{sources['train']:,}/{sources['val']:,}/{sources['test']:,} sources)"
        ),
        info={
            **(info or {}),
            "tokens": tokens,
            "tokenization": "kerasrnn.data.vocabulary.tokenize (docs/text.md)",
            "min_count": min_count,
            "max_vocabulary": max_vocabulary,
            "split": split,
            "sizes": sizes,
            "max_length": {"source": int(x.shape[1]), "target": int(y.shape[1])},
            "unknown_token_rate": unknown,
            "source_vocabulary": source_vocabulary.to_config(),
            "target_vocabulary": target_vocabulary.to_config(),
        },
        references=references,
    )


def load_sentence_pairs(
    path: str | os.PathLike,
    tokens: str = "word",
    min_count: int = 1,
    max_vocabulary: int | None = None,
    seed: int = 0,
    validation_fraction: float = 0.1,
    test_fraction: float = 0.1,
) -> SequenceData:
    """A ``source<TAB>target`` file as a sequence-to-sequence data set (module docstring).

    Raises:
        DataError: For an unreadable file or bad lines (line numbers given).
    """
    path = Path(path).expanduser()
    pairs, blank = read_sentence_pairs(path)
    skipped = f", {blank} blank line(s) skipped" if blank else ""
    return sentence_pair_data(
        pairs,
        tokens=tokens,
        min_count=min_count,
        max_vocabulary=max_vocabulary,
        seed=seed,
        validation_fraction=validation_fraction,
        test_fraction=test_fraction,
        description=f"sentence pairs {path}{skipped}",
        info={"dataset": "pairs", "path": str(path), "md5": file_md5(path), "blank_lines_skipped": blank},
    )


def text_options(config, default_tokens: str = "word") -> dict[str, Any]:
    """The loader options of the text data sets from a run's options."""
    options: dict[str, Any] = {
        "tokens": config.tokens or default_tokens,
        "min_count": config.min_count,
        "max_vocabulary": config.max_vocabulary,
        "seed": config.seed,
    }
    if config.validation_fraction is not None:
        options["validation_fraction"] = config.validation_fraction
    return options


class SentencePairsDataset(Dataset):
    """``--data pairs.tsv --task seq2seq``: the user's sentence pairs (:func:`load_sentence_pairs`)."""

    name = "pairs"
    defaults = dict(
        arch="gru",
        units=256,
        batch_size=64,
        epochs=20,
        lr=2e-3,
        lr_schedule="constant",
        patience=3,
        time_budget=780.0,
    )
    options = ("data_file", "task", "tokens", "min_count", "max_vocabulary", "embeddings")
    loader = staticmethod(load_sentence_pairs)

    def load(self) -> SequenceData:
        if not self.config.data_file:
            raise DataError("--task seq2seq reads a sentence-pair file: give it with --data FILE")
        return load_sentence_pairs(self.config.data_file, **text_options(self.config))

    def label(self) -> str:
        return Path(self.config.data_file).stem if self.config.data_file else self.name
