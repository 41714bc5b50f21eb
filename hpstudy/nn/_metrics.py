"""Metrics that hpstudy.nn computes itself (private; it may not import scikit-learn).

One R² for all of hpstudy.nn: the trainer's per-epoch metric and anything else in the package
that scores a regression call :func:`r2_score`.
"""

from __future__ import annotations

import numpy as np


def r2_score(y_true, y_pred) -> float:
    """Coefficient of determination, averaged uniformly over the output columns.

    For each column ``R² = 1 − SS_res / SS_tot`` with ``SS_res = Σ (y − ŷ)²`` and
    ``SS_tot = Σ (y − ȳ)²``. A constant column (all its values equal, so ``SS_tot = 0``) scores
    1.0 when its predictions are exact (``SS_res = 0``) and 0.0 otherwise: scikit-learn's
    ``r2_score`` convention (``force_finite=True``). Constancy is checked on the values
    themselves, not on a rounded ``SS_tot``: the mean of equal values such as 0.1 need not
    round back to 0.1, which would leave a tiny ``SS_tot`` and a huge negative score.

    Parameters
    ----------
    y_true, y_pred : array (n,) or (n, m)
        Targets and predictions; computed in float64 whatever their dtype.

    Returns
    -------
    float
    """
    y = np.asarray(y_true, dtype=np.float64)
    pred = np.asarray(y_pred, dtype=np.float64)
    y, pred = y.reshape(len(y), -1), pred.reshape(len(pred), -1)
    if y.shape != pred.shape:
        raise ValueError(f"y_true and y_pred must have the same shape, got {y.shape} and {pred.shape}")
    ss_res = ((y - pred) ** 2).sum(axis=0)
    ss_tot = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    constant = (y == y[:1]).all(axis=0) | (ss_tot == 0)
    scores = np.where(constant, np.where(ss_res == 0, 1.0, 0.0),
                      1.0 - ss_res / np.where(constant, 1.0, ss_tot))
    return float(scores.mean())
