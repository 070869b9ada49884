"""Right-padding of variable-length sequences with :data:`~kerasrnn.data.sequence_data.PAD_VALUE`."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from kerasrnn.data.sequence_data import PAD_VALUE


def pad_sequences(
    sequences: list, length: int | None = None, pad_value: float = PAD_VALUE
) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad ``(T_i, F)`` or ``(T_i,)`` sequences to ``(N, T, F)`` float32.

    Returns:
        ``(padded, lengths)`` with int32 ``lengths``.
    """
    lengths = np.array([len(sequence) for sequence in sequences], dtype=np.int32)
    length = int(lengths.max(initial=0)) if length is None else int(length)
    first = np.asarray(sequences[0]) if sequences else np.zeros((0, 1))
    features = first.shape[1:] if first.ndim > 1 else (1,)
    padded = np.full((len(sequences), length, *features), pad_value, dtype=np.float32)
    for index, sequence in enumerate(sequences):
        sequence = np.asarray(sequence, dtype=np.float32)
        padded[index, : len(sequence)] = sequence.reshape(len(sequence), *features)
    return padded, lengths


def warn_if_pad_value_in_data(sequences: list, path: Path) -> None:
    for sequence in sequences:
        if np.any(np.asarray(sequence) == PAD_VALUE):
            warnings.warn(
                f"{path} contains the padding value {PAD_VALUE} as data; Masking will hide those steps",
                stacklevel=3,
            )
            return
