"""One small untrained model with attention, shared by the decoding tests (each backend compiles it once)."""

import numpy as np
import pytest

from kerasrnn.models.encoder_decoder import EncoderDecoder


@pytest.fixture(scope="package")
def random_model():
    return EncoderDecoder("gru", source_vocab_size=12, target_vocab_size=9, units=8, embedding_dim=6, attention="luong")


@pytest.fixture(scope="package")
def sources():
    """Five sources of several lengths, right-padded, ending with EOS."""
    rng = np.random.default_rng(0)
    rows = np.zeros((5, 6), dtype="int32")
    for row, length in enumerate([5, 3, 4, 1, 2]):
        rows[row, :length] = rng.integers(4, 12, length)
        rows[row, length] = 3
    return rows
