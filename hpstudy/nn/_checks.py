"""Argument checks shared by the network library: errors that name the argument and the rule."""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np


def check_choice(argument: str, value, valid: Iterable[str]) -> None:
    """Raise if ``value`` is not one of ``valid``; the message lists the valid names.

    Raises
    ------
    TypeError
        If ``value`` is not a string.
    ValueError
        If ``value`` is not a valid name.
    """
    names = sorted(valid)
    if not isinstance(value, str):
        raise TypeError(f"{argument} must be a name, one of {', '.join(names)}; got {value!r}")
    if value not in names:
        raise ValueError(f"unknown {argument} {value!r}; valid names: {', '.join(names)}")


def check_positive(argument: str, value, *, integer: bool = False, allow_zero: bool = False):
    """Raise unless ``value`` is a (non-negative if ``allow_zero``) positive number.

    Booleans are refused even though Python treats them as integers.
    """
    kind_ok = isinstance(value, numbers.Integral if integer else numbers.Real)
    if isinstance(value, bool | np.bool_) or not kind_ok:
        kind = "an integer" if integer else "a number"
        raise TypeError(f"{argument} must be {kind}, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        rule = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{argument} must be {rule}, got {value!r}")
    return value
