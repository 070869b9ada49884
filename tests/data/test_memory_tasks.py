"""The generated long-memory tasks: adding, copy, arithmetic, xml.

The generators' properties are checked on the arrays themselves (exact sums,
one marker per half, copy targets, arithmetic answers recomputed from the
decoded inputs, well-formed XML), and so are determinism by seed and the
baselines against their formulas.  ``copy`` (labelling) and ``xml`` (language
model) train end to end through ``kerasrnn.fit`` on tiny sizes; ``adding``
trains in the learning test (an LSTM at T = 10 well below the constant-1
baseline); ``arithmetic`` is labelling as ``copy`` is, and its own metrics are
checked through its ``Dataset`` with given predictions (no backend).
"""

import json
import math
import re

import numpy as np
import pytest

from kerasrnn.data import load_dataset
from kerasrnn.data.adding import CONSTANT_ONE_MSE, adding_problem, load_adding
from kerasrnn.data.arithmetic import CLASSES, NOTHING, SYMBOLS, answer_metrics, load_arithmetic, max_steps
from kerasrnn.data.copy_memory import copy_metrics, load_copy_memory, memoryless_loss
from kerasrnn.data.generated_task import task_rng
from kerasrnn.data.xml_modelling import VOCABULARY, closing_accuracy, closing_tag_mask, load_xml_modelling
from kerasrnn.errors import ConfigError, DataError
from kerasrnn.training import RunConfig

LOADERS = {
    "adding": lambda seed: load_adding(length=12, samples=60, seed=seed),
    "copy": lambda seed: load_copy_memory(length=5, samples=60, seed=seed),
    "arithmetic": lambda seed: load_arithmetic(digits=3, distractors=2, samples=60, seed=seed),
    "xml": lambda seed: load_xml_modelling(length=40, samples=60, seed=seed),
}


# --------------------------------------------------------------------------- #
# Generators
# --------------------------------------------------------------------------- #


@pytest.mark.backend_independent
@pytest.mark.parametrize("length", [2, 7, 100])
def test_adding_marks_one_value_in_each_half_and_targets_their_exact_sum(length):
    x, y = adding_problem(length, 500, task_rng(3))
    assert x.shape == (500, length, 2) and y.shape == (500, 1) and x.dtype == y.dtype == np.float32
    values, markers = x[..., 0], x[..., 1]
    assert np.all((values >= 0) & (values < 1))
    assert set(np.unique(markers)) <= {0.0, 1.0} and np.all(markers.sum(axis=1) == 2)
    half = length // 2
    assert np.all(markers[:, :half].sum(axis=1) == 1) and np.all(markers[:, half:].sum(axis=1) == 1)
    np.testing.assert_array_equal(y[:, 0], (values * markers).sum(axis=1, dtype=np.float32))
    if length == 100:  # both halves are used throughout, not one fixed place
        assert len(set(markers[:, :half].argmax(axis=1))) > 40 and len(set(markers[:, half:].argmax(axis=1))) > 40


@pytest.mark.backend_independent
def test_adding_baseline_is_the_mse_of_answering_one():
    data = load_adding(length=20, samples=20_000, seed=1)
    baselines = data.info["baselines"]
    assert baselines["constant_one_mse"] == pytest.approx(1 / 6) == CONSTANT_ONE_MSE
    assert baselines["constant_one_mse_test"] == pytest.approx(float(np.mean((data.y_test - 1.0) ** 2)))
    everything = np.concatenate([data.y_train, data.y_val, data.y_test])
    assert float(np.mean((everything - 1.0) ** 2)) == pytest.approx(1 / 6, abs=0.005)  # Var(u1 + u2)
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (16_200, 1_800, 2_000)


