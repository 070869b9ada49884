"""Metrics of a trained model on its data, and ``kerasrnn evaluate RUN``.

Per task:

* classification / labelling: ``loss`` and ``accuracy`` (per step for
  labelling, padding excluded);
* regression: ``loss`` (MSE in training units) and ``rmse``; a data set may
  report ``rmse`` in its own units (:meth:`kerasrnn.data.Dataset.split_metrics`),
  and ``metrics.json`` adds the baselines its ``info`` records;
* language model: ``loss`` (cross-entropy in nats per character),
  ``bits_per_char`` (= loss / ln 2) and ``accuracy`` (next character);
* text classification: ``loss`` and ``accuracy``;
* sequence to sequence: ``loss`` (teacher forcing, nats per target token),
  ``accuracy`` (next target token, padding excluded), ``bleu`` and
  ``exact_match`` of greedy translations, ``bleu_beam<K>`` and
  ``exact_match_beam<K>`` of beam search (:mod:`kerasrnn.training.translation`).
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from kerasrnn.data import Dataset, SequenceData
from kerasrnn.errors import RunDirError, TrainingError
from kerasrnn.training import inputs
from kerasrnn.training.batched_prediction import PREDICT_BATCH_SIZE, predict_in_batches
from kerasrnn.training.run_config import RunConfig
from kerasrnn.training.run_dir import RunDir

if TYPE_CHECKING:
    import keras

LN2 = math.log(2.0)
EVAL_BATCH_SIZE = PREDICT_BATCH_SIZE


def split_metrics(model: keras.Model, data: SequenceData, split: str, dataset: Dataset) -> dict[str, Any]:
    """Metrics of ``model`` on one split (``{}`` for an empty split), unprefixed."""
    given = inputs.eval_input(data, split, EVAL_BATCH_SIZE)
    if given is None:
        return {}
    if isinstance(given, tuple):
        values = model.evaluate(given[0], given[1], batch_size=EVAL_BATCH_SIZE, verbose=0, return_dict=True)
    else:
        values = model.evaluate(given, verbose=0, return_dict=True)
    metrics: dict[str, Any] = {key: float(value) for key, value in values.items()}
    if data.task == "language_model":
        metrics["bits_per_char"] = metrics["loss"] / LN2
    if data.task == "regression":
        metrics.setdefault("rmse", math.sqrt(max(metrics["loss"], 0.0)))
    if data.task == "seq2seq":  # decoded translations against every reference
        from kerasrnn.training.translation import translation_metrics

        metrics.update(translation_metrics(model, data, split, dataset.config.beam))

    def predict() -> np.ndarray | list[np.ndarray]:
        return predict_in_batches(model, getattr(data, f"x_{split}"), getattr(data, f"lengths_{split}"))

    return dataset.split_metrics(metrics, data, split, predict)


def model_metrics(model: keras.Model, data: SequenceData, dataset: Dataset) -> dict[str, Any]:
    """Validation and test metrics, prefixed ``val_`` / ``test_``, plus baselines."""
    result: dict[str, Any] = {}
    for split in ("val", "test"):
        for key, value in split_metrics(model, data, split, dataset).items():
            result[f"{split}_{key}"] = value
    if data.task == "regression" and "baselines" in data.info:
        result["baselines"] = data.info["baselines"]
    result["test_samples"] = int(len(data.x_test))
    return result


def load_run_model(run: RunDir) -> keras.Model:
    """The ``model.keras`` of a run (kerasrnn's layers registered).

    Raises:
        RunDirError: The file is missing (saying whether the run can still be
            resumed) or cannot be loaded (damaged, truncated).
    """
    import zipfile

    import keras

    import kerasrnn.layers  # noqa: F401  (registers the custom layers)
    import kerasrnn.models.encoder_decoder  # noqa: F401  (registers EncoderDecoder)
    import kerasrnn.training.token_accuracy  # noqa: F401  (registers the seq2seq metric)

    path = run.model_path
    if not path.is_file():
        if (run.read_record() or {}).get("status") == "complete":
            raise RunDirError(
                f"{path} is missing although the run completed; the checkpoint was removed at completion, "
                f"so the model cannot be recovered: train it again with kerasrnn fit"
            )
        raise RunDirError(
            f"{run.path} has no {path.name}: the run did not finish (continue it with kerasrnn fit --resume {run.path})"
        )
    if not zipfile.is_zipfile(path):
        raise RunDirError(
            f"{path} is damaged: not a complete .keras archive ({path.stat().st_size} bytes); "
            f"train the run again, or restore the file from a backup"
        )
    try:
        return keras.saving.load_model(path)
    except Exception as error:  # corrupt content, missing custom object ...
        text = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise RunDirError(f"cannot load {path}: {type(error).__name__}: {text}") from None


def evaluate_run(path: str | os.PathLike, split: str = "test", allow_changed_data: bool = False) -> dict[str, Any]:
    """Reload a run's model and data and compute its metrics on ``split``.

    Args:
        path: The run directory.
        split: ``"test"``, ``"val"`` or ``"train"``.
        allow_changed_data: Evaluate on data that differs from the data the
            run was trained on (the result and ``config.json`` say so).

    Returns:
        ``{"split": ..., "<split>_<metric>": value, ...}`` (plus the
        baselines the data records, and ``data_changed`` when it changed).

    Raises:
        DataChangedError: The data changed (without ``allow_changed_data``).
    """
    from kerasrnn.training.run import check_same_data

    if split not in ("train", "val", "test"):
        raise TrainingError(f"unknown split {split!r}; expected train, val or test")
    run = RunDir.open(path)
    record = run.read_record()
    config: RunConfig = RunConfig.from_dict(record["config"]).resolve()
    model = load_run_model(run)
    dataset = config.make_dataset()
    data = inputs.load_run_data(config, dataset)
    changed = check_same_data(record, data, run, allow_changed_data, "evaluate")
    if changed:
        run.lock()
        run.write_record(record)
        run.unlock()
    values = split_metrics(model, data, split, dataset)
    if not values:
        raise TrainingError(f"the {split} split of {data.source} is empty")
    result: dict[str, Any] = {"run": str(run.path), "split": split, "samples": int(len(getattr(data, f"x_{split}")))}
    result.update({f"{split}_{key}": value for key, value in values.items()})
    if data.task == "regression" and "baselines" in data.info and split == "test":
        result["baselines"] = data.info["baselines"]
    result["data_source"] = data.source
    if changed:
        result["data_changed"] = True
    return result
