"""What an export may replace, writers kept apart, no leftovers after ``kill -9``, one-file ONNX.

* ``--overwrite`` replaces only a previous export or an empty directory:
  never a run directory, a directory holding the run being exported, or any
  directory holding other files;
* two exports to one destination: the second fails at once (a lock beside
  the destination), the first completes;
* ``kill -9`` of the caller on the JAX/torch route takes the worker with it;
  what a killed export left is removed by the next export into that
  directory, never what a live one is writing;
* ``--out NAME.onnx`` is one ONNX file (metadata and parity figures in its
  ``metadata_props``).
"""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from click.testing import CliRunner

import kerasrnn
from kerasrnn.cli.main import main as kerasrnn_cli
from kerasrnn.export import ExportError, export_model

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
if importlib.util.find_spec("tf2onnx") is None:
    pytest.skip("ONNX export needs tf2onnx", allow_module_level=True)

BACKEND = keras.backend.backend()
# JAX and torch export through the same TensorFlow worker process: the slow end-to-end checks of that
# route run under torch (the faster suite), the in-process route under TensorFlow.
worker_route_under_torch = pytest.mark.skipif(
    BACKEND == "jax", reason="the worker route, shared with the torch backend, is checked under torch"
)
TOLERANCE = 1e-5
on_linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

# Exports a tiny model to each path of sys.argv[1:] in turn (one export_models call: on
# JAX/torch one worker), under the KERAS_BACKEND it is given; a second or so per path.
EXPORT_SCRIPT = textwrap.dedent(
    """
    import sys
    import keras
    import kerasrnn
    from kerasrnn.export import export_models
    keras.utils.set_random_seed(0)
    model = kerasrnn.build_model("gru", "classification", (6, 3), 2, units=3)
    export_models([(model, path) for path in sys.argv[1:]], format="all", streaming=True, lengths=(6, 60),
                  verbose=False)
    """
)


def names(directory):
    return sorted(p.name for p in directory.iterdir())


def snapshot(directory):
    """Every file under ``directory`` and its bytes."""
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def tiny_model(arch="gru"):
    keras.utils.set_random_seed(0)
    return kerasrnn.build_model(arch, "classification", (6, 3), 2, units=3)


def make_run(path):
    """A run directory as ``kerasrnn fit`` leaves it (what ``export_run`` reads), with the user's notes."""
    path.mkdir(parents=True)
    tiny_model().save(path / "model.keras")
    record = {
        "kerasrnn_run": 1,
        "status": "complete",
        "config": {"arch": "gru", "backend": BACKEND},
        "data": {"task": "classification", "input_shape": [6, 3], "class_names": ["a", "b"]},
    }
    (path / "config.json").write_text(json.dumps(record))
    (path / "notes.txt").write_text("my notes")
    return path