@pytest.mark.backend_independent
def test_copy_sequences_and_targets_are_the_papers():
    delay = 7
    data = load_copy_memory(length=delay, samples=200, seed=2)
    x, y = data.x_train, data.y_train
    assert x.shape[1:] == (delay + 20, 10) and y.shape[1:] == (delay + 20,) and y.dtype == np.int32
    assert np.all(x.sum(axis=-1) == 1)  # one-hot
    inputs = x.argmax(axis=-1)
    symbols = inputs[:, :10]
    assert symbols.min() == 1 and symbols.max() == 8
    assert np.all(inputs[:, 10 : 10 + delay - 1] == 0)  # T - 1 blanks
    assert np.all(inputs[:, 10 + delay - 1] == 9)  # the delimiter
    assert np.all(inputs[:, -10:] == 0)  # 10 blanks
    assert np.all(y[:, : delay + 10] == 0)
    np.testing.assert_array_equal(y[:, -10:], symbols)
    assert data.class_names[0] == "blank" and data.class_names[9] == "delimiter"


@pytest.mark.backend_independent
@pytest.mark.parametrize("delay", [1, 100, 400])
def test_copy_memoryless_baseline_is_the_papers_formula_and_its_cross_entropy(delay):
    assert memoryless_loss(delay) == pytest.approx(10 * math.log(8) / (delay + 20))
    data = load_copy_memory(length=delay, samples=30, seed=0)
    # The memoryless strategy: blank for sure until the delimiter, then uniform over 1..8.
    probabilities = np.zeros((len(data.y_test), delay + 20, 10))
    probabilities[:, : delay + 10, 0] = 1.0
    probabilities[:, delay + 10 :, 1:9] = 1 / 8
    targets = data.y_test
    chosen = np.take_along_axis(probabilities, targets[..., None], axis=-1)[..., 0]
    assert float(-np.mean(np.log(np.clip(chosen, 1e-7, 1)))) == pytest.approx(memoryless_loss(delay))
    assert copy_metrics(probabilities, targets)["copy_loss"] == pytest.approx(math.log(8))
    perfect = np.eye(10)[targets]
    assert copy_metrics(perfect, targets) == {"copy_loss": pytest.approx(0, abs=1e-6), "copy_accuracy": 1.0}


def _decode_arithmetic(x_row, y_row):
    """(text read, answer predicted by the targets) of one sample."""
    read = "".join(SYMBOLS[i] for i in x_row.argmax(axis=-1)[x_row.sum(axis=-1) == 1])
    answer = "".join(CLASSES[i] for i in y_row if CLASSES[i] != NOTHING)
    return read, answer


@pytest.mark.backend_independent
def test_arithmetic_answers_are_the_sums_and_differences_of_what_is_read():
    digits, distractors = 4, 3
    data = load_arithmetic(digits=digits, distractors=distractors, samples=400, seed=5)
    assert data.x_train.shape[1:] == (max_steps(digits, distractors), 40) and len(SYMBOLS) == 40
    signs, widest, most_letters = set(), 0, 0
    for x_row, y_row in zip(data.x_train, data.y_train):
        read, answer = _decode_arithmetic(x_row, y_row)
        question, rest = read.split("=")
        assert rest == answer  # the step reading '=' predicts the first answer character ...
        assert answer.endswith(".") and y_row[x_row.sum(axis=-1) == 1].tolist()[-1] == CLASSES.index(NOTHING)
        gaps = re.findall(r"[a-z]+", question + "=")
        most_letters = max([most_letters, *map(len, gaps)])
        assert not question[0].isalpha()  # no distractor before the first character
        a, op, b = re.fullmatch(r"(\d+)([+-])(\d+)", re.sub("[a-z]", "", question)).groups()
        assert len(a) <= digits and len(b) <= digits and (len(a) == 1 or a[0] != "0")
        assert int(answer[:-1]) == (int(a) + int(b) if op == "+" else int(a) - int(b))
        signs.add(op)
        widest = max(widest, len(a), len(b))
        # padding: zero inputs, nothing to predict
        steps = int(x_row.sum())
        assert np.all(x_row[steps:] == 0) and np.all(y_row[steps:] == CLASSES.index(NOTHING))
    assert signs == {"+", "-"} and widest == digits and most_letters == distractors


