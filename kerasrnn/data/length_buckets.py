"""Length-bucketed batches for variable-length sequences.

Padding every sequence to the longest one in the data set wastes computation
on padding.  :class:`LengthBucketedSequence` sorts the samples by length,
cuts the sorted order into batches (so a batch holds sequences of similar
length), pads each batch only to its own longest sequence, and shuffles the
order of the batches every epoch.  Samples of equal length are shuffled
among themselves each epoch too, so batches differ from epoch to epoch.

Use it with a model that masks padding, e.g. ``keras.layers.Masking(
mask_value=PAD_VALUE)`` in front of the recurrent layers.

This module imports Keras; :mod:`kerasrnn.data` does not import it eagerly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from kerasrnn.data.padding import pad_sequences
from kerasrnn.data.sequence_data import PAD_VALUE
from kerasrnn.errors import DataError


class LengthBucketedSequence(keras.utils.PyDataset):
    """A ``keras.utils.PyDataset`` of length-sorted, per-batch padded batches.

    Args:
        x: Either a float array ``(N, T, ...)`` right-padded with ``pad_value``
            (give ``lengths``), or a list of ``N`` arrays ``(T_i, ...)``.
        y: Targets ``(N, ...)``; with ``sequence_targets=True``, per-step
            targets ``(N, T, ...)`` that are cut to each batch's width too.
        lengths: True lengths of the padded ``x`` (default: the full width for
            an array, ``len(x[i])`` for a list).
        batch_size: Samples per batch (the last batch may be smaller).
        shuffle: Shuffle samples of equal length and the batch order each
            epoch.  Without it the batches are in increasing length order
            (except for the first two, see :meth:`_separate_first_two`).
        seed: Seed of the shuffling; epoch ``e`` uses ``(seed, e)``.
        pad_to_multiple: Round each batch width up to a multiple of this (but
            never beyond the data's width), limiting how many distinct shapes
            the model sees (each may trigger a recompilation with JAX).
        pad_value: Padding for list input (array input keeps its padding).
        **kwargs: ``workers``, ``use_multiprocessing``, ``max_queue_size``
            for ``keras.utils.PyDataset``.
    """

    def __init__(
        self,
        x: np.ndarray | Sequence[np.ndarray],
        y: np.ndarray,
        lengths: np.ndarray | None = None,
        batch_size: int = 32,
        shuffle: bool = True,
        seed: int = 0,
        pad_to_multiple: int = 1,
        pad_value: float = PAD_VALUE,
        sequence_targets: bool = False,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if isinstance(x, np.ndarray):
            self._x = x
            if lengths is None:
                lengths = np.full(len(x), x.shape[1] if x.ndim > 1 else 1, dtype=np.int64)
        else:
            if lengths is not None:
                raise DataError("give lengths only with a padded array x; a list of sequences carries its own")
            self._x, lengths = pad_sequences(list(x), pad_value=pad_value)
        self._y = np.asarray(y)
        self._lengths = np.asarray(lengths, dtype=np.int64)
        n = len(self._x)
        if len(self._y) != n or len(self._lengths) != n:
            raise DataError(
                f"x, y and lengths must have one entry per sample; got {n}, {len(self._y)} and {len(self._lengths)}"
            )
        if n == 0:
            raise DataError("cannot batch an empty data set (0 samples)")
        if n and (self._lengths.min() < 1 or self._lengths.max() > self._x.shape[1]):
            raise DataError(
                f"lengths must be between 1 and the padded width {self._x.shape[1]}; got "
                f"{self._lengths.min()}..{self._lengths.max()}"
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise DataError(f"batch_size must be a positive integer; got {batch_size!r}")
        if not isinstance(pad_to_multiple, (int, np.integer)) or pad_to_multiple < 1:
            raise DataError(f"pad_to_multiple must be a positive integer; got {pad_to_multiple!r}")
        if sequence_targets and (self._y.ndim < 2 or self._y.shape[1] != self._x.shape[1]):
            raise DataError(f"sequence_targets=True needs y of shape (N, {self._x.shape[1]}, ...); got {self._y.shape}")
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.pad_to_multiple = int(pad_to_multiple)
        self.sequence_targets = bool(sequence_targets)
        self.epoch = 0
        self._batches = self._make_batches(self.epoch)

    def _make_batches(self, epoch: int) -> list[np.ndarray]:
        n = len(self._lengths)
        if self.shuffle:
            rng = np.random.default_rng([self.seed, epoch])
            order = rng.permutation(n)
            order = order[np.argsort(self._lengths[order], kind="stable")]
        else:
            order = np.argsort(self._lengths, kind="stable")
        batches = [order[start : start + self.batch_size] for start in range(0, n, self.batch_size)]
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return self._separate_first_two(batches)

    def _separate_first_two(self, batches: list[np.ndarray]) -> list[np.ndarray]:
        """Order batches so that batches 0 and 1 differ in every dimension that varies.

        With the TensorFlow backend, Keras builds the ``tf.data`` signature of
        a PyDataset from its first two batches and keeps a dimension fixed if
        they agree on it (keras-team/keras#19124); a later batch of another
        width (or a smaller last batch) then fails with "generator yielded an
        element of shape ...". So if widths vary, batches 0 and 1 get
        different widths, and if batch sizes vary, different sizes.
        """
        if len(batches) < 3:
            return batches
        sizes = [len(batch) for batch in batches]
        widths = [self._width_of(batch) for batch in batches]
        vary_size = len(set(sizes)) > 1
        vary_width = len(set(widths)) > 1

        def separated(i, j):
            return (not vary_size or sizes[i] != sizes[j]) and (not vary_width or widths[i] != widths[j])

        if separated(0, 1):
            return batches
        for i in range(len(batches)):
            for j in range(i + 1, len(batches)):
                if separated(i, j):
                    rest = [batch for k, batch in enumerate(batches) if k not in (i, j)]
                    return [batches[i], batches[j], *rest]
        return batches

    def __len__(self) -> int:
        return len(self._batches)

    def batch_indices(self, index: int) -> np.ndarray:
        """Sample indices of batch ``index`` in the current epoch."""
        return self._batches[index]

    def batch_width(self, index: int) -> int:
        """Padded number of time steps of batch ``index``."""
        return self._width_of(self._batches[index])

    def _width_of(self, indices: np.ndarray) -> int:
        longest = int(self._lengths[indices].max())
        width = -(-longest // self.pad_to_multiple) * self.pad_to_multiple
        return min(width, self._x.shape[1])

    def __getitem__(self, index: int):
        if not 0 <= index < len(self._batches):
            raise IndexError(f"batch index {index} out of range for {len(self._batches)} batches")
        indices = self._batches[index]
        width = self.batch_width(index)
        x = self._x[indices, :width]
        y = self._y[indices, :width] if self.sequence_targets else self._y[indices]
        return x, y

    def on_epoch_end(self) -> None:
        """Reshuffle for the next epoch (called by ``model.fit``)."""
        self.epoch += 1
        if self.shuffle:
            self._batches = self._make_batches(self.epoch)

    def padding_fraction(self) -> float:
        """Fraction of padded time steps in the current batches (for logs)."""
        padded = sum(self.batch_width(i) * len(b) for i, b in enumerate(self._batches))
        return 1.0 - float(self._lengths.sum()) / padded