def staging_of(out):
    """The temporary directories of exports to ``out``."""
    return (
        sorted(p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.tmp-")) if out.parent.is_dir() else []
    )


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def alive(pid):
    """Whether process ``pid`` runs (a zombie does not)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def children(pid):
    """The pids of ``pid``'s child processes, with their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found[int(entry.name)] = command
    return found


def start_export(outs, backend, log):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen(
        [sys.executable, "-c", EXPORT_SCRIPT, *map(str, outs)], env=env, stdout=log, stderr=subprocess.STDOUT
    )


def stop(process):
    if process.poll() is None:
        process.kill()
        process.wait(timeout=60)


# --------------------------------------------------------------------------- #
# 1. What --overwrite may replace
# --------------------------------------------------------------------------- #


def test_overwrite_never_replaces_the_directory_holding_the_run(tmp_path):
    """`kerasrnn export myruns/runA --out myruns --overwrite` used to leave only the export in myruns."""
    runs = tmp_path / "myruns"
    run_a = make_run(runs / "runA")
    make_run(runs / "runB")
    (runs / "notes.md").write_text("what I tried")
    before = snapshot(runs)
    result = CliRunner().invoke(
        kerasrnn_cli, ["export", str(run_a), "--format", "onnx", "--out", str(runs), "--overwrite"]
    )
    assert result.exit_code == 1, result.output
    assert "holds the run directory" in result.output and "Traceback" not in result.output
    assert snapshot(runs) == before
    assert names(tmp_path) == ["myruns"]


@pytest.mark.parametrize("out", [".", "checkpoints"])
def test_overwrite_never_replaces_the_run_being_exported(tmp_path, out):
    """`--out RUN --overwrite` used to delete the run; nothing else inside it is written either."""
    run = make_run(tmp_path / "run")
    before = snapshot(run)
    result = CliRunner().invoke(
        kerasrnn_cli, ["export", str(run), "--format", "onnx", "--out", str(run / out), "--overwrite"]
    )
    assert result.exit_code == 1, result.output
    assert "the run directory" in result.output and "Traceback" not in result.output
    assert snapshot(run) == before


def _fake_export(directory, marker=True):
    """The layout of an export (metadata.json, parity.json, model.onnx); ``marker`` False: as old exports wrote it."""
    directory.mkdir()
    metadata = {"architecture": "gru", "artifacts": {"onnx": "model.onnx"}}
    if marker:
        metadata["format"] = "kerasrnn-export"
    (directory / "metadata.json").write_text(json.dumps(metadata))
    (directory / "parity.json").write_text(json.dumps({"passed": True}))
    (directory / "model.onnx").write_bytes(b"onnx")


@pytest.mark.parametrize("kind", ["other files", "a run directory", "an export and a note"])
def test_overwrite_replaces_only_an_export_or_an_empty_directory(tmp_path, kind):
    out = tmp_path / "out"
    if kind == "other files":
        out.mkdir()
        (out / "notes.txt").write_text("keep")
        (out / "data").mkdir()
        (out / "data" / "x.csv").write_text("1,2\n")
    elif kind == "a run directory":
        out.mkdir()
        (out / "config.json").write_text("{}")
        (out / "model.keras").write_bytes(b"PK")
    else:
        _fake_export(out)
        (out / "notes.txt").write_text("keep")
    before = snapshot(out)
    with pytest.raises(ExportError, match="overwrite replaces only a kerasrnn export or an empty directory"):
        export_model(tiny_model(), out, format="onnx", overwrite=True, verbose=False)
    assert snapshot(out) == before
    assert names(tmp_path) == ["out"]


@pytest.mark.backend_independent
@pytest.mark.parametrize("marker", [True, False])
def test_a_previous_export_is_replaceable_with_or_without_its_marker(tmp_path, marker):
    from kerasrnn.export.staging import check_destination

    out = tmp_path / "out"
    _fake_export(out, marker)
    assert check_destination(out, overwrite=True) == out
    with pytest.raises(ExportError, match="already exists"):
        check_destination(out)
    (tmp_path / "empty").mkdir()
    assert check_destination(tmp_path / "empty", overwrite=True) == tmp_path / "empty"


@worker_route_under_torch
@pytest.mark.slow
def test_overwrite_replaces_a_previous_export(tmp_path):
    """The default output, RUN/export, is inside the run and allowed; an empty directory and an export are replaced."""
    run = make_run(tmp_path / "run")
    out = run / "export"
    out.mkdir()  # empty: accepted
    for _ in range(2):  # the second time over the first one's export
        result = CliRunner().invoke(kerasrnn_cli, ["export", str(run), "--format", "onnx", "--overwrite", "--quiet"])
        assert result.exit_code == 0, result.output
        assert result.output.strip().splitlines()[-1] == str(out)
        assert names(out) == ["metadata.json", "model.onnx", "parity.json"]
    assert names(run) == ["config.json", "export", "model.keras", "notes.txt"]
    assert names(tmp_path) == ["run"]


# --------------------------------------------------------------------------- #
# 2. Writers apart; no leftovers after kill -9
# --------------------------------------------------------------------------- #


@pytest.mark.backend_independent  # the first writer is a TensorFlow process whatever the suite's backend
@pytest.mark.slow
def test_a_second_writer_fails_before_touching_anything(tmp_path):
    """Two exports to one new OUT used to both print "wrote", the later one replacing the other."""
    exports, logs = tmp_path / "exports", tmp_path / "logs"
    logs.mkdir()
    out = exports / "out"
    more = [exports / f"more{i}" for i in range(3)]  # the first holds every lock until all are written
    with open(logs / "first.log", "w") as log:
        first = start_export([out, *more], "tensorflow", log)
        try:
            wait_for(lambda: staging_of(out) or first.poll() is not None, 300, "the first export to start writing")
            assert first.poll() is None, (logs / "first.log").read_text()
            with pytest.raises(ExportError) as refused:
                export_model(tiny_model(), out, format="onnx", verbose=False)
            message = str(refused.value)
            assert "is being written by another kerasrnn process" in message and "\n" not in message
            assert str(out) in message
            assert first.wait(timeout=300) == 0, (logs / "first.log").read_text()
        finally:
            stop(first)
    report = json.loads((out / "parity.json").read_text())
    assert report["passed"] and "streaming/onnx" in report["artifact_paths"]  # the first one's
    assert names(exports) == ["more0", "more1", "more2", "out"]


@worker_route_under_torch
@pytest.mark.slow
@on_linux
def test_the_worker_dies_with_its_caller(tmp_path):
    """`kill -9` of the caller on the JAX/torch route: its worker used to go on and write every OUT."""
    if BACKEND == "tensorflow":
        pytest.skip("the TensorFlow backend exports in its own process")
    exports, logs = tmp_path / "exports", tmp_path / "logs"
    logs.mkdir()
    outs = [exports / f"out{i}" for i in range(6)]  # one worker writes them in turn
    workers = {}
    with open(logs / "caller.log", "w") as log:
        caller = start_export(outs, BACKEND, log)
        try:
            wait_for(lambda: outs[0].exists() or caller.poll() is not None, 300, "the worker's first export")
            assert caller.poll() is None, (logs / "caller.log").read_text()
            workers = {pid: cmd for pid, cmd in children(caller.pid).items() if "kerasrnn.export.worker" in cmd}
            assert len(workers) == 1, children(caller.pid)
            (worker,) = workers
            caller.send_signal(signal.SIGKILL)
            caller.wait(timeout=30)
            wait_for(lambda: not alive(worker), 30, "the worker to die with its caller")
            time.sleep(2.0)
            assert [out.name for out in outs if out.exists()] in (["out0"], ["out0", "out1"])
        finally:
            stop(caller)
            for pid in workers:
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)
    # What it left (its temporary directory, the caller's lock files) belongs to processes that are gone,
    # and goes with the next export there.
    from kerasrnn.storage.atomic import owner_pid, remove_abandoned
    from kerasrnn.storage.locks import remove_abandoned_locks

    leftovers = [p for p in exports.iterdir() if p.name.startswith(".")]
    assert all(owner_pid(p.name) in workers for p in leftovers if ".tmp-" in p.name)
    remove_abandoned(exports)
    remove_abandoned_locks(exports)
    assert all(not p.name.startswith(".") for p in exports.iterdir())


