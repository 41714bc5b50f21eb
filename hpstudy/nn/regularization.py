"""L1 / L2 / elastic regularisation of the weight matrices (never the biases).

With strength λ the training objective is

    L = mean data loss + l1 · Σ|W| + l2 · Σ W²

summed over every weight matrix. Its gradient adds ``l1 · sign(W) + 2 · l2 · W`` to each
weight gradient (``sign(0) = 0``, the usual subgradient at the kink). L1 pushes weights to
exactly zero (sparse models); L2 shrinks all of them smoothly (weight decay).

Registry: ``REGULARIZERS`` maps a kind to the ``(l1, l2)`` pair a strength λ gives.
"""

from __future__ import annotations

import numpy as np

from hpstudy.nn._checks import check_choice, check_positive

#: kind -> function λ -> (l1, l2)
REGULARIZERS = {
    "none": lambda lam: (0.0, 0.0),
    "l1": lambda lam: (lam, 0.0),
    "l2": lambda lam: (0.0, lam),
    "elastic": lambda lam: (lam, lam),
}


def strengths(kind: str, lam: float) -> tuple[float, float]:
    """Return ``(l1, l2)`` for a regulariser ``kind`` with strength ``lam`` (λ ≥ 0)."""
    check_choice("regularizer", kind, REGULARIZERS)
    check_positive("lambda", lam, allow_zero=True)
    return REGULARIZERS[kind](float(lam))


def penalty(weights: np.ndarray, l1: float, l2: float) -> float:
    """``l1 · Σ|w| + l2 · Σ w²`` for the flat vector of all weights ``weights`` (P_w,)."""
    total = 0.0
    if l1:
        total += l1 * float(np.abs(weights).sum())
    if l2:
        total += l2 * float(np.vdot(weights, weights))
    return total


def penalty_and_gradient(grad: np.ndarray, weights: np.ndarray, l1: float, l2: float,
                         scale: float = 1.0) -> float:
    """Add ``scale · (l1 · sign(w) + 2 · l2 · w)`` to ``grad`` in place; return the penalty.

    The penalty ``l1 · Σ|w| + l2 · Σ w²`` (not scaled) is that of ``weights`` as they are now,
    the weights the gradient is taken at. ``Σ|w|`` is computed as ``w · sign(w)``, one BLAS
    dot product with the sign the gradient needs anyway. ``grad`` and ``weights`` are flat
    vectors (P_w,) of the same length (a layer's weight gradient and weights, as flat views).
    """
    total = 0.0
    if l1:
        sign = np.sign(weights)
        total += l1 * float(weights.dot(sign))
        sign *= l1 * scale
        grad += sign
    if l2:
        total += l2 * float(weights.dot(weights))
        grad += (2.0 * (l2 * scale)) * weights
    return total
