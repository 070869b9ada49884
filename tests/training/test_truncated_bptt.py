"""``kerasrnn fit --tbptt K``: chunked batches, carried states, and fit/resume/evaluate on tiny data."""

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from kerasrnn.models.architectures import build_model
from kerasrnn.training import ConfigError, RunConfig, fit, resume
from kerasrnn.training.evaluation import evaluate_run
from kerasrnn.training.generation import generate_from_run
from kerasrnn.training.inputs import ShuffledBatches
from kerasrnn.training.prediction import predict_file
from kerasrnn.training.truncated_bptt import (
    CarriedStates,
    SequenceChunks,
    StreamChunks,
    carried_model,
    check_tbptt,
)

STEPS = 12  # time steps of the labelling file
LABELLING = dict(dataset="file", task="labelling", arch="gru", units=4, batch_size=8, epochs=1, time_budget=0.0)
TEXT = dict(
    dataset="shakespeare",
    max_chars=3000,
    seq_len=20,
    units=8,
    embedding_dim=4,
    batch_size=4,
    epochs=2,
    patience=0,
    time_budget=0.0,
    sample_length=10,
)


def _metrics(run):
    return json.loads((Path(run) / "metrics.json").read_text())


@pytest.fixture(scope="module")
def labelling_file(tmp_path_factory):
    """40 sequences of 12 steps; the label of a step is the sign of a running sum (needs memory)."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, STEPS)).astype("float32")
    y = (np.cumsum(x, axis=1) > 0).astype("int64")
    path = tmp_path_factory.mktemp("tbptt") / "steps.npz"
    np.savez(path, x=x, y=y)
    return str(path)


# --------------------------------------------------------------------------- #
# Options and what is refused
# --------------------------------------------------------------------------- #


@pytest.mark.backend_independent
@pytest.mark.parametrize("value", [0, -3, 2.5, "8", True])
def test_bad_chunk_length_is_refused_in_one_line(value):
    with pytest.raises(ConfigError, match=r"^tbptt must be an integer >= 1; got ") as error:
        RunConfig(dataset="shakespeare", tbptt=value).resolve()
    assert "\n" not in str(error.value)
    assert RunConfig(dataset="shakespeare", tbptt=50).resolve().tbptt == 50


@pytest.mark.backend_independent
def test_cli_refuses_a_chunk_length_that_is_not_a_positive_integer():
    from click.testing import CliRunner

    from kerasrnn.cli.main import main

    for value, fragment in (("abc", "abc"), ("0", "tbptt must be an integer >= 1; got 0")):
        result = CliRunner().invoke(main, ["fit", "--dataset", "shakespeare", "--tbptt", value, "--quiet"])
        assert result.exit_code == 2, result.output
        lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith(("Usage", "Try"))]
        assert len(lines) == 1 and lines[0].startswith("Error") and fragment in lines[0], result.stderr


@pytest.mark.backend_independent
@pytest.mark.parametrize(
    "options, task, message",
    [
        (dict(dataset="mnist"), "classification", "needs a target at every step"),
        (dict(dataset="sunspots"), "regression", "one target per sequence"),
        (dict(dataset="shakespeare", arch="bigru"), "language_model", "bigru is bidirectional"),
        (dict(dataset="mnist", arch="conv-lstm"), "labelling", "conv-lstm has none"),
    ],
)
def test_tasks_and_architectures_that_cannot_be_truncated_are_refused(options, task, message):
    config = RunConfig(**options, tbptt=10).resolve()
    with pytest.raises(ConfigError, match=message):
        check_tbptt(config, task)


def test_fit_refuses_a_classification_file_before_writing_anything(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "classes.npz"
    np.savez(path, x=rng.normal(size=(30, 6)).astype("float32"), y=rng.integers(0, 2, 30))
    out = tmp_path / "run"
    with pytest.raises(ConfigError, match="classification with one target per sequence"):
        fit(RunConfig(dataset="file", data_file=str(path), tbptt=3, units=4), out=out, progress=False)
    assert not out.exists()


# --------------------------------------------------------------------------- #
# Batches
# --------------------------------------------------------------------------- #


@pytest.mark.backend_independent
def test_stream_chunks_continue_each_row_and_reset_once_per_epoch():
    text = np.arange(1, 104, dtype="int32")  # 103 "characters"
    batches = StreamChunks(text[:-1], text[1:], streams=3, chunk=5)
    assert len(batches) == 34 // 5  # 3 streams of 34 characters, 6 chunks of 5, the tail of 4 unused
    (first, reset), target = batches[0]
    (second, later), _ = batches[1]
    assert first.shape == (3, 5) and reset.tolist() == [1, 1, 1] and later.tolist() == [0, 0, 0]
    np.testing.assert_array_equal(second[:, 0], first[:, -1] + 1)  # row b goes on where it stopped
    np.testing.assert_array_equal(first[:, 0], [1, 35, 69])  # three contiguous thirds of the text
    np.testing.assert_array_equal(target, first + 1)
    assert len(StreamChunks(text[:-1], text[1:], streams=3, chunk=1000)) == 1


@pytest.mark.backend_independent
def test_sequence_chunks_walk_each_group_in_order_and_equal_untruncated_batches_at_full_length():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(10, 7, 2)), rng.integers(0, 3, size=(10, 7))
    chunks = SequenceChunks(x, y, batch_size=4, chunk=3, seed=5)
    assert len(chunks) == 2 * 3  # 2 full groups of 4, 3 chunks (3, 3, 1 steps)
    chunks.epoch = 1
    pieces = [chunks[i] for i in range(3)]
    assert [piece[0][1].tolist() for piece in pieces] == [[1] * 4, [0] * 4, [0] * 4]
    joined = np.concatenate([piece[0][0] for piece in pieces], axis=1)
    plain = ShuffledBatches(x, y, 4, seed=5)
    plain.epoch = 1
    np.testing.assert_array_equal(joined, plain[0][0])  # the same rows, whole again
    whole = SequenceChunks(x, y, batch_size=4, chunk=7, seed=5)
    whole.epoch = 1
    assert len(whole) == len(plain)
    for index in range(len(plain)):
        np.testing.assert_array_equal(whole[index][0][0], plain[index][0])
        np.testing.assert_array_equal(whole[index][1], plain[index][1])


# --------------------------------------------------------------------------- #
# The carried model
# --------------------------------------------------------------------------- #


def test_carried_model_continues_the_states_and_resets_rows():
    keras.utils.set_random_seed(0)
    model = build_model("lstm", "language_model", (None,), 7, units=5, layers=2, embedding_dim=3)
    carried = carried_model(model, batch_size=2)
    ids = np.random.default_rng(0).integers(0, 7, size=(2, 12)).astype("int32")
    whole = np.asarray(model.predict_on_batch(ids))
    pieces = [
        np.asarray(carried.predict_on_batch([ids[:, i : i + 4], np.full((2,), float(i == 0), "float32")]))
        for i in range(0, 12, 4)
    ]
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), whole, atol=1e-5)
    # Row 1 reset, row 0 carried on: row 1 reads its chunk from a zero state.
    again = np.asarray(carried.predict_on_batch([ids[:, :4], np.array([0.0, 1.0], "float32")]))
    np.testing.assert_allclose(again[1], whole[1, :4], atol=1e-5)
    assert np.abs(again[0] - whole[0, :4]).max() > 1e-3


def test_a_training_step_starts_from_the_state_the_previous_chunk_left():
    """Chunk 2's SGD step equals that of a model given chunk 1's final state as a constant."""
    keras.utils.set_random_seed(0)
    units, chunk = 3, 4
    model = build_model("gru", "labelling", (None, 2), 2, units=units)
    carried = carried_model(model, batch_size=2)
    carried.compile(keras.optimizers.SGD(0.0), keras.losses.SparseCategoricalCrossentropy())
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(2, 2 * chunk, 2)).astype("float32"), rng.integers(0, 2, size=(2, 2 * chunk))
    carried.train_on_batch([x[:, :chunk], np.ones(2, "float32")], y[:, :chunk])  # lr 0: only the state moves
    layer = carried.get_layer("recurrent")
    assert isinstance(layer, CarriedStates)
    state = np.asarray(layer.carried[0])
    before = [np.asarray(w) for w in carried.trainable_weights]

    # The reference: the same layers, chunk 1's final state as a constant input.
    sequences, start = keras.Input((None, 2)), keras.Input((units,))
    recurrent = model.get_layer("recurrent")
    head = model.get_layer("classifier")
    reference = keras.Model([sequences, start], head(recurrent(sequences, initial_state=[start])))
    np.testing.assert_allclose(
        np.asarray(reference.predict_on_batch([x[:, :chunk], np.zeros((2, units), "float32")]))[:, -1],
        np.asarray(model.predict_on_batch(x[:, :chunk]))[:, -1],
        atol=1e-6,
    )
    assert np.abs(state).max() > 1e-3

    carried.optimizer.learning_rate = 0.5
    carried.train_on_batch([x[:, chunk:], np.zeros(2, "float32")], y[:, chunk:])
    reference.compile(keras.optimizers.SGD(0.5), keras.losses.SparseCategoricalCrossentropy())
    reference.train_on_batch([x[:, chunk:], state], y[:, chunk:])
    for got, want, old in zip(carried.trainable_weights, reference.trainable_weights, before):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-6)
        assert np.abs(np.asarray(got) - old).max() > 0


# --------------------------------------------------------------------------- #
# fit, resume, evaluate, predict, generate
# --------------------------------------------------------------------------- #


def test_full_length_chunks_train_exactly_as_untruncated(tmp_path, labelling_file):
    """Tolerance: losses rtol 1e-5, weights atol 1e-6 (float32; the compiled steps differ by the reset input)."""
    plain = fit(RunConfig(**LABELLING, data_file=labelling_file), out=tmp_path / "plain", progress=False)
    whole = fit(RunConfig(**LABELLING, data_file=labelling_file, tbptt=STEPS), out=tmp_path / "whole", progress=False)
    record = json.loads((whole / "config.json").read_text())
    assert record["config"]["tbptt"] == STEPS and record["status"] == "complete"
    a, b = _metrics(plain), _metrics(whole)
    for key in ("val_loss", "test_loss", "test_accuracy"):
        assert b[key] == pytest.approx(a[key], rel=1e-5), key
    rows_a = (plain / "history.csv").read_text().splitlines()
    rows_b = (whole / "history.csv").read_text().splitlines()
    assert rows_a[0] == rows_b[0] and "val_loss" in rows_b[0]
    saved_a = keras.saving.load_model(plain / "model.keras")
    saved_b = keras.saving.load_model(whole / "model.keras")
    # The saved model is the ordinary one: any batch size, no carried state.
    assert saved_b.inputs[0].shape[0] is None
    assert not any(isinstance(layer, CarriedStates) for layer in saved_b.layers)
    for got, want in zip(saved_b.get_weights(), saved_a.get_weights()):
        np.testing.assert_allclose(got, want, atol=1e-6)
    assert evaluate_run(whole)["test_accuracy"] == pytest.approx(a["test_accuracy"], rel=1e-5)
    _, rows, summary = predict_file(whole, labelling_file)
    assert summary["samples"] == 40 and rows


class _StopAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt


def test_language_model_trains_in_chunks_resumes_and_generates(tmp_path):
    whole = fit(RunConfig(**TEXT, tbptt=8), out=tmp_path / "whole", progress=False)
    history = [row for row in (whole / "history.csv").read_text().splitlines()]
    header = history[0].split(",")
    steps = [int(float(row.split(",")[header.index("steps")])) for row in history[1:]]
    train_chars = (int(3000 * 0.9) - 1) // 20 * 20  # the training windows, joined
    assert steps == [(train_chars // 4) // 8, 2 * ((train_chars // 4) // 8)]  # 4 streams in chunks of 8
    metrics = _metrics(whole)
    assert 0 < metrics["val_bits_per_char"] < 8 and "test_bits_per_char" in metrics

    out = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        fit(RunConfig(**TEXT, tbptt=8), out=out, progress=False, extra_callbacks=(_StopAfterFirstEpoch(),))
    resumed = resume(out, progress=False)
    for key in ("val_loss", "test_loss", "test_bits_per_char"):
        assert _metrics(resumed)[key] == pytest.approx(metrics[key], rel=1e-6), key

    samples = generate_from_run(whole, length=15, seed=1)
    assert len(samples[0]) == 15
    assert evaluate_run(whole, split="val")["val_bits_per_char"] == pytest.approx(metrics["val_bits_per_char"])
