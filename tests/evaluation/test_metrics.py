"""classification_metrics / regression_metrics / confusion against scikit-learn and SciPy."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.stats import ks_2samp
from sklearn import metrics as skm

from hpstudy.evaluation import (
    CLASSIFICATION_METRICS,
    GREATER_IS_BETTER,
    REGRESSION_METRICS,
    classification_metrics,
    confusion,
    regression_metrics,
)


def _reference(y, p):
    """What the metrics must equal: the scikit-learn / SciPy calls, made directly."""
    k = p.shape[1]
    pred = p.argmax(axis=1)
    if k == 2:
        auc = skm.roc_auc_score(y, p[:, 1])
        ks = ks_2samp(p[y == 1, 1], p[y == 0, 1]).statistic
    else:
        auc = skm.roc_auc_score(y, p, multi_class="ovr", average="macro", labels=range(k))
        ks = np.mean([ks_2samp(p[y == c, c], p[y != c, c]).statistic for c in range(k)])
    return {
        "accuracy": skm.accuracy_score(y, pred),
        "precision_macro": skm.precision_score(y, pred, average="macro", zero_division=0),
        "recall_macro": skm.recall_score(y, pred, average="macro", zero_division=0),
        "f1_macro": skm.f1_score(y, pred, average="macro", zero_division=0),
        "f1_weighted": skm.f1_score(y, pred, average="weighted", zero_division=0),
        "roc_auc": auc,
        "log_loss": skm.log_loss(y, p, labels=range(k)),
        "ks": ks,
    }


def _random_problem(n, k, seed):
    r = np.random.default_rng(seed)
    y = r.integers(0, k, n)
    p = r.dirichlet(np.ones(k), size=n)
    p[np.arange(n), y] += r.uniform(0, 1, n)   # informative, still random
    return y, p / p.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("k", [2, 3, 5, 10])
@pytest.mark.parametrize("seed", [0, 1])
def test_classification_metrics_equal_sklearn_and_scipy(k, seed):
    y, p = _random_problem(300, k, seed)
    got = classification_metrics(y, p)
    want = _reference(y, p)
    assert list(got) == list(CLASSIFICATION_METRICS)
    for name in CLASSIFICATION_METRICS:
        assert got[name] == pytest.approx(want[name], rel=1e-12, abs=1e-15), name
        assert isinstance(got[name], float)


def test_a_class_never_predicted_scores_zero_without_warnings():
    y, p = _random_problem(200, 3, 4)
    p[:, 2] *= 0.01                     # class 2 is never the argmax
    p /= p.sum(axis=1, keepdims=True)
    assert 2 not in p.argmax(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = classification_metrics(y, p)
    want = _reference(y, p)
    for name in CLASSIFICATION_METRICS:
        assert got[name] == pytest.approx(want[name], rel=1e-12), name
    per_class = skm.precision_score(y, p.argmax(axis=1), average=None, zero_division=0)
    assert per_class[2] == 0.0


def test_class_absent_from_y_true_gives_auc_and_ks_over_present_classes():
    y, p = _random_problem(200, 4, 5)
    y[y == 3] = 0                      # class 3 never occurs
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = classification_metrics(y, p)
    present = [0, 1, 2]
    auc = np.mean([skm.roc_auc_score(y == c, p[:, c]) for c in present])
    ks = np.mean([ks_2samp(p[y == c, c], p[y != c, c]).statistic for c in present])
    assert got["roc_auc"] == pytest.approx(auc, rel=1e-12)
    assert got["ks"] == pytest.approx(ks, rel=1e-12)
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, p, labels=range(4)), rel=1e-12)


@pytest.mark.parametrize("k", [2, 3])
def test_single_class_y_true_gives_nan_auc_and_ks(k):
    _, p = _random_problem(50, k, 6)
    y = np.ones(50, dtype=int)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = classification_metrics(y, p)
    assert math.isnan(got["roc_auc"]) and math.isnan(got["ks"])
    assert got["accuracy"] == skm.accuracy_score(y, p.argmax(axis=1))
    assert math.isfinite(got["log_loss"])


def test_perfect_binary_classifier():
    y = np.array([0, 0, 1, 1, 0, 1])
    p1 = np.array([0.1, 0.3, 0.8, 0.9, 0.2, 0.7])
    got = classification_metrics(y, np.column_stack([1 - p1, p1]))
    assert got["accuracy"] == got["f1_macro"] == got["roc_auc"] == got["ks"] == 1.0


def test_one_dimensional_proba_is_p_of_class_one(binary_data):
    y, p = binary_data
    assert classification_metrics(y, p[:, 1]) == classification_metrics(y, p)


def test_float32_probabilities_are_accepted(multiclass_data):
    y, p = multiclass_data
    got = classification_metrics(y, p.astype(np.float32))
    assert got["accuracy"] == pytest.approx(classification_metrics(y, p)["accuracy"])


@pytest.mark.parametrize("bad, match", [
    (lambda y, p: (y, p * 0.5), "rows must sum to 1"),
    (lambda y, p: (y, p * 2), r"\[0, 1\]"),
    (lambda y, p: (y, p[:, :1]), "k >= 2"),
    (lambda y, p: (y[:-1], p), r"n = 399 rows"),
    (lambda y, p: (np.where(y == 0, 7, y), p), r"0\.\.3"),
    (lambda y, p: (y - 1, p), ">= 0"),
    (lambda y, p: (y + 0.5, p), "integer"),
    (lambda y, p: (y.reshape(-1, 1), p), "1-D"),
])
def test_bad_inputs_raise_value_error_naming_the_argument(multiclass_data, bad, match):
    y, p = bad(*multiclass_data)
    with pytest.raises(ValueError, match=match):
        classification_metrics(y, p)


@pytest.mark.parametrize("shape", [(80,), (80, 3)])
def test_regression_metrics_equal_sklearn(rng, shape):
    t = rng.normal(size=shape)
    p = t + rng.normal(scale=0.3, size=shape)
    got = regression_metrics(t, p)
    assert list(got) == list(REGRESSION_METRICS)
    assert got["mse"] == pytest.approx(skm.mean_squared_error(t, p), rel=1e-12)
    assert got["rmse"] == pytest.approx(skm.root_mean_squared_error(t, p), rel=1e-12)
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(t, p), rel=1e-12)
    assert got["r2"] == pytest.approx(skm.r2_score(t, p), rel=1e-12)


def test_regression_hand_example():
    got = regression_metrics([1.0, 2.0, 3.0, 4.0], [[1.0], [2.0], [3.0], [6.0]])
    assert got == {"mse": 1.0, "rmse": 1.0, "mae": 0.5, "r2": 1 - 4 / 5}


def test_regression_shape_mismatch_and_single_row():
    with pytest.raises(ValueError, match="y_pred must have the shape of y_true"):
        regression_metrics(np.zeros(5), np.zeros(4))
    assert math.isnan(regression_metrics([1.0], [2.0])["r2"])


def test_confusion_equals_sklearn_and_accepts_probabilities(multiclass_data):
    y, p = multiclass_data
    want = skm.confusion_matrix(y, p.argmax(axis=1), labels=range(4))
    np.testing.assert_array_equal(confusion(y, p.argmax(axis=1), 4), want)
    np.testing.assert_array_equal(confusion(y, p, 4), want)
    cm = confusion([0, 0, 1], [0, 0, 0], 3)       # classes missing on both sides still get rows
    np.testing.assert_array_equal(cm, [[2, 0, 0], [1, 0, 0], [0, 0, 0]])
    with pytest.raises(ValueError, match="k must be"):
        confusion([0, 1], [0, 1], 1)


def test_every_metric_has_a_direction():
    assert set(GREATER_IS_BETTER) == set(CLASSIFICATION_METRICS) | set(REGRESSION_METRICS)
