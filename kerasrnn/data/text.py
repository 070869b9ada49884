"""Character-level language-modelling data (char-RNN).

:class:`CharCorpusDataset` is ``--dataset shakespeare``.
:func:`load_char_corpus` turns a UTF-8 text file into many-to-many training
pairs: ``x`` holds ``seq_len`` token ids and ``y`` the same window shifted by
one character (the next character at every step).  Windows do not overlap.

The corpus is split *contiguously*, in this order: the first
``1 - validation_fraction - test_fraction`` of the characters (default 90%)
for training, the next ``validation_fraction`` (5%) for validation, the last
``test_fraction`` (5%) for testing.  Contiguous splits keep held-out text
unseen (random windows of one text would leak neighbouring context).

The vocabulary is built from the whole corpus, so every held-out character
can be encoded; it is stored in ``info["vocabulary"]`` and restored with
:meth:`CharVocabulary.from_config`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kerasrnn.data.dataset import Dataset
from kerasrnn.data.sequence_data import SequenceData
from kerasrnn.data.splits import file_md5
from kerasrnn.errors import DataError

BUNDLED_SHAKESPEARE = Path(__file__).resolve().parent / "bundled" / "tinyshakespeare" / "input.txt"
BUNDLED_SHAKESPEARE_MD5 = "6fb458f1232090904fb40fe944165e91"


class CharVocabulary:
    """A bijection between characters and the ids ``0 .. size - 1``.

    Args:
        chars: The characters, each exactly once; ``chars[i]`` gets id ``i``.
    """

    def __init__(self, chars: Sequence[str]):
        chars = list(chars)
        if not chars:
            raise DataError("a character vocabulary needs at least one character; got none")
        for char in chars:
            if not isinstance(char, str) or len(char) != 1:
                raise DataError(f"vocabulary entries must be single characters; got {char!r}")
        if len(set(chars)) != len(chars):
            duplicates = sorted({char for char in chars if chars.count(char) > 1})
            raise DataError(f"vocabulary characters must be unique; repeated: {duplicates!r}")
        self._chars = chars
        self._ids = {char: index for index, char in enumerate(chars)}

    @classmethod
    def from_text(cls, text: str) -> CharVocabulary:
        """The vocabulary of the distinct characters of ``text``, in code-point order."""
        return cls(sorted(set(text)))

    @property
    def size(self) -> int:
        """Number of characters (the model's output size)."""
        return len(self._chars)

    def __len__(self) -> int:
        return self.size

    @property
    def chars(self) -> list[str]:
        """The characters, index ``i`` holding the character of id ``i``."""
        return list(self._chars)

    def encode(self, text: str) -> np.ndarray:
        """int32 ids of the characters of ``text``.

        Raises:
            DataError: If ``text`` holds a character outside the vocabulary.
        """
        try:
            return np.fromiter((self._ids[char] for char in text), dtype=np.int32, count=len(text))
        except KeyError as error:
            char = error.args[0]
            raise DataError(
                f"character {char!r} at position {text.index(char)} is not in the {self.size}-character vocabulary"
            ) from None

    def decode(self, ids: Iterable[int]) -> str:
        """The text of a sequence of ids.

        Raises:
            DataError: If an id is outside ``0 .. size - 1``.
        """
        ids = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= self.size):
            bad = ids[(ids < 0) | (ids >= self.size)][0]
            raise DataError(f"token id {int(bad)} is outside the vocabulary range 0..{self.size - 1}")
        return "".join(self._chars[int(index)] for index in ids)

    def to_config(self) -> dict:
        """JSON-serialisable form, for the run directory."""
        return {"chars": list(self._chars)}

    @classmethod
    def from_config(cls, config: dict) -> CharVocabulary:
        """Inverse of :meth:`to_config`."""
        if not isinstance(config, dict) or "chars" not in config:
            raise DataError(f"expected a vocabulary config with a 'chars' list; got {config!r:.80}")
        return cls(config["chars"])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharVocabulary) and self._chars == other._chars

    def __repr__(self) -> str:
        return f"CharVocabulary(size={self.size})"


def read_text_file(path: str | os.PathLike) -> str:
    """Read a UTF-8 text file, with actionable errors for unusable files.

    Raises:
        DataError: If the file is missing, a directory, binary (NUL bytes or
            not UTF-8) or empty.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"text corpus not found: {path}")
    if path.is_dir():
        raise DataError(f"expected a text file, got a directory: {path}")
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(f"text corpus {path} is empty")
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise DataError(f"{path} looks binary (NUL byte at offset {nul}); expected UTF-8 text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{path} is not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start})") from None
    return text.lstrip("\ufeff")  # drop a byte-order mark


def _windows(ids: np.ndarray, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping ``(x, y)`` windows, ``y`` being ``x`` shifted by one."""
    count = (len(ids) - 1) // seq_len
    x = ids[: count * seq_len].reshape(count, seq_len)
    y = ids[1 : count * seq_len + 1].reshape(count, seq_len)
    return x, y


