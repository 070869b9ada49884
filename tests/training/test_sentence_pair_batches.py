"""Teacher-forcing batches of sentence pairs: shifted targets, per-batch widths, seeded order."""

from __future__ import annotations

import numpy as np
import pytest

from kerasrnn.training.sentence_pair_batches import SentencePairBatches, pair_lengths

pytestmark = pytest.mark.backend_independent


def _pairs(n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 9), np.int32)
    y = np.zeros((n, 8), np.int32)
    for i in range(n):
        s, t = rng.integers(1, 8), rng.integers(1, 6)
        x[i, :s] = rng.integers(4, 20, s)
        x[i, s] = 3  # EOS
        y[i, 0] = 2  # BOS
        y[i, 1 : 1 + t] = rng.integers(4, 20, t)
        y[i, 1 + t] = 3
    return x, y


def test_batches_are_teacher_forcing_pairs_cut_to_their_longest_sentence():
    x, y = _pairs()
    batches = SentencePairBatches(x, y, batch_size=8, shuffle=True, seed=3)
    seen = []
    for index in range(len(batches)):
        (source, decoder_input), labels = batches[index]
        rows = batches.batch_indices(index)
        seen.extend(rows.tolist())
        width = source.shape[1]
        assert decoder_input.shape == labels.shape == (len(rows), width)
        assert width == pair_lengths(x[rows], y[rows]).max()
        for k, row in enumerate(rows):
            # nothing real is cut off: source and target survive whole
            np.testing.assert_array_equal(source[k, : np.count_nonzero(x[row])], x[row, : np.count_nonzero(x[row])])
            target = np.concatenate([decoder_input[k, :1], labels[k]])
            n = np.count_nonzero(y[row])
            np.testing.assert_array_equal(target[:n], y[row, :n])
            np.testing.assert_array_equal(labels[k, :-1], decoder_input[k, 1:])  # labels: the next token
    assert sorted(seen) == list(range(len(x)))


def test_order_depends_only_on_seed_and_epoch():
    x, y = _pairs()
    a = SentencePairBatches(x, y, batch_size=8, seed=1)
    b = SentencePairBatches(x, y, batch_size=8, seed=1)
    b.set_epoch(2)
    b.set_epoch(0)
    assert [a.batch_indices(i).tolist() for i in range(len(a))] == [b.batch_indices(i).tolist() for i in range(len(b))]
    a.set_epoch(1)
    assert [a.batch_indices(i).tolist() for i in range(len(a))] != [b.batch_indices(i).tolist() for i in range(len(b))]


def test_sorting_pads_less_than_one_width_for_all():
    x, y = _pairs(200)
    batches = SentencePairBatches(x, y, batch_size=16, shuffle=False)
    assert batches.padding_fraction() < 1.0 - pair_lengths(x, y).mean() / pair_lengths(x, y).max()
