"""The adding problem: add the two marked numbers of a long sequence.

Hochreiter & Schmidhuber 1997 (experiment 4), in the form of Le et al. 2015
("A Simple Way to Initialize Recurrent Networks of Rectified Linear Units")
and Arjovsky et al. 2016 ("Unitary Evolution Recurrent Neural Networks"):
each of the ``T`` steps has two inputs, a value drawn uniformly from
``[0, 1)`` and a marker; the marker is 1 at exactly two steps, one drawn
uniformly in the first half (steps ``0 .. T//2 - 1``) and one in the second
half (``T//2 .. T - 1``), and 0 elsewhere.  The target is the sum of the two
marked values, read after the last step (regression, mean squared error).

Baseline: always answering 1 (the mean of the sum) has an expected MSE of
``Var(u1 + u2) = 2 / 12 = 1/6 ≈ 0.167``; a model beats it only by
remembering the marked values across up to ``T`` steps.  ``info["baselines"]``
(and so ``metrics.json``) gives it, and each split's metrics give the MSE of
that constant on the split itself (``baseline_mse``) beside the model's
(``mse``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from kerasrnn.data import generated_task
from kerasrnn.data.sequence_data import SequenceData

#: The expected MSE of always answering 1: the variance of the sum of two U(0, 1).
CONSTANT_ONE_MSE = 1.0 / 6.0
DEFAULT_LENGTH = 100
DEFAULT_SAMPLES = 10_000


def adding_problem(length: int, samples: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``samples`` adding sequences of ``length`` steps.

    Returns:
        ``x`` float32 ``(samples, length, 2)`` (channel 0 the values, channel 1
        the markers) and ``y`` float32 ``(samples, 1)``, the sum of the two
        marked values computed in float32 from ``x`` itself.
    """
    values = rng.random((samples, length)).astype(np.float32)
    half = length // 2
    first = generated_task.uniform_integers(rng, 0, half, samples)
    second = generated_task.uniform_integers(rng, half, length, samples)
    markers = np.zeros((samples, length), dtype=np.float32)
    rows = np.arange(samples)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=-1)
    y = (values[rows, first] + values[rows, second]).astype(np.float32).reshape(samples, 1)
    return x, y


def load_adding(
    length: int = DEFAULT_LENGTH,
    samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
    validation_fraction: float | None = None,
) -> SequenceData:
    """The adding problem at ``length`` steps, split train / validation / test.

    Args:
        length: Steps ``T`` per sequence (at least 2).
        samples: Sequences generated in all (test: the last 10%).
        seed: Seed of the generator.
        validation_fraction: Of the non-test sequences (default 0.1).

    Returns:
        :class:`SequenceData` with ``task="regression"``, ``num_outputs=1``,
        ``info["baselines"]`` = the constant-1 MSE (expected and on the test
        split).
    """
    length = generated_task.check_count("adding length", length, 2)
    samples = generated_task.check_count("adding samples", samples, 3)
    sizes = generated_task.split_sizes(samples, validation_fraction)
    x, y = adding_problem(length, samples, generated_task.task_rng(seed))
    parts = generated_task.split((x, y), sizes)
    return SequenceData(
        **parts,
        task="regression",
        num_outputs=1,
        source=f"generated adding problem ({samples} x {length} steps, seed {seed})",
        info={
            "dataset": "adding",
            "length": length,
            "samples": samples,
            **generated_task.split_info(sizes, seed),
            "inputs": "channel 0: values U[0, 1); channel 1: markers, one 1 in each half",
            "target": "sum of the two marked values",
            "baselines": {
                "constant_one_mse": CONSTANT_ONE_MSE,
                "constant_one_mse_test": constant_one_mse(parts["y_test"]),
                "method": "always answer 1; expected MSE = Var(u1 + u2) = 1/6",
            },
        },
    )


def constant_one_mse(y: np.ndarray) -> float:
    """The MSE of answering 1 for every target of ``y``."""
    y = np.asarray(y, dtype=np.float64)
    return float(np.mean((y - 1.0) ** 2)) if y.size else float("nan")


class AddingDataset(generated_task.GeneratedTaskDataset):
    """``--dataset adding``: the sum of the two marked values (``--length T``)."""

    name = "adding"
    defaults = dict(generated_task.TASK_DEFAULTS, units=64, batch_size=32, epochs=30, lr=1e-2, time_budget=60.0)
    options = ("length", "samples")
    loader = staticmethod(load_adding)
    option_defaults = {"length": DEFAULT_LENGTH, "samples": DEFAULT_SAMPLES}
    label_option = "length"

    def split_metrics(
        self,
        metrics: dict[str, float],
        data: SequenceData,
        split: str,
        predict: Callable[[], np.ndarray],
    ) -> dict[str, Any]:
        return {
            **metrics,
            "mse": metrics["loss"],
            "baseline_mse": constant_one_mse(getattr(data, f"y_{split}")),
        }
