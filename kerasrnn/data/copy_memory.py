"""The copy-memory task: repeat ten symbols after a long delay.

Arjovsky et al. 2016 ("Unitary Evolution Recurrent Neural Networks",
section 4.1), after Hochreiter & Schmidhuber 1997.  Alphabet ``0 .. 9``:
``0`` is the blank, ``1 .. 8`` the data symbols, ``9`` the delimiter.  For a
delay ``T`` a sequence has ``T + 20`` steps:

* input: 10 symbols drawn uniformly from ``1 .. 8``, then ``T - 1`` blanks,
  the delimiter, and 10 blanks;
* target: ``T + 10`` blanks, then the 10 symbols in their order.

It is per-step labelling (many-to-many): the inputs are one-hot ``(T + 20,
10)``, the targets one class per step, and the loss the cross-entropy
averaged over all ``T + 20`` steps, as in the paper.  The memoryless strategy
(blanks until the delimiter, then a uniform guess among the 8 symbols) scores
``10 log(8) / (T + 20)`` nats per step, the paper's baseline; a model beats
it only by carrying the symbols across the delay.  Each split's metrics add
the cross-entropy and the accuracy of the last 10 steps alone
(``copy_loss``, ``copy_accuracy``), beside the memoryless ones
(``memoryless_loss``, ``memoryless_copy_loss`` = log 8,
``memoryless_copy_accuracy`` = 1/8).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from kerasrnn.data import generated_task
from kerasrnn.data.sequence_data import SequenceData

#: Symbols to remember, and blanks after the delimiter.
COPIED = 10
#: Data symbols ``1 .. DATA_SYMBOLS``.
DATA_SYMBOLS = 8
BLANK = 0
DELIMITER = 9
ALPHABET = 10
DEFAULT_LENGTH = 100
DEFAULT_SAMPLES = 10_000
#: Keras' clipping of probabilities in its cross-entropy.
_EPSILON = 1e-7


def memoryless_loss(delay: int) -> float:
    """Cross-entropy per step (nats) of the memoryless strategy: ``10 log 8 / (T + 20)``."""
    return COPIED * math.log(DATA_SYMBOLS) / (delay + 2 * COPIED)


def copy_memory_problem(delay: int, samples: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``samples`` copy-memory sequences with delay ``delay``.

    Returns:
        ``x`` float32 one-hot ``(samples, delay + 20, 10)`` and ``y`` int32
        ``(samples, delay + 20)``.
    """
    steps = delay + 2 * COPIED
    symbols = generated_task.uniform_integers(rng, 1, DATA_SYMBOLS + 1, (samples, COPIED))
    inputs = np.full((samples, steps), BLANK, dtype=np.int64)
    inputs[:, :COPIED] = symbols
    inputs[:, COPIED + delay - 1] = DELIMITER
    targets = np.full((samples, steps), BLANK, dtype=np.int32)
    targets[:, -COPIED:] = symbols
    x = np.eye(ALPHABET, dtype=np.float32)[inputs]
    return x, targets


def load_copy_memory(
    length: int = DEFAULT_LENGTH,
    samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
    validation_fraction: float | None = None,
) -> SequenceData:
    """The copy-memory task with delay ``length``, split train / validation / test.

    Args:
        length: The delay ``T`` (sequences have ``T + 20`` steps; at least 1).
        samples: Sequences generated in all (test: the last 10%).
        seed: Seed of the generator.
        validation_fraction: Of the non-test sequences (default 0.1).

    Returns:
        :class:`SequenceData` with ``task="labelling"``, ``num_outputs=10``.
    """
    delay = generated_task.check_count("copy length (the delay T)", length, 1)
    samples = generated_task.check_count("copy samples", samples, 3)
    sizes = generated_task.split_sizes(samples, validation_fraction)
    x, y = copy_memory_problem(delay, samples, generated_task.task_rng(seed))
    return SequenceData(
        **generated_task.split((x, y), sizes),
        task="labelling",
        num_outputs=ALPHABET,
        source=f"generated copy memory (delay {delay}, {samples} x {delay + 2 * COPIED} steps, seed {seed})",
        class_names=["blank", *(str(s) for s in range(1, DATA_SYMBOLS + 1)), "delimiter"],
        info={
            "dataset": "copy",
            "length": delay,
            "steps": delay + 2 * COPIED,
            "samples": samples,
            **generated_task.split_info(sizes, seed),
            "inputs": "one-hot: 10 symbols from 1..8, T-1 blanks (0), the delimiter (9), 10 blanks",
            "targets": "T+10 blanks, then the 10 symbols",
            "baselines": {
                "memoryless_loss": memoryless_loss(delay),
                "memoryless_copy_loss": math.log(DATA_SYMBOLS),
                "memoryless_copy_accuracy": 1.0 / DATA_SYMBOLS,
                "method": "blanks until the delimiter, then uniform over 1..8: 10 log 8 / (T + 20) nats per step",
            },
        },
    )


def copy_metrics(probabilities: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """Cross-entropy (nats) and accuracy of the last 10 steps, the copied symbols."""
    probabilities = np.asarray(probabilities, dtype=np.float64)[:, -COPIED:]
    targets = np.asarray(targets)[:, -COPIED:]
    chosen = np.take_along_axis(probabilities, targets[..., None].astype(np.int64), axis=-1)[..., 0]
    return {
        "copy_loss": float(-np.mean(np.log(np.clip(chosen, _EPSILON, 1.0)))),
        "copy_accuracy": float(np.mean(probabilities.argmax(axis=-1) == targets)),
    }


class CopyMemoryDataset(generated_task.GeneratedTaskDataset):
    """``--dataset copy``: repeat 10 symbols after a delay of ``--length T`` steps."""

    name = "copy"
    defaults = dict(generated_task.TASK_DEFAULTS, units=64, batch_size=64, epochs=30, lr=3e-3, time_budget=120.0)
    options = ("length", "samples")
    loader = staticmethod(load_copy_memory)
    option_defaults = {"length": DEFAULT_LENGTH, "samples": DEFAULT_SAMPLES}
    label_option = "length"

    def split_metrics(
        self,
        metrics: dict[str, float],
        data: SequenceData,
        split: str,
        predict: Callable[[], np.ndarray],
    ) -> dict[str, Any]:
        baselines = data.info["baselines"]
        return {
            **metrics,
            **copy_metrics(predict(), getattr(data, f"y_{split}")),
            "memoryless_loss": baselines["memoryless_loss"],
            "memoryless_copy_loss": baselines["memoryless_copy_loss"],
            "memoryless_copy_accuracy": baselines["memoryless_copy_accuracy"],
        }
