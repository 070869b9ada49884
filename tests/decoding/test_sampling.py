"""Sampling: temperature 0 and top_k 1 are greedy, a seed reproduces, temperature and top-k shape the draws."""

import numpy as np
import pytest

from kerasrnn.decoding import greedy_decode, sample_decode
from tests.decoding.bigram_model import BOS, EOS, GREEDY_MISSES, A, B, BigramModel


def test_cold_and_top_one_sampling_are_greedy(random_model, sources):
    greedy = greedy_decode(random_model, sources, max_length=7)
    for options in (dict(temperature=1e-6), dict(temperature=0.0), dict(top_k=1, temperature=2.0)):
        sampled = sample_decode(random_model, sources, max_length=7, seed=5, **options)
        np.testing.assert_array_equal(sampled.tokens, greedy.tokens)
        np.testing.assert_allclose(sampled.scores, greedy.scores, rtol=1e-5)


def test_a_seed_reproduces_and_another_differs(random_model, sources):
    first = sample_decode(random_model, sources, max_length=7, seed=3)
    again = sample_decode(random_model, sources, max_length=7, seed=3)
    np.testing.assert_array_equal(first.tokens, again.tokens)
    other = sample_decode(random_model, sources, max_length=7, seed=4)
    assert not np.array_equal(first.tokens, other.tokens)


def test_draw_frequencies_follow_the_model():
    model = BigramModel(GREEDY_MISSES)
    source = np.full((2000, 2), 4, dtype="int32")
    first = sample_decode(model, source, max_length=3, seed=0).tokens[:, 0]
    assert abs((first == A).mean() - 0.55) < 0.04 and abs((first == B).mean() - 0.45) < 0.04
    # top_k=2 after A keeps EOS (0.4) and A (0.35), never B (0.25)
    ranked = BigramModel({BOS: {A: 0.55, B: 0.45}, A: {EOS: 0.4, A: 0.35, B: 0.25}, B: {EOS: 1.0}})
    second = sample_decode(ranked, source, max_length=3, seed=0, top_k=2).tokens
    after_a = second[second[:, 0] == A, 1]
    assert set(np.unique(after_a)) == {EOS, A}
    everything = sample_decode(ranked, source, max_length=3, seed=0).tokens
    assert B in everything[everything[:, 0] == A, 1]
    # a high temperature flattens 0.55/0.45 towards 0.5/0.5 (pad/unk/bos keep p ~ 1e-9 ** (1/T))
    hot = sample_decode(model, source, max_length=1, seed=0, temperature=3.0).tokens[:, 0]
    assert abs((hot == A).mean() - 0.5) < abs((first == A).mean() - 0.5) + 0.02


def test_bad_options_are_refused(random_model, sources):
    with pytest.raises(ValueError, match="temperature"):
        sample_decode(random_model, sources, temperature=-1.0)
    with pytest.raises(ValueError, match="top_k"):
        sample_decode(random_model, sources, top_k=-2)
