"""Sentence sentiment, positive or negative: ``--dataset sentiment``.

The bundled UCI "Sentiment Labelled Sentences" (Kotzias et al., "From Group to
Individual Labels using Deep Features", KDD 2015; files in
``kerasrnn/data/bundled/sentiment/``, checked by their MD5): 3,000 review
sentences, ``sentence<TAB>label`` (1 positive, 0 negative), 1,000 from each
of amazon.com (phones), imdb.com (films) and yelp.com (restaurants), half of
them positive (imdb: 999 sentences, 500 positive; its file starts with a
byte-order mark, which is ignored, and some sentences end in spaces, which are
removed).

Word tokens (:mod:`kerasrnn.data.vocabulary`), a vocabulary from the training
split only, ``x`` int32 ``(N, T)`` ids right-padded with 0 with the true
lengths in ``lengths_*``, ``y`` 0 (negative) / 1 (positive).  The split is
seeded (the run's ``seed``) and stratified by label *and* site: 70/15/15, so
each split holds the same share of every site's positives and negatives.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kerasrnn.data.dataset import Dataset
from kerasrnn.data.labelled_texts import text_classification_data
from kerasrnn.data.sentence_pairs import bad_lines_error, read_text_lines, text_options
from kerasrnn.data.sequence_data import SequenceData
from kerasrnn.data.splits import file_md5
from kerasrnn.errors import DataError

BUNDLED_SENTIMENT = Path(__file__).resolve().parent / "bundled" / "sentiment"
#: Site -> (file, md5).
SENTIMENT_FILES = {
    "amazon": ("amazon_cells_labelled.txt", "682cc32b997e77c6ad274559365690b4"),
    "imdb": ("imdb_labelled.txt", "3a9324647bf8e168b4c3ea770f66f957"),
    "yelp": ("yelp_labelled.txt", "3a7fe2c38dc373d2ca8e687d6226a82e"),
}
CLASS_NAMES = ["negative", "positive"]


def read_sentiment_file(path: Path) -> tuple[list[str], list[int]]:
    """The sentences and 0/1 labels of one ``sentence<TAB>label`` file.

    Raises:
        DataError: For bad lines, with their line numbers.
    """
    read = read_text_lines(path, "sentiment file")
    texts, labels, bad = [], [], []
    for number, line in read.lines:
        fields = line.split("\t")
        if len(fields) != 2 or fields[1].strip() not in ("0", "1") or not fields[0].strip():
            why = f"got {line[-20:]!r}" if len(fields) == 2 else "no tab" if len(fields) == 1 else "2+ tabs"
            bad.append((number, why))
            continue
        texts.append(fields[0].strip())
        labels.append(int(fields[1]))
    if bad:
        raise bad_lines_error(path, bad, "'sentence<TAB>0' or 'sentence<TAB>1'")
    return texts, labels


def load_sentiment(
    directory: str | Path | None = None,
    tokens: str = "word",
    min_count: int = 1,
    max_vocabulary: int | None = None,
    seed: int = 0,
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
) -> SequenceData:
    """The three sites' sentences, split 70/15/15 stratified by label and site (module docstring).

    Args:
        directory: Holding the three files; ``None`` for the bundled ones (their MD5 are checked).
        tokens: ``"word"`` (default) or ``"char"``.
        min_count, max_vocabulary: The vocabulary's limits.
        seed: Seed of the split.
        validation_fraction, test_fraction: Fractions of all sentences.

    Returns:
        :class:`SequenceData` with ``task="text_classification"``, class names
        negative / positive, ``info["vocabulary"]`` and per-site counts.

    Raises:
        DataError: For a missing or damaged bundled file or bad lines.
    """
    bundled = directory is None
    directory = BUNDLED_SENTIMENT if bundled else Path(directory).expanduser()
    texts: list[str] = []
    labels: list[int] = []
    sites: list[int] = []
    checksums = {}
    for site_index, (name, expected) in enumerate(SENTIMENT_FILES.values()):
        path = directory / name
        md5 = file_md5(path) if path.is_file() else None
        if bundled and md5 != expected:
            raise DataError(
                f"bundled sentiment file {path} is missing or damaged: expected md5 {expected}, found {md5} "
                "(reinstall kerasrnn)"
            )
        site_texts, site_labels = read_sentiment_file(path)
        texts += site_texts
        labels += site_labels
        sites += [site_index] * len(site_texts)
        checksums[name] = md5
    return text_classification_data(
        texts,
        np.asarray(labels, dtype=np.int32),
        CLASS_NAMES,
        groups=[list(SENTIMENT_FILES)[site] for site in sites],
        tokens=tokens,
        min_count=min_count,
        max_vocabulary=max_vocabulary,
        seed=seed,
        validation_fraction=validation_fraction,
        test_fraction=test_fraction,
        description=f"{'bundled ' if bundled else ''}UCI Sentiment Labelled Sentences (amazon, imdb, yelp) {directory}",
        info={
            "dataset": "sentiment",
            "path": str(directory),
            "md5": checksums,
            "citation": "Kotzias et al., From Group to Individual Labels using Deep Features, KDD 2015",
        },
    )


class SentimentDataset(Dataset):
    """``--dataset sentiment``: is a review sentence positive? (:func:`load_sentiment`)."""

    name = "sentiment"
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
    options = ("tokens", "min_count", "max_vocabulary", "embeddings")
    loader = staticmethod(load_sentiment)

    def load(self) -> SequenceData:
        return load_sentiment(**text_options(self.config))
