"""Small checkers and message helpers shared by every section of an experiment file.

A checker is ``(source, key, value) -> normalized value`` and raises a one-line
:class:`~hpstudy.experiment.errors.ConfigError` naming the file, the key path and the rule.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from typing import Any

from hpstudy.experiment.errors import ConfigError, show_value

#: The sections of an experiment file, in the order they are documented.
SECTIONS = ("study", "data", "train", "search", "stability", "tracking")


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return (is_int(value) or isinstance(value, float)) and math.isfinite(value)


def listing(names) -> str:
    return ", ".join(str(name) for name in names)


def did_you_mean(word: str, names) -> str:
    close = difflib.get_close_matches(str(word), [str(n) for n in names], n=1, cutoff=0.6)
    return f" (did you mean {show_value(close[0])}?)" if close else ""


def choose(source: str, key: str, value: Any, names, what: str) -> str:
    """Check that ``value`` is one of ``names`` and return it."""
    if not isinstance(value, str):
        raise ConfigError(source, key, f"must be a string naming {what}: {listing(names)}", value)
    if value not in names:
        hint = did_you_mean(value, names)
        raise ConfigError(source, key, f"unknown {what}{hint}; valid: {listing(names)}", value)
    return value


#: ``() -> {section: valid keys}``. The sections import this module, so the module that knows
#: them all (``config.experiment``) registers it here rather than being imported from here.
SECTION_KEYS: list[Callable[[], dict[str, tuple[str, ...]]]] = []


def section_of(key: str) -> str | None:
    """The section a key belongs to, if it is valid in exactly one (used for hints)."""
    sections = SECTION_KEYS[0]() if SECTION_KEYS else {}
    homes = [name for name, valid in sections.items() if key in valid]
    return homes[0] if len(homes) == 1 else None


def unknown_key(source: str, section: str, key: str, valid) -> ConfigError:
    home = section_of(key)
    if key in SECTIONS and section in SECTIONS:
        hint = f" ([{key}] is a section: start it with a line [{key}])"
    elif home and home != section and section in SECTIONS:
        hint = f" ({key} belongs in [{home}])"
    else:
        hint = did_you_mean(key, valid)
    return ConfigError(
        source, f"{section}.{key}", f"unknown key{hint}; valid keys: {listing(valid)}"
    )


def check_keys(source: str, section: str, table: Mapping, valid) -> None:
    for key in table:
        if key not in valid:
            raise unknown_key(source, section, key, valid)


# Checkers: (source, key, value) -> normalized value, or raise ConfigError.
Checker = Callable[[str, str, Any], Any]


def int_at_least(minimum: int) -> Checker:
    def check(source: str, key: str, value: Any) -> int:
        if not is_int(value):
            raise ConfigError(source, key, f"must be an integer >= {minimum}", value)
        if value < minimum:
            raise ConfigError(source, key, f"must be >= {minimum}", value)
        return value

    return check


def int_in(low: int, high: int) -> Checker:
    """Integers in ``[low, high)``."""

    def check(source: str, key: str, value: Any) -> int:
        if not is_int(value) or not low <= value < high:
            raise ConfigError(source, key, f"must be an integer in [{low}, {high})", value)
        return value

    return check


def number_in(low: float, high: float = math.inf, *, low_open: bool = False) -> Checker:
    """Numbers in ``[low, high)`` (``(low, high)`` with ``low_open``); ints become floats."""
    bracket = "(" if low_open else "["
    text = f"> {low}" if low_open else f">= {low}"
    if high != math.inf:
        text = f"in {bracket}{low}, {high})"

    def check(source: str, key: str, value: Any) -> float:
        if not is_number(value):
            raise ConfigError(source, key, f"must be a finite number {text}", value)
        if value < low or (low_open and value == low) or value >= high:
            raise ConfigError(source, key, f"must be {text}", value)
        return float(value)

    return check


def one_of(names, what: str) -> Checker:
    def check(source: str, key: str, value: Any) -> str:
        return choose(source, key, value, names, what)

    return check


def check_bool(source: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(source, key, "must be true or false", value)
    return value


def check_string_list(source: str, key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(source, key, "must be a list of strings", value)
    return list(value)


def check_string(source: str, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(source, key, "must be a string", value)
    return value


def check_table(source: str, key: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(source, key, f"must be a table ([{key}] or {key} = {{ ... }})", value)
    return value


def parse_fields(source: str, section: str, table: dict, checks: dict[str, Checker]) -> dict:
    """Check the keys and values of a flat section; absent keys are left out."""
    check_keys(source, section, table, tuple(checks))
    return {key: checks[key](source, f"{section}.{key}", value) for key, value in table.items()}

