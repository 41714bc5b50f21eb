"""KS, gain/lift and ROC data: hand-worked examples, SciPy/scikit-learn agreement, properties."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp
from sklearn.metrics import roc_auc_score, roc_curve

from hpstudy.evaluation import (
    KSResult,
    cumulative_gain_curve,
    gain_lift_one_vs_rest,
    gain_lift_table,
    ks_curve,
    ks_one_vs_rest,
    ks_statistic,
    roc_curves,
)

# ----------------------------------------------------------------------------------------------
# Kolmogorov–Smirnov
# ----------------------------------------------------------------------------------------------
# Hand-worked: negatives score .1 .2 .3 .5, positives .4 .6 .7.
#   t     :  .1    .2    .3    .4    .5    .6    .7
#   F_neg :  1/4   2/4   3/4   3/4   1     1     1
#   F_pos :  0     0     0     1/3   1/3   2/3   1
#   gap   :  .25   .5    .75   .417  .667  .333  0     -> D = 0.75 at t = 0.3
KS_Y = np.array([0, 0, 0, 1, 0, 1, 1])
KS_S = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])


def test_ks_hand_worked_example():
    res = ks_statistic(KS_Y, KS_S)
    assert isinstance(res, KSResult)
    assert res.statistic == pytest.approx(0.75)
    assert res.threshold == 0.3
    assert res.pvalue == ks_2samp(KS_S[KS_Y == 1], KS_S[KS_Y == 0]).pvalue
    # D is the TPR − FPR of the rule "score > threshold"
    pred = KS_S > res.threshold
    tpr, fpr = pred[KS_Y == 1].mean(), pred[KS_Y == 0].mean()
    assert tpr - fpr == pytest.approx(res.statistic)


def test_ks_curve_hand_worked_example():
    rec = ks_curve(KS_Y, KS_S)
    np.testing.assert_array_equal(rec["thresholds"], KS_S)
    np.testing.assert_allclose(rec["cdf_negative"], [.25, .5, .75, .75, 1, 1, 1])
    np.testing.assert_allclose(rec["cdf_positive"], [0, 0, 0, 1 / 3, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(rec["gap"], rec["cdf_negative"] - rec["cdf_positive"])
    assert rec["statistic"] == pytest.approx(0.75) and rec["at"] == 0.3
    assert (rec["n_positive"], rec["n_negative"]) == (3, 4)


@pytest.mark.parametrize("seed", range(4))
def test_ks_equals_scipy_on_random_scores_with_ties(seed):
    r = np.random.default_rng(seed)
    y = r.integers(0, 2, 500)
    s = np.round(r.normal(loc=0.7 * y, size=500), 1)        # many ties
    res = ks_statistic(y, s)
    ref = ks_2samp(s[y == 1], s[y == 0])
    assert res == (ref.statistic, ref.statistic_location, ref.pvalue)
    rec = ks_curve(y, s)
    assert np.max(np.abs(rec["gap"])) == pytest.approx(ref.statistic, abs=1e-15)
    i = np.searchsorted(rec["thresholds"], rec["at"])
    assert abs(rec["gap"][i]) == pytest.approx(ref.statistic, abs=1e-15)


def test_ks_perfect_and_useless_scores():
    y = np.array([0, 0, 1, 1])
    assert ks_statistic(y, [0.1, 0.2, 0.8, 0.9]).statistic == 1.0
    assert ks_statistic(y, [0.5, 0.5, 0.5, 0.5]).statistic == 0.0
    assert ks_statistic(y, [0.9, 0.8, 0.2, 0.1]).statistic == 1.0    # inverted ranking: |gap|


def test_ks_single_class_is_nan():
    res = ks_statistic(np.ones(5, dtype=int), np.linspace(0, 1, 5))
    assert all(math.isnan(v) for v in res)


def test_ks_one_vs_rest_per_class_and_macro(multiclass_data):
    y, p = multiclass_data
    res = ks_one_vs_rest(y, p)
    assert sorted(res["per_class"]) == [0, 1, 2, 3]
    for c, r in res["per_class"].items():
        assert r.statistic == ks_2samp(p[y == c, c], p[y != c, c]).statistic
    assert res["macro"] == pytest.approx(np.mean([r.statistic for r in res["per_class"].values()]))
    y_missing = np.where(y == 3, 0, y)
    res = ks_one_vs_rest(y_missing, p)
    assert math.isnan(res["per_class"][3].statistic)
    assert res["macro"] == pytest.approx(np.mean([res["per_class"][c].statistic for c in range(3)]))


def test_ks_rejects_non_binary_labels():
    with pytest.raises(ValueError, match=r"y_true must hold binary labels"):
        ks_statistic([0, 1, 2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match=r"score must be a 1-D array .* \(3 rows\)"):
        ks_statistic([0, 1, 1], [0.1, 0.2])


# ----------------------------------------------------------------------------------------------
# Gain and lift
# ----------------------------------------------------------------------------------------------
def test_gain_lift_hand_computed_ten_row_table():
    # by descending score the labels are 1 1 | 0 1 | 0 0 | 1 0 | 0 0   (P = 4), 5 bins of 2 rows
    score = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
    y = np.array([1, 1, 0, 1, 0, 0, 1, 0, 0, 0])
    order = np.random.default_rng(0).permutation(10)           # input order must not matter
    table = gain_lift_table(y[order], score[order], bins=5)
    want = pd.DataFrame({
        "bin": [1, 2, 3, 4, 5],
        "n": [2, 2, 2, 2, 2],
        "population_share": [0.2, 0.4, 0.6, 0.8, 1.0],
        "positives": [2.0, 1.0, 0.0, 1.0, 0.0],
        "cumulative_positives": [2.0, 3.0, 3.0, 4.0, 4.0],
        "cumulative_gain": [0.5, 0.75, 0.75, 1.0, 1.0],
        "lift": [2.5, 1.875, 1.25, 1.25, 1.0],
        "response_rate": [1.0, 0.5, 0.0, 0.5, 0.0],
        "cumulative_response_rate": [1.0, 0.75, 0.5, 0.5, 0.4],
        "min_score": [0.9, 0.7, 0.5, 0.3, 0.1],
        "max_score": [0.95, 0.8, 0.6, 0.4, 0.2],
    })
    pd.testing.assert_frame_equal(table, want, check_dtype=False, atol=1e-12, rtol=0)


def test_gain_lift_one_row_per_bin_and_unequal_sizes():
    table = gain_lift_table(np.r_[np.ones(3), np.zeros(8)], np.arange(11.0)[::-1], bins=4)
    assert table["n"].tolist() == [3, 3, 3, 2]                 # ends ceil(b·11/4): 3, 6, 9, 11
    assert table["population_share"].iloc[-1] == 1.0
    assert table["cumulative_gain"].iloc[0] == 1.0             # the 3 positives score highest


def test_ties_are_shared_pro_rata():
    # the four tied rows hold one positive: each counts 1/4 of it
    score = np.array([0.9, 0.5, 0.5, 0.5, 0.5, 0.1])
    y = np.array([1, 1, 0, 0, 0, 1])
    table = gain_lift_table(y, score, bins=3)
    np.testing.assert_allclose(table["positives"], [1.25, 0.5, 1.25])
    np.testing.assert_allclose(table["cumulative_gain"], [1.25 / 3, 1.75 / 3, 1.0])


def test_constant_score_gives_lift_exactly_one():
    y = np.random.default_rng(1).integers(0, 2, 97)
    table = gain_lift_table(y, np.full(97, 0.3), bins=10)
    np.testing.assert_allclose(table["lift"], 1.0)
    np.testing.assert_allclose(table["cumulative_gain"], table["population_share"])


def test_perfect_ranking_reaches_full_gain_at_the_positive_rate():
    n, n_pos = 1000, 300
    y = np.r_[np.ones(n_pos, dtype=int), np.zeros(n - n_pos, dtype=int)]
    score = np.r_[np.linspace(0.9, 0.6, n_pos), np.linspace(0.5, 0.0, n - n_pos)]
    table = gain_lift_table(y, score, bins=10)
    gain = dict(zip(table["population_share"].round(2), table["cumulative_gain"], strict=True))
    assert gain[0.3] == 1.0 and gain[0.2] == pytest.approx(2 / 3)
    assert table["lift"].iloc[0] == pytest.approx(1 / 0.3)
    curve = cumulative_gain_curve(y, score)
    assert curve["cumulative_gain"][n_pos] == 1.0
    assert curve["cumulative_gain"][n_pos - 1] < 1.0
    assert curve["positive_rate"] == 0.3


def test_random_ranking_keeps_lift_near_one():
    r = np.random.default_rng(2)
    y = (r.uniform(size=100_000) < 0.2).astype(int)
    table = gain_lift_table(y, r.uniform(size=100_000), bins=10)
    # first decile: sd of lift ≈ sqrt(0.8 / (0.2 · 10 000)) ≈ 0.02; 0.1 is five sd
    np.testing.assert_allclose(table["lift"], 1.0, atol=0.1)
    assert table["lift"].iloc[-1] == 1.0


def test_no_positive_gives_nan_gain_not_an_error():
    table = gain_lift_table(np.zeros(20, dtype=int), np.linspace(0, 1, 20), bins=4)
    assert table["cumulative_gain"].isna().all() and table["lift"].isna().all()
    assert (table["response_rate"] == 0).all()


@pytest.mark.parametrize("bins", [0, 11, 2.5, True])
def test_bins_must_fit_the_rows(bins):
    with pytest.raises(ValueError, match="bins must be an integer between 1 and"):
        gain_lift_table(np.r_[np.ones(5), np.zeros(5)], np.arange(10.0), bins=bins)


def test_cumulative_gain_curve_agrees_with_the_table(binary_data):
    y, p = binary_data
    curve = cumulative_gain_curve(y, p[:, 1])
    table = gain_lift_table(y, p[:, 1], bins=10)
    ends = np.cumsum(table["n"])
    np.testing.assert_allclose(curve["cumulative_gain"][ends], table["cumulative_gain"])
    np.testing.assert_allclose(curve["lift"][ends], table["lift"])
    assert curve["population_share"][0] == 0 and curve["cumulative_gain"][0] == 0
    assert np.all(np.diff(curve["cumulative_gain"]) >= 0)


def test_gain_lift_one_vs_rest_stacks_class_tables(multiclass_data):
    y, p = multiclass_data
    stacked = gain_lift_one_vs_rest(y, p, bins=5)
    assert stacked.shape[0] == 4 * 5 and stacked.columns[0] == "class"
    for c in range(4):
        part = stacked[stacked["class"] == c].drop(columns="class").reset_index(drop=True)
        pd.testing.assert_frame_equal(part, gain_lift_table(y == c, p[:, c], bins=5))


# ----------------------------------------------------------------------------------------------
# ROC curves
# ----------------------------------------------------------------------------------------------
def test_roc_curves_equal_sklearn(multiclass_data):
    y, p = multiclass_data
    curves = roc_curves(y, p)
    assert sorted(curves) == [0, 1, 2, 3]
    for c, rec in curves.items():
        fpr, tpr, thr = roc_curve(y == c, p[:, c])
        np.testing.assert_array_equal(rec["fpr"], fpr)
        np.testing.assert_array_equal(rec["tpr"], tpr)
        np.testing.assert_array_equal(rec["thresholds"], thr)
        assert rec["auc"] == pytest.approx(roc_auc_score(y == c, p[:, c]), rel=1e-12)


def test_roc_curves_binary_has_the_positive_class_only(binary_data):
    y, p = binary_data
    curves = roc_curves(y, p)
    assert list(curves) == [1]
    assert curves[1]["auc"] == pytest.approx(roc_auc_score(y, p[:, 1]), rel=1e-12)


def test_roc_curves_skip_absent_classes(multiclass_data):
    y, p = multiclass_data
    assert sorted(roc_curves(np.where(y == 2, 0, y), p)) == [0, 1, 3]
