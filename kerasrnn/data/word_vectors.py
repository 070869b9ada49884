"""Pretrained word vectors (``--embeddings FILE``) for a vocabulary's embedding matrix.

The file is the common text format of word2vec and GloVe, UTF-8, optionally
gzip-compressed (``.gz``): one ``token v1 v2 ... vD`` a line, fields separated
by single spaces, and for word2vec a first line ``count D``.  All vectors have
the same ``D``.  A token may itself hold spaces (some GloVe files): the last
``D`` fields are the vector (a line whose field before those is a number
too is taken for a vector with too many values).

:func:`read_word_vectors` fills one row per vocabulary id: the vector of the
token when the file has it (an exact match, else the first token of the file
that lower-cases to it, for cased files such as word2vec's), otherwise random
normal values with the mean and standard deviation of the vectors found
(seeded), and zeros for the padding id 0.  Only the lines of the
vocabulary's tokens are converted to numbers; every line's field count is
checked.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from kerasrnn.data.vocabulary import PAD_ID, Vocabulary
from kerasrnn.errors import DataError


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of every line, decoded as UTF-8 with the line number of a bad byte."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if b"\x00" in raw:
                    raise DataError(
                        f"{path}: line {number} holds a NUL byte; expected the word2vec/GloVe text format "
                        "(binary word2vec files are not read: save them as text, e.g. with gensim's binary=False)"
                    )
                try:
                    yield number, raw.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError as error:
                    raise DataError(
                        f"{path}: line {number} is not UTF-8 ({error.reason} at byte {error.start})"
                    ) from None
    except OSError as error:
        raise DataError(f"cannot read word vectors {path}: {error.strerror or error}") from None


def read_word_vectors(
    path: str | os.PathLike, vocabulary: Vocabulary, dim: int | None = None, seed: int = 0
) -> tuple[np.ndarray, int]:
    """The embedding matrix of ``vocabulary`` from a word2vec/GloVe text file (module docstring).

    Args:
        path: The vectors file.
        vocabulary: Whose ids the rows follow.
        dim: The expected vector width (``None``: the file's).
        seed: Seed of the random rows of tokens the file lacks.

    Returns:
        ``(matrix, found)``: float32 ``(vocabulary.size, D)`` and how many of
        the vocabulary's real tokens (ids 4 and up) the file has.

    Raises:
        DataError: For a missing, empty or binary file, a line with the wrong
            number of fields or a non-number (its line number given), a width
            other than ``dim``, or a file holding none of the tokens.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"word vectors not found: {path}")
    wanted = {token: index for index, token in enumerate(vocabulary.tokens) if index != PAD_ID}
    width: int | None = None
    declared: int | None = None
    exact: dict[int, np.ndarray] = {}
    folded: dict[int, np.ndarray] = {}
    vectors = 0
    for number, line in _lines(path):
        if not line.strip():
            continue
        fields = line.rstrip(" ").split(" ")
        if number == 1 and len(fields) == 2 and all(field.isdigit() for field in fields):
            declared, width = int(fields[0]), int(fields[1])  # word2vec's "count dim" header
            if dim is not None and width != dim:
                raise DataError(f"{path}: the header says {width}-dimensional vectors; expected {dim}")
            continue
        if width is None:
            width = len(fields) - 1
            if width < 1:
                raise DataError(f"{path}: line {number} holds no vector (expected 'token v1 v2 ...')")
            if dim is not None and width != dim:
                raise DataError(f"{path}: line {number} has a {width}-dimensional vector; expected {dim}")
        if len(fields) < width + 1 or (len(fields) > width + 1 and _is_number(fields[-width - 1])):
            raise DataError(
                f"{path}: line {number} has {len(fields) - 1} values after its token; expected {width} "
                f"(as {'the header says' if declared is not None else 'the first vector has'})"
            )
        vectors += 1
        token = " ".join(fields[:-width])
        for key, table in ((token, exact), (token.lower(), folded)):
            index = wanted.get(key)
            if index is not None and index not in table:
                try:
                    table[index] = np.asarray(fields[-width:], dtype=np.float32)
                except ValueError:
                    bad = next(field for field in fields[-width:] if not _is_number(field))
                    raise DataError(f"{path}: line {number}: {bad!r} is not a number") from None
                if not np.isfinite(table[index]).all():
                    raise DataError(f"{path}: line {number}: the vector of {token!r} holds NaN or infinity")
    if width is None or vectors == 0:
        raise DataError(f"word vectors {path} hold no vector (empty file)")
    if declared is not None and declared != vectors:
        raise DataError(f"{path}: the header says {declared} vectors but the file holds {vectors} (truncated?)")
    found_rows = {**folded, **exact}
    if not found_rows:
        raise DataError(
            f"{path}: none of the {vocabulary.size - 4} tokens of the vocabulary is in its {vectors} vectors "
            f"(e.g. {vocabulary.tokens[4:7]!r}); is it the right file for this language and tokenization?"
        )
    found = np.stack(list(found_rows.values()))
    rng = np.random.default_rng(seed)
    matrix = rng.normal(found.mean(), found.std() or 1.0, (vocabulary.size, width)).astype(np.float32)
    matrix[PAD_ID] = 0.0
    for index, vector in found_rows.items():
        matrix[index] = vector
    return matrix, sum(1 for index in found_rows if index >= 4)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
