"""Teacher-forcing batches of sentence pairs, sorted by length and padded per batch.

A ``seq2seq`` :class:`~kerasrnn.data.SequenceData` holds source ids ``x``
``(N, S)`` and target ids ``y`` ``(N, T)`` = ``[BOS, w1 .. wm, EOS, 0 ...]``,
both right-padded with 0.  A batch is ``((source, decoder_input), labels)``
with ``decoder_input = y[:, :-1]`` and ``labels = y[:, 1:]`` (the next token
at every step; padding labels are 0, which the loss and the token accuracy
ignore).

Padding with sorting: the pairs are sorted by length (the longer of source and
decoder input, so both are cut to one width) and batched by neighbours, so a
batch is padded only to its own longest sentence (rounded up to a multiple,
limiting the distinct shapes a compiled step sees); the batch order is
shuffled per epoch by ``(seed, epoch)``, which keeps a resumed run's batches
those of an uninterrupted one.
"""

from __future__ import annotations

import numpy as np

from kerasrnn.data.length_buckets import LengthBucketedSequence


def pair_lengths(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per pair, the longer of the source length and the decoder-input length (non-zero ids)."""
    source = np.count_nonzero(x, axis=1)
    decoder = np.maximum(np.count_nonzero(y, axis=1) - 1, 1)  # BOS .. last word: the target without EOS
    return np.maximum(np.maximum(source, decoder), 1)


class SentencePairBatches(LengthBucketedSequence):
    """``((source, decoder_input), labels)`` batches of one width per batch.

    Args:
        x: Source ids ``(N, S)``, right-padded with 0.
        y: Target ids ``(N, T)``, ``BOS`` first, right-padded with 0.
        batch_size, shuffle, seed, pad_to_multiple: As for
            :class:`~kerasrnn.data.length_buckets.LengthBucketedSequence`.
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        pad_to_multiple: int = 1,
    ) -> None:
        width = max(x.shape[1], y.shape[1] - 1)
        source = np.zeros((len(x), width), dtype=np.int32)
        source[:, : x.shape[1]] = x
        target = np.zeros((len(y), width + 1), dtype=np.int32)
        target[:, : y.shape[1]] = y
        super().__init__(
            source,
            target,
            pair_lengths(x, y),
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            pad_to_multiple=pad_to_multiple,
        )

    def __getitem__(self, index: int):
        if not 0 <= index < len(self._batches):
            raise IndexError(f"batch index {index} out of range for {len(self._batches)} batches")
        indices = self._batches[index]
        width = self.batch_width(index)
        target = self._y[indices, : width + 1]
        return (self._x[indices, :width], target[:, :-1]), target[:, 1:]

    def set_epoch(self, epoch: int) -> None:
        """The batches of ``epoch`` (the trainer sets it, also for resumed runs)."""
        self.epoch = int(epoch)
        self._batches = self._make_batches(self.epoch)
