"""Real data for ``kerasrnn fit``: data sets behind one interface, returned as :class:`SequenceData`.

* :class:`Dataset` (:mod:`kerasrnn.data.dataset`) is the interface a data set
  implements; :data:`DATASETS` (:mod:`kerasrnn.data.registry`) lists them,
  :func:`dataset_class` finds one by name.
* :func:`load_dataset` loads a data set by name, or a user file by path, with
  its loader's own keyword arguments (library use).
* File formats have one parser each in :mod:`kerasrnn.data.formats`.

Importing this package is cheap: NumPy only.  TensorFlow,
tensorflow-datasets, statsmodels and Keras are imported by the functions that
need them (:mod:`kerasrnn.data.length_buckets` imports Keras and is not
imported here).
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

from kerasrnn.data.dataset import Dataset
from kerasrnn.data.registry import DATASETS, FILE_DATASET, dataset_class
from kerasrnn.data.sequence_data import PAD_VALUE, TASKS, SequenceData
from kerasrnn.data.vocabulary import Vocabulary, detokenize, tokenize
from kerasrnn.data.word_vectors import read_word_vectors
from kerasrnn.errors import DataError


def load_dataset(name: str | os.PathLike, **options: Any) -> SequenceData:
    """Load a data set by name, or a user file by path.

    Args:
        name: A key of :data:`DATASETS`, or the path of a ``.npz`` /
            delimited-text file (or a UCR directory).
        **options: Keyword arguments of the data set's loader
            (:attr:`Dataset.loader`; e.g. ``layout="pixel"`` for MNIST,
            ``window=12`` for sunspots, ``seq_len=100`` for shakespeare,
            ``label_col=0`` for files).

    Raises:
        DataError: For an unknown name (listing the accepted ones), an option
            the loader does not accept (listing those it does), or bad data.
    """
    key = str(name)
    if key in DATASETS and key != FILE_DATASET:
        loader = dataset_class(key).loader
    elif Path(key).expanduser().exists():
        loader = dataset_class(FILE_DATASET).loader
        options = {"path": key, **options}
    else:
        names = sorted(set(DATASETS) - {FILE_DATASET})
        raise DataError(
            f"unknown data set {key!r}: expected one of {', '.join(names)} "
            f"or the path of an existing .npz / .csv / .tsv / .txt file"
        )
    accepted = inspect.signature(loader).parameters
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        allowed = [p for p in accepted if p != "path"]
        raise DataError(
            f"data set {key!r} does not accept option(s) {', '.join(unknown)}; accepted: {', '.join(allowed)}"
        )
    return loader(**options)


__all__ = [
    "DATASETS",
    "PAD_VALUE",
    "TASKS",
    "DataError",
    "Dataset",
    "SequenceData",
    "Vocabulary",
    "dataset_class",
    "detokenize",
    "load_dataset",
    "read_word_vectors",
    "tokenize",
]
