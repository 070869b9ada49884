"""Training runs: what ``kerasrnn fit / evaluate / predict / generate`` do.

The CLI (``cli/main.py``) is a thin layer over this package::

    from kerasrnn.training import RunConfig, fit, evaluate_run

    run_dir = fit(RunConfig(arch="bigru"), out="runs/bigru")   # mnist, defaults
    print(evaluate_run(run_dir)["test_accuracy"])

Modules: :mod:`~kerasrnn.training.run_config` (the options),
:mod:`~kerasrnn.training.presets` (the course labs), :mod:`~kerasrnn.training.trainer`
(``fit``, ``resume``), :mod:`~kerasrnn.training.run_dir` (the files of a run),
:mod:`~kerasrnn.training.checkpoint` (crash-safe per-epoch state),
:mod:`~kerasrnn.training.callbacks`, :mod:`~kerasrnn.training.inputs` (data for
``model.fit``), :mod:`~kerasrnn.training.evaluation`,
:mod:`~kerasrnn.training.prediction`, :mod:`~kerasrnn.training.generation`,
:mod:`~kerasrnn.training.environment`.
"""

from kerasrnn.training.errors import ConfigError
from kerasrnn.training.errors import NaNLossError
from kerasrnn.training.errors import RunDirError
from kerasrnn.training.errors import RunDirExistsError
from kerasrnn.training.errors import TrainingError
from kerasrnn.training.evaluation import evaluate_run
from kerasrnn.training.generation import generate_from_run
from kerasrnn.training.generation import sample_text
from kerasrnn.training.prediction import predict_file
from kerasrnn.training.presets import PRESETS
from kerasrnn.training.run_config import DATASET_DEFAULTS
from kerasrnn.training.run_config import RunConfig
from kerasrnn.training.run_dir import RunDir
from kerasrnn.training.trainer import fit
from kerasrnn.training.trainer import resume

__all__ = [
    "ConfigError",
    "DATASET_DEFAULTS",
    "NaNLossError",
    "PRESETS",
    "RunConfig",
    "RunDir",
    "RunDirError",
    "RunDirExistsError",
    "TrainingError",
    "evaluate_run",
    "fit",
    "generate_from_run",
    "predict_file",
    "resume",
    "sample_text",
]