def load_char_corpus(
    path: str | os.PathLike | None = None,
    seq_len: int = 100,
    validation_fraction: float = 0.05,
    test_fraction: float = 0.05,
    max_chars: int | None = None,
) -> SequenceData:
    """A character corpus as next-character prediction windows.

    Args:
        path: A UTF-8 text file; ``None`` for the bundled tiny-shakespeare
            (Karpathy's ``input.txt``, 1,115,394 characters).
        seq_len: Characters per window (time steps).
        validation_fraction: Fraction of the corpus, after the training part,
            used for validation.
        test_fraction: Fraction at the end of the corpus used for testing.
        max_chars: Use only the first ``max_chars`` characters (quick runs).

    Returns:
        :class:`SequenceData` with ``task="language_model"``, int32 ``x`` and
        ``y`` of shape ``(N, seq_len)``, ``num_outputs`` = vocabulary size and
        ``info["vocabulary"]`` = :meth:`CharVocabulary.to_config`.

    Raises:
        DataError: For a missing, empty, binary or too short file, or bad
            arguments.
    """
    if isinstance(seq_len, bool) or not isinstance(seq_len, (int, np.integer)) or seq_len < 1:
        raise DataError(f"seq_len must be a positive integer; got {seq_len!r}")
    seq_len = int(seq_len)
    for name, value in (("validation_fraction", validation_fraction), ("test_fraction", test_fraction)):
        if not 0.0 < value < 1.0:
            raise DataError(f"{name} must be in (0, 1); got {value!r}")
    if validation_fraction + test_fraction >= 1.0:
        raise DataError(
            "validation_fraction + test_fraction must leave text for training; "
            f"got {validation_fraction} + {test_fraction}"
        )
    if max_chars is not None and (not isinstance(max_chars, (int, np.integer)) or max_chars < 1):
        raise DataError(f"max_chars must be a positive integer or None; got {max_chars!r}")

    if path is None:
        path = BUNDLED_SHAKESPEARE
        md5 = file_md5(path) if path.is_file() else None
        if md5 != BUNDLED_SHAKESPEARE_MD5:
            raise DataError(
                f"bundled tiny-shakespeare {path} is missing or damaged: expected md5 "
                f"{BUNDLED_SHAKESPEARE_MD5}, found {md5} (reinstall kerasrnn)"
            )
        description = "bundled tiny-shakespeare"
    else:
        path = Path(path).expanduser()
        description = "character corpus"
        md5 = None
    text = read_text_file(path)
    md5 = md5 or file_md5(path)
    total_chars = len(text)
    if max_chars is not None:
        text = text[: int(max_chars)]

    n = len(text)
    n_test = int(n * test_fraction)
    n_val = int(n * validation_fraction)
    n_train = n - n_val - n_test
    smallest = min(n_train, n_val, n_test)
    if smallest < seq_len + 1:
        needed = int(np.ceil((seq_len + 1) / min(validation_fraction, test_fraction))) + 1
        raise DataError(
            f"{path} is too short: {n} characters give {n_train}/{n_val}/{n_test} for "
            f"train/val/test, but each part needs at least seq_len + 1 = {seq_len + 1} "
            f"(about {needed} characters in all; lower seq_len or use a longer text)"
        )

    vocabulary = CharVocabulary.from_text(text)
    ids = vocabulary.encode(text)
    parts = {
        "train": ids[:n_train],
        "val": ids[n_train : n_train + n_val],
        "test": ids[n_train + n_val :],
    }
    windows = {name: _windows(part, seq_len) for name, part in parts.items()}

    used = f"first {n:,} of {total_chars:,} characters" if n < total_chars else f"{n:,} characters"
    return SequenceData(
        x_train=windows["train"][0],
        y_train=windows["train"][1],
        x_val=windows["val"][0],
        y_val=windows["val"][1],
        x_test=windows["test"][0],
        y_test=windows["test"][1],
        task="language_model",
        num_outputs=vocabulary.size,
        source=(
            f"{description} {path} ({used}, {vocabulary.size}-character vocabulary, "
            f"contiguous train/val/test {n_train:,}/{n_val:,}/{n_test:,} characters, "
            f"seq_len {seq_len})"
        ),
        info={
            "dataset": "char_corpus",
            "path": str(path),
            "md5": md5,
            "characters_total": total_chars,
            "characters_used": n,
            "seq_len": seq_len,
            "split": "contiguous: train, then validation, then test",
            "split_characters": {
                "train": [0, n_train],
                "val": [n_train, n_train + n_val],
                "test": [n_train + n_val, n],
            },
            "validation_fraction": validation_fraction,
            "test_fraction": test_fraction,
            "windows": "non-overlapping; y is x shifted by one character",
            "vocabulary": vocabulary.to_config(),
        },
    )


class CharCorpusDataset(Dataset):
    """``--dataset shakespeare``: a character language model on a UTF-8 corpus.

    The corpus is the bundled tiny-shakespeare unless ``text_file`` names
    another; it is split contiguously into train / validation / test.
    """

    name = "shakespeare"
    defaults = dict(
        arch="gru",
        units=256,
        batch_size=32,
        epochs=30,
        lr=5e-3,
        lr_schedule="cosine",
        patience=4,
        augment_shift=0,
        time_budget=240.0,
    )
    options = ("text_file", "seq_len", "max_chars")
    loader = staticmethod(load_char_corpus)

    def load(self) -> SequenceData:
        config = self.config
        options: dict[str, Any] = {"seq_len": config.seq_len}
        if config.max_chars:
            options["max_chars"] = config.max_chars
        if config.validation_fraction is not None:
            options["validation_fraction"] = config.validation_fraction
        return load_char_corpus(config.text_file, **options)
