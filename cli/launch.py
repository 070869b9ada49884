"""``kerasrnn launch --processes N -- fit ...``: a multi-worker job of N local processes, for trying it on one machine.

Each worker is ``python -m kerasrnn.cli`` with the arguments after ``--``
(``fit`` gets ``--distribute multi-worker`` unless it has a ``--distribute``
or ``--resume``) and the placement a cluster launcher would set: TensorFlow's
``TF_CONFIG`` (one free loopback port per worker) and JAX's
``KERAS_DISTRIBUTION_JOB_ADDRESSES`` (a free port for process 0, the
coordinator), ``KERAS_DISTRIBUTION_NUM_PROCESSES``,
``KERAS_DISTRIBUTION_PROCESS_ID``.  Their output is streamed with a
``[rank]`` prefix.  The launcher returns the first non-zero exit status (a
worker killed by a signal counts as 128 + the signal) after stopping the
others, so a dead worker never leaves the rest waiting in a collective; and
when a worker ends while others run on for ``--grace`` seconds, those are
stopped too, with a message.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

import click

from kerasrnn.cli.backend import default_to_an_installed_backend, keras_json_backend
from kerasrnn.cli.options import CONTEXT_SETTINGS
from kerasrnn.errors import ConfigError, TrainingError

#: Seconds between SIGTERM and SIGKILL when stopping a worker.
STOP_SECONDS = 5.0


class WorkerFailed(TrainingError):
    """A worker of the job failed or hung; its exit status is the launcher's."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports that are free now (the OS picks them)."""
    sockets, ports = [], []
    try:
        for _ in range(count):
            handle = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            handle.bind(("127.0.0.1", 0))
            sockets.append(handle)
            ports.append(handle.getsockname()[1])
    finally:
        for handle in sockets:
            handle.close()
    return ports


def worker_environments(processes: int, backend: str, base: dict[str, str] | None = None) -> list[dict[str, str]]:
    """The environment of each worker: ``KERAS_BACKEND``, ``TF_CONFIG`` and ``KERAS_DISTRIBUTION_*``."""
    from kerasrnn.training import distribution

    base = dict(os.environ if base is None else base)
    ports = free_ports(processes + 1)
    workers = [f"127.0.0.1:{port}" for port in ports[:processes]]
    environments = []
    for rank in range(processes):
        environment = dict(base)
        environment.update(
            {
                "KERAS_BACKEND": backend,
                distribution.TF_CONFIG_ENV: json.dumps(
                    {"cluster": {"worker": workers}, "task": {"type": "worker", "index": rank}}
                ),
                distribution.JOB_ADDRESSES_ENV: f"127.0.0.1:{ports[-1]}",
                distribution.NUM_PROCESSES_ENV: str(processes),
                distribution.PROCESS_ID_ENV: str(rank),
                "PYTHONUNBUFFERED": "1",
            }
        )
        environments.append(environment)
    return environments


def worker_arguments(arguments: Sequence[str]) -> list[str]:
    """The command line of a worker: ``fit`` gets ``--distribute multi-worker`` unless it chose otherwise."""
    arguments = list(arguments)
    if not arguments:
        raise ConfigError("give the command of the workers after --, e.g. kerasrnn launch --processes 2 -- fit ...")
    if arguments[0] == "fit" and not any(
        arg in ("--resume", "--distribute") or arg.startswith(("--resume=", "--distribute=")) for arg in arguments
    ):
        arguments += ["--distribute", "multi-worker"]
    return arguments


def exit_status(returncode: int) -> int:
    """A process's exit status as a shell reports it (128 + the signal for a killed one)."""
    return 128 - returncode if returncode < 0 else returncode


def _describe(returncode: int) -> str:
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-returncode).name}"
        return f"was killed by signal {-returncode}"
    return f"exited with status {returncode}"


def _stream(rank: int, source, lock: threading.Lock) -> None:
    for line in iter(source.readline, b""):
        text = line.decode("utf-8", "replace").rstrip("\n")
        with lock:
            click.echo(f"[{rank}] {text}", err=True)
    source.close()


