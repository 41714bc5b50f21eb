"""hpstudy.nn's one R² (:func:`hpstudy.nn._metrics.r2_score`) against scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import r2_score as sklearn_r2

from hpstudy.nn._metrics import r2_score

rng = np.random.default_rng(0)


@pytest.mark.parametrize("shape", [(30,), (30, 1), (30, 3)])
def test_r2_equals_sklearn_for_varying_targets(shape):
    y = rng.normal(size=shape)
    pred = y + rng.normal(0, 0.5, size=shape)
    assert r2_score(y, pred) == pytest.approx(sklearn_r2(y, pred), rel=1e-12)
    assert r2_score(y, y) == 1.0


@pytest.mark.parametrize("value", [0.0, 0.1, -3.7, 1e6])
def test_r2_of_a_constant_target_is_one_if_exact_else_zero(value):
    y = np.full(7, value)
    assert r2_score(y, y.copy()) == 1.0 == sklearn_r2(y, y.copy())
    assert r2_score(y, y + 0.25) == 0.0


def test_r2_averages_constant_and_varying_columns_uniformly():
    y = np.column_stack([np.full(10, 2.0), rng.normal(size=10), np.full(10, 0.1)])
    pred = y.copy()
    pred[:, 1] += rng.normal(0, 0.3, 10)
    pred[:, 2] += 1.0
    want = np.mean([1.0, sklearn_r2(y[:, 1], pred[:, 1]), 0.0])
    assert r2_score(y, pred) == pytest.approx(want, rel=1e-12)


def test_r2_computes_in_float64_and_checks_shapes():
    y = rng.normal(size=(20, 2)).astype(np.float32)
    pred = (y + 0.1).astype(np.float32)
    assert r2_score(y, pred) == pytest.approx(sklearn_r2(y.astype(float), pred.astype(float)), rel=1e-12)
    with pytest.raises(ValueError, match="same shape"):
        r2_score(y, pred[:, :1])
