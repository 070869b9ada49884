"""``kerasrnn predict RUN --input FILE``: a trained model on new sequences.

Input files:

* ``.npz`` -- the array ``x`` (or the archive's only array): ``(N, T, F)``,
  ``(N, T)`` or any ``(N, ...)`` whose size per sample matches the model's
  input (e.g. ``(N, 784)`` MNIST images for a ``rows`` model); for a
  variable-length model, trailing all-NaN steps mark shorter sequences.
* delimited text (comma, tab or whitespace; detected) -- one sequence per
  line, ``T * F`` values (``F`` features per step, step-major); trailing empty
  fields shorten a sequence for variable-length models.  With
  ``label_col`` that column holds labels (as in the UCR files the model was
  trained on) and the accuracy is reported too.

Files are read by the parsers of :mod:`kerasrnn.data.formats` (the same as
for training data).  The inputs are prepared as at training time by the run's
data set (:meth:`kerasrnn.data.Dataset.prepare_inputs`: MNIST pixels given as
integers 0-255 are divided by 255; sunspot windows given in sunspot numbers
are standardised with the training statistics), and regression outputs are
returned in the data's own units (:meth:`~kerasrnn.data.Dataset.outputs_in_units`).

Output: CSV rows ``index, prediction, ...`` -- for classification the class
name, its probability and one ``p_<class>`` column per class; for regression
the forecast(s); for per-step labelling the labels of the valid steps.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from kerasrnn.data import PAD_VALUE
from kerasrnn.data.formats.delimited import read_delimited
from kerasrnn.data.formats.npz import read_input_array
from kerasrnn.errors import ConfigError, DataError
from kerasrnn.training.batched_prediction import predict_in_batches


def _as_model_input(sequences, model_shape: tuple, path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """``(x, lengths)`` shaped for a model whose input is ``(T | None, F...)``."""
    steps, features = model_shape[0], tuple(model_shape[1:])
    per_step = int(np.prod(features)) if features else 1
    if steps is not None:
        per_sample = steps * per_step
        if isinstance(sequences, np.ndarray):
            x = sequences.astype(np.float32)
            if x[0].size != per_sample:
                raise DataError(
                    f"{path}: each sample has {x[0].size} values ({x.shape[1:]}); the model "
                    f"takes {steps} steps x {per_step} features = {per_sample}"
                )
            return x.reshape(len(x), steps, *features), None
        for index, row in enumerate(sequences):
            if row.size != per_sample:
                raise DataError(
                    f"{path}: sequence {index} has {row.size} values; the model takes {steps} steps "
                    f"x {per_step} features = {per_sample} values per row"
                )
        return np.stack(sequences).astype(np.float32).reshape(len(sequences), steps, *features), None
    # Variable length.
    if isinstance(sequences, np.ndarray):
        x = sequences.astype(np.float64)
        x = x.reshape(len(x), x.shape[1], -1) if x.ndim >= 2 else x.reshape(len(x), -1, 1)
        rows = []
        for index, sample in enumerate(x):
            present = np.flatnonzero(~np.isnan(sample).all(axis=1))
            if present.size == 0:
                raise DataError(f"{path}: sample {index} has no values")
            rows.append(sample[: present[-1] + 1].reshape(-1))
        sequences = rows
    lengths = []
    for index, row in enumerate(sequences):
        if row.size % per_step:
            raise DataError(f"{path}: sequence {index} has {row.size} values, not a multiple of {per_step} features")
        lengths.append(row.size // per_step)
    lengths = np.array(lengths, dtype=np.int64)
    x = np.full((len(sequences), lengths.max(), *features), PAD_VALUE, dtype=np.float32)
    for index, row in enumerate(sequences):
        x[index, : lengths[index]] = row.reshape(lengths[index], *features)
    return x, lengths


def predict_file(
    run_path: str | os.PathLike, input_path: str | os.PathLike, label_col: int | None = None
) -> tuple[list[str], list[dict[str, Any]], dict[str, Any]]:
    """Predict every sequence of ``input_path`` with the model of ``run_path``.

    Returns:
        ``(columns, rows, summary)``; ``summary`` has ``samples`` and, with
        labels, ``accuracy`` (classification) or ``rmse`` (regression).

    Raises:
        ConfigError: For a language-model run (use ``generate``).
        kerasrnn.data.DataError: For an unreadable or mis-shaped input.
    """
    from kerasrnn.training.evaluation import load_run_model
    from kerasrnn.training.run_dir import RunDir

    run = RunDir.open(run_path)
    record = run.read_record()
    data = record.get("data") or {}
    task = data.get("task")
    if task == "language_model":
        raise ConfigError(f"{run.path} is a language model; use kerasrnn generate {run.path}")
    input_path = Path(input_path).expanduser()
    if not input_path.is_file():
        raise ConfigError(f"input file not found: {input_path}")
    info = data.get("info") or {}

    if task == "seq2seq":
        raise ConfigError(f"{run.path} is a sequence-to-sequence run; use kerasrnn translate {run.path} --input FILE")
    labels = None
    if task == "text_classification":  # one text a line, read with the run's vocabulary
        model = load_run_model(run)
        x, lengths = _encode_texts(input_path, info)
        notes: list[str] = []
    else:
        if input_path.suffix.lower() == ".npz":
            if label_col is not None:
                raise ConfigError("--label-col applies to delimited text input, not .npz")
            raw = read_input_array(input_path)
            if raw.dtype.kind not in "iuf" or len(raw) == 0:
                raise DataError(f"{input_path}: x must be a non-empty numeric array; found {raw.dtype} {raw.shape}")
            integral = raw.dtype.kind in "iu"
            sequences: Any = raw
        else:
            table = read_delimited(input_path, label_col)
            sequences, labels = table.sequences, table.labels
            integral = False

        model = load_run_model(run)
        model_shape = tuple(model.input_shape[1:])
        x, lengths = _as_model_input(sequences, model_shape, input_path)
        finite = np.isfinite(x) if lengths is None else (x != PAD_VALUE)
        if lengths is None and not finite.all():
            raise DataError(f"{input_path}: the input holds NaN or infinite values")

        dataset = run.read_config().make_dataset()
        x, notes = dataset.prepare_inputs(x, info, integral)
    outputs = predict_in_batches(model, x, lengths)
    class_names = data.get("class_names")
    rows: list[dict[str, Any]] = []
    summary: dict[str, Any] = {"samples": len(x), "notes": notes}
    if task in ("classification", "text_classification"):
        names = class_names or [str(i) for i in range(outputs.shape[-1])]
        columns = ["index", "prediction", "probability"] + (["label"] if labels is not None else [])
        columns += [f"p_{name}" for name in names]
        predicted = outputs.argmax(axis=-1)
        for index, probs in enumerate(outputs):
            row = {"index": index, "prediction": names[predicted[index]], "probability": float(probs.max())}
            if labels is not None:
                row["label"] = labels[index]
            row.update({f"p_{name}": float(p) for name, p in zip(names, probs)})
            rows.append(row)
        if labels is not None:
            given = [_label_name(label) for label in labels]
            summary["accuracy"] = float(np.mean([names[p] == label for p, label in zip(predicted, given)]))
            unseen = sorted(set(given) - set(names))
            if unseen:
                count = sum(label in unseen for label in given)
                summary["labels_not_in_training"] = unseen
                notes.append(
                    f"{count} of {len(given)} label(s) never occur in training ({', '.join(unseen[:5])}"
                    f"{' ...' if len(unseen) > 5 else ''}): the model cannot predict them, so they count as wrong"
                )
    elif task == "regression":
        values = np.asarray(outputs, dtype=np.float64).reshape(len(x), -1)
        values = np.asarray(dataset.outputs_in_units(values, info), dtype=np.float64)
        columns = ["index"] + (
            ["prediction"] if values.shape[1] == 1 else [f"prediction_{i}" for i in range(values.shape[1])]
        )
        columns += ["label"] if labels is not None else []
        for index, value in enumerate(values):
            row = {"index": index}
            row.update(dict(zip(columns[1 : 1 + values.shape[1]], map(float, value))))
            if labels is not None:
                row["label"] = labels[index]
            rows.append(row)
        if labels is not None and values.shape[1] == 1:
            truth = np.array([float(label) for label in labels])
            summary["rmse"] = float(np.sqrt(np.mean((truth - values[:, 0]) ** 2)))
    else:  # labelling
        names = class_names or [str(i) for i in range(np.asarray(outputs[0]).shape[-1])]
        columns = ["index", "prediction"]
        for index, steps in enumerate(outputs):
            steps = np.asarray(steps)
            valid = steps[: lengths[index]] if lengths is not None else steps
            rows.append({"index": index, "prediction": " ".join(names[i] for i in valid.argmax(axis=-1))})
    return columns, rows, summary


def _encode_texts(path: Path, info: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Word ids ``(N, T)`` (padded with 0) and lengths of a file of texts, one a line."""
    from kerasrnn.data.text import read_text_file
    from kerasrnn.data.vocabulary import Vocabulary

    vocabulary = Vocabulary.from_config(info["vocabulary"])
    texts = [line.strip() for line in read_text_file(path).splitlines()]
    rows = []
    for number, text in enumerate(texts, start=1):
        ids = vocabulary.encode(vocabulary.tokenize(text))
        if not len(ids):
            raise DataError(f"{path}: line {number} holds no text (one text a line, no empty lines)")
        rows.append(ids)
    lengths = np.array([len(row) for row in rows], dtype=np.int64)
    x = np.zeros((len(rows), int(lengths.max())), dtype=np.int32)
    for index, row in enumerate(rows):
        x[index, : len(row)] = row
    return x, lengths


def _label_name(label: str) -> str:
    try:
        value = float(label)
    except ValueError:
        return label
    return str(int(value)) if value.is_integer() else repr(value)


def write_csv(columns: list[str], rows: list[dict[str, Any]], handle: TextIO) -> None:
    writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})


def csv_text(columns: list[str], rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    write_csv(columns, rows, buffer)
    return buffer.getvalue()
