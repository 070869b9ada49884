"""Exporting run directories: a model trained under JAX, the CLI command, failure paths.

A failed export must give a clear one-line message, exit non-zero from the
CLI, and leave nothing at the output path (nor a temporary directory beside
it).
"""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from click.testing import CliRunner

import kerasrnn
from kerasrnn.cli.main import main as kerasrnn_cli
from kerasrnn.data import PAD_VALUE
from kerasrnn.export import ExportError, ParityError, export_model, read_run

ort = pytest.importorskip("onnxruntime")
if importlib.util.find_spec("tf2onnx") is None:
    pytest.skip("ONNX export needs tf2onnx", allow_module_level=True)

BACKEND = keras.backend.backend()
TOLERANCE = 1e-5

# Trains a masked, bidirectional GRU on random data under the JAX backend and
# writes a run directory the way `kerasrnn fit` does (config.json with
# config/data/environment sections, model.keras), plus the JAX model's
# outputs on a probe batch of a length it never saw.
TRAIN_UNDER_JAX = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import numpy as np
    import keras
    import kerasrnn
    from kerasrnn.data import PAD_VALUE
    assert keras.backend.backend() == "jax"
    run = Path(sys.argv[1]); run.mkdir()
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 10, 3)).astype("float32")
    lengths = rng.integers(4, 11, size=64)
    for i, n in enumerate(lengths):
        x[i, n:] = PAD_VALUE
    y = (x[:, 0, 0] > 0).astype("int32") + (x[:, 1, 1] > 0).astype("int32")
    model = kerasrnn.build_model("bigru", "classification", (None, 3), 3, units=5, variable_length=True)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    model.save(run / "model.keras")
    probe = rng.standard_normal((4, 13, 3)).astype("float32")
    probe[2, 6:] = PAD_VALUE
    np.savez(run.parent / "probe.npz", x=probe, y=keras.ops.convert_to_numpy(model(probe)))
    record = {
        "kerasrnn_run": 1, "status": "complete",
        "config": {"arch": "bigru", "dataset": "file", "units": 5, "layers": 1, "backend": "jax"},
        "data": {"task": "classification", "class_names": ["none", "one", "two"],
                 "input_shape": [10, 3], "variable_length": True, "source": "random"},
        "environment": {"backend": "jax"},
    }
    (run / "config.json").write_text(json.dumps(record))
    """
)


@pytest.fixture(scope="module")
def jax_run(tmp_path_factory):
    if importlib.util.find_spec("jax") is None:
        pytest.skip("needs jax")
    root = tmp_path_factory.mktemp("jax_run")
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", TRAIN_UNDER_JAX, str(root / "run")], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return root / "run", np.load(root / "probe.npz")


def _leftovers(path):
    """Anything at ``path`` or a temporary directory of its export beside it."""
    parent = path.parent
    found = [path] if path.exists() else []
    if parent.is_dir():
        found += [p for p in parent.iterdir() if p.name.startswith(f".{path.name}.")]
    return found


def _tiny_model(arch="gru", **options):
    keras.utils.set_random_seed(0)
    return kerasrnn.build_model(arch, "classification", (6, 3), 2, units=3, **options)


def test_cli_exports_a_model_trained_under_jax(jax_run, tmp_path):
    run, probe = jax_run
    out = tmp_path / "bigru-export"
    result = CliRunner().invoke(kerasrnn_cli, ["export", str(run), "--format", "all", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "parity.json").read_text())
    assert report["passed"] and report["trained_backend"] == "jax"
    for name in ("savedmodel", "onnx"):
        assert report["artifacts"][name]["max_abs_error"] <= TOLERANCE
        if BACKEND == "jax":  # the model also ran here, as trained
            assert report["artifacts"][name]["max_abs_error_vs_trained_backend"] <= TOLERANCE
    # The longest training sequence had 10 steps; the grid holds a longer one.
    assert max(case["length"] for case in report["cases"]) > 10
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["architecture"] == "bigru"
    assert metadata["class_names"] == ["none", "one", "two"]
    assert metadata["trained_backend"] == "jax"
    assert metadata["input"]["pad_value"] == PAD_VALUE
    # The ONNX file against the JAX model's own outputs (masked, unseen length).
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    (output,) = session.run(["outputs"], {"sequences": probe["x"]})
    np.testing.assert_allclose(output, probe["y"], rtol=0, atol=TOLERANCE)


def test_read_run_is_tolerant(tmp_path, jax_run):
    run, _ = jax_run
    _, metadata, max_seen, backend = read_run(run)
    assert (metadata["architecture"], metadata["task"], backend, max_seen) == ("bigru", "classification", "jax", 10)
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "model.keras").write_bytes(b"")
    (flat / "config.json").write_text(json.dumps({"arch": "lstm", "class_names": ["a", "b"], "backend": "torch"}))
    _, metadata, max_seen, backend = read_run(flat)
    assert metadata["architecture"] == "lstm" and metadata["class_names"] == ["a", "b"]
    assert backend == "torch" and max_seen is None


def test_unknown_format(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ExportError, match=r"unknown format 'tflite'; expected one of: savedmodel, onnx, all"):
        export_model(_tiny_model(), out, format="tflite")
    assert not _leftovers(out)
    result = CliRunner().invoke(kerasrnn_cli, ["export", str(tmp_path), "--format", "tflite"])
    assert result.exit_code == 2 and "tflite" in result.output


def test_unwritable_path(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    out = blocker / "export"
    with pytest.raises(ExportError, match="cannot write the export"):
        export_model(_tiny_model(), out)
    assert blocker.read_text() == "not a directory"
    assert not _leftovers(out)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write anywhere")
def test_read_only_directory(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with pytest.raises(ExportError, match="cannot write the export"):
            export_model(_tiny_model(), locked / "export")
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


def test_existing_output_is_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("keep")
    with pytest.raises(ExportError, match="already exists"):
        export_model(_tiny_model(), out)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_streaming_needs_a_unidirectional_model(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ExportError, match="unidirectional"):
        export_model(_tiny_model("bigru"), out, streaming=True)
    assert not _leftovers(out)


@pytest.mark.parametrize(
    "damage, message",
    [
        ("missing", "run directory not found"),
        ("no-config", "not a kerasrnn run directory"),
        ("bad-json", "corrupt run directory"),
        ("no-model", "has no model.keras"),
        ("bad-model", "cannot load the model"),
    ],
)
def test_corrupt_run_dir(tmp_path, damage, message):
    run = tmp_path / "run"
    if damage != "missing":
        run.mkdir()
        record = {"config": {"arch": "gru", "backend": BACKEND}, "data": {"task": "classification"}}
        if damage != "no-config":
            text = "{not json" if damage == "bad-json" else json.dumps(record)
            (run / "config.json").write_text(text)
        if damage not in ("no-model",):
            (run / "model.keras").write_bytes(b"PK\x03\x04 this is not a keras archive")
    out = tmp_path / "export"
    result = CliRunner().invoke(kerasrnn_cli, ["export", str(run), "--out", str(out)])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert not _leftovers(out)


def test_parity_failure_is_an_error(tmp_path):
    """(On JAX/torch the same path runs in the worker: see test_export.py's failing job.)"""
    if BACKEND != "tensorflow":
        pytest.skip("covered through the shared worker in test_export.py")
    out = tmp_path / "out"
    with pytest.raises(ParityError, match="parity check failed") as failure:
        export_model(_tiny_model(), out, format="onnx", tolerance=-1.0, verbose=False)
    assert failure.value.report["artifacts"]["onnx"]["passed"] is False
    assert not _leftovers(out)


def test_importing_the_exporter_does_not_import_tensorflow():
    code = (
        "import sys, kerasrnn.export, kerasrnn.cli.export; kerasrnn.export.export_model; "
        "kerasrnn.export.build_streaming_model; "
        "print(sorted(m for m in ('tensorflow', 'onnx', 'onnxruntime', 'tf2onnx') if m in sys.modules))"
    )
    env = {**os.environ, "KERAS_BACKEND": "jax" if importlib.util.find_spec("jax") else "torch"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
