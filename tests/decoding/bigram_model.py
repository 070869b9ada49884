"""A hand-built decoder whose next-token probabilities are known: a table indexed by the previous token.

It ignores the source (beyond its batch size) and has the interface the
decoders use (``encode``, ``decode_step``), so beam search and greedy
decoding can be checked against sequences whose probabilities are computed by
hand.
"""

import keras
import numpy as np
from keras import ops

PAD, UNK, BOS, EOS, A, B = range(6)
VOCAB = 6


def table(rows: dict) -> np.ndarray:
    """``rows``: previous token -> {next token: probability}; the rest of a row gets 1e-9."""
    probabilities = np.full((VOCAB, VOCAB), 1e-9)
    probabilities[PAD] = 1.0 / VOCAB  # what a finished row feeds back: any distribution
    for previous, nexts in rows.items():
        for token, p in nexts.items():
            probabilities[previous, token] = p
    return np.log(probabilities / probabilities.sum(axis=1, keepdims=True)).astype("float32")


class BigramModel(keras.Model):
    def __init__(self, rows: dict, **kwargs) -> None:
        super().__init__(**kwargs)
        self.log_probs = table(rows)

    def encode(self, source, training=False):
        column = ops.cast(ops.zeros_like(source), "float32")  # (B, S)
        return ops.expand_dims(column, -1), ops.ones_like(column), [column[:, :1]]

    def decode_step(self, tokens, states, memory, memory_mask, keys=None):
        return ops.take(ops.convert_to_tensor(self.log_probs), tokens, axis=0), list(states), None

    def log_prob(self, sequence) -> float:
        """The model's log-probability of ``sequence`` (without BOS), in float64."""
        previous, total = BOS, 0.0
        for token in sequence:
            total += float(self.log_probs[previous, token])
            previous = token
        return total


#: Greedy takes A (0.55) then EOS (0.4): p = 0.22; B (0.45) then EOS (0.9) has p = 0.405.
GREEDY_MISSES = {BOS: {A: 0.55, B: 0.45}, A: {EOS: 0.4, A: 0.3, B: 0.3}, B: {EOS: 0.9, A: 0.05, B: 0.05}}

#: EOS at once (p = 0.5, 1 token) against A then EOS (p = 0.475, 2 tokens): the length penalty decides.
SHORT_OR_LONG = {BOS: {EOS: 0.5, A: 0.5}, A: {EOS: 0.95, B: 0.05}, B: {EOS: 1.0}}

#: Never ends: A forever.
ENDLESS = {BOS: {A: 1.0}, A: {A: 1.0}}
