"""English to French translation on Tatoeba sentence pairs: ``--dataset fra-eng``.

The bundled file (``kerasrnn/data/bundled/fra-eng/fra-eng.txt``, checked by its
MD5) holds 18,065 ``english<TAB>french`` pairs of the Tatoeba project
(tatoeba.org, CC-BY 2.0 FR), the shortest sentences of the pairs distributed
for the classic Keras sequence-to-sequence example; its 10,974 distinct
English sentences have one to many French translations.

The split is seeded (the run's ``seed``) and made by unique English sentence,
80/10/10 of them for train/validation/test: no English sentence lies in two
splits, and every row's ``references`` are all the French translations of its
English sentence, for multi-reference BLEU.  Tokens are words by default
(``tokens="char"`` for characters; rules in :mod:`kerasrnn.data.vocabulary`);
the English and French vocabularies come from the training split only.  The
arrays are those of :func:`~kerasrnn.data.sentence_pairs.sentence_pair_data`:
``x`` = English ids + EOS, ``y`` = BOS + French ids + EOS, both right-padded
with 0.
"""

from __future__ import annotations

import os
from pathlib import Path

from kerasrnn.data.dataset import Dataset
from kerasrnn.data.sentence_pairs import read_sentence_pairs, sentence_pair_data, text_options
from kerasrnn.data.sequence_data import SequenceData
from kerasrnn.data.splits import file_md5
from kerasrnn.errors import DataError

BUNDLED_FRA_ENG = Path(__file__).resolve().parent / "bundled" / "fra-eng" / "fra-eng.txt"
BUNDLED_FRA_ENG_MD5 = "fc3c2b6551a579c119b70725a6d3c2df"


def load_fra_eng(
    path: str | os.PathLike | None = None,
    tokens: str = "word",
    min_count: int = 1,
    max_vocabulary: int | None = None,
    seed: int = 0,
    validation_fraction: float = 0.1,
    test_fraction: float = 0.1,
) -> SequenceData:
    """The English-French pairs, split by unique English sentence (module docstring).

    Args:
        path: The pairs file; ``None`` for the bundled one (its MD5 is checked).
        tokens: ``"word"`` or ``"char"``.
        min_count, max_vocabulary: Of both vocabularies.
        seed: Seed of the split.
        validation_fraction, test_fraction: Fractions of the unique English sentences.

    Returns:
        :class:`SequenceData` with ``task="seq2seq"``, ``references``, and
        ``info["source_vocabulary"]`` / ``info["target_vocabulary"]``
        (:meth:`~kerasrnn.data.vocabulary.Vocabulary.to_config`).

    Raises:
        DataError: For a missing or damaged bundled file or bad lines.
    """
    if path is None:
        path = BUNDLED_FRA_ENG
        md5 = file_md5(path) if path.is_file() else None
        if md5 != BUNDLED_FRA_ENG_MD5:
            raise DataError(
                f"bundled fra-eng {path} is missing or damaged: expected md5 {BUNDLED_FRA_ENG_MD5}, "
                f"found {md5} (reinstall kerasrnn)"
            )
        description = "bundled Tatoeba English-French pairs (CC-BY 2.0 FR)"
    else:
        path = Path(path).expanduser()
        md5 = file_md5(path) if path.is_file() else None
        description = "English-French pairs"
    pairs, blank = read_sentence_pairs(path)
    return sentence_pair_data(
        pairs,
        tokens=tokens,
        min_count=min_count,
        max_vocabulary=max_vocabulary,
        seed=seed,
        validation_fraction=validation_fraction,
        test_fraction=test_fraction,
        description=f"{description} {path}",
        info={
            "dataset": "fra-eng",
            "path": str(path),
            "md5": md5,
            "licence": "Tatoeba (tatoeba.org), CC-BY 2.0 FR",
            "blank_lines_skipped": blank,
        },
    )


class FraEngDataset(Dataset):
    """``--dataset fra-eng``: English to French translation (:func:`load_fra_eng`)."""

    name = "fra-eng"
    # Measured on a 2-core CPU with TensorFlow (docs/text.md): the whole default run,
    # evaluation with beam search included, stays under 15 minutes.
    defaults = dict(
        arch="gru",
        units=256,
        embedding_dim=128,
        dropout=0.3,
        min_count=2,
        batch_size=64,
        epochs=20,
        lr=3e-3,
        lr_schedule="constant",
        patience=3,
        time_budget=720.0,
    )
    options = ("tokens", "min_count", "max_vocabulary", "embeddings")
    loader = staticmethod(load_fra_eng)

    def load(self) -> SequenceData:
        return load_fra_eng(**text_options(self.config))
