"""Yearly sunspot numbers (1700-2008) as one-step-ahead forecasting.

The series is ``statsmodels.datasets.sunspots`` (column ``SUNACTIVITY``).
The model sees the previous ``window`` years and predicts the next one.

Split (by the year of the *target*):

* test: 1989-2008 (the last 20 years);
* train: 1700+window .. 1988, of which the last ``validation_fraction`` of
  windows (chronologically, not shuffled) are the validation set.

Input windows of test targets reach back into the training years, as they
would for a forecaster deployed in 1989.  Values are standardised with the mean
and standard deviation of the years used for training only (those before the
first validation target); ``info["scale"]`` holds them so predictions can be
mapped back with :func:`unscale`.

Reference one-step RMSEs on the test years, in sunspot-number units, are in
``info["baselines"]`` (see :func:`sunspot_baselines`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from kerasrnn.data.dataset import Dataset
from kerasrnn.data.sequence_data import SequenceData
from kerasrnn.errors import DataError

FIRST_TEST_YEAR = 1989
LAST_TRAIN_YEAR = FIRST_TEST_YEAR - 1
AR_LAGS = 9


def sunspot_series() -> tuple[np.ndarray, np.ndarray]:
    """``(years, values)``: int years 1700-2008 and float64 yearly sunspot numbers."""
    try:
        from statsmodels.datasets import sunspots
    except ImportError as error:
        raise DataError(
            f"the sunspots data set needs statsmodels (pip install statsmodels); import failed: {error}"
        ) from None
    frame = sunspots.load_pandas().data
    years = frame["YEAR"].to_numpy().astype(np.int64)
    values = frame["SUNACTIVITY"].to_numpy().astype(np.float64)
    if len(years) == 0 or np.any(np.diff(years) != 1) or not np.all(np.isfinite(values)):
        raise DataError(
            "statsmodels sunspots data: expected consecutive years with finite values, "
            f"found {len(years)} rows from {years.min() if len(years) else '?'}"
        )
    return years, values


def sunspot_baselines(years: np.ndarray | None = None, values: np.ndarray | None = None) -> dict[str, float]:
    """One-step RMSE on the test years (1989-2008), in original units.

    * persistence: ``y_hat[t] = y[t-1]``;
    * AR(9): ``statsmodels.tsa.ar_model.AutoReg(train, lags=9)`` (with a
      constant, conditional least squares) fitted on 1700-1988 only, then
      one-step predictions on the test years from the true past values.

    Returns:
        ``{"persistence_rmse": ..., "ar9_rmse": ...}``.
    """
    if years is None or values is None:
        years, values = sunspot_series()
    from statsmodels.tsa.ar_model import AutoReg

    test_idx = np.flatnonzero(years >= FIRST_TEST_YEAR)
    truth = values[test_idx]
    persistence = values[test_idx - 1]

    fitted = AutoReg(values[years <= LAST_TRAIN_YEAR], lags=AR_LAGS, trend="c").fit()
    params = np.asarray(fitted.params)  # [const, lag1, ..., lag9]
    lagged = np.stack([values[test_idx - lag] for lag in range(1, AR_LAGS + 1)], axis=1)
    ar_prediction = params[0] + lagged @ params[1:]

    return {
        "persistence_rmse": rmse(truth, persistence),
        "ar9_rmse": rmse(truth, ar_prediction),
    }


def rmse(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Root mean squared error of two equally long arrays."""
    truth = np.asarray(truth, dtype=np.float64).reshape(-1)
    prediction = np.asarray(prediction, dtype=np.float64).reshape(-1)
    if truth.shape != prediction.shape:
        raise DataError(f"expected as many predictions as targets; got {prediction.size} for {truth.size}")
    return float(np.sqrt(np.mean((truth - prediction) ** 2)))


def unscale(values: np.ndarray, scale: dict) -> np.ndarray:
    """Map standardised values back to sunspot numbers with ``info["scale"]``."""
    return np.asarray(values, dtype=np.float64) * scale["std"] + scale["mean"]


def forecast_rmse(data: SequenceData, predictions_scaled: np.ndarray) -> float:
    """Test RMSE, in sunspot numbers, of a model's scaled test-set predictions.

    Args:
        data: The :class:`SequenceData` from :func:`load_sunspots`.
        predictions_scaled: Model outputs for ``data.x_test`` (standardised
            units), any shape with ``len(data.y_test)`` elements.

    Returns:
        The RMSE comparable with ``data.info["baselines"]``.
    """
    scale = data.info["scale"]
    predictions_scaled = np.asarray(predictions_scaled)
    if predictions_scaled.size != data.y_test.size:
        raise DataError(
            f"expected {data.y_test.size} test predictions, got {predictions_scaled.size} "
            f"(shape {predictions_scaled.shape})"
        )
    return rmse(unscale(data.y_test, scale), unscale(predictions_scaled, scale))


