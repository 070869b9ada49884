"""Learning: a tiny encoder-decoder with attention learns to reverse digit strings (issue #11)."""

import keras
import numpy as np
import pytest

from kerasrnn.decoding import beam_search, greedy_decode
from kerasrnn.models.encoder_decoder import EncoderDecoder

BOS, EOS, FIRST_DIGIT = 2, 3, 4

# On torch the attention decoder trains through Keras' Python step loop (no fused kernel for
# AttentionCell): 150 steps take about 6 times TensorFlow's or JAX's time (74 s against 10-13 s on
# the shared 2-core machine), past the suite's budget; there it runs with the slow tests.
pytestmark = [pytest.mark.slow] if keras.backend.backend() == "torch" else []


def digit_strings(count, rng, shortest=2, longest=4):
    """Sources ``[d.., EOS, 0..]`` and targets ``[BOS, reversed d.., EOS, 0..]`` (digits are ids 4..13)."""
    source = np.zeros((count, longest + 1), "int32")
    target = np.zeros((count, longest + 2), "int32")
    for row in range(count):
        digits = rng.integers(FIRST_DIGIT, FIRST_DIGIT + 10, rng.integers(shortest, longest + 1))
        source[row, : len(digits)], source[row, len(digits)] = digits, EOS
        target[row, 0], target[row, 1 : len(digits) + 1], target[row, len(digits) + 1] = BOS, digits[::-1], EOS
    return source, target


def exact_match(decoded, target):
    expected = target[:, 1:]  # without BOS, padded
    width = max(expected.shape[1], decoded.shape[1])
    padded = [np.pad(a, ((0, 0), (0, width - a.shape[1]))) for a in (expected, decoded)]
    return float((padded[0] == padded[1]).all(axis=1).mean())


@pytest.fixture(scope="module")
def trained():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    source, target = digit_strings(1200, rng)
    model = EncoderDecoder(
        "gru", source_vocab_size=14, target_vocab_size=14, units=32, embedding_dim=16, attention="luong"
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
    )
    model.fit([source, target[:, :-1]], target[:, 1:], batch_size=50, epochs=5, verbose=0)
    return model, digit_strings(200, rng)


def test_learns_to_reverse_digit_strings(trained):
    model, (source, target) = trained
    greedy = greedy_decode(model, source, max_length=8)
    print(f"reversal exact match: greedy {exact_match(greedy.tokens, target):.3f}")
    assert exact_match(greedy.tokens, target) >= 0.95
    beam = beam_search(model, source, beam_size=3, max_length=8)
    assert exact_match(beam.tokens, target) >= 0.95
    # the alignment of the first output digit lies on the source's last digit
    lengths = (source != 0).sum(axis=1) - 1  # digits before EOS
    first = greedy.alignments[:, 0, :].argmax(axis=1)
    assert (first == lengths - 1).mean() >= 0.8
