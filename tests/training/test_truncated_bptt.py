"""``kerasrnn fit --tbptt K``: chunked batches, carried states, and fit/resume/evaluate on tiny data."""

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from kerasrnn.data.text import CharVocabulary
from kerasrnn.models.architectures import build_model
from kerasrnn.training import ConfigError, RunConfig, RunDir, fit, resume
from kerasrnn.training.evaluation import evaluate_run, load_run_model
from kerasrnn.training.generation import sample_text
from kerasrnn.training.inputs import ShuffledBatches, load_run_data
from kerasrnn.training.model import build_and_compile
from kerasrnn.training.prediction import predict_file
from kerasrnn.training.truncated_bptt import (
    CarriedStates,
    SequenceChunks,
    StreamChunks,
    carried_model,
    check_tbptt,
    inference_model,
)

STEPS = 12  # time steps of the labelling file
LABELLING = dict(dataset="file", task="labelling", arch="gru", units=4, batch_size=8, epochs=2, time_budget=0.0)
TEXT = dict(
    dataset="shakespeare",
    max_chars=3000,
    seq_len=20,
    units=8,
    embedding_dim=4,
    batch_size=4,
    epochs=1,
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


def _cross_entropy(logits, targets):
    logits = logits - logits.max(axis=-1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    return -np.take_along_axis(log_p, targets[..., None], axis=-1).mean()


def test_carried_model_continues_the_states_in_prediction_and_training_and_resets_rows():
    keras.utils.set_random_seed(0)
    model = build_model("lstm", "language_model", (None,), 7, units=5, embedding_dim=3)
    carried = carried_model(model, batch_size=2)
    ids = np.random.default_rng(0).integers(0, 7, size=(2, 13)).astype("int32")
    x, y = ids[:, :12], ids[:, 1:]
    whole = np.asarray(model.predict_on_batch(x), dtype="float64")
    pieces = [
        np.asarray(carried.predict_on_batch([x[:, i : i + 4], np.full((2,), float(i == 0), "float32")]))
        for i in range(0, 12, 4)
    ]
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), whole, atol=1e-5)
    # Row 1 reset, row 0 carried on: row 1 reads its chunk from a zero state.
    again = np.asarray(carried.predict_on_batch([x[:, :4], np.array([0.0, 1.0], "float32")]))
    np.testing.assert_allclose(again[1], whole[1, :4], atol=1e-5)
    assert np.abs(again[0] - whole[0, :4]).max() > 1e-3

    # A training step updates the carried states, and the next one starts from them (lr 0: weights stay).
    carried.compile(keras.optimizers.SGD(0.0), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    losses = [
        float(carried.train_on_batch([x[:, i : i + 4], np.full((2,), float(i == 0), "float32")], y[:, i : i + 4]))
        for i in range(0, 12, 4)
    ]
    expected = [_cross_entropy(whole[:, i : i + 4], y[:, i : i + 4]) for i in range(0, 12, 4)]
    np.testing.assert_allclose(losses, expected, rtol=1e-5)
    assert isinstance(carried.get_layer("recurrent"), CarriedStates)


def test_the_ordinary_form_gets_the_carried_models_weights(labelling_file):
    config = RunConfig(**LABELLING, data_file=labelling_file, tbptt=5).resolve()
    data = load_run_data(config)
    carried = build_and_compile(config, data)
    assert [tensor.shape[0] for tensor in carried.inputs] == [8, 8]
    rng = np.random.default_rng(0)
    for variable in carried.trainable_variables:
        variable.assign(rng.normal(size=variable.shape).astype("float32"))
    for _ in range(2):  # the second call reuses the first model: it must take the weights again
        plain = inference_model(carried, config, data)
        assert plain.inputs[0].shape[0] is None
        for got, want in zip(plain.trainable_variables, carried.trainable_variables):
            np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
        carried.trainable_variables[0].assign(carried.trainable_variables[0] + 1.0)


# --------------------------------------------------------------------------- #
# fit, resume, evaluate, predict, generate
# --------------------------------------------------------------------------- #


class _StopAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt


def test_full_length_chunks_train_exactly_as_untruncated_and_resume(tmp_path, labelling_file):
    """K = T equals untruncated training (losses rtol 1e-5, weights atol 1e-6), here across a resume."""
    plain = fit(RunConfig(**LABELLING, data_file=labelling_file), out=tmp_path / "plain", progress=False)
    out = tmp_path / "whole"
    config = RunConfig(**LABELLING, data_file=labelling_file, tbptt=STEPS)
    with pytest.raises(KeyboardInterrupt):
        fit(config, out=out, progress=False, extra_callbacks=(_StopAfterFirstEpoch(),))
    record = json.loads((out / "config.json").read_text())
    assert record["config"]["tbptt"] == STEPS and record["status"] == "running"
    whole = resume(out, progress=False)
    assert json.loads((whole / "config.json").read_text())["resumed"][0]["after_epoch"] == 1

    a, b = _metrics(plain), _metrics(whole)
    for key in ("val_loss", "test_loss", "test_accuracy"):
        assert b[key] == pytest.approx(a[key], rel=1e-5), key
    history_a, history_b = RunDir(plain).read_history(), RunDir(whole).read_history()
    assert [row["epoch"] for row in history_b] == [1, 2]
    for row_a, row_b in zip(history_a, history_b):
        for key in ("loss", "val_loss", "steps"):
            assert row_b[key] == pytest.approx(row_a[key], rel=1e-5), key
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


def test_language_model_trains_in_chunks_and_generates(tmp_path):
    config = RunConfig(**TEXT, tbptt=20)
    run = fit(config, out=tmp_path / "text", progress=False)
    history = RunDir(run).read_history()
    train_chars = (int(3000 * 0.9) - 1) // 20 * 20  # the training windows, joined
    assert [row["steps"] for row in history] == [(train_chars // 4) // 20]  # 4 streams in chunks of 20
    metrics = _metrics(run)
    assert 0 < metrics["val_bits_per_char"] < 8 and "test_bits_per_char" in metrics
    assert history[0]["val_bits_per_char"] == pytest.approx(metrics["val_bits_per_char"], rel=1e-5)

    # Carried: the saved ordinary model reading the 4 streams of the split whole gives the same figure.
    data = load_run_data(config.resolve())
    streams = data.x_val.size // 4 // 20 * 20
    assert streams == 20  # 150 validation characters: 4 streams of 37, one chunk of 20 each
    x = data.x_val.reshape(-1)[: data.x_val.size // 4 * 4].reshape(4, -1)[:, :streams]
    y = data.y_val.reshape(-1)[: data.y_val.size // 4 * 4].reshape(4, -1)[:, :streams]
    model = load_run_model(RunDir(run))  # what kerasrnn generate and evaluate load
    logits = np.asarray(model.predict_on_batch(x), dtype="float64")
    assert metrics["val_bits_per_char_carried"] == pytest.approx(_cross_entropy(logits, y) / np.log(2.0), rel=1e-4)
    vocabulary = CharVocabulary.from_config(data.info["vocabulary"])
    samples = sample_text(model, vocabulary, 5, 0.8, "\n", window=20, num_samples=4, seed=1)
    assert len(samples) == 4 and all(len(text) == 5 for text in samples)
