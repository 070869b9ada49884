"""Sunspots: windows, chronological split, scaling, baselines."""

import json

import numpy as np
import pytest

pytest.importorskip("statsmodels")

from kerasrnn.data import DataError
from kerasrnn.data.sunspots import (
    forecast_rmse,
    load_sunspots,
    sunspot_baselines,
    sunspot_series,
    unscale,
)

pytestmark = pytest.mark.backend_independent


@pytest.fixture(scope="module")
def data():
    return load_sunspots(window=12)


@pytest.fixture(scope="module")
def series():
    return sunspot_series()


def test_series(series):
    years, values = series
    assert years[0] == 1700 and years[-1] == 2008 and len(values) == 309


def test_shapes_and_types(data):
    assert data.task == "regression" and data.num_outputs == 1
    assert data.x_train.shape[1:] == (12, 1) and data.y_train.shape[1:] == (1,)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.float32
    n_train_targets = 1988 - 1712 + 1
    assert len(data.x_train) + len(data.x_val) == n_train_targets
    assert len(data.x_val) == round(0.1 * n_train_targets)
    assert len(data.x_test) == 20
    json.dumps(data.info)


def test_windows_are_the_previous_years(data, series):
    years, values = series
    scale = data.info["scale"]
    original_x = unscale(data.x_test[..., 0], scale)
    original_y = unscale(data.y_test[:, 0], scale)
    for i, year in enumerate(range(1989, 2009)):
        t = year - 1700
        np.testing.assert_allclose(original_x[i], values[t - 12 : t], atol=1e-3)
        np.testing.assert_allclose(original_y[i], values[t], atol=1e-3)
    # The first training window predicts 1712 from 1700-1711.
    np.testing.assert_allclose(unscale(data.x_train[0, :, 0], scale), values[:12], atol=1e-3)


def test_chronological_split(data):
    years = data.info["target_years"]
    assert years["test"] == [1989, 2008]
    assert years["train"][0] == 1712
    assert years["train"][1] + 1 == years["val"][0] and years["val"][1] == 1988
    # Validation is the tail of the training years, in order (not shuffled).
    np.testing.assert_array_equal(data.x_val[1:, :-1], data.x_val[:-1, 1:])
    np.testing.assert_array_equal(data.x_train[-1, 1:, 0], data.x_val[0, :-1, 0])


def test_scaling_uses_training_years_only(data, series):
    years, values = series
    last = data.info["target_years"]["train"][1]
    train_values = values[years <= last]
    assert data.info["scale"]["mean"] == pytest.approx(train_values.mean())
    assert data.info["scale"]["std"] == pytest.approx(train_values.std())
    assert data.info["scale"]["years"] == [1700, last]


def test_baselines_match_independent_computation(data, series):
    from statsmodels.tsa.ar_model import AutoReg

    years, values = series
    test = years >= 1989
    truth = values[test]
    persistence = np.sqrt(np.mean((truth - values[np.roll(test, -1)]) ** 2))
    fitted = AutoReg(values[years <= 1988], lags=9).fit()
    start = int(np.flatnonzero(test)[0])
    prediction = fitted.apply(values, refit=False).predict(start=start, end=len(values) - 1)
    ar9 = np.sqrt(np.mean((truth - np.asarray(prediction)) ** 2))

    baselines = data.info["baselines"]
    assert baselines["persistence_rmse"] == pytest.approx(persistence, rel=1e-9)
    assert baselines["ar9_rmse"] == pytest.approx(ar9, rel=1e-6)
    # Previously reported reference numbers: persistence 27.2, AR(9) 14.6.
    assert baselines["persistence_rmse"] == pytest.approx(27.2, abs=0.05)
    assert baselines["ar9_rmse"] == pytest.approx(14.6, abs=0.3)
    assert sunspot_baselines() == {k: baselines[k] for k in ("persistence_rmse", "ar9_rmse")}


def test_forecast_rmse_in_original_units(data):
    # Persistence expressed in scaled units must give the persistence RMSE.
    persistence_scaled = data.x_test[:, -1, 0]
    assert forecast_rmse(data, persistence_scaled) == pytest.approx(
        data.info["baselines"]["persistence_rmse"], rel=1e-5
    )
    assert forecast_rmse(data, data.y_test) == 0.0
    with pytest.raises(DataError, match="20 test predictions"):
        forecast_rmse(data, np.zeros(3))


def test_window_argument():
    short = load_sunspots(window=3, validation_fraction=0.0)
    assert short.x_train.shape[1:] == (3, 1) and len(short.x_val) == 0
    assert short.info["target_years"]["train"] == [1703, 1988]
    for bad in (0, -1, 2.5, True, 500):
        with pytest.raises(DataError, match="window"):
            load_sunspots(window=bad)
