"""The ``kerasrnn`` command line, through click's CliRunner, on tiny real data.

Every command runs (fit on MNIST, sunspots, shakespeare and a UCR-style file
with variable lengths and string labels; evaluate; predict; generate; archs;
datasets; presets; env), and so do the error paths: exit code 2 for usage
errors and 1 for failures, a one-line message, no traceback, no earlier run
directory overwritten.
"""

import dataclasses
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner

from kerasrnn.cli.main import COMMANDS, main

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


# Runs the command line in a fresh interpreter, then names the heavy modules it imported.
_HEAVY_IMPORTS = """
import sys
from kerasrnn.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
heavy = sorted(name for name in ("keras", "tensorflow", "jax", "torch") if name in sys.modules)
print("EXIT", code, "HEAVY", ",".join(heavy) or "-", file=sys.stderr)
"""


def run_fresh(*args):
    """``kerasrnn ARGS`` in a new process: (stdout, stderr, exit code, heavy modules imported)."""
    result = subprocess.run(
        [sys.executable, "-c", _HEAVY_IMPORTS, *map(str, args)],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    last = result.stderr.strip().splitlines()[-1].split()
    assert last[0] == "EXIT", result.stderr
    heavy = [] if last[3] == "-" else last[3].split(",")
    return result.stdout, result.stderr, int(last[1] or 0), heavy


def listing(stdout):
    return dict(line.split(None, 1) for line in stdout.splitlines() if line.strip())


def test_listings_are_the_registry_and_import_no_keras():
    from kerasrnn import registry

    stdout, _, code, heavy = run_fresh("archs")
    assert (code, heavy) == (0, [])
    assert listing(stdout) == registry.ARCHITECTURE_DESCRIPTIONS
    stdout, _, code, heavy = run_fresh("datasets")
    assert (code, heavy) == (0, [])
    assert listing(stdout) == {name: entry.description for name, entry in registry.DATASETS.items()}
    assert "--data FILE" in listing(stdout)[registry.FILE_DATASET]
    stdout, _, code, heavy = run_fresh("presets")
    assert (code, heavy) == (0, [])
    presets = listing(stdout)
    assert list(presets) == list(registry.presets())
    for name, entry in registry.presets().items():
        assert presets[name].startswith(entry["description"])
    assert "96.37%" in presets["table-lstm-1"]


@pytest.mark.parametrize(
    "args, code",
    [
        (["--help"], 0),
        (["fit", "--help"], 0),
        (["fit", "--arch", "nope"], 2),
        (["fit", "--preset", "nope"], 2),
        (["fit", "--dataset", "nope"], 2),
        (["fit", "--units", "0"], 2),
        (["fit", "--data", "no/such/file.csv"], 2),
        (["evaluate", "no/such/run"], 2),
    ],
)
def test_help_and_usage_errors_import_no_keras(args, code):
    _, stderr, exit_code, heavy = run_fresh(*args)
    assert (exit_code, heavy) == (code, []), stderr


def test_fit_accepts_the_earlier_architecture_names():
    from kerasrnn.cli.fit import config_from_options

    assert config_from_options({"arch": "convlstm"}).resolve().arch == "conv-lstm"
    assert config_from_options({"arch": "layernorm-lstm"}).resolve().arch == "layer-norm-lstm"
    assert "layernorm-lstm (layer-norm-lstm)" in run_cli("archs", "--help").output


def test_the_command_table_has_each_commands_own_short_help():
    checked = []
    for name, entry in COMMANDS.items():
        command = main.get_command(None, name)
        assert command.get_short_help_str(limit=1000) == entry.short_help, name
        checked.append(name)
    assert set(checked) == {
        "fit",
        "translate",
        "evaluate",
        "predict",
        "generate",
        "archs",
        "datasets",
        "presets",
        "env",
        "export",
        "bench",
        "launch",
    }


def test_fit_has_an_option_for_every_run_config_field():
    from kerasrnn.cli.fit import fit
    from kerasrnn.cli.options import option_flag
    from kerasrnn.training.run_config import RunConfig

    help_text = run_cli("fit", "--help").output
    options = {name: param for param in fit.params for name in param.opts}
    for field in dataclasses.fields(RunConfig):
        if not field.metadata.get("cli"):
            continue
        flag = option_flag(field)
        assert flag in options and options[flag].name == field.name, flag
        assert f"  {flag} " in help_text, flag
    # Fields the command line sets its own way have their hand-written options.
    for flag in ("--dataset", "--pixel", "--permuted", "--preset", "--backend"):
        assert flag in options


def test_a_new_run_config_field_gets_its_option_by_itself():
    from kerasrnn.cli.options import config_options
    from kerasrnn.training.run_config import RunConfig, option

    @dataclasses.dataclass
    class Extended(RunConfig):
        warmup_epochs: int = option(0, "Epochs of linear learning-rate warm-up.", type=int)
        shape: str = option("flat", "Shape.", choices=("flat", "deep"), flag="--net-shape", metavar="S")

    @click.command()
    @config_options(Extended)
    def command(**values):
        click.echo(json.dumps(values))

    result = CliRunner().invoke(command, ["--warmup-epochs", "3", "--net-shape", "deep", "--units", "8"])
    assert result.exit_code == 0, result.output
    values = json.loads(result.output)
    assert (values["warmup_epochs"], values["shape"], values["units"], values["lr"]) == (3, "deep", 8, None)
    assert "Epochs of linear learning-rate warm-up." in CliRunner().invoke(command, ["--help"]).output
    assert CliRunner().invoke(command, ["--net-shape", "round"]).exit_code == 2


def test_the_cli_leaves_the_kerasrnn_logger_as_it_was():
    logger = logging.getLogger("kerasrnn")
    before = (list(logger.handlers), logger.level, logger.propagate)
    assert run_cli("archs").exit_code == 0
    assert run_cli("fit", "--units", "0", "--quiet").exit_code == 2
    assert (list(logger.handlers), logger.level, logger.propagate) == before


def test_messages_are_kerasrnn_lines_on_stderr_and_quiet_keeps_warnings():
    from kerasrnn.cli import output

    @click.command()
    @click.option("--quiet", is_flag=True)
    def talk(quiet):
        output.set_quiet(quiet)
        logging.getLogger("kerasrnn.somewhere").info("an info line")
        logging.getLogger("kerasrnn").warning("a warning")
        click.echo("result")

    def invoke(*args):
        with output.cli_logging():
            return CliRunner().invoke(talk, list(args))

    loud, quiet = invoke(), invoke("--quiet")
    assert loud.stdout == quiet.stdout == "result\n"
    assert loud.stderr.splitlines() == ["kerasrnn: an info line", "kerasrnn: a warning"]
    assert quiet.stderr.splitlines() == ["kerasrnn: a warning"]


def test_export_and_bench_are_commands_of_the_cli_registered_lazily():
    for name in ("export", "bench"):
        assert COMMANDS[name].target.startswith(f"kerasrnn.cli.{name}:")
        assert name in run_cli("--help").output
        result = run_cli(name, "--help")
        assert result.exit_code == 0 and "Example" in result.output


@pytest.mark.backend_independent  # a fresh process that chooses its own backend
def test_without_tensorflow_the_cli_picks_an_installed_backend(tmp_path):
    # A machine with only JAX or PyTorch (the lent GPU box): Keras would fail
    # on its default backend. Simulated by hiding tensorflow from imports.
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text("import sys\nsys.modules['tensorflow'] = None\n")
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env.update(PYTHONPATH=os.pathsep.join([str(hide), str(ROOT)]), KERAS_HOME=str(tmp_path / "keras-home"))
    result = subprocess.run(
        [sys.executable, "-m", "kerasrnn.cli.main", "env", "--json"],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["backend"] == "jax"
    assert "tensorflow (Keras' configured backend) is not installed; using jax" in result.stderr
    # A backend the user named (option or variable) is kept, without a word.
    for extra_args, extra_env in ((["--backend", "torch"], {}), ([], {"KERAS_BACKEND": "torch"})):
        result = subprocess.run(
            [sys.executable, "-m", "kerasrnn.cli.main", "env", "--json", *extra_args],
            check=False,
            cwd=ROOT,
            env={**env, **extra_env},
            capture_output=True,
            text=True,
            timeout=300,
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
    assert not [line for line in result.stderr.splitlines() if line.startswith("kerasrnn: ")]  # --quiet
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
    from kerasrnn.data.mnist_sources import load_mnist_bundled

    images, _ = load_mnist_bundled()
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
        "fit",
        "--dataset",
        "shakespeare",
        "--arch",
        "gru",
        "--max-chars",
        "20000",
        "--seq-len",
        "20",
        "--sample-length",
        "12",
        "--out",
        out,
        *TINY,
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
    result = run_cli(
        "fit",
        "--data",
        data,
        "--arch",
        "bigru",
        "--units",
        "4",
        "--epochs",
        "2",
        "--batch-size",
        "12",
        "--out",
        out,
        "--quiet",
    )
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
        x[i, 4 + i % 5 :] = np.nan  # trailing NaN: shorter sequences
    np.savez(tmp_path / "steps.npz", x=x, y=y)
    out = tmp_path / "steps"
    result = run_cli(
        "fit",
        "--data",
        tmp_path / "steps.npz",
        "--arch",
        "lstm",
        "--units",
        "4",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    assert [line for line in result.stderr.splitlines() if line.startswith("kerasrnn: ")]  # progress messages
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
    assert_one_line_error(
        run_cli("fit", "--data", malformed, *TINY, "--out", tmp_path / "a"), 1, "line 2", "expected a number", "'oops'"
    )
    nan_inside = tmp_path / "nan.csv"
    nan_inside.write_text("".join(f"{i % 2},0.5,nan,0.25\n" for i in range(20)))
    assert_one_line_error(
        run_cli("fit", "--data", nan_inside, *TINY, "--out", tmp_path / "b"), 1, "missing value (NaN or empty) inside"
    )
    good = tmp_path / "good.csv"
    good.write_text("".join(f"{i % 2},0.5,0.1,0.25\n" for i in range(20)))
    assert_one_line_error(
        run_cli("fit", "--data", good, "--label-col", "7", *TINY, "--out", tmp_path / "c"), 1, "label"
    )
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


def test_interrupt_exits_130_with_one_line(monkeypatch):
    from kerasrnn.cli import listings

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(listings.archs, "callback", interrupted)
    result = run_cli("archs")
    assert result.exit_code == 130 and result.stderr.strip() == "Interrupted."


def test_debug_after_the_command_shows_the_traceback_too():
    result = CliRunner().invoke(main, ["fit", "--arch", "nope", "--debug"])
    assert result.exit_code == 2
    assert "Traceback" in result.output and "ConfigError" in result.output
