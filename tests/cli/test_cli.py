"""The ``kerasrnn`` command line, through click's CliRunner, on tiny real data.

Every command runs (fit on MNIST, sunspots, shakespeare and a UCR-style file
with variable lengths and string labels; evaluate; predict; generate; archs;
datasets; presets; env), and so do the error paths: exit code 2 for usage
errors and 1 for failures, a one-line message, no traceback, no earlier run
directory overwritten.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cli import catalog
from cli.main import main

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--units", "4", "--epochs", "1", "--batch-size", "16", "--max-samples", "48", "--quiet"]


def run_cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def assert_one_line_error(result, code, *fragments):
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


# --------------------------------------------------------------------------- #
# Fast commands
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("command", ["fit", "evaluate", "predict", "generate", "archs", "datasets", "presets", "env"])
def test_every_command_has_help_with_an_example(command):
    result = run_cli(command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.output and f"kerasrnn {command}" in result.output


def test_listings_come_from_the_registries():
    import kerasrnn
    from kerasrnn.data import DATASETS
    from kerasrnn.training import PRESETS

    archs = run_cli("archs")
    assert archs.exit_code == 0
    for name, description in kerasrnn.ARCHITECTURES.items():
        assert f"{name} " in archs.output and description in archs.output
    assert run_cli("datasets").exit_code == 0
    assert run_cli("presets").exit_code == 0
    assert "table-lstm-1" in run_cli("presets").output and "96.37%" in run_cli("presets").output
    assert catalog.architectures() == kerasrnn.ARCHITECTURES
    assert catalog.datasets() == DATASETS
    assert catalog.presets() == PRESETS


def test_static_registries_do_not_import_keras():
    code = (
        "import sys; import cli.main; from cli import catalog; "
        "catalog.registry.cache_clear(); a = catalog.architectures(); d = catalog.datasets(); p = catalog.presets(); "
        "assert 'bigru' in a and 'mnist' in d and 'table-lstm-1' in p; "
        "assert 'keras' not in sys.modules and 'kerasrnn' not in sys.modules, sorted(m for m in sys.modules if 'keras' in m)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_export_command_is_registered_lazily():
    from cli.main import LAZY_COMMANDS, _lazy_available

    if not _lazy_available("export"):
        pytest.skip("kerasrnn.export is not part of this tree")
    assert "export" in run_cli("--help").output
    result = run_cli("export", "--help")
    assert result.exit_code == 0 and "Example" in result.output
    assert "export" in LAZY_COMMANDS


def test_without_tensorflow_the_cli_picks_an_installed_backend(tmp_path):
    # A machine with only JAX or PyTorch (the lent GPU box): Keras would fail
    # on its default backend. Simulated by hiding tensorflow from imports.
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text("import sys\nsys.modules['tensorflow'] = None\n")
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env.update(PYTHONPATH=os.pathsep.join([str(hide), str(ROOT)]), KERAS_HOME=str(tmp_path / "keras-home"))
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "env", "--json"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["backend"] == "jax"
    assert "tensorflow (Keras' configured backend) is not installed; using jax" in result.stderr
    # A backend the user named (option or variable) is kept, without a word.
    for extra_args, extra_env in ((["--backend", "torch"], {}), ([], {"KERAS_BACKEND": "torch"})):
        result = subprocess.run(
            [sys.executable, "-m", "cli.main", "env", "--json", *extra_args], cwd=ROOT, env={**env, **extra_env},
            capture_output=True, text=True, timeout=300,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["backend"] == "torch" and "not installed" not in result.stderr


def test_env_shows_backend_and_versions():
    import keras

    result = run_cli("env", "--json")
    assert result.exit_code == 0
    info = json.loads(result.output)
    assert info["backend"] == keras.backend.backend() and info["keras"] == keras.__version__
    assert info["devices"]


# --------------------------------------------------------------------------- #
# fit / evaluate / predict / generate
# --------------------------------------------------------------------------- #


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "mnist"
    result = run_cli("fit", "--arch", "gru", "--out", out, *TINY)
    assert result.exit_code == 0, result.output
    return out


def test_fit_mnist_writes_the_run_directory(mnist_run):
    files = {p.name for p in mnist_run.iterdir()}
    assert {"model.keras", "config.json", "history.csv", "metrics.json", "curves.png"} <= files
    record = json.loads((mnist_run / "config.json").read_text())
    config = record["config"]
    assert (config["arch"], config["units"], config["dataset"], config["layout"]) == ("gru", 4, "mnist", "rows")
    assert config["clipnorm"] == 1.0 and config["optimizer"] == "adam"
    assert record["environment"]["python"] and record["environment"]["backend_version"]
    metrics = json.loads((mnist_run / "metrics.json").read_text())
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and metrics["test_samples"] == 48


def test_evaluate_reproduces_the_stored_test_metrics(mnist_run):
    result = run_cli("evaluate", mnist_run, "--json")
    assert result.exit_code == 0, result.output
    evaluated = json.loads(result.output)
    stored = json.loads((mnist_run / "metrics.json").read_text())
    assert evaluated["test_accuracy"] == pytest.approx(stored["test_accuracy"])
    assert evaluated["test_loss"] == pytest.approx(stored["test_loss"], rel=1e-4)


def test_predict_npz_images_to_csv(mnist_run, tmp_path):
    from kerasrnn.data.mnist import load_mnist_bundled

    images, labels = load_mnist_bundled()
    np.savez(tmp_path / "digits.npz", x=images[:5])  # uint8, 0..255
    result = run_cli("predict", mnist_run, "--input", tmp_path / "digits.npz")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("index,prediction,probability,p_0,p_1")
    assert len(lines) == 6
    assert "pixels divided by 255" in result.stderr
    out = tmp_path / "predictions.csv"
    assert run_cli("predict", mnist_run, "--input", tmp_path / "digits.npz", "--output", out).exit_code == 0
    assert out.read_text().splitlines() == lines


def test_fit_sunspots_reports_rmse_beside_the_baselines(tmp_path):
    out = tmp_path / "sun"
    result = run_cli("fit", "--dataset", "sunspots", "--arch", "lstm", "--out", out, *TINY)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_rmse"] > 0 and metrics["test_rmse_units"] == "sunspot number"
    assert metrics["baselines"]["persistence_rmse"] == pytest.approx(27.2, abs=0.1)
    assert metrics["baselines"]["ar9_rmse"] == pytest.approx(14.6, abs=0.3)
    assert "persistence" in result.stdout and "AR(9)" in result.stdout
    # forecasts in sunspot numbers from raw windows
    np.savetxt(tmp_path / "windows.csv", np.full((2, 12), 50.0), delimiter=",")
    predicted = run_cli("predict", out, "--input", tmp_path / "windows.csv")
    assert predicted.exit_code == 0, predicted.output
    assert predicted.stdout.splitlines()[0] == "index,prediction"


def test_fit_shakespeare_then_generate(tmp_path):
    out = tmp_path / "text"
    result = run_cli(
        "fit", "--dataset", "shakespeare", "--arch", "gru", "--max-chars", "20000", "--seq-len", "20",
        "--sample-length", "12", "--out", out, *TINY,
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["val_bits_per_char"] == pytest.approx(metrics["val_loss"] / np.log(2))
    assert "bits/char" in result.stdout
    assert (out / "samples.txt").read_text().count("=== temperature") == 3
    generated = run_cli("generate", out, "--length", "15", "--temperature", "0.5", "--prime", "ROMEO:")
    assert generated.exit_code == 0, generated.output
    assert generated.stdout.startswith("ROMEO:") and len(generated.stdout.rstrip("\n")) >= len("ROMEO:")
    greedy = run_cli("generate", out, "--length", "40", "--temperature", "0", "--end", "e", "--samples", "2")
    assert greedy.exit_code == 0 and greedy.stdout.count("=== sample") == 2
    bidirectional = run_cli("fit", "--dataset", "shakespeare", "--arch", "bigru", "--out", tmp_path / "bi", *TINY)
    assert_one_line_error(bidirectional, 2, "bidirectional", "gru")
    assert not (tmp_path / "bi").exists()


def _ucr_file(path, rng, rows=30):
    """UCR-style rows with string labels and lengths 5..12 (trailing empty fields)."""
    lines = []
    for i in range(rows):
        label = ("up", "down")[i % 2]
        length = int(rng.integers(5, 13))
        values = np.cumsum(rng.normal(1.0 if label == "up" else -1.0, 0.3, size=length))
        lines.append(",".join([label, *(f"{v:.4f}" for v in values)] + [""] * (12 - length)))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_fit_variable_length_file_with_string_labels_and_predict(tmp_path):
    data = _ucr_file(tmp_path / "Walk_TRAIN.csv", np.random.default_rng(0))
    out = tmp_path / "walk"
    result = run_cli("fit", "--data", data, "--arch", "bigru", "--units", "4", "--epochs", "2",
                     "--batch-size", "12", "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    record = json.loads((out / "config.json").read_text())
    assert record["data"]["variable_length"] and record["data"]["class_names"] == ["down", "up"]
    assert record["data"]["info"]["split"]["test_indices"]  # the split is recorded
    test = _ucr_file(tmp_path / "new.csv", np.random.default_rng(1), rows=6)
    predicted = run_cli("predict", out, "--input", test, "--label-col", "0")
    assert predicted.exit_code == 0, predicted.output
    rows = predicted.stdout.strip().splitlines()
    assert rows[0] == "index,prediction,probability,label,p_down,p_up" and len(rows) == 7
    assert "accuracy" in predicted.stderr


def test_fit_per_step_labelling_with_variable_lengths(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 9)).astype(np.float32)
    y = (x > 0).astype(np.int64)  # label of every step: is the value positive?
    for i in range(24):
        x[i, 4 + i % 5:] = np.nan  # trailing NaN: shorter sequences
    np.savez(tmp_path / "steps.npz", x=x, y=y)
    out = tmp_path / "steps"
    result = run_cli("fit", "--data", tmp_path / "steps.npz", "--arch", "lstm", "--units", "4", "--epochs", "1",
                     "--batch-size", "8", "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    record = json.loads((out / "config.json").read_text())
    assert record["data"]["task"] == "labelling" and record["data"]["variable_length"]
    assert 0.0 <= json.loads((out / "metrics.json").read_text())["test_accuracy"] <= 1.0
    np.savez(tmp_path / "new.npz", x=x[:3])
    predicted = run_cli("predict", out, "--input", tmp_path / "new.npz")
    assert predicted.exit_code == 0, predicted.output
    rows = predicted.stdout.strip().splitlines()[1:]
    assert [len(row.split(",")[1].split()) for row in rows] == [4, 5, 6]  # one label per valid step


# --------------------------------------------------------------------------- #
# Errors
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["fit", "--arch", "transformer"], ["unknown architecture 'transformer'", "bigru"]),
        (["fit", "--dataset", "cifar10"], ["unknown dataset 'cifar10'", "mnist, sunspots, shakespeare"]),
        (["fit", "--preset", "lstm-9"], ["unknown preset 'lstm-9'", "table-lstm-1"]),
        (["fit", "--data", "no/such/file.csv"], ["data file not found"]),
        (["fit", "--optimizer", "adagrad"], ["adagrad"]),
        (["fit", "--units", "0", "--max-samples", "8"], ["units must be an integer >= 1"]),
        (["fit", "--resume", "no/such/run"], ["run directory not found"]),
        (["evaluate", "no/such/run"], ["run directory not found"]),
        (["predict", "no/such/run", "--input", "x.npz"], ["run directory not found"]),
    ],
)
def test_usage_errors_exit_2_with_one_line(args, fragments):
    assert_one_line_error(run_cli(*args), 2, *fragments)


def test_existing_run_directory_is_not_overwritten(mnist_run):
    before = {p.name: p.read_bytes() for p in mnist_run.iterdir() if p.is_file()}
    result = run_cli("fit", "--out", mnist_run, *TINY)
    assert_one_line_error(result, 2, "exists and is not empty", "--resume")
    assert {p.name: p.read_bytes() for p in mnist_run.iterdir() if p.is_file()} == before
    resumed = run_cli("fit", "--resume", mnist_run, "--units", "8")
    assert_one_line_error(resumed, 2, "--resume continues a run", "--units")
    complete = run_cli("fit", "--resume", mnist_run)
    assert_one_line_error(complete, 2, "is complete")


def test_data_failures_exit_1_with_one_line(tmp_path):
    malformed = tmp_path / "bad.csv"
    malformed.write_text("1,0.5,0.25\n2,0.1,oops\n1,0.3,0.2\n")
    assert_one_line_error(run_cli("fit", "--data", malformed, *TINY, "--out", tmp_path / "a"), 1,
                          "line 2", "expected a number", "'oops'")
    nan_inside = tmp_path / "nan.csv"
    nan_inside.write_text("".join(f"{i % 2},0.5,nan,0.25\n" for i in range(20)))
    assert_one_line_error(run_cli("fit", "--data", nan_inside, *TINY, "--out", tmp_path / "b"), 1,
                          "missing value (NaN or empty) inside")
    good = tmp_path / "good.csv"
    good.write_text("".join(f"{i % 2},0.5,0.1,0.25\n" for i in range(20)))
    assert_one_line_error(run_cli("fit", "--data", good, "--label-col", "7", *TINY, "--out", tmp_path / "c"), 1,
                          "label")
    assert not any((tmp_path / name).exists() for name in "abc")  # nothing written for bad data


def test_unwritable_out_exits_1(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert_one_line_error(run_cli("fit", "--out", blocker / "run", *TINY), 1, "cannot create the run directory")


def test_nan_loss_exits_1_and_says_so(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6)).astype(np.float32)
    y = (rng.normal(size=40) * 1e30).astype(np.float32)  # squared error overflows float32
    np.savez(tmp_path / "huge.npz", x=x, y=y)
    out = tmp_path / "run"
    result = run_cli("fit", "--data", tmp_path / "huge.npz", "--task", "regression", "--out", out, *TINY)
    assert_one_line_error(result, 1, "training stopped: the loss became", "lower --lr")
    assert json.loads((out / "config.json").read_text())["status"] == "failed"


def test_debug_shows_the_traceback(tmp_path):
    malformed = tmp_path / "bad.csv"
    malformed.write_text("1,0.5\n2,oops\n")
    result = CliRunner().invoke(main, ["--debug", "fit", "--data", str(malformed), *TINY, "--out", str(tmp_path / "r")])
    assert result.exit_code == 1
    assert "Traceback" in result.output and "DataError" in result.output
