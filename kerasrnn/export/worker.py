"""The TensorFlow export worker: ``python -m kerasrnn.export.worker JOBS.json RESULTS.json``.

Started by :mod:`kerasrnn.export.api` with ``KERAS_BACKEND=tensorflow`` when
the caller runs on JAX or torch. ``JOBS.json`` is a list of
:meth:`ExportJob.to_dict <kerasrnn.export.job.ExportJob.to_dict>` objects;
each is run by :func:`kerasrnn.export.tf_export.export_one`, and one outcome
per job is written to ``RESULTS.json``: ``{"ok": true, "report": ...}`` or
``{"ok": false, "error": message, "report": figures or null}``. The
``kerasrnn`` log messages are printed to stdout, one line each, where the
parent logs them again. Exit status 0 when every job passed, 1 otherwise, 2
for bad arguments.

The worker dies with its caller (:func:`die_with_parent`): an orphaned worker
would go on writing the caller's destinations, outside the caller's lock and
after the caller's user has given up on them. On Linux it asks the kernel
for ``SIGKILL`` when its parent ends (``prctl(PR_SET_PDEATHSIG)``):
immediate, even while TensorFlow runs in C++ for minutes, and a killed worker
never renames anything into place. A watchdog thread that ends the process
when its parent pid changes covers the other platforms (and a kernel that
refuses ``prctl``), within :data:`WATCHDOG_SECONDS`. Either way the
temporary directory of the export in progress stays behind, named after the
worker's pid, and the next export into that directory removes it.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from typing import Any

logger = logging.getLogger("kerasrnn.export.worker")
#: How often the watchdog looks at the parent pid.
WATCHDOG_SECONDS = 0.5
#: ``prctl`` option: the signal this process gets when its parent ends (``<linux/prctl.h>``).
PR_SET_PDEATHSIG = 1
#: The exit status of a worker whose caller is gone.
ORPHANED = 3
#: The environment variable by which the caller gives its pid.
PARENT_ENV = "KERASRNN_EXPORT_PARENT"


def _parent_death_signal() -> bool:
    """``prctl(PR_SET_PDEATHSIG, SIGKILL)`` (Linux); whether the kernel accepted it."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent: int) -> None:
    while True:
        time.sleep(WATCHDOG_SECONDS)
        if os.getppid() != parent:
            os._exit(ORPHANED)  # at once: no clean-up that could race the main thread's rename


def die_with_parent(parent: int | None = None) -> str:
    """Make this process end when its parent does; returns how (``"prctl+watchdog"`` or ``"watchdog"``).

    ``parent``: the caller's pid as it told it (``KERASRNN_EXPORT_PARENT``);
    if the current parent is another process already, the caller died
    before this ran, and the process exits now.
    """
    expected = parent if parent is not None else os.getppid()
    how = "prctl+watchdog" if _parent_death_signal() else "watchdog"
    if os.getppid() != expected:  # checked after prctl: a parent that died before it is seen here
        os._exit(ORPHANED)
    threading.Thread(target=_watch, args=(expected,), name="kerasrnn-export-watchdog", daemon=True).start()
    return how


def _expected_parent() -> int | None:
    value = os.environ.get(PARENT_ENV, "")
    return int(value) if value.isdigit() else None


def _log_to_stdout() -> None:
    """The worker's log messages, bare, on stdout (the parent reads them line by line)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    base = logging.getLogger("kerasrnn")
    base.addHandler(handler)
    base.setLevel(logging.INFO)
    base.propagate = False


def run_jobs(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runs each job (an :meth:`ExportJob.to_dict` object); returns one outcome per job."""
    from kerasrnn.export.errors import ExportError
    from kerasrnn.export.job import ExportJob
    from kerasrnn.export.tf_export import export_one

    outcomes = []
    for data in jobs:
        try:
            outcomes.append({"ok": True, "report": export_one(ExportJob.from_dict(data))})
        except ExportError as error:
            logger.info(f"  export failed: {error}")
            outcomes.append({"ok": False, "error": str(error), "report": getattr(error, "report", None)})
    return outcomes


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m kerasrnn.export.worker JOBS.json RESULTS.json", file=sys.stderr)
        return 2
    die_with_parent(_expected_parent())
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    if keras.backend.backend() != "tensorflow":
        print(f"the export worker needs KERAS_BACKEND=tensorflow, not {keras.backend.backend()}", file=sys.stderr)
        return 2
    _log_to_stdout()
    with open(argv[0], encoding="utf-8") as handle:
        jobs = json.load(handle)
    outcomes = run_jobs(jobs)
    from kerasrnn.storage.atomic import write_text

    write_text(argv[1], json.dumps(outcomes, default=str))  # complete or absent, even if killed
    return 0 if all(outcome["ok"] for outcome in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
