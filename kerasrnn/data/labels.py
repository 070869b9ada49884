"""Labels of user files: which task they mean, and their encoding.

Text labels, or integral numbers (``1``, ``1.0000000e+00``; named ``"1"``),
mean classification; other numbers mean regression.  Integral labels with
more than ``max_classes`` distinct values are regression targets.  A given
``task`` overrides the inference.
"""

from __future__ import annotations

import numpy as np

from kerasrnn.data.formats.delimited import is_number
from kerasrnn.errors import DataError

#: Integral labels with more distinct values than this are regression targets.
MAX_INFERRED_CLASSES = 100


def number_name(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def interpret_labels(
    labels: np.ndarray, task: str | None, max_classes: int, what: str
) -> tuple[str, np.ndarray, list | None, int, str]:
    """Decide the task and encode labels.

    Args:
        labels: 1-D array of text (``str``) or numeric labels.

    Returns:
        ``(task, y, class_names, num_outputs, reason)``; ``y`` is int32 class
        indices or float32 ``(N, 1)`` targets.
    """
    if labels.dtype.kind in "iub":
        numeric = labels.astype(np.float64)
    elif labels.dtype.kind == "f":
        numeric = labels.astype(np.float64)
        if not np.all(np.isfinite(numeric)):
            bad = int(np.flatnonzero(~np.isfinite(numeric))[0])
            raise DataError(f"{what}: label of sample {bad} is {float(numeric[bad])}; expected a finite number")
    else:
        texts = labels.astype(str)
        try:
            numeric = np.array([float(text) for text in texts], dtype=np.float64)
            if not np.all(np.isfinite(numeric)):
                numeric = None
        except ValueError:
            numeric = None

    if numeric is None:
        texts = labels.astype(str)
        if task == "regression":
            example = str(next(text for text in texts if not is_number(text)))
            raise DataError(f"{what}: task='regression' needs numeric labels; found {example!r}")
        names = sorted(set(texts.tolist()))
        reason = "text labels"
        lookup = {name: index for index, name in enumerate(names)}
        y = np.array([lookup[text] for text in texts], dtype=np.int32)
        return "classification", y, names, len(names), reason

    integral = bool(np.all(numeric == np.round(numeric)))
    distinct = np.unique(numeric)
    if task is None:
        if integral and len(distinct) <= max_classes:
            task, reason = "classification", f"integral labels with {len(distinct)} distinct values"
        else:
            task = "regression"
            reason = (
                f"integral labels with {len(distinct)} > max_classes={max_classes} distinct values"
                if integral
                else "non-integral numeric labels"
            )
    else:
        reason = f"task={task!r} given"
    if task == "classification":
        if not integral:
            example = float(numeric[numeric != np.round(numeric)][0])
            raise DataError(f"{what}: task='classification' needs integral or text labels; found {example!r}")
        names = [number_name(value) for value in distinct]
        y = np.searchsorted(distinct, numeric).astype(np.int32)
        return task, y, names, len(names), reason
    return "regression", numeric.astype(np.float32).reshape(-1, 1), None, 1, reason


def is_one_hot(labels: np.ndarray) -> bool:
    """Whether ``(N, k)`` labels (k >= 2) are one-hot rows: zeros and a single one each."""
    if labels.ndim != 2 or labels.shape[1] < 2 or labels.dtype.kind not in "iufb" or len(labels) == 0:
        return False
    values = labels.astype(np.float64)
    return bool(np.isin(values, (0.0, 1.0)).all() and (values.sum(axis=1) == 1.0).all())
