"""The TensorFlow export worker: ``python -m kerasrnn.export.worker JOBS.json RESULTS.json``.

Started by :mod:`kerasrnn.export.api` with ``KERAS_BACKEND=tensorflow`` when
the caller runs on JAX or torch. Runs every job of ``JOBS.json`` (see
:func:`kerasrnn.export.tf_export.export_one`) and writes one outcome per job
to ``RESULTS.json``: ``{"ok": true, "report": ...}`` or ``{"ok": false,
"error": message, "report": figures or null}``. Exit status 0 when every job
passed, 1 otherwise, 2 for bad arguments.
"""

import json
import os
import sys


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m kerasrnn.export.worker JOBS.json RESULTS.json", file=sys.stderr)
        return 2
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    if keras.backend.backend() != "tensorflow":
        print(f"the export worker needs KERAS_BACKEND=tensorflow, not {keras.backend.backend()}", file=sys.stderr)
        return 2
    from kerasrnn.export.errors import ExportError
    from kerasrnn.export.tf_export import export_one

    with open(argv[0], encoding="utf-8") as handle:
        jobs = json.load(handle)
    outcomes = []
    for job in jobs:
        try:
            outcomes.append({"ok": True, "report": export_one(job, log=lambda m: print(m, flush=True))})
        except ExportError as error:
            print(f"  export failed: {error}", flush=True)
            outcomes.append({"ok": False, "error": str(error), "report": getattr(error, "report", None)})
    with open(argv[1], "w", encoding="utf-8") as handle:
        json.dump(outcomes, handle, default=str)
    return 0 if all(outcome["ok"] for outcome in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
