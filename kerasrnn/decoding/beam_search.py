"""Batched beam search with GNMT's length penalty and EOS handling.

Every source keeps ``beam_size`` hypotheses. At each step every unfinished
hypothesis ``Y`` is extended by every token ``w``, and the ``beam_size``
candidates of highest score survive (Wu et al. 2016, "Google's Neural Machine
Translation System", eq. 14, without the coverage term):

.. math::

    s(Y) = \\frac{\\log P(Y \\mid X)}{lp(Y)}, \\qquad lp(Y) = \\left(\\frac{5 + |Y|}{6}\\right)^{\\alpha}

with :math:`|Y|` the tokens of ``Y``, its ``EOS`` included, and
:math:`\\alpha` = ``length_penalty`` (0: plain log-probability, which favours
short outputs). A hypothesis that emits ``EOS`` is finished: it stays in the
beam as one candidate with its score unchanged (it emits padding, its length
and log-probability frozen), competing with the longer ones until the beam
holds only finished hypotheses or ``max_length`` steps have run; the result is
the beam's best-scoring hypothesis. This is tensorflow-addons'
``BeamSearchDecoder`` rule (Keras 3 has none). With ``beam_size=1`` every
candidate of a step has the same length, so the choice is greedy decoding's.

Padding and ``BOS`` are never emitted. The first step expands the single
start hypothesis only (the other beams start
at a log-probability of minus infinity). States are reordered by the
survivors' parents inside the compiled step
(:mod:`kerasrnn.decoding.step_functions`); the top-k choice and the
bookkeeping are NumPy.

``keras_hub.samplers.BeamSampler`` is not used (see
:mod:`kerasrnn.decoding`): it has no length penalty, and a beam that has
emitted its stop token keeps being extended and scored.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from keras import ops

from kerasrnn.data.vocabulary import BOS_ID, EOS_ID, PAD_ID
from kerasrnn.decoding.decoded import Decoded, check_source, never_emitted, trimmed
from kerasrnn.decoding.step_functions import encoder_function, step_function


def gnmt_length_penalty(lengths: np.ndarray, alpha: float) -> np.ndarray:
    """GNMT's :math:`lp(Y) = ((5 + |Y|) / 6)^\\alpha`."""
    return ((5.0 + np.asarray(lengths, dtype="float64")) / 6.0) ** alpha


def _top_candidates(scores: np.ndarray, k: int) -> np.ndarray:
    """Per row, the indices of the ``k`` highest scores, best first (ties: the lower index)."""
    if k == 1:
        return scores.argmax(axis=1)[:, None]
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    values = np.take_along_axis(scores, part, axis=1)
    ranked = np.lexsort((part, -values), axis=1)
    return np.take_along_axis(part, ranked, axis=1)


def beam_search(
    model: Any,
    source: Any,
    beam_size: int = 5,
    max_length: int = 50,
    length_penalty: float = 0.6,
    compiled: bool = True,
) -> Decoded:
    """Beam search over a batch of sources.

    Args:
        model: An :class:`~kerasrnn.models.encoder_decoder.EncoderDecoder`.
        source: int ``(batch, S)`` source ids, right-padded with 0.
        beam_size: Hypotheses kept per source.
        max_length: Most tokens per hypothesis (``EOS`` included).
        length_penalty: GNMT's :math:`\\alpha` (0.6 in GNMT; 0: none).
        compiled: Run the step compiled (default) or eagerly.

    Returns:
        :class:`~kerasrnn.decoding.Decoded`: the best hypothesis of each
        source, its normalized score :math:`s(Y)`, and its alignments (with
        attention).
    """
    alpha = length_penalty
    source = check_source(source, max_length)
    if not isinstance(beam_size, (int, np.integer)) or beam_size < 1:
        raise ValueError(f"beam_size must be an integer >= 1; got {beam_size!r}")
    if not alpha >= 0.0:
        raise ValueError(f"length_penalty must be >= 0; got {alpha!r}")
    batch, k = source.shape[0], int(beam_size)
    encode, step = encoder_function(model, compiled), step_function(model, compiled)
    memory, memory_mask, states, keys = encode(ops.convert_to_tensor(source))
    # Every source's beams as consecutive rows: row b * k + i is beam i of source b.
    memory, memory_mask = ops.repeat(memory, k, axis=0), ops.repeat(memory_mask, k, axis=0)
    keys = None if keys is None else ops.repeat(keys, k, axis=0)
    states = [ops.repeat(state, k, axis=0) for state in states]

    log_prob = np.full((batch, k), -np.inf)
    log_prob[:, 0] = 0.0
    lengths = np.zeros((batch, k), dtype="int64")
    finished = np.zeros((batch, k), dtype=bool)
    history = np.zeros((batch, k, 0), dtype="int32")
    alignment_history = None
    tokens = np.full(batch * k, BOS_ID, dtype="int32")
    order = np.arange(batch * k, dtype="int32")
    sources = np.arange(batch)[:, None]
    for _ in range(max_length):
        log_probs, states, alignment = step(
            ops.convert_to_tensor(tokens), states, ops.convert_to_tensor(order), memory, memory_mask, keys
        )
        log_probs = ops.convert_to_numpy(log_probs).astype("float64")
        vocab = log_probs.shape[-1]
        log_probs = never_emitted(log_probs).reshape(batch, k, vocab)
        # A finished hypothesis has one continuation, padding, at no cost.
        log_probs = np.where(finished[..., None], -np.inf, log_probs)
        log_probs[..., PAD_ID] = np.where(finished, 0.0, log_probs[..., PAD_ID])
        total = log_prob[..., None] + log_probs
        new_lengths = lengths + ~finished
        score = total / gnmt_length_penalty(new_lengths, alpha)[..., None]
        best = _top_candidates(score.reshape(batch, k * vocab), k)
        parents, words = best // vocab, (best % vocab).astype("int32")
        log_prob = np.take_along_axis(total.reshape(batch, k * vocab), best, axis=1)
        lengths = new_lengths[sources, parents]
        was_finished = finished[sources, parents]
        words = np.where(was_finished, PAD_ID, words)
        finished = was_finished | (words == EOS_ID)
        history = np.concatenate([history[sources, parents], words[..., None]], axis=2)
        if alignment is not None:
            weights = ops.convert_to_numpy(alignment).reshape(batch, k, -1)[sources, parents]
            weights = np.where(was_finished[..., None], 0.0, weights)[:, :, None, :]
            previous = alignment_history[sources, parents] if alignment_history is not None else None
            alignment_history = weights if previous is None else np.concatenate([previous, weights], axis=2)
        order = (sources * k + parents).reshape(-1).astype("int32")
        tokens = words.reshape(-1)
        if finished.all():
            break
    final = log_prob / gnmt_length_penalty(np.maximum(lengths, 1), alpha)
    choice = final.argmax(axis=1)
    rows = np.arange(batch)
    chosen = np.zeros((batch, max_length), dtype="int32")
    chosen[:, : history.shape[2]] = history[rows, choice]
    alignments = None
    if alignment_history is not None:
        alignments = np.zeros((batch, max_length, alignment_history.shape[-1]))
        alignments[:, : history.shape[2]] = alignment_history[rows, choice]
    return trimmed(chosen, final[rows, choice], alignments)
