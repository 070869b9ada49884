"""Training runs: what ``kerasrnn fit / evaluate / predict / generate`` do.

The CLI (:mod:`kerasrnn.cli`) is a thin layer over this package::

    from kerasrnn.training import RunConfig, fit, evaluate_run

    run_dir = fit(RunConfig(arch="bigru"), out="runs/bigru")   # mnist, defaults
    print(evaluate_run(run_dir)["test_accuracy"])

Modules: :mod:`~kerasrnn.training.run_config` (the options),
:mod:`~kerasrnn.training.run` (one prepared run: data, model, directory,
checkpoint), :mod:`~kerasrnn.training.trainer` (``fit``, ``resume``),
:mod:`~kerasrnn.training.run_dir` (the files of a run),
:mod:`~kerasrnn.training.checkpoint` (crash-safe per-epoch state),
:mod:`~kerasrnn.training.callbacks`, :mod:`~kerasrnn.training.inputs` (data for
``model.fit``), :mod:`~kerasrnn.training.batched_prediction`,
:mod:`~kerasrnn.training.evaluation`, :mod:`~kerasrnn.training.prediction`,
:mod:`~kerasrnn.training.generation`, :mod:`~kerasrnn.training.environment`.

Importing this package imports no Keras; its names are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

# Public name -> module that defines it.
_EXPORTS = {
    "ConfigError": "kerasrnn.errors",
    "NaNLossError": "kerasrnn.errors",
    "RunDirError": "kerasrnn.errors",
    "RunDirExistsError": "kerasrnn.errors",
    "TrainingError": "kerasrnn.errors",
    "RunConfig": "kerasrnn.training.run_config",
    "RunDir": "kerasrnn.training.run_dir",
    "evaluate_run": "kerasrnn.training.evaluation",
    "fit": "kerasrnn.training.trainer",
    "resume": "kerasrnn.training.trainer",
    "generate_from_run": "kerasrnn.training.generation",
    "translate_run": "kerasrnn.training.translation",
    "sample_text": "kerasrnn.training.generation",
    "predict_file": "kerasrnn.training.prediction",
}

__all__ = sorted([*_EXPORTS, "PRESETS"])


def __getattr__(name: str) -> Any:
    if name == "PRESETS":
        from kerasrnn.registry import presets

        value = presets()
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    else:
        raise AttributeError(f"module 'kerasrnn.training' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
