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
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

logger = logging.getLogger("kerasrnn.export.worker")


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
