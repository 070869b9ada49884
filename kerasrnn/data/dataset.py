"""The data-set interface: everything training, evaluation and prediction need to know.

A :class:`Dataset` is what ``kerasrnn fit --dataset NAME`` trains on.  Training,
evaluation and prediction call these methods and never test a data set's
name; a new data set is one module with a :class:`Dataset` subclass plus one
line in :data:`kerasrnn.data.registry.DATASETS` (see docs/contributing.md).

A data set is built from a run's options (a :class:`~kerasrnn.training.run_config.RunConfig`,
resolved or being resolved) and reads the fields it declares in
:attr:`Dataset.options`; it imports NumPy at most (no Keras, no TensorFlow at
import time).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from kerasrnn.data.sequence_data import SequenceData

if TYPE_CHECKING:
    from kerasrnn.training.run_config import RunConfig

#: ``augment(x_batch, rng) -> x_batch``: a training-time augmentation.
Augmentation = Callable[[np.ndarray, np.random.Generator], np.ndarray]


class Dataset:
    """One data set behind ``--dataset NAME``.

    Class attributes (declarations, read without loading anything):
        name: The registry name (``--dataset NAME``, ``config.json``'s ``dataset``).
        defaults: Values of the run options a user leaves unset (``None`` in
            :class:`RunConfig`): ``arch``, ``units``, ``batch_size``, ``epochs``,
            ``lr``, ``lr_schedule``, ``patience``, ``augment_shift``,
            ``time_budget``.
        options: The data-set-specific :class:`RunConfig` fields this data set
            reads (e.g. ``window``); any other data set's specific option given
            with this one is refused.
        presets: Ready-made runs on this data set (``kerasrnn fit --preset``):
            name -> ``{"description", "options", ...}``.
        loader: The function that loads it from keyword arguments
            (:func:`kerasrnn.data.load_dataset` calls it).

    Instances hold the run options (:attr:`config`).
    """

    name: ClassVar[str]
    defaults: ClassVar[Mapping[str, Any]]
    options: ClassVar[tuple[str, ...]] = ()
    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    loader: ClassVar[Callable[..., SequenceData]]

    def __init__(self, config: RunConfig) -> None:
        self.config = config

    def load(self) -> SequenceData:
        """The train / validation / test splits, as the options say.

        Raises:
            kerasrnn.errors.DataError: The data is missing or malformed.
        """
        raise NotImplementedError

    def label(self) -> str:
        """A short name of the data for a run directory's name."""
        return self.name

    def augmentation(self, data: SequenceData) -> Augmentation | None:
        """The training-time augmentation of ``data``, or ``None``."""
        return None

    def prepare_inputs(self, x: np.ndarray, info: Mapping[str, Any], integral: bool) -> tuple[np.ndarray, list[str]]:
        """New inputs (``kerasrnn predict``) prepared as the training inputs were.

        Args:
            x: The inputs, shaped for the model.
            info: The ``info`` of the run's data as ``config.json`` recorded it
                (scales and the like; the data is not loaded again).
            integral: Whether the file gave integers.

        Returns:
            ``(x, notes)``: the prepared inputs and one note per change made.
        """
        return x, []

    def outputs_in_units(self, values: np.ndarray, info: Mapping[str, Any]) -> np.ndarray:
        """Regression outputs mapped back to the units of the raw data."""
        return values

    def split_metrics(
        self,
        metrics: dict[str, float],
        data: SequenceData,
        split: str,
        predict: Callable[[], np.ndarray],
    ) -> dict[str, Any]:
        """The metrics of one split, completed with the data set's own.

        Args:
            metrics: ``model.evaluate``'s values (and the task's generic ones).
            data: The loaded data.
            split: ``"train"``, ``"val"`` or ``"test"``.
            predict: Returns the model's outputs for the split (called only
                by data sets that need them).
        """
        return metrics
