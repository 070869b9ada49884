"""Deterministic, seeded train / held-out splits.

The shuffling here does not use NumPy's random generators, whose streams may
change between NumPy releases: every index gets a SplitMix64 hash of
``(seed, index)`` and the indices are ordered by that hash.  The result depends
only on the seed and the number of samples, on any machine and any NumPy.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np

from kerasrnn.errors import DataError

_GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)


def _splitmix64(values: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser applied element-wise to a uint64 array."""
    with np.errstate(over="ignore"):
        z = values.astype(np.uint64) + _GOLDEN_GAMMA
        z = (z ^ (z >> np.uint64(30))) * _MIX_1
        z = (z ^ (z >> np.uint64(27))) * _MIX_2
        return z ^ (z >> np.uint64(31))


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise DataError(f"seed must be an integer in [0, 2**63); got {seed!r}")
    return int(seed)


def stable_permutation(n: int, seed: int) -> np.ndarray:
    """A permutation of ``range(n)`` that depends only on ``n`` and ``seed``.

    Args:
        n: Number of elements.
        seed: Non-negative integer seed.

    Returns:
        int64 array of shape ``(n,)``.
    """
    seed = _check_seed(seed)
    seed_key = _splitmix64(np.array([seed], dtype=np.uint64))[0]
    with np.errstate(over="ignore"):
        keys = _splitmix64(np.arange(n, dtype=np.uint64) + seed_key)
    return np.argsort(keys, kind="stable").astype(np.int64)


def held_out_count(n: int, fraction: float) -> int:
    """How many of ``n`` samples a fraction holds out (at least one if > 0).

    Raises:
        DataError: If the fraction is outside ``[0, 1)`` or ``n`` is too small
            to keep at least one sample on each side.
    """
    if not 0.0 <= fraction < 1.0:
        raise DataError(f"a split fraction must be in [0, 1); got {fraction!r}")
    if fraction == 0.0:
        return 0
    if n < 2:
        raise DataError(f"cannot hold out a fraction {fraction} of {n} sample(s); need at least 2 samples")
    return int(min(max(1, round(fraction * n)), n - 1))


def _largest_remainder(counts: np.ndarray, total: int) -> np.ndarray:
    """Integer quotas proportional to ``counts`` summing exactly to ``total``.

    Ties in the fractional parts go to the class listed first.
    """
    counts = np.asarray(counts, dtype=np.int64)
    exact = counts * (total / counts.sum())
    quotas = np.floor(exact).astype(np.int64)
    remainder = total - int(quotas.sum())
    if remainder > 0:
        order = np.argsort(-(exact - quotas), kind="stable")
        quotas[order[:remainder]] += 1
    return np.minimum(quotas, counts)


def split_indices(
    n: int,
    fraction: float,
    seed: int,
    labels: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(n)`` into kept and held-out indices.

    Args:
        n: Number of samples.
        fraction: Fraction held out (rounded, at least one sample if > 0).
        seed: Seed of the deterministic shuffle.
        labels: Class labels of the samples.  When given the split is
            stratified: each class contributes in proportion to its size
            (largest-remainder rounding, so the total is exact).

    Returns:
        ``(kept, held_out)``: sorted int64 index arrays.
    """
    held_total = held_out_count(n, fraction)
    ranks = np.empty(n, dtype=np.int64)
    ranks[stable_permutation(n, seed)] = np.arange(n)
    held = np.zeros(n, dtype=bool)
    if labels is None:
        held[ranks < held_total] = True
    else:
        labels = np.asarray(labels)
        if len(labels) != n:
            raise DataError(f"expected {n} labels for stratification; got {len(labels)}")
        classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
        quotas = _largest_remainder(counts, held_total)
        for class_index in range(len(classes)):
            members = np.flatnonzero(inverse == class_index)
            members = members[np.argsort(ranks[members], kind="stable")]
            held[members[: quotas[class_index]]] = True
    return np.flatnonzero(~held), np.flatnonzero(held)


def stratified_sizes_split(labels: np.ndarray, held_total: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`split_indices` with labels, for an exact held-out count."""
    n = len(labels)
    if not 0 < held_total < n:
        raise DataError(f"held-out size must be between 1 and {n - 1}; got {held_total}")
    return split_indices(n, held_total / n, seed, labels=labels)


def indices_digest(indices: np.ndarray) -> str:
    """A short SHA-256 digest of an index array, for recording a split."""
    data = np.ascontiguousarray(np.asarray(indices, dtype="<i8")).tobytes()
    return hashlib.sha256(data).hexdigest()[:16]


def file_md5(path: str | os.PathLike) -> str:
    """Hex MD5 of a file, read in chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