def load_sunspots(
    window: int = 12,
    validation_fraction: float = 0.1,
    seed: int = 0,
) -> SequenceData:
    """Sunspot forecasting windows: x ``(N, window, 1)``, y ``(N, 1)``, standardised.

    Args:
        window: Number of past years the model sees (1-100).
        validation_fraction: Fraction of the training windows, taken from the
            end of the training years, used for validation.
        seed: Unused (the split is chronological); accepted and recorded for a
            uniform loader interface.

    Returns:
        :class:`SequenceData` with ``task="regression"``, ``num_outputs=1``,
        ``info["scale"] = {"mean", "std"}`` and ``info["baselines"]``.
    """
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or not 1 <= window <= 100:
        raise DataError(f"sunspots window must be an integer from 1 to 100 years; got {window!r}")
    if not 0.0 <= validation_fraction < 1.0:
        raise DataError(f"validation_fraction must be in [0, 1); got {validation_fraction!r}")
    window = int(window)
    years, values = sunspot_series()

    target_idx = np.arange(window, len(values))
    target_years = years[target_idx]
    train_targets = target_idx[target_years <= LAST_TRAIN_YEAR]
    test_targets = target_idx[target_years >= FIRST_TEST_YEAR]
    n_val = int(round(validation_fraction * len(train_targets)))
    fit_targets, val_targets = train_targets[: len(train_targets) - n_val], train_targets[len(train_targets) - n_val :]

    # Scale with the years the training windows cover (inputs and targets),
    # never with validation or test targets.
    scale_end = int(fit_targets[-1]) + 1
    mean = float(values[:scale_end].mean())
    std = float(values[:scale_end].std())
    scaled = ((values - mean) / std).astype(np.float32)

    def windows(targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.stack([scaled[t - window : t] for t in targets]) if len(targets) else np.zeros((0, window))
        return x.reshape(len(targets), window, 1).astype(np.float32), scaled[targets].reshape(-1, 1)

    x_train, y_train = windows(fit_targets)
    x_val, y_val = windows(val_targets)
    x_test, y_test = windows(test_targets)

    def year_range(targets: np.ndarray) -> list[int] | None:
        return [int(years[targets[0]]), int(years[targets[-1]])] if len(targets) else None

    info = {
        "dataset": "sunspots",
        "series": "statsmodels.datasets.sunspots SUNACTIVITY, yearly 1700-2008",
        "window": window,
        "target_years": {
            "train": year_range(fit_targets),
            "val": year_range(val_targets),
            "test": year_range(test_targets),
        },
        "validation_fraction": validation_fraction,
        "split": "chronological (by target year), not shuffled",
        "seed": seed,
        "scale": {
            "mean": mean,
            "std": std,
            "years": [int(years[0]), int(years[scale_end - 1])],
            "inverse": "value = scaled * std + mean",
        },
        "baselines": {
            **sunspot_baselines(years, values),
            "units": "sunspot number, one-step RMSE on the test years 1989-2008",
            "ar9_method": "statsmodels AutoReg(lags=9, trend='c') fitted on 1700-1988",
        },
    }
    return SequenceData(
        x_train=x_train,
        y_train=y_train,
        x_val=x_val,
        y_val=y_val,
        x_test=x_test,
        y_test=y_test,
        task="regression",
        num_outputs=1,
        source=(
            f"statsmodels yearly sunspots 1700-2008 ({window}-year windows; "
            f"test targets {FIRST_TEST_YEAR}-2008, standardised with train statistics)"
        ),
        info=info,
    )


class SunspotsDataset(Dataset):
    """``--dataset sunspots``: one-step forecasting of the yearly sunspot numbers.

    Inputs and outputs are standardised with the training statistics
    (``info["scale"]``); RMSEs are reported in sunspot numbers beside the
    persistence and AR(9) baselines.
    """

    name = "sunspots"
    defaults = dict(
        arch="bigru",
        units=32,
        batch_size=16,
        epochs=300,
        lr=3e-3,
        lr_schedule="constant",
        patience=30,
        augment_shift=0,
        time_budget=240.0,
    )
    options = ("window",)
    loader = staticmethod(load_sunspots)

    def load(self) -> SequenceData:
        options: dict[str, Any] = {"window": self.config.window}
        if self.config.validation_fraction is not None:
            options["validation_fraction"] = self.config.validation_fraction
        return load_sunspots(**options)

    def prepare_inputs(self, x: np.ndarray, info: Mapping[str, Any], integral: bool) -> tuple[np.ndarray, list[str]]:
        scale = info["scale"]
        prepared = ((x - scale["mean"]) / scale["std"]).astype(np.float32)
        return prepared, ["windows standardised with the training mean and std"]

    def outputs_in_units(self, values: np.ndarray, info: Mapping[str, Any]) -> np.ndarray:
        return unscale(values, info["scale"])

    def split_metrics(
        self,
        metrics: dict[str, float],
        data: SequenceData,
        split: str,
        predict: Callable[[], np.ndarray],
    ) -> dict[str, Any]:
        scale = data.info["scale"]
        truth = getattr(data, f"y_{split}")
        predictions = np.asarray(predict())
        if predictions.size != truth.size:
            raise DataError(
                f"expected {truth.size} {split} predictions, got {predictions.size} (shape {predictions.shape})"
            )
        return {
            **metrics,
            "rmse_scaled": metrics.get("rmse"),
            "rmse": rmse(unscale(truth, scale), unscale(predictions, scale)),
            "rmse_units": "sunspot number",
        }
