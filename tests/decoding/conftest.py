"""One small untrained model with attention, shared by the decoding tests (each backend compiles it once)."""

import keras
import numpy as np
import pytest

from kerasrnn.models.encoder_decoder import EncoderDecoder


@pytest.fixture(scope="package")
def random_model():
    """Seeded, its output layer scaled so that its logits spread as a trained model's do.

    An untrained model's near-equal logits make near-ties that float32 rounding breaks one way in one
    code path (the teacher-forced loop, the step, a beam's extra rows) and the other way in another.
    """
    keras.utils.set_random_seed(1)
    model = EncoderDecoder(
        "gru", source_vocab_size=12, target_vocab_size=9, units=8, embedding_dim=6, attention="luong"
    )
    model.ensure_built()
    model.output_layer.kernel.assign(model.output_layer.kernel * 30.0)
    return model


@pytest.fixture(scope="package")
def sources():
    """Five sources of several lengths, right-padded, ending with EOS."""
    rng = np.random.default_rng(0)
    rows = np.zeros((5, 6), dtype="int32")
    for row, length in enumerate([5, 3, 4, 1, 2]):
        rows[row, :length] = rng.integers(4, 12, length)
        rows[row, length] = 3
    return rows