@pytest.mark.backend_independent
def test_arithmetic_answer_metrics_count_only_the_answer_steps():
    config = RunConfig(dataset="arithmetic", digits=3, distractors=1, samples=50).resolve()
    dataset = config.make_dataset()
    data = dataset.load()
    targets = data.y_test
    perfect = np.eye(len(CLASSES))[targets]
    metrics = dataset.split_metrics({"loss": 0.5}, data, "test", lambda: perfect)
    assert metrics == {
        "loss": 0.5,
        "answer_loss": pytest.approx(0, abs=1e-6),
        "answer_accuracy": 1.0,
        "exact_answers": 1.0,
    }
    one_wrong = perfect.copy()
    row, step = 0, int(np.flatnonzero(targets[0] != CLASSES.index(NOTHING))[0])
    one_wrong[row, step] = np.roll(one_wrong[row, step], 1)
    assert answer_metrics(one_wrong, targets)["exact_answers"] == pytest.approx(1 - 1 / len(targets))
    blanks = np.eye(len(CLASSES))[np.full_like(targets, CLASSES.index(NOTHING))]  # never answers
    assert answer_metrics(blanks, targets)["answer_accuracy"] == 0.0
    assert answer_metrics(blanks, targets)["exact_answers"] == 0.0


@pytest.mark.backend_independent
def test_xml_documents_are_well_formed_and_closing_tags_are_masked():
    data = load_xml_modelling(length=300, samples=40, seed=4)
    np.testing.assert_array_equal(data.x_train[:, 1:], data.y_train[:, :-1])  # next character
    assert data.num_outputs == VOCABULARY.size == 30
    opened_depth = 0
    for x_row, y_row in zip(data.x_train, data.y_train):
        text = VOCABULARY.decode(np.concatenate([x_row, y_row[-1:]]))
        lines = text.split("\n")
        stack = []
        for tag in lines[:-1]:  # the last line may be cut by the window
            name = re.fullmatch(r"</?([a-z]{2,10})>", tag).group(1)
            if tag.startswith("</"):
                assert stack and stack.pop() == name  # closes the most recent open tag
            else:
                stack.append(name)
            opened_depth = max(opened_depth, len(stack))
        # the mask marks exactly the letters and '>' of closing tags, in the targets
        mask = closing_tag_mask(y_row[None])[0]
        shifted = VOCABULARY.decode(y_row)
        expected = np.zeros(len(shifted), dtype=bool)
        for match in re.finditer(r"</([a-z]*>?)", shifted):
            expected[match.start(1) : match.end(1)] = True
        np.testing.assert_array_equal(mask, expected)
    assert opened_depth >= 3
    logits = np.eye(30)[data.y_test]
    assert closing_accuracy(logits, data.y_test) == 1.0
    wrong = np.eye(30)[np.zeros_like(data.y_test)]
    assert closing_accuracy(wrong, data.y_test) < 0.1


@pytest.mark.backend_independent
@pytest.mark.parametrize("name", list(LOADERS))
def test_generators_are_deterministic_by_seed_and_differ_between_seeds(name):
    first, again, other = LOADERS[name](0), LOADERS[name](0), LOADERS[name](1)
    assert first.digest() == again.digest()
    assert first.digest() != other.digest()
    assert not np.array_equal(first.x_test, other.x_test)
    assert len(first.x_train) + len(first.x_val) + len(first.x_test) == 60 and len(first.x_test) == 6


# --------------------------------------------------------------------------- #
# Options and errors
# --------------------------------------------------------------------------- #


