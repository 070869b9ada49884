"""Real data sets for ``kerasrnn fit``, returned as :class:`SequenceData`.

Built-in data sets (:data:`DATASETS`) are loaded by name with
:func:`load_dataset`; any other name that is an existing path goes to
:func:`load_sequence_file` (``.npz`` or delimited text, UCR convention).

Importing this package is cheap: NumPy only.  TensorFlow,
tensorflow-datasets, statsmodels and Keras are imported by the functions that
need them (:mod:`kerasrnn.data.length_buckets` imports Keras and is not
imported here).
"""

from __future__ import annotations

import importlib
import inspect
import os
from pathlib import Path

from kerasrnn.data.dataset import PAD_VALUE, TASKS, DataError, SequenceData

#: Built-in data sets: name -> one-line description.
DATASETS: dict[str, str] = {
    "mnist": (
        "MNIST digits as sequences (layout rows 28x28, pixel 784x1 or permuted 784x1); "
        "IDX files, tensorflow-datasets, or the bundled 10k test set (mnist-10k protocol)"
    ),
    "sunspots": (
        "yearly sunspot numbers 1700-2008 (statsmodels), one-step forecasting from past "
        "windows; test years 1989-2008, persistence and AR(9) baselines"
    ),
    "shakespeare": (
        "bundled tiny-shakespeare (1.1M characters), character-level language model, "
        "contiguous 90/5/5 split"
    ),
}

# name -> (module, function); imported on first use.
_LOADERS = {
    "mnist": ("kerasrnn.data.mnist", "load_mnist"),
    "sunspots": ("kerasrnn.data.sunspots", "load_sunspots"),
    "shakespeare": ("kerasrnn.data.text", "load_char_corpus"),
    "file": ("kerasrnn.data.sequence_file", "load_sequence_file"),
}


def _loader(key: str):
    module_name, function_name = _LOADERS[key]
    return getattr(importlib.import_module(module_name), function_name)


def load_dataset(name: str | os.PathLike, **options) -> SequenceData:
    """Load a built-in data set by name, or a user file by path.

    Args:
        name: A key of :data:`DATASETS`, or the path of a ``.npz`` /
            delimited-text file (or a UCR directory).
        **options: Keyword arguments of the loader (e.g. ``layout="pixel"``
            for MNIST, ``window=12`` for sunspots, ``seq_len=100`` for
            shakespeare, ``label_col=0`` for files).

    Raises:
        DataError: For an unknown name (listing the accepted ones), an option
            the loader does not accept (listing those it does), or bad data.
    """
    key = str(name)
    if key in DATASETS:
        loader = _loader(key)
    elif Path(key).expanduser().exists():
        loader = _loader("file")
        options = {"path": key, **options}
    else:
        raise DataError(
            f"unknown data set {key!r}: expected one of {', '.join(sorted(DATASETS))} "
            f"or the path of an existing .npz / .csv / .tsv / .txt file"
        )
    accepted = inspect.signature(loader).parameters
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        allowed = [p for p in accepted if p != "path"]
        raise DataError(
            f"data set {key!r} does not accept option(s) {', '.join(unknown)}; "
            f"accepted: {', '.join(allowed)}"
        )
    return loader(**options)


def load_sequence_file(path, **options) -> SequenceData:
    """See :func:`kerasrnn.data.sequence_file.load_sequence_file` (imported lazily)."""
    return _loader("file")(path, **options)


def load_mnist(**options) -> SequenceData:
    """See :func:`kerasrnn.data.mnist.load_mnist` (imported lazily)."""
    return _loader("mnist")(**options)


def load_sunspots(**options) -> SequenceData:
    """See :func:`kerasrnn.data.sunspots.load_sunspots` (imported lazily)."""
    return _loader("sunspots")(**options)


def load_char_corpus(path=None, **options) -> SequenceData:
    """See :func:`kerasrnn.data.text.load_char_corpus` (imported lazily)."""
    return _loader("shakespeare")(path, **options)


__all__ = [
    "DATASETS",
    "PAD_VALUE",
    "TASKS",
    "DataError",
    "SequenceData",
    "load_char_corpus",
    "load_dataset",
    "load_mnist",
    "load_sequence_file",
    "load_sunspots",
]
