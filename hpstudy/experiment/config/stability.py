"""The ``[stability]`` section: noise levels and retraining of the top trials."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hpstudy.experiment.config._checks import Checker, int_at_least, number_in, one_of
from hpstudy.experiment.errors import ConfigError

RETRAIN_METHODS = ("bootstrap", "replace")


@dataclass(frozen=True)
class StabilityConfig:
    """The ``[stability]`` section.

    Attributes
    ----------
    noise_levels : tuple of float
        Standard deviations of the Gaussian input noise (in scaled feature units), each > 0.
    draws : int
        Noise draws per level, >= 1.
    retrain_top : int
        How many of the best trials get the retraining score at the end (0 = off).
    retrain_k : int
        Retrainings per trial for that score, >= 2.
    retrain_method : str
        ``"bootstrap"`` (resample the training set) or ``"replace"`` (new seeds only).
    """

    noise_levels: tuple[float, ...] = (0.01, 0.05, 0.1)
    draws: int = 3
    retrain_top: int = 3
    retrain_k: int = 5
    retrain_method: str = "bootstrap"


def _noise_levels(source: str, key: str, value: Any) -> tuple[float, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(source, key, "must be a non-empty list of numbers > 0", value)
    check = number_in(0.0, low_open=True)
    return tuple(check(source, key, level) for level in value)


STABILITY_CHECKS: dict[str, Checker] = {
    "noise_levels": _noise_levels,
    "draws": int_at_least(1),
    "retrain_top": int_at_least(0),
    "retrain_k": int_at_least(2),
    "retrain_method": one_of(RETRAIN_METHODS, "retrain method"),
}
