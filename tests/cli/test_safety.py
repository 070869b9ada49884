"""Nothing a user types can destroy their work or silently use the wrong data.

``predict --output`` never replaces its input or a file of the run
directory; ``fit --resume`` takes a new ``--lr``, ``--epochs`` or
``--time-budget`` and refuses the other options with the reason; changed
data is used only with ``--allow-changed-data``, and then said so; options
that do not apply are usage errors before Keras is imported; ``generate``
prints its text as it comes, keeps it on Ctrl-C and has a bounded
``--length``; TensorFlow's, absl's and gRPC's own start-up lines stay out of
the output unless ``--debug``.
"""

import json
import os
import shutil
import subprocess

import numpy as np
import pytest

from tests.cli.test_cli import ROOT, TINY, assert_one_line_error, run_cli, run_fresh

# --------------------------------------------------------------------------- #
# Runs to work on
# --------------------------------------------------------------------------- #


def _write_series(path, rows=40, seed=0):
    rng = np.random.default_rng(seed)
    lines = [",".join([str(i % 2)] + [f"{v:.4f}" for v in rng.normal(size=6) + (i % 2)]) for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _record(run):
    return json.loads((run / "config.json").read_text())


def _snapshot(directory):
    return {path.relative_to(directory): path.read_bytes() for path in sorted(directory.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def file_run(tmp_path_factory):
    """A complete run on a data file: (run directory, data file)."""
    base = tmp_path_factory.mktemp("file-run")
    data = _write_series(base / "series.csv")
    out = base / "run"
    result = run_cli(
        "fit",
        "--data",
        data,
        "--arch",
        "gru",
        "--units",
        "4",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--out",
        out,
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    return out, data


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("text-run") / "run"
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
        "4",
        "--out",
        out,
        *TINY,
    )
    assert result.exit_code == 0, result.output
    return out


def _fake_run(path):
    """A run directory as far as the checks before Keras look: a config.json."""
    from kerasrnn.training.run_config import RunConfig

    path.mkdir()
    (path / "config.json").write_text(json.dumps({"config": RunConfig(arch="gru").to_dict(), "status": "running"}))
    return path


# --------------------------------------------------------------------------- #
# 1. predict --output
# --------------------------------------------------------------------------- #


def test_predict_output_never_replaces_the_input_or_a_file_of_the_run(file_run, tmp_path):
    run, _ = file_run
    new = _write_series(tmp_path / "new.csv", rows=6, seed=1)
    before_run, before_input = _snapshot(run), new.read_bytes()
    for output, relation in (
        (run / "model.keras", "is inside the run directory"),
        (run / "predictions.csv", "is inside the run directory"),
        (run, "is the run directory"),
        (new, "is the input file"),
    ):
        result = run_cli("predict", run, "--input", new, "--label-col", "0", "--output", output)
        assert_one_line_error(result, 2, "--output", relation, "write it elsewhere")
    assert _snapshot(run) == before_run and new.read_bytes() == before_input
    elsewhere = tmp_path / "predictions.csv"
    result = run_cli("predict", run, "--input", new, "--label-col", "0", "--output", elsewhere)
    assert result.exit_code == 0, result.output
    assert elsewhere.read_text().startswith("index,prediction")


def test_predict_output_refusal_comes_before_keras(tmp_path):
    run = _fake_run(tmp_path / "run")
    (run / "model.keras").write_bytes(b"the model")
    data = _write_series(tmp_path / "new.csv", rows=3)
    for output in (run / "model.keras", data):
        _, stderr, code, heavy = run_fresh("predict", run, "--input", data, "--output", output)
        assert (code, heavy) == (2, []), stderr
    assert (run / "model.keras").read_bytes() == b"the model"


# --------------------------------------------------------------------------- #
# 2. fit --resume with new lr / epochs / time budget; --allow-changed-data
# --------------------------------------------------------------------------- #


def _interrupted_run(tmp_path, data):
    import keras

    from kerasrnn.training import RunConfig, fit

    class StopAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    out = tmp_path / "run"
    config = RunConfig(
        data_file=str(data), dataset="file", epochs=3, arch="gru", units=4, batch_size=8, time_budget=0.0, patience=0
    )
    with pytest.raises(KeyboardInterrupt):
        fit(config, out=out, progress=False, extra_callbacks=(StopAfterFirstEpoch(),))
    return out


def test_the_resume_overrides_are_the_librarys():
    from kerasrnn.cli.fit import RESUME_OVERRIDES
    from kerasrnn.training import run

    assert RESUME_OVERRIDES == run.RESUME_OVERRIDES


def test_resume_takes_new_lr_and_epochs_and_says_when_the_data_changed(tmp_path):
    data = _write_series(tmp_path / "series.csv")
    out = _interrupted_run(tmp_path, data)
    refused = run_cli("fit", "--resume", out, "--units", "8")
    assert_one_line_error(
        refused, 2, "--resume continues a run", "--lr, --epochs, --time-budget may change", "drop --units"
    )
    _write_series(data, seed=3)  # same sizes, other values
    changed = run_cli("fit", "--resume", out, "--lr", "0.0001", "--epochs", "2", "--quiet")
    assert_one_line_error(changed, 1, "changed since the run was trained", "--allow-changed-data")
    resumed = run_cli(
        "fit",
        "--resume",
        out,
        "--lr",
        "0.0001",
        "--epochs",
        "2",
        "--time-budget",
        "600",
        "--allow-changed-data",
        "--quiet",
    )
    assert resumed.exit_code == 0, resumed.output
    assert "changed since the run was trained" in resumed.stderr  # a warning, also with --quiet
    record = _record(out)
    assert record["status"] == "complete"
    assert record["resumed"][-1]["overrides"] == {"lr": 0.0001, "epochs": 2, "time_budget": 600.0}
    assert record["config"]["lr"] == 0.0001 and record["config"]["epochs"] == 2
    assert record["data_changes"][-1]["by"] == "fit --resume"


def test_resume_overrides_are_checked_before_keras(tmp_path):
    run = _fake_run(tmp_path / "run")
    for args in (["--lr", "-1"], ["--epochs", "0"], ["--iterations", "10"], ["--units", "8"]):
        _, stderr, code, heavy = run_fresh("fit", "--resume", run, *args)
        assert (code, heavy) == (2, []), stderr
    assert_one_line_error(run_cli("fit", "--resume", run, "--lr", "-1"), 2, "lr must be")


def test_allow_changed_data_belongs_to_resume_and_evaluate(tmp_path):
    assert_one_line_error(run_cli("fit", "--allow-changed-data", *TINY), 2, "--allow-changed-data", "--resume")


def test_evaluate_uses_changed_data_only_when_allowed_and_then_says_so(file_run, tmp_path):
    run, data = file_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    original = data.read_bytes()
    try:
        _write_series(data, seed=7)
        assert_one_line_error(run_cli("evaluate", copy), 1, "changed since the run was trained", "--allow-changed-data")
        result = run_cli("evaluate", copy, "--allow-changed-data")
        assert result.exit_code == 0, result.output
        assert "data_changed: True" in result.stdout.splitlines()
        as_json = run_cli("evaluate", copy, "--allow-changed-data", "--json")
        assert json.loads(as_json.stdout)["data_changed"] is True
    finally:
        data.write_bytes(original)


# --------------------------------------------------------------------------- #
# 3. Options that do not apply
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["fit", "--pixel", "--dataset", "sunspots"], ["'pixel' does not apply to dataset 'sunspots'", "mnist"]),
        (["fit", "--permuted", "--dataset", "shakespeare"], ["'permuted' does not apply", "mnist"]),
        (["fit", "--merge-mode", "sum", "--arch", "lstm"], ["merge", "lstm has one direction"]),
        (["fit", "--epochs", "2", "--iterations", "10"], ["give --epochs (2) or --iterations (10), not both"]),
    ],
)
def test_options_that_do_not_apply_are_usage_errors_before_keras(args, fragments):
    assert_one_line_error(run_cli(*args), 2, *fragments)
    _, stderr, code, heavy = run_fresh(*args)
    assert (code, heavy) == (2, []), stderr


