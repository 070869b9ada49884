"""The arithmetic task of Jozefowicz, Zaremba & Sutskever 2015.

What the paper describes ("An Empirical Exploration of Recurrent Network
Architectures", ICML 2015, section 3.1 "Arithmetic"): the network
reads the sum or the difference of two numbers of up to 8 digits, with a
variable number of distractor letters between successive input characters
(the paper's instance ``3e36d9-h1h39f94eeh43keg3c=-13991064`` stands for
``3369-13994433=-13991064``), and after ``=`` emits the result one character
at a time, ending with ``.``; in a next-step-prediction formulation it sees
the true previous answer characters while predicting the next.  40 symbols:
26 lowercase letters, 10 digits, ``+``, ``-``, ``=``, ``.`` (end of sequence).
The paper reports accuracy on this task.

What this module implements:

* each number has ``1 .. digits`` digits (the count uniform; ``digits=8`` as
  the paper), no leading zero; the operator is ``+`` or ``-`` with
  probability 1/2 each; the result may be negative (``-`` then leads it);
* between any two successive characters of ``a op b =`` (none before the
  first) come ``0 .. distractors`` lowercase letters, the count and the
  letters uniform (the paper gives no distribution; its instance has 11
  letters in 16 gaps, hence the default ``distractors=2``);
* per-step labelling: step ``t`` reads character ``t`` (one-hot over the 40
  symbols); its target is character ``t + 1`` from the ``=`` on (the answer
  characters, then ``.``) and the class ``_`` ("nothing to predict") before;
  sequences are right-padded with all-zero inputs and ``_`` targets to the
  longest possible length, so every architecture reads them unmasked;
* metrics (beside the loss and accuracy over all steps, which the ``_``
  steps dominate): ``answer_loss`` and ``answer_accuracy`` over the answer
  steps (digits, sign and the final ``.``), and ``exact_answers``, the
  fraction of sequences whose answer steps are all right.

Simplification: the loss covers every step (the pipeline has no per-step
weights); the ``_`` targets are predictable from the input alone (nothing
before ``=``, nothing after ``.``), so they cost little once learned.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any

import numpy as np

from kerasrnn.data import generated_task
from kerasrnn.data.sequence_data import SequenceData

#: The 40 input symbols (the paper's).
SYMBOLS = string.ascii_lowercase + string.digits + "+-=."
#: Target of the steps with nothing to predict.
NOTHING = "_"
CLASSES = SYMBOLS + NOTHING
DEFAULT_SAMPLES = 10_000
_INDEX = {char: index for index, char in enumerate(CLASSES)}
_EPSILON = 1e-7


def max_steps(digits: int, distractors: int) -> int:
    """The longest sequence: ``a op b =`` with full gaps, then ``-`` or a carry digit, the digits, ``.``."""
    question = 2 * digits + 2
    return question + (question - 1) * distractors + digits + 2


def arithmetic_strings(samples: int, digits: int, distractors: int, rng: np.random.Generator) -> list[tuple[str, int]]:
    """``(text, answer_start)`` pairs: ``text`` runs to the final ``.``, the answer from ``answer_start``."""
    counts = generated_task.uniform_integers(rng, 1, digits + 1, (samples, 2))
    leading = generated_task.uniform_integers(rng, 1, 10, (samples, 2))
    rest = generated_task.uniform_integers(rng, 0, 10, (samples, 2, digits - 1)) if digits > 1 else None
    single = generated_task.uniform_integers(rng, 0, 10, (samples, 2))
    minus = rng.random(samples) < 0.5
    gap_count = 2 * digits + 1
    gaps = generated_task.uniform_integers(rng, 0, distractors + 1, (samples, gap_count))
    letters = generated_task.uniform_integers(rng, 0, 26, (samples, gap_count, max(distractors, 1)))
    texts = []
    for i in range(samples):
        numbers = []
        for j in range(2):
            if counts[i, j] == 1:
                numbers.append(str(int(single[i, j])))
            else:
                tail = "".join(str(int(d)) for d in rest[i, j, : counts[i, j] - 1])
                numbers.append(str(int(leading[i, j])) + tail)
        a, b = int(numbers[0]), int(numbers[1])
        question = f"{numbers[0]}{'-' if minus[i] else '+'}{numbers[1]}="
        pieces = [question[0]]
        for k, char in enumerate(question[1:]):
            pieces.append("".join(string.ascii_lowercase[int(c)] for c in letters[i, k, : gaps[i, k]]))
            pieces.append(char)
        read = "".join(pieces)
        texts.append((f"{read}{a - b if minus[i] else a + b}.", len(read)))
    return texts


def encode(texts: list[tuple[str, int]], steps: int) -> tuple[np.ndarray, np.ndarray]:
    """One-hot inputs ``(N, steps, 40)`` and targets ``(N, steps)`` of ``arithmetic_strings``."""
    x = np.zeros((len(texts), steps, len(SYMBOLS)), dtype=np.float32)
    y = np.full((len(texts), steps), _INDEX[NOTHING], dtype=np.int32)
    for i, (text, answer_start) in enumerate(texts):
        ids = [_INDEX[char] for char in text]
        x[i, np.arange(len(ids)), ids] = 1.0
        # The step reading '=' predicts the first answer character, ..., the last digit predicts '.'.
        y[i, answer_start - 1 : len(ids) - 1] = ids[answer_start:]
    return x, y


def load_arithmetic(
    digits: int = 8,
    distractors: int = 2,
    samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
    validation_fraction: float | None = None,
) -> SequenceData:
    """Arithmetic sequences, split train / validation / test.

    Args:
        digits: Most digits of each number (1-16).
        distractors: Most distractor letters between two input characters (0-20).
        samples: Sequences generated in all (test: the last 10%).
        seed: Seed of the generator.
        validation_fraction: Of the non-test sequences (default 0.1).

    Returns:
        :class:`SequenceData` with ``task="labelling"``, one-hot ``x``
        ``(N, max_steps, 40)``, ``num_outputs=41`` (the symbols and ``_``).
    """
    digits = generated_task.check_count("arithmetic digits", digits, 1, 16)
    distractors = generated_task.check_count("arithmetic distractors", distractors, 0, 20)
    samples = generated_task.check_count("arithmetic samples", samples, 3)
    sizes = generated_task.split_sizes(samples, validation_fraction)
    steps = max_steps(digits, distractors)
    texts = arithmetic_strings(samples, digits, distractors, generated_task.task_rng(seed))
    x, y = encode(texts, steps)
    return SequenceData(
        **generated_task.split((x, y), sizes),
        task="labelling",
        num_outputs=len(CLASSES),
        source=(
            f"generated arithmetic (up to {digits} digits, up to {distractors} distractors per gap, "
            f"{samples} x {steps} steps, seed {seed})"
        ),
        class_names=list(CLASSES),
        info={
            "dataset": "arithmetic",
            "digits": digits,
            "distractors": distractors,
            "steps": steps,
            "samples": samples,
            **generated_task.split_info(sizes, seed),
            "symbols": SYMBOLS,
            "examples": [text for text, _ in texts[:3]],
            "targets": "from '=' on, the next character (answer, then '.'); '_' elsewhere; zero-input padding",
        },
    )


def answer_metrics(probabilities: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """Cross-entropy (nats) and accuracy over the answer steps, and the exactly right answers."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    targets = np.asarray(targets).astype(np.int64)
    answer = targets != _INDEX[NOTHING]
    chosen = np.take_along_axis(probabilities, targets[..., None], axis=-1)[..., 0]
    right = probabilities.argmax(axis=-1) == targets
    return {
        "answer_loss": float(-np.mean(np.log(np.clip(chosen[answer], _EPSILON, 1.0)))),
        "answer_accuracy": float(np.mean(right[answer])),
        "exact_answers": float(np.mean(np.all(right | ~answer, axis=1))),
    }


class ArithmeticDataset(generated_task.GeneratedTaskDataset):
    """``--dataset arithmetic``: a sum or difference read among distractors, answered character by character."""

    name = "arithmetic"
    defaults = dict(generated_task.TASK_DEFAULTS, units=128, batch_size=64, epochs=50, lr=3e-3, time_budget=240.0)
    options = ("digits", "distractors", "samples")
    loader = staticmethod(load_arithmetic)
    option_defaults = {"samples": DEFAULT_SAMPLES}

    def split_metrics(
        self,
        metrics: dict[str, float],
        data: SequenceData,
        split: str,
        predict: Callable[[], np.ndarray],
    ) -> dict[str, Any]:
        return {**metrics, **answer_metrics(predict(), getattr(data, f"y_{split}"))}
