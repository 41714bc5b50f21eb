"""The ``[train]`` section: fixed training settings that are not searched."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hpstudy.experiment.config._checks import Checker, check_bool, choose, int_at_least, number_in, one_of
from hpstudy.nn import ACTIVATIONS

DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class TrainConfig:
    """The ``[train]`` section: fixed training settings that are not searched.

    Attributes
    ----------
    output : str
        Output activation, or ``"auto"``: softmax for cross_entropy (and for classification
        with mse), sigmoid for binary_cross_entropy, identity for regression.
    dtype : str
        ``"float32"`` or ``"float64"``.
    early_stopping : int
        Patience in epochs, 0 = off.
    leaky_alpha : float
        Slope of leaky_relu for negative inputs, in [0, 1).
    nesterov : bool
        Nesterov look-ahead for the momentum optimizer.
    seed : int
        Base of the network init / shuffle seed (the trial number is added).
    """

    output: str = "auto"
    dtype: str = "float32"
    early_stopping: int = 0
    leaky_alpha: float = 0.01
    nesterov: bool = False
    seed: int = 0


def _output_check(source: str, key: str, value: Any) -> str:
    return choose(source, key, value, ("auto", *ACTIVATIONS), "output activation")


TRAIN_CHECKS: dict[str, Checker] = {
    "output": _output_check,
    "dtype": one_of(DTYPES, "dtype"),
    "early_stopping": int_at_least(0),
    "leaky_alpha": number_in(0.0, 1.0),
    "nesterov": check_bool,
    "seed": int_at_least(0),
}
