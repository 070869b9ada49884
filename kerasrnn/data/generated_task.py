"""What the generated long-memory tasks share: seeded draws, sizes and the split.

``adding``, ``copy``, ``arithmetic`` and ``xml`` are generated in code from the
run's seed.  Each draws only uniform doubles (``Generator.random`` of NumPy's
PCG64), the simplest of NumPy's streams; integers are ``floor(u * k)``.  The
data's SHA-256 in ``config.json`` would reveal a changed stream all the same
(``evaluate`` and ``fit --resume`` compare it).

Samples are independent draws, so the split is a slicing: the first ones
train, then validation (``validation_fraction`` of the non-test samples,
default 0.1), the last ``TEST_FRACTION`` test.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from kerasrnn.data.dataset import Dataset
from kerasrnn.data.sequence_data import SequenceData
from kerasrnn.errors import DataError

#: Run options every generated task shares (a data set adds its sizes, batch, lr and budget).
TASK_DEFAULTS: dict[str, Any] = dict(arch="lstm", lr_schedule="constant", patience=0, augment_shift=0)

#: Fraction of the generated samples held out for testing.
TEST_FRACTION = 0.1
#: Default fraction of the non-test samples held out for validation.
VALIDATION_FRACTION = 0.1


def task_rng(seed: int) -> np.random.Generator:
    """The generator of a task's samples (PCG64 seeded with ``seed``)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"seed must be a non-negative integer; got {seed!r}")
    return np.random.Generator(np.random.PCG64(int(seed)))


def uniform_integers(rng: np.random.Generator, low: int, high: int, shape: Any) -> np.ndarray:
    """int64 integers uniform in ``low .. high - 1`` (``floor`` of uniform doubles)."""
    return low + np.floor(rng.random(shape) * (high - low)).astype(np.int64)


def check_count(what: str, value: Any, low: int, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]``, else a :class:`DataError` naming ``what``."""
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    ok = ok and value >= low and (high is None or value <= high)
    if not ok:
        bounds = f">= {low}" if high is None else f"from {low} to {high}"
        raise DataError(f"{what} must be an integer {bounds}; got {value!r}")
    return int(value)


def split_sizes(samples: int, validation_fraction: float | None) -> tuple[int, int, int]:
    """``(train, val, test)`` counts of ``samples`` generated samples (each at least 1).

    Raises:
        DataError: Too few samples for three non-empty splits, or a bad fraction.
    """
    fraction = VALIDATION_FRACTION if validation_fraction is None else validation_fraction
    if not 0.0 < fraction < 1.0:
        raise DataError(f"validation_fraction must be in (0, 1) for a generated task; got {fraction!r}")
    test = max(1, int(round(TEST_FRACTION * samples)))
    val = max(1, int(round(fraction * (samples - test))))
    train = samples - test - val
    if train < 1:
        raise DataError(f"samples = {samples} leaves no training sample; give at least 3 (about 100 or more)")
    return train, val, test


def split(arrays: tuple[np.ndarray, np.ndarray], sizes: tuple[int, int, int]) -> dict[str, Any]:
    """``x_train .. y_test`` keyword arguments of :class:`SequenceData`, sliced by ``sizes``."""
    x, y = arrays
    train, val, _ = sizes
    bounds = {"train": (0, train), "val": (train, train + val), "test": (train + val, len(x))}
    parts: dict[str, Any] = {}
    for name, (start, stop) in bounds.items():
        parts[f"x_{name}"] = x[start:stop]
        parts[f"y_{name}"] = y[start:stop]
    return parts


def split_info(sizes: tuple[int, int, int], seed: int) -> dict[str, Any]:
    """What ``config.json`` records about the split."""
    train, val, test = sizes
    return {
        "seed": seed,
        "sizes": {"train": train, "val": val, "test": test},
        "split": "independent samples: the first train, then validation, the last test",
        "random": "numpy Generator(PCG64(seed)).random, integers as floor(u * k)",
    }


class GeneratedTaskDataset(Dataset):
    """A data set generated in code: its ``loader`` takes the task's options, ``seed`` and ``validation_fraction``.

    A subclass names its ``loader``, its ``options`` (run options passed to
    the loader under the same names) and ``option_defaults`` (the value of an
    option the run leaves unset); ``label_option``, when set, joins the
    option's value to the run directory's name (``adding-100``).
    """

    option_defaults: ClassVar[Mapping[str, Any]] = {}
    label_option: ClassVar[str | None] = None

    def _option(self, name: str) -> Any:
        value = getattr(self.config, name)
        return self.option_defaults.get(name) if value is None else value

    def load(self) -> SequenceData:
        arguments = {name: self._option(name) for name in self.options}
        return self.loader(**arguments, seed=self.config.seed, validation_fraction=self.config.validation_fraction)

    def label(self) -> str:
        if self.label_option is None:
            return self.name
        return f"{self.name}-{self._option(self.label_option)}"
