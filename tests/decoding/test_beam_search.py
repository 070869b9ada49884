"""Beam search: known toy probabilities, GNMT length penalty, EOS handling, beam 1 == greedy, batching."""

import itertools

import numpy as np
import pytest

from kerasrnn.decoding import beam_search, gnmt_length_penalty, greedy_decode
from tests.decoding.bigram_model import (
    ENDLESS,
    EOS,
    GREEDY_MISSES,
    SHORT_OR_LONG,
    A,
    B,
    BigramModel,
)

SOURCE = np.array([[4, 5, 3], [5, 3, 0]], dtype="int32")


def best_by_enumeration(model, max_length, alpha):
    """The highest-scoring sequence over A, B and EOS, every sequence up to max_length enumerated."""
    best, best_score = None, -np.inf
    for length in range(1, max_length + 1):
        for body in itertools.product([A, B], repeat=length - 1):
            sequence = [*body, EOS]
            score = model.log_prob(sequence) / gnmt_length_penalty(length, alpha)
            if score > best_score:
                best, best_score = sequence, score
    return best, best_score


@pytest.mark.parametrize("alpha", [0.0, 0.6])
def test_beam_finds_the_best_sequence_greedy_misses(alpha):
    model = BigramModel(GREEDY_MISSES)
    greedy = greedy_decode(model, SOURCE, max_length=5)
    np.testing.assert_array_equal(greedy.tokens, [[A, EOS], [A, EOS]])
    np.testing.assert_allclose(greedy.scores, np.log(0.55 * 0.4), rtol=1e-5)
    beam = beam_search(model, SOURCE, beam_size=2, max_length=5, length_penalty=alpha)
    best, best_score = best_by_enumeration(model, 5, alpha)
    assert best == [B, EOS]
    np.testing.assert_array_equal(beam.tokens, [best, best])
    np.testing.assert_allclose(beam.scores, best_score, rtol=1e-5)
    np.testing.assert_allclose(best_score, np.log(0.45 * 0.9) / ((5 + 2) / 6) ** alpha, rtol=1e-5)


def test_length_penalty_decides_between_a_finished_short_and_a_longer_hypothesis():
    model = BigramModel(SHORT_OR_LONG)
    # alpha 0: the EOS finished at step 1 is kept in the beam and wins against A EOS.
    short = beam_search(model, SOURCE, beam_size=2, max_length=4, length_penalty=0.0)
    np.testing.assert_array_equal(short.tokens, [[EOS], [EOS]])
    np.testing.assert_allclose(short.scores, np.log(0.5), rtol=1e-5)
    # alpha 1: log(0.475) / (7/6) = -0.638 beats log(0.5) / 1 = -0.693.
    long = beam_search(model, SOURCE, beam_size=2, max_length=4, length_penalty=1.0)
    np.testing.assert_array_equal(long.tokens, [[A, EOS], [A, EOS]])
    np.testing.assert_allclose(long.scores, np.log(0.5 * 0.95) / (7 / 6), rtol=1e-5)
    for alpha, decoded in ((0.0, short), (1.0, long)):
        assert best_by_enumeration(model, 4, alpha)[0] == list(decoded.tokens[0])


def test_a_hypothesis_without_eos_stops_at_max_length():
    model = BigramModel(ENDLESS)
    decoded = beam_search(model, SOURCE, beam_size=3, max_length=4, length_penalty=0.6)
    np.testing.assert_array_equal(decoded.tokens, [[A] * 4, [A] * 4])
    np.testing.assert_allclose(decoded.scores, 0.0, atol=1e-5)
    assert decoded.alignments is None


def test_arguments_are_checked():
    model = BigramModel(ENDLESS)
    with pytest.raises(ValueError, match="beam_size"):
        beam_search(model, SOURCE, beam_size=0)
    with pytest.raises(ValueError, match="source must be integer ids"):
        beam_search(model, SOURCE.astype("float32"))


def test_beam_one_is_greedy_and_rows_are_independent(random_model, sources):
    greedy = greedy_decode(random_model, sources, max_length=7)
    beam = beam_search(random_model, sources, beam_size=1, max_length=7, length_penalty=0.6)
    np.testing.assert_array_equal(beam.tokens, greedy.tokens)
    np.testing.assert_allclose(beam.scores, greedy.scores / gnmt_length_penalty(greedy.lengths(), 0.6), rtol=1e-4)
    np.testing.assert_allclose(beam.alignments, greedy.alignments, atol=1e-6)
    wide = beam_search(random_model, sources, beam_size=3, max_length=7)
    assert wide.tokens.shape[0] == len(sources) and wide.alignments.shape[2] == sources.shape[1]
    assert np.all(wide.scores >= beam.scores - 1e-5)  # a wider beam finds a score at least as high
    # rows do not mix: the same sources in another order give the same rows in that order
    order = np.array([3, 0, 4, 1, 2])
    shuffled = beam_search(random_model, sources[order], beam_size=3, max_length=7)
    np.testing.assert_array_equal(shuffled.tokens, wide.tokens[order])
    np.testing.assert_allclose(shuffled.scores, wide.scores[order], rtol=1e-5)
