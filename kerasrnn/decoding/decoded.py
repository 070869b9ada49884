"""``Decoded``: what every decoder returns."""

from __future__ import annotations

import dataclasses

import numpy as np

from kerasrnn.data.vocabulary import BOS_ID, PAD_ID


@dataclasses.dataclass
class Decoded:
    """Decoded sequences of a batch.

    Attributes:
        tokens: int32 ``(batch, L)``, without ``BOS``; each row ends at its
            first ``EOS`` (kept), padded with 0 after it (a row that reached
            ``max_length`` has no ``EOS``). ``L`` is the longest row.
        scores: float32 ``(batch,)``: the sum of the tokens' log-probabilities
            (``EOS`` included); beam search gives the GNMT-normalized score
            (:func:`~kerasrnn.decoding.beam_search.gnmt_length_penalty`).
        alignments: float32 ``(batch, L, S)``, the attention weights over the
            source steps behind every token, or ``None`` for a model without
            attention.
    """

    tokens: np.ndarray
    scores: np.ndarray
    alignments: np.ndarray | None = None

    def lengths(self) -> np.ndarray:
        """Tokens of every row, its ``EOS`` included."""
        return (self.tokens != PAD_ID).sum(axis=1)


def check_source(source: object, max_length: int) -> np.ndarray:
    """``source`` as int32 ``(batch, S)``; a ValueError naming what came otherwise."""
    array = np.asarray(source)
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"source must be integer ids of shape (batch, S); got {array.dtype} {array.shape}")
    if not isinstance(max_length, (int, np.integer)) or max_length < 1:
        raise ValueError(f"max_length must be an integer >= 1; got {max_length!r}")
    return array.astype("int32")


def never_emitted(log_probs: np.ndarray) -> np.ndarray:
    """``log_probs`` with padding and ``BOS`` at minus infinity: no decoder emits them."""
    log_probs = log_probs.copy()
    log_probs[..., [PAD_ID, BOS_ID]] = -np.inf
    return log_probs


def trimmed(tokens: np.ndarray, scores: np.ndarray, alignments: np.ndarray | None) -> Decoded:
    """A :class:`Decoded` cut to its longest row (tokens after a row's EOS already 0)."""
    length = max(int((tokens != PAD_ID).sum(axis=1).max(initial=0)), 1)
    return Decoded(
        tokens=tokens[:, :length].astype("int32"),
        scores=scores.astype("float32"),
        alignments=None if alignments is None else alignments[:, :length].astype("float32"),
    )