def test_pixel_with_a_data_file_is_refused(tmp_path):
    data = _write_series(tmp_path / "series.csv")
    assert_one_line_error(run_cli("fit", "--pixel", "--data", data), 2, "does not apply to dataset 'file'")


def test_epochs_or_iterations_given_replace_the_presets_other():
    from kerasrnn.cli.fit import config_from_options

    config = config_from_options({"preset": "table-lstm-1", "epochs": 1})
    assert (config.epochs, config.iterations) == (1, None)
    config = config_from_options({"preset": "lstm-2x128-adam", "iterations": 20})
    assert (config.epochs, config.iterations) == (None, 20)


# --------------------------------------------------------------------------- #
# 4. No TensorFlow / absl / gRPC start-up lines unless --debug
# --------------------------------------------------------------------------- #

NOISE = ("absl::InitializeLog", "oneDNN", "cuda", "cuInit", "port.cc", "cpu_feature_guard")


def _noise(text):
    from kerasrnn.cli.backend import is_native_noise

    return [
        line
        for line in text.splitlines()
        if any(word in line for word in NOISE) or is_native_noise(line.encode() + b"\n", 3)
    ]


@pytest.mark.backend_independent  # runs the CLI under TensorFlow whatever the suite's backend
@pytest.mark.skipif(
    shutil.which("kerasrnn") is None or not __import__("importlib").util.find_spec("tensorflow"),
    reason="needs the installed kerasrnn command and TensorFlow",
)
def test_the_tensorflow_backend_prints_no_native_lines(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "GRPC_VERBOSITY", "KERASRNN_DEBUG")}
    env["KERAS_BACKEND"] = "tensorflow"

    def kerasrnn(*args):
        return subprocess.run(
            ["kerasrnn", *map(str, args)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
        )

    usage = kerasrnn("fit", "--epochs", "1", "--iterations", "2")
    assert usage.returncode == 2 and len(usage.stderr.splitlines()) == 1, usage.stderr
    out = tmp_path / "run"
    fitted = kerasrnn("fit", "--arch", "gru", "--out", out, *TINY)
    assert fitted.returncode == 0, fitted.stderr
    assert _noise(fitted.stdout + fitted.stderr) == [], fitted.stderr
    failed = kerasrnn("generate", out)  # an error after Keras is imported: not a language model
    assert failed.returncode == 2, failed.stderr
    assert len(failed.stderr.splitlines()) == 1 and failed.stderr.startswith("Error: "), failed.stderr


ABSL_LINES = (
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    b"I0000 00:00:1796140337.399993    8476 port.cc:153] oneDNN custom operations are on.\n"
    b"W0000 00:00:1796140337.400495    8476 some.cc:31] a warning\n"
    b"E0000 00:00:1796140344.362912    8476 cuda_platform.cc:52] failed call to cuInit\n"
    b"a line of the user's\n"
)


def test_only_the_start_up_lines_the_log_level_hides_are_left_out(capfd, monkeypatch):
    from kerasrnn.cli.backend import hidden_native_lines, native_logging

    lines = ABSL_LINES.splitlines()
    for level, kept in (("3", lines[4:]), ("2", lines[3:]), ("1", [lines[0], *lines[2:]]), ("0", lines)):
        monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", level)
        with native_logging(quiet=True), hidden_native_lines():
            os.write(2, ABSL_LINES)
        assert capfd.readouterr().err.encode().splitlines() == kept, level
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    with native_logging(quiet=False), hidden_native_lines():  # --debug
        os.write(2, ABSL_LINES)
    assert capfd.readouterr().err.encode() == ABSL_LINES


def test_the_quiet_variables_are_set_only_where_unset_and_not_with_debug(monkeypatch):
    from kerasrnn.cli.backend import native_logging, quiet_tensorflow

    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    monkeypatch.setenv("GRPC_VERBOSITY", "DEBUG")
    with native_logging(quiet=True):
        assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3" and os.environ["GRPC_VERBOSITY"] == "DEBUG"
    assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ  # restored
    with native_logging(quiet=False):
        quiet_tensorflow()
        assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ


# --------------------------------------------------------------------------- #
# 5. generate: bounded, streamed, kept on Ctrl-C
# --------------------------------------------------------------------------- #


def test_generate_length_is_bounded():
    assert_one_line_error(run_cli("generate", "no/such/run", "--length", 1_000_001), 2, "--length", "1000000")
    _, stderr, code, heavy = run_fresh("generate", "no/such/run", "--length", 10**8)
    assert (code, heavy) == (2, []), stderr
    from kerasrnn.cli.run_commands import MAX_LENGTH

    assert MAX_LENGTH == 1_000_000 and "at most 1,000,000" in run_cli("generate", "--help").stdout


def test_generate_prints_as_it_goes_and_keeps_the_text_on_ctrl_c(text_run, monkeypatch):
    whole = run_cli("generate", text_run, "--length", "30", "--prime", "ROMEO:", "--seed", "3")
    assert whole.exit_code == 0, whole.output
    assert whole.stdout.startswith("ROMEO:") and whole.stdout.endswith("\n")

    from kerasrnn.training import evaluation

    load = evaluation.load_run_model

    class InterruptedAfter20:
        def __init__(self, model):
            self.model, self.calls = model, 0

        def predict_on_batch(self, x):
            self.calls += 1
            if self.calls > 20:
                raise KeyboardInterrupt
            return self.model.predict_on_batch(x)

    monkeypatch.setattr(evaluation, "load_run_model", lambda run: InterruptedAfter20(load(run)))
    stopped = run_cli("generate", text_run, "--length", "30", "--prime", "ROMEO:", "--seed", "3")
    assert stopped.exit_code == 130
    assert stopped.stdout == whole.stdout[: len("ROMEO:") + 20] + "\n"  # the 20 characters drawn, kept
    (note,) = stopped.stderr.splitlines()
    assert note.startswith("Interrupted after 20 generated character(s)")


def test_generate_several_samples_keeps_its_output(text_run):
    result = run_cli("generate", text_run, "--length", "12", "--temperature", "0", "--samples", "3", "--prime", "A")
    assert result.exit_code == 0, result.output
    lines = result.stdout.split("=== sample ")
    assert [part.split(" ===\n")[0] for part in lines[1:]] == ["1", "2", "3"]
    texts = [part.split(" ===\n", 1)[1] for part in lines[1:]]
    assert all(text.startswith("A") and text.endswith("\n") for text in texts)
    assert len(set(texts)) == 1  # temperature 0: the same text each time
