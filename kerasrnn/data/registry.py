"""The data sets ``kerasrnn fit --dataset`` knows: one line each.

Each entry names the module and :class:`~kerasrnn.data.dataset.Dataset`
subclass that implements it, and a one-line description for ``kerasrnn
datasets``.  The module is imported only when the data set is used, so this
registry is read without NumPy work, Keras or TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, NamedTuple

from kerasrnn.errors import ConfigError

if TYPE_CHECKING:
    from kerasrnn.data.dataset import Dataset


class DatasetEntry(NamedTuple):
    """Where a data set is implemented (``"module:Class"``) and what it is."""

    target: str
    description: str


#: Name -> entry.  The user-file data set is ``FILE_DATASET``.
DATASETS: dict[str, DatasetEntry] = {
    "mnist": DatasetEntry(
        "kerasrnn.data.mnist:MnistDataset",
        "MNIST digits as sequences (layout rows 28x28, pixel 784x1 or permuted 784x1); "
        "IDX files, tensorflow-datasets, or the bundled 10k test set (mnist-10k protocol)",
    ),
    "sunspots": DatasetEntry(
        "kerasrnn.data.sunspots:SunspotsDataset",
        "yearly sunspot numbers 1700-2008 (statsmodels), one-step forecasting from past "
        "windows; test years 1989-2008, persistence and AR(9) baselines",
    ),
    "shakespeare": DatasetEntry(
        "kerasrnn.data.text:CharCorpusDataset",
        "bundled tiny-shakespeare (1.1M characters), character-level language model, contiguous 90/5/5 split",
    ),
    "adding": DatasetEntry(
        "kerasrnn.data.adding:AddingDataset",
        "generated adding problem (--length T): sum of the two marked values, MSE beside the 0.167 of answering 1",
    ),
    "copy": DatasetEntry(
        "kerasrnn.data.copy_memory:CopyMemoryDataset",
        "generated copy memory (--length T, the delay): repeat 10 symbols, cross-entropy beside the memoryless one",
    ),
    "arithmetic": DatasetEntry(
        "kerasrnn.data.arithmetic:ArithmeticDataset",
        "generated sums and differences read among distractor letters, answer character by character "
        "(Jozefowicz et al. 2015)",
    ),
    "xml": DatasetEntry(
        "kerasrnn.data.xml_modelling:XmlModellingDataset",
        "generated nested XML tags, character language model; closing tags need memory (Jozefowicz et al. 2015)",
    ),
    "file": DatasetEntry(
        "kerasrnn.data.sequence_file:SequenceFileDataset",
        "your sequences (--data FILE): .npz (x, y) or delimited text, UCR convention (label first)",
    ),
    "fra-eng": DatasetEntry(
        "kerasrnn.data.fra_eng:FraEngDataset",
        "bundled Tatoeba English-French pairs (18,065, CC-BY), translation; seeded 80/10/10 split by unique "
        "English sentence, all French translations as references (BLEU)",
    ),
    "pairs": DatasetEntry(
        "kerasrnn.data.sentence_pairs:SentencePairsDataset",
        "your sentence pairs (--data FILE --task seq2seq): one 'source<TAB>target' a line, split by unique source",
    ),
    "sentiment": DatasetEntry(
        "kerasrnn.data.sentiment:SentimentDataset",
        "bundled UCI Sentiment Labelled Sentences (3,000 amazon/imdb/yelp review sentences), positive or "
        "negative; word tokens, seeded 70/15/15 split stratified by label and site",
    ),
    "texts": DatasetEntry(
        "kerasrnn.data.labelled_texts:LabelledTextsDataset",
        "your labelled texts (--data FILE --task text-classification): 'label<TAB>text' or 'text<TAB>label', detected",
    ),
}

#: The data set of a run that names none.
DEFAULT_DATASET = "mnist"
#: The data set of ``--data FILE``.
FILE_DATASET = "file"


def dataset_class(name: str) -> type[Dataset]:
    """The :class:`Dataset` subclass registered as ``name``.

    Raises:
        ConfigError: For an unknown name, listing the known ones.
    """
    entry = DATASETS.get(name)
    if entry is None:
        raise ConfigError(f"unknown dataset {name!r}; expected one of: {', '.join(DATASETS)}")
    module_name, class_name = entry.target.split(":")
    return getattr(importlib.import_module(module_name), class_name)


def dataset_options() -> dict[str, set[str]]:
    """Data-set-specific option -> the data sets that read it."""
    readers: dict[str, set[str]] = {}
    for name in DATASETS:
        for option in dataset_class(name).options:
            readers.setdefault(option, set()).add(name)
    return readers