@pytest.mark.backend_independent
def test_task_options_resolve_and_belong_to_their_tasks():
    config = RunConfig(dataset="adding", length=30, samples=90).resolve()
    assert (config.arch, config.time_budget) == ("lstm", 60.0)
    data = config.make_dataset().load()
    assert data.input_shape == (30, 2) and data.info["samples"] == 90
    assert RunConfig(dataset="copy").make_dataset().load().input_shape == (120, 10)  # default delay 100
    with pytest.raises(ConfigError, match="length = 50 does not apply to dataset 'mnist'; it is an option of"):
        RunConfig(length=50).resolve()
    with pytest.raises(
        ConfigError, match="digits = 3 does not apply to dataset 'adding'; it is an option of arithmetic"
    ):
        RunConfig(dataset="adding", digits=3).resolve()
    with pytest.raises(ConfigError, match="samples must be an integer >= 1"):
        RunConfig(dataset="copy", samples=0).resolve()
    with pytest.raises(ConfigError, match="distractors must be an integer from 0 to 20"):
        RunConfig(dataset="arithmetic", distractors=21).resolve()
    assert load_dataset("xml", length=20, samples=30).x_train.shape[1:] == (20,)


@pytest.mark.backend_independent
@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: load_adding(length=1), "adding length must be an integer >= 2; got 1"),
        (lambda: load_copy_memory(length=0), r"copy length \(the delay T\) must be an integer >= 1"),
        (lambda: load_arithmetic(digits=17), "arithmetic digits must be an integer from 1 to 16"),
        (lambda: load_xml_modelling(samples=2), "xml samples must be an integer >= 3"),
        (lambda: load_adding(samples=5, validation_fraction=1.0), "validation_fraction must be in"),
        (lambda: load_adding(seed=-1), "seed must be a non-negative integer"),
    ],
)
def test_bad_task_arguments_raise_data_errors(call, message):
    with pytest.raises(DataError, match=message):
        call()


# --------------------------------------------------------------------------- #
# Training end to end
# --------------------------------------------------------------------------- #


@pytest.mark.slow
@pytest.mark.parametrize(
    "options, expected",
    [
        (dict(dataset="copy", length=3), {"test_copy_accuracy", "test_copy_loss", "test_memoryless_loss"}),
        (dict(dataset="xml", length=30), {"test_closing_accuracy", "test_bits_per_char"}),
    ],
)
def test_each_task_trains_end_to_end(tmp_path, options, expected):
    from kerasrnn.training import fit

    tiny = dict(units=4, epochs=1, batch_size=16, samples=40, time_budget=0.0, sample_length=4)
    config = RunConfig(arch="gru", **tiny, **options)
    run = fit(config, out=tmp_path / "run", progress=False)
    metrics = json.loads((run / "metrics.json").read_text())
    assert expected <= set(metrics), sorted(metrics)
    assert all(np.isfinite(metrics[key]) for key in expected)
    if options["dataset"] == "copy":
        assert metrics["test_memoryless_loss"] == pytest.approx(10 * math.log(8) / 23)
    if options["dataset"] == "xml":
        assert (run / "samples.txt").read_text().count("=== temperature") == 3


@pytest.mark.slow
def test_an_lstm_learns_the_adding_problem_well_below_the_baseline(tmp_path):
    """T = 10: an LSTM must remember two values over up to 10 steps; answering 1 scores 0.167."""
    from kerasrnn.training import evaluate_run, fit

    config = RunConfig(
        dataset="adding",
        arch="lstm",
        length=10,
        samples=2500,
        units=24,
        batch_size=32,
        epochs=4,
        lr=1e-2,
        time_budget=0.0,
    )
    run = fit(config, out=tmp_path / "adding", progress=False)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["baselines"]["constant_one_mse"] == pytest.approx(1 / 6)
    assert metrics["test_mse"] < 0.3 * metrics["test_baseline_mse"], metrics
    assert evaluate_run(run)["test_mse"] == pytest.approx(metrics["test_mse"], rel=1e-4)
