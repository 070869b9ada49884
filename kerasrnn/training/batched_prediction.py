"""The one routine that runs a model over many inputs: fixed-length or length-bucketed batches."""

from __future__ import annotations

import keras
import numpy as np

#: Samples per prediction (and evaluation) batch.
PREDICT_BATCH_SIZE = 256


def predict_in_batches(
    model: keras.Model,
    x: np.ndarray,
    lengths: np.ndarray | None = None,
    batch_size: int = PREDICT_BATCH_SIZE,
) -> np.ndarray | list[np.ndarray]:
    """The model's outputs for every sample of ``x``, in the order of ``x``.

    Args:
        model: A built Keras model.
        x: Inputs ``(N, T, ...)``; right-padded with ``PAD_VALUE`` when
            ``lengths`` is given.
        lengths: True lengths of variable-length sequences: they are batched
            by length (:class:`~kerasrnn.data.length_buckets.LengthBucketedSequence`),
            so a batch is only as wide as its longest sequence.
        batch_size: Samples per batch.

    Returns:
        One array ``(N, ...)``; for variable-length per-step outputs whose
        widths differ, a list of per-sample arrays.
    """
    if lengths is None:
        return np.asarray(model.predict(x, batch_size=batch_size, verbose=0))
    from kerasrnn.data.length_buckets import LengthBucketedSequence

    batches = LengthBucketedSequence(x, np.zeros(len(x)), lengths, batch_size=batch_size, shuffle=False)
    outputs: list = [None] * len(x)
    for index in range(len(batches)):
        predicted = np.asarray(model.predict_on_batch(batches[index][0]))
        for row, sample in zip(predicted, batches.batch_indices(index)):
            outputs[sample] = row
    if len({output.shape for output in outputs}) == 1:
        return np.stack(outputs)
    return outputs
