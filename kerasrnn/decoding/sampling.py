"""Sampling: every token drawn from the model's distribution, sharpened by a temperature, cut to the top k.

.. math:: \\hat y_t \\sim \\mathrm{softmax}(\\log p(\\cdot \\mid \\hat y_{<t}, x) / \\tau) \\text{ over the } k \\text{ most probable tokens}

``temperature=0`` (or ``top_k=1``) is greedy decoding. The draws come from a
NumPy generator seeded by ``seed`` (Gumbel-max on the host), so a seed gives
the same sequences on every backend for the same model. A row's score is the
sum of its tokens' log-probabilities under the model (before temperature and
top-k).

``keras_hub.samplers.TopKSampler``/``RandomSampler`` are not used (see
:mod:`kerasrnn.decoding`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from kerasrnn.decoding.decoded import Decoded
from kerasrnn.decoding.greedy import decode_by_choice


def sample_decode(
    model: Any,
    source: Any,
    max_length: int = 50,
    temperature: float = 1.0,
    top_k: int = 0,
    seed: int = 0,
    compiled: bool = True,
) -> Decoded:
    """Samples one sequence per source.

    Args:
        model: An :class:`~kerasrnn.models.encoder_decoder.EncoderDecoder`.
        source: int ``(batch, S)`` source ids, right-padded with 0.
        max_length: Most tokens per row (``EOS`` included).
        temperature: ``tau > 0`` divides the log-probabilities (below 1:
            sharper, above: flatter); 0 picks the most probable token.
        top_k: Draw among the ``k`` most probable tokens only; 0: all.
        seed: Seed of the draws.
        compiled: Run the step compiled (default) or eagerly.
    """
    if not temperature >= 0.0:
        raise ValueError(f"temperature must be >= 0; got {temperature!r}")
    if not isinstance(top_k, (int, np.integer)) or top_k < 0:
        raise ValueError(f"top_k must be an integer >= 0 (0: all tokens); got {top_k!r}")
    rng = np.random.default_rng(seed)

    def choose(log_probs: np.ndarray) -> np.ndarray:
        if temperature == 0.0 or top_k == 1:
            return log_probs.argmax(axis=-1)
        scaled = log_probs / temperature
        if 0 < top_k < scaled.shape[-1]:
            kth = np.partition(scaled, -top_k, axis=-1)[:, -top_k][:, None]
            scaled = np.where(scaled >= kth, scaled, -np.inf)
        return (scaled + rng.gumbel(size=scaled.shape)).argmax(axis=-1)

    return decode_by_choice(model, source, max_length, choose, compiled)
