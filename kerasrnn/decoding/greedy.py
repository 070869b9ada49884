"""Greedy decoding: the most probable token at every step, until ``EOS``.

.. math:: \\hat y_t = \\arg\\max_w p(w \\mid \\hat y_{<t}, x)

Padding and ``BOS`` are never emitted (their log-probabilities are set to
minus infinity before choosing; the scores keep the model's). Batched: every
row runs until its ``EOS`` (it then emits padding and its score
stops growing), the loop until all rows have ended or ``max_length`` steps.
The step runs compiled (:mod:`kerasrnn.decoding.step_functions`); choosing
and bookkeeping are NumPy.

``keras_hub.samplers.GreedySampler`` is not used (see
:mod:`kerasrnn.decoding`): it decodes a decoder-only model's fixed-size
prompt buffer and keeps no alignments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from keras import ops

from kerasrnn.data.vocabulary import BOS_ID, EOS_ID, PAD_ID
from kerasrnn.decoding.decoded import Decoded, check_source, never_emitted, trimmed
from kerasrnn.decoding.step_functions import encoder_function, step_function

#: ``(log_probs float64 (batch, V)) -> chosen ids (batch,)``.
Chooser = Callable[[np.ndarray], np.ndarray]


def decode_by_choice(model: Any, source: Any, max_length: int, choose: Chooser, compiled: bool = True) -> Decoded:
    """The left-to-right loop shared by greedy decoding and sampling; ``choose`` picks each token."""
    source = check_source(source, max_length)
    batch = source.shape[0]
    encode, step = encoder_function(model, compiled), step_function(model, compiled)
    memory, memory_mask, states, keys = encode(ops.convert_to_tensor(source))
    order = ops.convert_to_tensor(np.arange(batch, dtype="int32"))
    tokens = np.full(batch, BOS_ID, dtype="int32")
    chosen = np.zeros((batch, max_length), dtype="int32")
    scores = np.zeros(batch, dtype="float64")
    finished = np.zeros(batch, dtype=bool)
    alignments = []
    rows = np.arange(batch)
    for t in range(max_length):
        log_probs, states, alignment = step(ops.convert_to_tensor(tokens), states, order, memory, memory_mask, keys)
        log_probs = ops.convert_to_numpy(log_probs).astype("float64")
        words = np.where(finished, PAD_ID, choose(never_emitted(log_probs))).astype("int32")
        scores += np.where(finished, 0.0, log_probs[rows, words])
        chosen[:, t] = words
        if alignment is not None:
            alignments.append(np.where(finished[:, None], 0.0, ops.convert_to_numpy(alignment)))
        finished |= words == EOS_ID
        tokens = words
        if finished.all():
            break
    stacked = np.stack(alignments, axis=1) if alignments else None
    return trimmed(chosen, scores, stacked)


def greedy_decode(model: Any, source: Any, max_length: int = 50, compiled: bool = True) -> Decoded:
    """Greedy decoding of a batch of sources.

    Args:
        model: An :class:`~kerasrnn.models.encoder_decoder.EncoderDecoder`
            (or any model with its ``encode`` and ``decode_step``).
        source: int ``(batch, S)`` source ids, right-padded with 0.
        max_length: Most tokens per row (``EOS`` included).
        compiled: Run the step compiled (default) or eagerly.

    Returns:
        :class:`~kerasrnn.decoding.Decoded`: tokens, the sum of their
        log-probabilities, and the alignments (with attention).
    """
    return decode_by_choice(model, source, max_length, lambda log_probs: log_probs.argmax(axis=-1), compiled)
