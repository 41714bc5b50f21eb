"""Ranking quality of scores: Kolmogorov–Smirnov, cumulative gain and lift, ROC curve data.

All functions take plain arrays and return plain records (floats, dicts of arrays, DataFrames) so
charts and reports can draw or store them without recomputing anything.

Conventions
-----------
* Binary functions take ``y_true`` in {0, 1} and ``score`` = P(positive) (any monotone score
  works: only the order of the scores matters).
* One-vs-rest functions take ``y_true`` with class indices 0..k-1 and ``proba`` of shape (n, k);
  class ``c`` is scored by ``proba[:, c]`` against "every other class".
* Undefined values are NaN, never an exception: the KS statistic and the gains need at least one
  positive (and KS one negative) row.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp
from sklearn.metrics import auc, roc_curve

from hpstudy.evaluation._validation import (
    as_binary_labels,
    as_labels,
    as_proba,
    as_scores,
    check_labels_fit,
)

__all__ = [
    "KSResult",
    "ks_statistic",
    "ks_curve",
    "ks_one_vs_rest",
    "gain_lift_table",
    "gain_lift_one_vs_rest",
    "cumulative_gain_curve",
    "roc_curves",
]

GAIN_LIFT_COLUMNS = [
    "bin", "n", "population_share", "positives", "cumulative_positives", "cumulative_gain",
    "lift", "response_rate", "cumulative_response_rate", "min_score", "max_score",
]


# ----------------------------------------------------------------------------------------------
# Kolmogorov–Smirnov
# ----------------------------------------------------------------------------------------------
class KSResult(NamedTuple):
    """Two-sample Kolmogorov–Smirnov result for scores of positives vs negatives.

    Attributes
    ----------
    statistic : float
        ``D = max_t |F_neg(t) - F_pos(t)|`` where ``F`` are the empirical CDFs of the score.
    threshold : float
        The score ``t`` where the gap is largest. When positives score higher, classifying
        ``score > t`` as positive maximises ``TPR - FPR`` (Youden's J) and ``D = TPR - FPR``.
    pvalue : float
        Two-sided p-value of ``scipy.stats.ks_2samp`` (``method="auto"``).
    """

    statistic: float
    threshold: float
    pvalue: float


_NAN_KS = KSResult(float("nan"), float("nan"), float("nan"))


def _split_scores(y_true, score) -> tuple[np.ndarray, np.ndarray]:
    """Validate binary inputs and return (scores of positives, scores of negatives)."""
    y = as_binary_labels(y_true, "y_true")
    s = as_scores(score, y.size, "score")
    return s[y == 1], s[y == 0]


def ks_statistic(y_true, score) -> KSResult:
    """Kolmogorov–Smirnov separation of the scores of positives and negatives.

    ``D = max_t |F_neg(t) - F_pos(t)|`` with ``F_pos(t) = #{i : y_i = 1, s_i <= t} / n_pos``
    (likewise ``F_neg``), computed by ``scipy.stats.ks_2samp(s[y == 1], s[y == 0])``; the
    threshold is SciPy's ``statistic_location``: the score where the gap is attained.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Binary labels in {0, 1}.
    score : array-like of shape (n,)
        Score of the positive class, e.g. P(y = 1).

    Returns
    -------
    KSResult
        ``(statistic, threshold, pvalue)``; all NaN when ``y_true`` holds a single class.
    """
    return _ks_groups(*_split_scores(y_true, score))


def _ks_groups(pos: np.ndarray, neg: np.ndarray) -> KSResult:
    """KSResult of two score samples (all NaN when one is empty)."""
    if pos.size == 0 or neg.size == 0:
        return _NAN_KS
    res = ks_2samp(pos, neg)
    return KSResult(float(res.statistic), float(res.statistic_location), float(res.pvalue))


def _ecdf(sorted_sample: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Empirical CDF ``F(t) = #{x <= t} / n`` of a sorted sample evaluated at `at`."""
    if sorted_sample.size == 0:
        return np.full(at.shape, np.nan)
    return np.searchsorted(sorted_sample, at, side="right") / sorted_sample.size


def ks_curve(y_true, score) -> dict:
    """Empirical CDFs of positive and negative scores, the record a KS chart draws.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Binary labels in {0, 1}.
    score : array-like of shape (n,)
        Score of the positive class.

    Returns
    -------
    dict
        ``thresholds`` (u,) sorted distinct scores; ``cdf_positive`` and ``cdf_negative`` (u,)
        the empirical CDFs ``F(t) = share of the group with score <= t``; ``gap`` (u,) =
        ``cdf_negative - cdf_positive`` (= TPR - FPR of the rule ``score > t``);
        ``statistic``, ``at`` (threshold of the largest gap) and ``pvalue`` from
        :func:`ks_statistic`; ``n_positive`` and ``n_negative``.
    """
    pos, neg = _split_scores(y_true, score)
    thresholds = np.unique(np.concatenate([pos, neg]))
    cdf_pos = _ecdf(np.sort(pos), thresholds)
    cdf_neg = _ecdf(np.sort(neg), thresholds)
    result = _ks_groups(pos, neg)
    return {
        "thresholds": thresholds,
        "cdf_positive": cdf_pos,
        "cdf_negative": cdf_neg,
        "gap": cdf_neg - cdf_pos,
        "statistic": result.statistic,
        "at": result.threshold,
        "pvalue": result.pvalue,
        "n_positive": int(pos.size),
        "n_negative": int(neg.size),
    }


def _ovr_inputs(y_true, proba) -> tuple[np.ndarray, np.ndarray]:
    """Validate one-vs-rest inputs: labels (n,) and probabilities (n, k)."""
    y = as_labels(y_true, "y_true")
    p = as_proba(proba, y.size, "proba")
    check_labels_fit(y, p.shape[1])
    return y, p


def ks_one_vs_rest(y_true, proba) -> dict:
    """One-vs-rest KS statistic of every class and their macro mean.

    ``KS_c = ks_statistic(y_true == c, proba[:, c])`` and ``macro = mean_c KS_c`` over the
    classes with at least one positive and one negative row (NaN if there is none).

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Class indices 0..k-1.
    proba : array-like of shape (n, k)
        Class probabilities.

    Returns
    -------
    dict
        ``{"per_class": {c: KSResult, ...}, "macro": float}`` with one entry per column of
        `proba` (all-NaN KSResult for a class absent from, or the only class of, `y_true`).
    """
    y, p = _ovr_inputs(y_true, proba)
    per_class = {c: ks_statistic(y == c, p[:, c]) for c in range(p.shape[1])}
    stats = np.array([r.statistic for r in per_class.values()])
    macro = float(np.mean(stats[~np.isnan(stats)])) if np.any(~np.isnan(stats)) else float("nan")
    return {"per_class": per_class, "macro": macro}


# ----------------------------------------------------------------------------------------------
# Cumulative gain and lift
# ----------------------------------------------------------------------------------------------
def _ranked(y_true, score) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows by descending score: (sorted scores, sorted labels, expected cumulative positives).

    Rows with equal scores cannot be ordered by the model, so inside a run of ties the
    cumulative count of positives grows linearly: after ``j`` of the ``m`` tied rows it is
    ``P_before + (j / m) · P_ties`` (the expectation over every order of the ties). Hence the
    table does not depend on the order of the input rows.
    """
    y = as_binary_labels(y_true, "y_true")
    s = as_scores(score, y.size, "score")
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    n = y.size
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    sizes = np.diff(np.r_[starts, n])
    group = np.repeat(np.arange(starts.size), sizes)
    cum = np.r_[0, np.cumsum(y)]
    before = cum[starts]
    in_group = cum[starts + sizes] - before
    taken = np.arange(1, n + 1) - starts[group]
    expected = before[group] + in_group[group] * taken / sizes[group]
    return s, y, expected.astype(np.float64)


def _bin_ends(n: int, bins: int) -> np.ndarray:
    """End position (exclusive) of each of `bins` near-equal bins: ``ceil(b · n / bins)``."""
    return -(-np.arange(1, bins + 1) * n // bins)


def gain_lift_table(y_true, score, bins: int = 10) -> pd.DataFrame:
    """Cumulative gain and lift by quantile bin of descending score (a decile table).

    Rows are sorted by descending score and cut into `bins` bins of near-equal size (bin ``b``,
    1-based, ends after ``ceil(b · n / bins)`` rows; sizes differ by at most one). Ties in the
    score are shared fairly: see the note below. With ``P`` positives in total, after the first
    ``N_b`` rows (cumulative) holding ``C_b`` positives:

    * ``population_share = N_b / n``, ``cumulative_gain = C_b / P``,
    * ``lift = cumulative_gain / population_share`` (1 for a random ranking),
    * ``response_rate = positives_b / n_b``, ``cumulative_response_rate = C_b / N_b``.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Binary labels in {0, 1}.
    score : array-like of shape (n,)
        Score of the positive class.
    bins : int, default 10
        Number of bins, 1 <= bins <= n (10 = deciles).

    Returns
    -------
    pandas.DataFrame
        One row per bin, columns ``bin, n, population_share, positives, cumulative_positives,
        cumulative_gain, lift, response_rate, cumulative_response_rate, min_score, max_score``.
        ``cumulative_gain`` and ``lift`` are NaN when there is no positive row.

    Notes
    -----
    Ties: a model cannot order rows with equal scores, so positives inside a run of ties are
    counted pro rata (their expected number over every order of the ties). Positive counts may
    then be fractional, and the table is independent of the order of the input rows.
    """
    s, _, expected = _ranked(y_true, score)
    n = s.size
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or not 1 <= bins <= n:
        raise ValueError(f"bins must be an integer between 1 and the number of rows ({n}); "
                         f"got {bins!r}")
    ends = _bin_ends(n, int(bins))
    starts = np.r_[0, ends[:-1]]
    cum_pos = expected[ends - 1]
    positives = np.diff(np.r_[0.0, cum_pos])
    total = expected[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        gain = cum_pos / total if total > 0 else np.full(bins, np.nan)
    share = ends / n
    return pd.DataFrame({
        "bin": np.arange(1, bins + 1),
        "n": ends - starts,
        "population_share": share,
        "positives": positives,
        "cumulative_positives": cum_pos,
        "cumulative_gain": gain,
        "lift": gain / share,
        "response_rate": positives / (ends - starts),
        "cumulative_response_rate": cum_pos / ends,
        "min_score": s[ends - 1],
        "max_score": s[starts],
    }, columns=GAIN_LIFT_COLUMNS)


def gain_lift_one_vs_rest(y_true, proba, bins: int = 10) -> pd.DataFrame:
    """Gain/lift tables of every class, one-vs-rest, stacked with a leading ``class`` column.

    Class ``c`` is the table of ``gain_lift_table(y_true == c, proba[:, c], bins)``.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Class indices 0..k-1.
    proba : array-like of shape (n, k)
        Class probabilities.
    bins : int, default 10
        Number of bins per class.

    Returns
    -------
    pandas.DataFrame
        ``k · bins`` rows: ``class`` followed by the columns of :func:`gain_lift_table`
        (NaN gains for a class absent from `y_true`).
    """
    y, p = _ovr_inputs(y_true, proba)
    tables = []
    for c in range(p.shape[1]):
        table = gain_lift_table((y == c).astype(np.int64), p[:, c], bins)
        table.insert(0, "class", c)
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def cumulative_gain_curve(y_true, score) -> dict:
    """Fine-grained cumulative gain: the share of positives captured after every row.

    ``gain(N) = C_N / P`` for ``N = 0..n`` rows taken by descending score (ties pro rata as
    in :func:`gain_lift_table`); ``lift(N) = gain(N) / (N / n)`` for ``N >= 1``.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Binary labels in {0, 1}.
    score : array-like of shape (n,)
        Score of the positive class.

    Returns
    -------
    dict
        ``population_share`` (n + 1,) from 0 to 1; ``cumulative_gain`` (n + 1,) from 0 to 1
        (NaN without positives); ``lift`` (n + 1,) with ``lift[0] = NaN``; ``positive_rate``
        ``P / n`` (where a perfect model reaches a gain of 1); ``n`` and ``n_positive``.
    """
    _, y, expected = _ranked(y_true, score)
    n, total = y.size, int(y.sum())
    share = np.arange(n + 1) / n
    gain = np.r_[0.0, expected] / total if total > 0 else np.full(n + 1, np.nan)
    lift = np.r_[np.nan, gain[1:] / share[1:]]
    return {
        "population_share": share,
        "cumulative_gain": gain,
        "lift": lift,
        "positive_rate": total / n,
        "n": n,
        "n_positive": total,
    }


# ----------------------------------------------------------------------------------------------
# ROC curves
# ----------------------------------------------------------------------------------------------
def roc_curves(y_true, proba) -> dict[int, dict]:
    """ROC curve data per class (``sklearn.metrics.roc_curve``), one-vs-rest.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Class indices 0..k-1.
    proba : array-like of shape (n, k)
        Class probabilities (a 1-D array is read as P(class 1) of a binary problem).

    Returns
    -------
    dict
        ``{c: {"fpr", "tpr", "thresholds", "auc"}}``. Binary (k = 2): only the positive class
        1 (the class-0 curve is its mirror image). Multiclass: every class with at least one
        positive and one negative row in `y_true`; a class absent from `y_true` is left out.
    """
    y, p = _ovr_inputs(y_true, proba)
    classes = [1] if p.shape[1] == 2 else range(p.shape[1])
    curves = {}
    for c in classes:
        positive = y == c
        if positive.all() or not positive.any():
            continue
        fpr, tpr, thresholds = roc_curve(positive, p[:, c])
        curves[c] = {"fpr": fpr, "tpr": tpr, "thresholds": thresholds, "auc": float(auc(fpr, tpr))}
    return curves
