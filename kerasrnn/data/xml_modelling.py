"""The XML-modelling task of Jozefowicz, Zaremba & Sutskever 2015.

What the paper describes ("An Empirical Exploration of Recurrent Network
Architectures", ICML 2015, section 3.1 "XML modeling"): predict
the next character of synthetic XML; tags are random strings of 2 to 10
lowercase letters; at each step a new random tag is opened, or the most
recently opened one is closed, at random; an opening tag can be any string,
but the closing tags are determined by what was opened before, so predicting
them needs memory of the open tags, in order.  The paper reports accuracy.

What this module implements:

* a document is a stream of tags, each followed by a newline: while no tag
  is open, or with probability 1/2, a new tag opens (``<name>``, the name of
  ``2 .. 10`` letters, length and letters uniform); otherwise the most
  recent open tag closes (``</name>``); no depth limit;
* each sample is the first ``length + 1`` characters of its own document
  (so every tag a window closes was opened in it): ``x`` the first
  ``length`` characters, ``y`` the same shifted by one (the ``language_model``
  task: cross-entropy, bits per character and next-character accuracy over
  all steps, as ``--dataset shakespeare``; ``kerasrnn generate`` samples it);
* ``closing_accuracy``: the accuracy on the characters that the history
  determines and that need memory, the name letters and the ``>`` of every
  closing tag (after ``</``); the ``/`` itself is a coin flip and not
  counted.

The vocabulary is the 26 letters, ``<``, ``>``, ``/`` and the newline.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any

import numpy as np

from kerasrnn.data import generated_task
from kerasrnn.data.sequence_data import SequenceData
from kerasrnn.data.text import CharVocabulary

VOCABULARY = CharVocabulary(sorted(string.ascii_lowercase + "<>/\n"))
#: Shortest and longest tag name (the paper's).
NAME_LENGTHS = (2, 10)
OPEN_PROBABILITY = 0.5
DEFAULT_LENGTH = 100
DEFAULT_SAMPLES = 10_000


def xml_document(characters: int, rng: np.random.Generator) -> str:
    """At least ``characters`` characters of one random document."""
    pieces: list[str] = []
    size = 0
    stack: list[str] = []
    low, high = NAME_LENGTHS
    while size < characters:
        if not stack or rng.random() < OPEN_PROBABILITY:
            count = int(generated_task.uniform_integers(rng, low, high + 1, 1)[0])
            name = "".join(string.ascii_lowercase[int(i)] for i in generated_task.uniform_integers(rng, 0, 26, count))
            stack.append(name)
            tag = f"<{name}>\n"
        else:
            tag = f"</{stack.pop()}>\n"
        pieces.append(tag)
        size += len(tag)
    return "".join(pieces)


def closing_tag_mask(ids: np.ndarray) -> np.ndarray:
    """Where a character of ``ids`` ``(N, T)`` is a name letter or the ``>`` of a closing tag."""
    ids = np.asarray(ids)
    opening, slash, close = (int(VOCABULARY.encode(char)[0]) for char in "</>")
    mask = np.zeros(ids.shape, dtype=bool)
    for row, sequence in zip(mask, ids):
        inside = False
        for t, token in enumerate(sequence):
            if inside:
                row[t] = True
                inside = token != close
            elif token == slash and t > 0 and sequence[t - 1] == opening:
                inside = True
    return mask


def load_xml_modelling(
    length: int = DEFAULT_LENGTH,
    samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
    validation_fraction: float | None = None,
) -> SequenceData:
    """Random XML as next-character prediction, split train / validation / test.

    Args:
        length: Characters per sample (time steps; at least 2).
        samples: Samples (documents) generated in all (test: the last 10%).
        seed: Seed of the generator.
        validation_fraction: Of the non-test samples (default 0.1).

    Returns:
        :class:`SequenceData` with ``task="language_model"``, int32 ``x`` and
        ``y`` ``(N, length)`` and ``info["vocabulary"]``.
    """
    length = generated_task.check_count("xml length", length, 2)
    samples = generated_task.check_count("xml samples", samples, 3)
    sizes = generated_task.split_sizes(samples, validation_fraction)
    rng = generated_task.task_rng(seed)
    ids = np.stack([VOCABULARY.encode(xml_document(length + 1, rng)[: length + 1]) for _ in range(samples)])
    parts = generated_task.split((ids[:, :-1], ids[:, 1:]), sizes)
    return SequenceData(
        **parts,
        task="language_model",
        num_outputs=VOCABULARY.size,
        source=f"generated XML ({samples} documents x {length} characters, seed {seed})",
        info={
            "dataset": "xml",
            "length": length,
            "samples": samples,
            **generated_task.split_info(sizes, seed),
            "generator": "open a random tag (2-10 letters) with probability 1/2 or when none is open, "
            "else close the last; one tag per line",
            "example": VOCABULARY.decode(ids[0][: min(length + 1, 80)]),
            "vocabulary": VOCABULARY.to_config(),
        },
    )


def closing_accuracy(logits: np.ndarray, targets: np.ndarray) -> float:
    """Next-character accuracy on the closing tags' letters and ``>``."""
    mask = closing_tag_mask(targets)
    if not mask.any():
        return float("nan")
    return float(np.mean((np.asarray(logits).argmax(axis=-1) == np.asarray(targets))[mask]))


class XmlModellingDataset(generated_task.GeneratedTaskDataset):
    """``--dataset xml``: a character-level language model of random nested tags."""

    name = "xml"
    defaults = dict(generated_task.TASK_DEFAULTS, units=128, batch_size=64, epochs=30, lr=3e-3, time_budget=240.0)
    options = ("length", "samples")
    loader = staticmethod(load_xml_modelling)
    option_defaults = {"length": DEFAULT_LENGTH, "samples": DEFAULT_SAMPLES}

    def split_metrics(
        self,
        metrics: dict[str, float],
        data: SequenceData,
        split: str,
        predict: Callable[[], np.ndarray],
    ) -> dict[str, Any]:
        return {**metrics, "closing_accuracy": closing_accuracy(predict(), getattr(data, f"y_{split}"))}