# A grandchild that calls die_with_parent with one of its two mechanisms switched off.
ORPHAN = textwrap.dedent(
    """
    import sys, time
    from kerasrnn.export import worker
    if sys.argv[1] == "watchdog":
        worker._parent_death_signal = lambda: False
    else:
        worker._watch = lambda parent: None
    print(worker.die_with_parent(), flush=True)
    time.sleep(120)
    """
)
# The middle process: starts ORPHAN, prints its pid and how it dies, waits to be killed.
MIDDLE = textwrap.dedent(
    """
    import subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]], stdout=subprocess.PIPE, text=True)
    print(child.pid, child.stdout.readline().strip(), flush=True)
    time.sleep(120)
    """
)


@on_linux
@pytest.mark.backend_independent
@pytest.mark.parametrize("mechanism", ["prctl", "watchdog"])
def test_each_way_of_dying_with_the_parent(mechanism):
    middle = subprocess.Popen([sys.executable, "-c", MIDDLE, ORPHAN, mechanism], stdout=subprocess.PIPE, text=True)
    orphan = None
    try:
        pid, how = middle.stdout.readline().split()
        orphan = int(pid)
        assert how == ("watchdog" if mechanism == "watchdog" else "prctl+watchdog")
        assert alive(orphan)
        middle.send_signal(signal.SIGKILL)
        middle.wait(timeout=30)
        wait_for(lambda: not alive(orphan), 10, f"the orphan to end ({mechanism})")
    finally:
        stop(middle)
        middle.stdout.close()
        if orphan and alive(orphan):
            os.kill(orphan, signal.SIGKILL)