def _stop(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        if worker.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                worker.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    for worker in workers:
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.wait(max(0.0, deadline - time.monotonic()))
        if worker.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                worker.kill()
            worker.wait()


def run_workers(
    arguments: Sequence[str],
    processes: int,
    backend: str,
    *,
    grace: float = 60.0,
    timeout: float | None = None,
    program: Sequence[str] | None = None,
) -> int:
    """Start the workers, stream their output, wait for them; 0 if all succeeded.

    ``program`` is what runs the arguments (default ``python -m kerasrnn.cli``).

    Raises:
        WorkerFailed: A worker failed (its status), one ran ``grace`` seconds
            past another's end, or the job ran past ``timeout``.
    """
    if program is None:
        command = [sys.executable, "-m", "kerasrnn.cli", *worker_arguments(arguments)]
    else:
        command = [*program, *arguments]
    lock = threading.Lock()
    workers: list[subprocess.Popen] = []
    threads = []
    try:
        for rank, environment in enumerate(worker_environments(processes, backend)):
            worker = subprocess.Popen(
                command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
            )
            workers.append(worker)
            thread = threading.Thread(target=_stream, args=(rank, worker.stdout, lock), daemon=True)
            thread.start()
            threads.append(thread)
        started, first_end = time.monotonic(), None
        while True:
            codes = [worker.poll() for worker in workers]
            failed = [(rank, code) for rank, code in enumerate(codes) if code not in (None, 0)]
            if failed:
                rank, code = failed[0]
                running = sum(code is None for code in codes)
                _stop(workers)
                raise WorkerFailed(
                    f"worker {rank} {_describe(code)}; stopped the {running} other running worker(s)",
                    exit_status(code),
                )
            if all(code == 0 for code in codes):
                return 0
            now = time.monotonic()
            if first_end is None and any(code is not None for code in codes):
                first_end = now
            if first_end is not None and now - first_end > grace:
                late = [rank for rank, code in enumerate(codes) if code is None]
                _stop(workers)
                raise WorkerFailed(
                    f"worker(s) {', '.join(map(str, late))} still running {grace:g} s after another worker "
                    f"finished (waiting for a peer that is gone?); stopped them",
                    1,
                )
            if timeout is not None and now - started > timeout:
                _stop(workers)
                raise WorkerFailed(f"the job ran past --timeout {timeout:g} s; stopped its workers", 1)
            time.sleep(0.2)
    except BaseException:
        _stop(workers)
        raise
    finally:
        for thread in threads:
            thread.join(timeout=2)


@click.command(context_settings={**CONTEXT_SETTINGS, "ignore_unknown_options": True})
@click.option("--processes", "-n", type=click.IntRange(min=1), required=True, help="Worker processes to start.")
@click.option(
    "--backend",
    type=click.Choice(("tensorflow", "jax")),
    default=None,
    help="Keras backend of the workers (default: $KERAS_BACKEND, else Keras' configured one).",
)
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Seconds the other workers may run on after one has ended, before they are stopped.",
)
@click.option(
    "--timeout", type=click.FloatRange(min=0), default=None, help="Stop the whole job after this many seconds."
)
@click.argument("command", nargs=-1, type=click.UNPROCESSED, metavar="-- COMMAND...")
def launch(processes: int, backend: str | None, grace: float, timeout: float | None, command: tuple[str, ...]) -> None:
    """Run a kerasrnn command as a multi-worker job of local processes (TF_CONFIG, KERAS_DISTRIBUTION_*).

    Worker output is prefixed by its rank; the first non-zero exit status is returned and the other
    workers are stopped.  On a cluster, your launcher (SLURM, Kubernetes, Ray) sets the same variables:
    see docs/distribution.md.

    \b
    Examples:
      kerasrnn launch --processes 2 -- fit --arch lstm --backend jax --out runs/lstm-2p
      kerasrnn launch --processes 2 --backend tensorflow -- fit --arch bigru --out runs/bigru-2p
      kerasrnn launch --processes 2 -- fit --resume runs/lstm-2p
    """
    chosen = backend or _backend_of(command)
    if chosen == "torch":
        from kerasrnn.training.distribution import TORCH_MESSAGE

        raise ConfigError(TORCH_MESSAGE.format(mode="multi-worker"))
    run_workers(command, processes, chosen, grace=grace, timeout=timeout)


def _backend_of(command: Sequence[str]) -> str:
    """``--backend`` of the worker command, else ``$KERAS_BACKEND``, else Keras' configured (or an installed) one."""
    for index, arg in enumerate(command):
        if arg == "--backend" and index + 1 < len(command):
            return command[index + 1]
        if arg.startswith("--backend="):
            return arg.split("=", 1)[1]
    default_to_an_installed_backend()
    return os.environ.get("KERAS_BACKEND") or keras_json_backend()
