"""Greedy decoding: EOS handling, compiled equals eager, alignments."""

import numpy as np
import pytest
from keras import ops

from kerasrnn.decoding import greedy_decode
from tests.decoding.bigram_model import BOS, ENDLESS, EOS, GREEDY_MISSES, A, BigramModel


def test_rows_end_at_their_eos_and_scores_stop_there(random_model, sources):
    decoded = greedy_decode(random_model, sources, max_length=7)
    assert decoded.tokens.dtype == np.int32 and decoded.tokens.shape[0] == 5
    for row in decoded.tokens:
        ends = np.flatnonzero(row == EOS)
        if ends.size:
            assert not row[ends[0] + 1 :].any()
    assert decoded.alignments.shape == (*decoded.tokens.shape, sources.shape[1])
    real = decoded.tokens != 0
    np.testing.assert_allclose(decoded.alignments.sum(axis=-1)[real], 1.0, atol=1e-5)
    np.testing.assert_array_equal(decoded.alignments[~real], 0.0)
    # no weight on padded source steps
    padded = np.broadcast_to((sources == 0)[:, None, :], decoded.alignments.shape)
    np.testing.assert_array_equal(decoded.alignments[padded], 0.0)
    assert np.all(decoded.scores <= 0.0)


def test_compiled_decoding_scores_are_the_teacher_forced_model_s(random_model, sources):
    """The compiled step's choices, scored by the (eager) teacher-forced model, give the decoder's scores."""
    decoded = greedy_decode(random_model, sources, max_length=7)
    assert not np.isin(decoded.tokens, [BOS]).any()
    target_in = np.concatenate([np.full((5, 1), BOS, "int32"), decoded.tokens[:, :-1]], axis=1)
    logits = ops.convert_to_numpy(random_model([sources, target_in])).astype("float64")
    log_probs = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    chosen = np.take_along_axis(log_probs, decoded.tokens[..., None], axis=-1)[..., 0]
    real = decoded.tokens != 0
    np.testing.assert_allclose(decoded.scores, np.where(real, chosen, 0.0).sum(axis=1), rtol=1e-4)
    # greedy: every chosen token is the teacher-forced argmax (padding and BOS excluded)
    log_probs[..., [0, BOS]] = -np.inf
    np.testing.assert_array_equal(decoded.tokens[real], log_probs.argmax(axis=-1)[real])


def test_eager_equals_compiled_on_the_toy_model():
    source = np.array([[4, 3], [5, 3]], dtype="int32")
    model = BigramModel(GREEDY_MISSES)
    compiled, eager = greedy_decode(model, source, max_length=4), greedy_decode(model, source, 4, compiled=False)
    np.testing.assert_array_equal(compiled.tokens, eager.tokens)
    np.testing.assert_allclose(compiled.scores, eager.scores, rtol=1e-6)


def test_toy_model_eos_and_max_length():
    source = np.array([[4, 3], [5, 3]], dtype="int32")
    decoded = greedy_decode(BigramModel(GREEDY_MISSES), source, max_length=5)
    np.testing.assert_array_equal(decoded.tokens, [[A, EOS], [A, EOS]])
    endless = greedy_decode(BigramModel(ENDLESS), source, max_length=3)
    np.testing.assert_array_equal(endless.tokens, [[A] * 3] * 2)
    np.testing.assert_array_equal(endless.lengths(), [3, 3])


def test_bad_source_is_refused(random_model):
    with pytest.raises(ValueError, match=r"shape \(batch, S\)"):
        greedy_decode(random_model, np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="max_length"):
        greedy_decode(random_model, np.array([[4, 3]]), max_length=0)
