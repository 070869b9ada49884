"""Length-bucketed batching with keras.utils.PyDataset."""

import numpy as np
import pytest

from kerasrnn.data import PAD_VALUE, DataError
from kerasrnn.data.length_buckets import LengthBucketedSequence
from kerasrnn.data.padding import pad_sequences


def make_data(n=53, max_len=20, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, max_len + 1, size=n)
    sequences = [rng.normal(size=(length, 1)).astype(np.float32) for length in lengths]
    x, lengths = pad_sequences(sequences)
    y = np.arange(n, dtype=np.int32)  # y identifies the sample
    return x, y, lengths


def test_each_batch_padded_to_its_longest_member():
    x, y, lengths = make_data()
    dataset = LengthBucketedSequence(x, y, lengths, batch_size=8, seed=1)
    assert len(dataset) == 7
    for index in range(len(dataset)):
        xb, yb = dataset[index]
        assert xb.shape[1] == lengths[yb].max()
        assert xb.shape[0] == len(yb)
        for row, sample in zip(xb, yb):
            np.testing.assert_array_equal(row[: lengths[sample]], x[sample, : lengths[sample]])
            assert np.all(row[lengths[sample] :] == PAD_VALUE)
    # Bucketing pads far less than padding everything to the global maximum.
    assert dataset.padding_fraction() < 1 - lengths.sum() / (len(x) * x.shape[1])


def test_every_sample_once_per_epoch_and_reshuffled():
    x, y, lengths = make_data()
    dataset = LengthBucketedSequence(x, y, lengths, batch_size=8, seed=1)
    epochs = []
    for _ in range(3):
        seen = np.concatenate([dataset[i][1] for i in range(len(dataset))])
        assert sorted(seen.tolist()) == list(range(len(x)))
        epochs.append(seen)
        dataset.on_epoch_end()
    assert not np.array_equal(epochs[0], epochs[1])
    again = LengthBucketedSequence(x, y, lengths, batch_size=8, seed=1)
    np.testing.assert_array_equal(np.concatenate([again[i][1] for i in range(len(again))]), epochs[0])


def test_unshuffled_batches_sorted_by_length_and_list_input():
    x, y, lengths = make_data(n=20)
    sequences = [x[i, : lengths[i]] for i in range(len(x))]
    dataset = LengthBucketedSequence(sequences, y, batch_size=4, shuffle=False)
    widths = [dataset[i][0].shape[1] for i in range(len(dataset))]
    # Increasing, except that batch 1 is the first batch wider than batch 0.
    assert widths[0] == min(widths) and widths[1] > widths[0]
    assert widths[2:] == sorted(widths[2:])


def test_first_two_batches_differ_in_width():
    """Keras (TF backend) infers the tf.data signature from batches 0 and 1."""
    x, y, lengths = make_data(n=64, max_len=12, seed=3)
    for seed in range(10):
        dataset = LengthBucketedSequence(x, y, lengths, batch_size=4, seed=seed, pad_to_multiple=6)
        for _ in range(3):
            assert dataset[0][0].shape[1] != dataset[1][0].shape[1]
            dataset.on_epoch_end()
    multiple = LengthBucketedSequence(x, y, lengths, batch_size=4, pad_to_multiple=8)
    for i in range(len(multiple)):
        width = multiple[i][0].shape[1]
        assert width % 8 == 0 or width == x.shape[1]


def test_first_two_batches_differ_in_size_and_width():
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 20, size=37)
    x = np.full((37, 20, 1), -1e4, np.float32)
    for i, n in enumerate(lengths):
        x[i, :n] = 1.0
    for seed in range(5):
        batches = LengthBucketedSequence(x, np.zeros(37), lengths, batch_size=8, seed=seed)
        first, second = batches[0][0], batches[1][0]
        assert first.shape[0] != second.shape[0] and first.shape[1] != second.shape[1]


def test_sequence_targets_are_cut_too():
    x, _, lengths = make_data(n=16)
    y = np.zeros(x.shape[:2], dtype=np.int32)
    dataset = LengthBucketedSequence(x, y, lengths, batch_size=4, sequence_targets=True)
    for i in range(len(dataset)):
        xb, yb = dataset[i]
        assert yb.shape == xb.shape[:2]


def test_errors():
    x, y, lengths = make_data(n=10)
    with pytest.raises(DataError, match="one entry per sample"):
        LengthBucketedSequence(x, y[:5], lengths)
    with pytest.raises(DataError, match="batch_size"):
        LengthBucketedSequence(x, y, lengths, batch_size=0)
    with pytest.raises(DataError, match="lengths must be between"):
        LengthBucketedSequence(x, y, lengths + 100)
    with pytest.raises(IndexError):
        LengthBucketedSequence(x, y, lengths, batch_size=5)[2]


def test_fit_with_masking():
    import keras

    x, _, lengths = make_data(n=24, max_len=9)
    y = (lengths > 5).astype(np.int32)
    # pad_to_multiple=5: two batch widths (5 and 9), so two compilations on JAX.
    dataset = LengthBucketedSequence(x, y, lengths, batch_size=8, seed=0, pad_to_multiple=5)
    assert {dataset[i][0].shape[1] for i in range(len(dataset))} <= {5, 9}
    model = keras.Sequential(
        [
            keras.Input(shape=(None, 1)),
            keras.layers.Masking(mask_value=PAD_VALUE),
            keras.layers.SimpleRNN(4),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(dataset, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    assert dataset.epoch >= 2  # keras calls on_epoch_end after every epoch
