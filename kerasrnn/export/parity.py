"""Test inputs and error figures of the parity check (numpy only).

Every export is checked on a grid of at least two batch sizes and two
sequence lengths: the length the model was built for (when its input fixes
one) and a longer one that it never saw. Masked models get right-padded
samples of random lengths (the first sample is always full length), language
models random token ids.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

DEFAULT_TOLERANCE = 1e-5
DEFAULT_BATCH_SIZES = (1, 5)


def parity_lengths(
    description: dict[str, Any], lengths: Sequence[int] | None = None, max_seen_length: int | None = None
) -> list[tuple[int, bool]]:
    """``[(length, seen_in_training), ...]``: at least two, one of them never seen."""
    if lengths:
        lengths = [int(n) for n in lengths]
        if len(set(lengths)) < 2 or min(lengths) < 1:
            raise ValueError(f"parity needs at least two different positive lengths; got {lengths}")
        trained = description.get("trained_length")
        if trained:
            return [(n, n == trained) for n in lengths]
        return [(n, max_seen_length is not None and n <= max_seen_length) for n in lengths]
    trained = description.get("trained_length")
    if trained:
        unseen = trained + max(3, trained // 4)
        return [(int(trained), True), (int(unseen), False)]
    longest = int(max_seen_length) if max_seen_length else None
    if longest:
        return [(longest, True), (longest + max(3, longest // 4), False)]
    # Unknown training lengths (a variable-length model without a record):
    # two lengths, both unusual.
    return [(11, False), (23, False)]


def make_inputs(description: dict[str, Any], batch: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """Random inputs of shape ``(batch, length, *step_shape)`` for the model described."""
    dtype = np.dtype(description.get("dtype", "float32"))
    step_shape = tuple(description["step_shape"])
    if description.get("kind") == "tokens":
        x = rng.integers(0, description["vocabulary"], size=(batch, length)).astype(dtype)
    else:
        x = rng.standard_normal((batch, length, *step_shape)).astype(dtype)
    pad = description.get("pad_value")
    if pad is not None and length > 1:
        # Right padding with random valid lengths; sample 0 keeps every step.
        valid = rng.integers(1, length + 1, size=batch)
        valid[0] = length
        for index, n in enumerate(valid):
            x[index, n:] = pad
    return x


def make_cases(
    description: dict[str, Any],
    batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES,
    lengths: Sequence[int] | None = None,
    max_seen_length: int | None = None,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """The parity grid: a list of ``{"batch", "length", "seen_in_training", "x"}``."""
    batch_sizes = [int(b) for b in batch_sizes]
    if len(set(batch_sizes)) < 2:
        raise ValueError(f"parity needs at least two different batch sizes; got {batch_sizes}")
    rng = np.random.default_rng(seed)
    cases = []
    for length, seen in parity_lengths(description, lengths, max_seen_length):
        for batch in batch_sizes:
            cases.append(
                {
                    "batch": batch,
                    "length": length,
                    "seen_in_training": bool(seen),
                    "x": make_inputs(description, batch, length, rng),
                }
            )
    return cases


def max_abs_error(reference: Any, output: Any) -> float:
    """The largest absolute difference (inf where ``output`` is not finite and ``reference`` is)."""
    reference = np.asarray(reference, dtype=np.float64)
    output = np.asarray(output, dtype=np.float64)
    if reference.shape != output.shape:
        raise ValueError(f"output shape {output.shape} differs from the Keras model's {reference.shape}")
    if not np.all(np.isfinite(output)) and not np.array_equal(np.isfinite(output), np.isfinite(reference)):
        return float("inf")
    if reference.size == 0:
        return 0.0
    return float(np.max(np.abs(reference - output)))


def save_cases(
    path: str | os.PathLike, cases: Sequence[dict[str, Any]], references: Sequence[np.ndarray] | None = None
) -> None:
    """Store cases (and optional reference outputs) in an ``.npz``."""
    arrays = {}
    for index, case in enumerate(cases):
        arrays[f"x_{index}"] = case["x"]
        arrays[f"meta_{index}"] = np.array([case["batch"], case["length"], int(case["seen_in_training"])])
        if references is not None:
            arrays[f"y_{index}"] = references[index]
    np.savez(path, **arrays)


def load_cases(path: str | os.PathLike) -> tuple[list[dict[str, Any]], list[np.ndarray] | None]:
    """``(cases, references or None)`` from :func:`save_cases`'s file."""
    with np.load(path) as data:
        count = len([key for key in data.files if key.startswith("x_")])
        cases, references = [], []
        for index in range(count):
            batch, length, seen = (int(v) for v in data[f"meta_{index}"])
            cases.append({"batch": batch, "length": length, "seen_in_training": bool(seen), "x": data[f"x_{index}"]})
            if f"y_{index}" in data.files:
                references.append(data[f"y_{index}"])
    return cases, (references or None)