@worker_route_under_torch
@pytest.mark.slow
@on_linux
def test_the_next_export_removes_what_a_killed_one_left(tmp_path):
    """`kill -9` on the TensorFlow route used to leave `.OUT.tmp-*` forever."""
    exports, logs = tmp_path / "exports", tmp_path / "logs"
    logs.mkdir()
    out = exports / "out"
    with open(logs / "killed.log", "w") as log:
        killed = start_export([out], "tensorflow", log)
        try:
            wait_for(lambda: staging_of(out) or killed.poll() is not None, 300, "the export to start writing")
            assert killed.poll() is None, (logs / "killed.log").read_text()
            killed.send_signal(signal.SIGKILL)
            killed.wait(timeout=30)
        finally:
            stop(killed)
    assert staging_of(out) and not out.exists()
    # A live writer's temporary directory in the same place is not touched; a dead one's is.
    live = exports / f".other.tmp-{os.getpid()}-abcd1234"
    live.mkdir()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = exports / f".gone.tmp-{int(gone.stdout)}-abcd1234"
    dead.mkdir()
    export_model(tiny_model(), out, format="onnx", verbose=False)
    assert names(exports) == sorted(["out", live.name])


# --------------------------------------------------------------------------- #
# 3. --out NAME.onnx is one file
# --------------------------------------------------------------------------- #


@worker_route_under_torch
@pytest.mark.slow
def test_an_out_ending_in_onnx_is_one_onnx_file(tmp_path):
    out = tmp_path / "m.onnx"
    report = export_model(tiny_model(), out, format="onnx", verbose=False, metadata={"class_names": ["a", "b"]})
    assert out.is_file() and names(tmp_path) == ["m.onnx"]
    assert report["passed"] and report["path"] == str(out)
    props = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    metadata = json.loads(props["kerasrnn"])
    assert metadata["format"] == "kerasrnn-export" and metadata["class_names"] == ["a", "b"]
    parity = json.loads(props["kerasrnn_parity"])
    assert parity["passed"] and parity["artifacts"]["onnx"]["max_abs_error"] <= TOLERANCE
    x = np.random.default_rng(0).standard_normal((4, 6, 3)).astype("float32")
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (output,) = session.run(["outputs"], {"sequences": x})
    np.testing.assert_allclose(output, keras.ops.convert_to_numpy(tiny_model()(x)), rtol=0, atol=TOLERANCE)
    (longer,) = session.run(["outputs"], {"sequences": np.concatenate([x, x], axis=1)})  # any length
    assert longer.shape == (4, 2)
    # --overwrite replaces a kerasrnn ONNX file, not another file.
    export_model(tiny_model(), out, format="onnx", overwrite=True, verbose=False, seed=1)
    assert names(tmp_path) == ["m.onnx"]
    other = tmp_path / "other.onnx"
    other.write_bytes(b"not an export")
    with pytest.raises(ExportError, match="not a kerasrnn ONNX export"):
        export_model(tiny_model(), other, format="onnx", overwrite=True, verbose=False)
    assert other.read_bytes() == b"not an export"
    assert names(tmp_path) == ["m.onnx", "other.onnx"]


@pytest.mark.parametrize("format, streaming", [("all", False), ("savedmodel", False), ("onnx", True)])
def test_an_onnx_out_takes_the_onnx_format_only(tmp_path, format, streaming):
    with pytest.raises(ExportError, match=r"m\.onnx ends in \.onnx: it is one ONNX file"):
        export_model(tiny_model(), tmp_path / "m.onnx", format=format, streaming=streaming, verbose=False)
    assert names(tmp_path) == []


@worker_route_under_torch
@pytest.mark.slow
def test_cli_out_ending_in_onnx(tmp_path):
    run = make_run(tmp_path / "run")
    out = tmp_path / "gru.onnx"
    refused = CliRunner().invoke(kerasrnn_cli, ["export", str(run), "--format", "all", "--out", str(out)])
    assert refused.exit_code == 1 and "--format onnx" in refused.output, refused.output
    assert not out.exists()
    # Without --format, an .onnx out means the ONNX format.
    result = CliRunner().invoke(kerasrnn_cli, ["export", str(run), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == str(out)
    assert out.is_file() and names(tmp_path) == ["gru.onnx", "run"]
    props = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert json.loads(props["class_names"]) == ["a", "b"]
