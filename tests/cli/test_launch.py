"""``kerasrnn launch``: the worker environments, failure handling, and a real two-process job per backend.

The two-process job (``slow``) runs only under its own backend (JAX:
multi-process over gloo; TensorFlow: MultiWorkerMirroredStrategy): a
``fit`` of 3 epochs whose worker 1 is killed after the first checkpoint (the
launcher fails at once, with the status of the kill, and stops worker 0),
then ``fit --resume`` through the launcher: it finishes, there is one run
directory, the two processes report the same weights, and the history has
the 3 epochs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from kerasrnn.cli import launch
from kerasrnn.training import distribution

PYTHON = [sys.executable, "-c"]


@pytest.mark.backend_independent
def test_worker_environments_place_each_rank():
    environments = launch.worker_environments(2, "tensorflow", base={})
    configs = [json.loads(env[distribution.TF_CONFIG_ENV]) for env in environments]
    assert [c["task"]["index"] for c in configs] == [0, 1]
    workers = configs[0]["cluster"]["worker"]
    assert len(set(workers)) == 2 and all(w.startswith("127.0.0.1:") for w in workers)
    assert [env[distribution.PROCESS_ID_ENV] for env in environments] == ["0", "1"]
    assert {env[distribution.NUM_PROCESSES_ENV] for env in environments} == {"2"}
    coordinator = {env[distribution.JOB_ADDRESSES_ENV] for env in environments}
    assert len(coordinator) == 1 and coordinator.pop() not in workers
    assert {env["KERAS_BACKEND"] for env in environments} == {"tensorflow"}


@pytest.mark.backend_independent
def test_worker_arguments():
    assert launch.worker_arguments(["fit", "--arch", "lstm"])[-2:] == ["--distribute", "multi-worker"]
    assert launch.worker_arguments(["fit", "--resume", "runs/x"]) == ["fit", "--resume", "runs/x"]
    given = ["fit", "--distribute=data-parallel"]
    assert launch.worker_arguments(given) == given
    with pytest.raises(launch.ConfigError):
        launch.worker_arguments([])
    assert launch.exit_status(-9) == 137 and launch.exit_status(3) == 3


@pytest.mark.backend_independent
def test_first_failure_stops_the_others(capfd):
    script = "import os, sys, time\nif os.environ['KERAS_DISTRIBUTION_PROCESS_ID'] == '1': sys.exit(3)\ntime.sleep(60)"
    started = time.monotonic()
    with pytest.raises(launch.WorkerFailed, match="worker 1 exited with status 3; stopped the 1 other") as failed:
        launch.run_workers([script], 2, "jax", program=PYTHON)
    assert failed.value.exit_code == 3
    assert time.monotonic() - started < 20


@pytest.mark.backend_independent
def test_a_worker_left_waiting_is_stopped_after_the_grace():
    script = "import os, time\nif os.environ['KERAS_DISTRIBUTION_PROCESS_ID'] == '0': time.sleep(60)\nprint('done')"
    started = time.monotonic()
    with pytest.raises(launch.WorkerFailed, match=r"worker\(s\) 0 still running 1 s after another"):
        launch.run_workers([script], 2, "jax", program=PYTHON, grace=1.0)
    assert time.monotonic() - started < 20


@pytest.mark.backend_independent
def test_output_is_prefixed_by_rank(capfd):
    script = "import os; print('hello from', os.environ['KERAS_DISTRIBUTION_PROCESS_ID'])"
    assert launch.run_workers([script], 2, "jax", program=PYTHON) == 0
    err = capfd.readouterr().err
    assert "[0] hello from 0" in err and "[1] hello from 1" in err


# --------------------------------------------------------------------------- #
# A real job
# --------------------------------------------------------------------------- #


def _backend() -> str:
    import keras

    return keras.backend.backend()


def _environment() -> dict[str, str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    for name in ("XLA_FLAGS", distribution.TF_CONFIG_ENV, distribution.PROCESS_ID_ENV):
        env.pop(name, None)
    return env


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _rank_of(pid: int) -> str | None:
    try:
        variables = (Path("/proc") / str(pid) / "environ").read_bytes().split(b"\0")
    except OSError:
        return None
    for variable in variables:
        if variable.startswith(distribution.PROCESS_ID_ENV.encode() + b"="):
            return variable.split(b"=", 1)[1].decode()
    return None


@pytest.mark.slow
def test_two_processes_kill_and_resume(tmp_path):
    backend = _backend()
    if backend == "torch":
        pytest.skip("torch has no Keras distribution backend")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5, 3)).astype("float32")
    np.savez(tmp_path / "tiny.npz", x=x, y=(x[:, :, 0].sum(axis=1) > 0).astype("int64"))
    run = tmp_path / "run"
    command = [sys.executable, "-m", "kerasrnn.cli", "launch", "--processes", "2", "--backend", backend, "--"]
    fit = ["fit", "--data", "tiny.npz", "--arch", "lstm", "--units", "4", "--batch-size", "8", "--epochs", "3"]
    fit += ["--lr", "0.01", "--out", "run", "-q"]

    # Worker 1 killed after the first checkpoint: the launcher fails with its status and stops worker 0.
    job = subprocess.Popen(
        command + fit, cwd=tmp_path, env=_environment(), stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while not (run / "checkpoint" / "state.json").exists() and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    victims = [pid for pid in _children(job.pid) if _rank_of(pid) == "1"]
    assert victims and job.poll() is None, "no checkpoint while the job ran"
    os.kill(victims[0], signal.SIGKILL)
    _, err = job.communicate(timeout=60)
    assert job.returncode == 128 + signal.SIGKILL, err[-2000:]
    assert "worker 1 was killed by SIGKILL; stopped the 1 other running worker(s)" in err
    assert "Traceback" not in err.split("Error: worker 1")[-1]

    # --resume through the launcher: finishes the 3 epochs in the one run directory.
    done = subprocess.run(
        command + ["fit", "--resume", "run", "-q"],
        cwd=tmp_path,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    digests = {line.split("weights sha256 ")[1] for line in done.stderr.splitlines() if "weights sha256" in line}
    assert len(digests) == 1, done.stderr[-3000:]  # both processes hold the same weights
    assert sorted(path.name for path in tmp_path.iterdir()) == ["run", "tiny.npz"]
    record = json.loads((run / "config.json").read_text())
    assert record["status"] == "complete" and record["resumed"]
    assert record["distribution"]["processes"] == 2 and record["config"]["distribute"] == "multi-worker"
    assert json.loads((run / "metrics.json").read_text())["epochs_completed"] == 3
