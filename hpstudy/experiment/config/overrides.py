"""``--set key=value`` options: parsing them and applying them to the TOML data."""

from __future__ import annotations

import copy
import re
import tomllib
from collections.abc import Mapping
from typing import Any

from hpstudy.experiment.config._checks import SECTIONS
from hpstudy.experiment.errors import ConfigError


def parse_value(text: str) -> Any:
    """Parse ``--set`` value text as a TOML value, or keep it as a plain string.

    ``0.01`` -> 0.01, ``true`` -> True, ``[16, 32]`` -> [16, 32], ``{low = 1, high = 3}`` ->
    a dict, ``tanh`` -> ``"tanh"``, ``full`` -> ``"full"``; a list of bare words such as
    ``[relu, tanh]`` becomes ``["relu", "tanh"]``.
    """
    text = text.strip()
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        pass
    if text.startswith("[") and text.endswith("]"):
        items = [item for item in text[1:-1].split(",") if item.strip()]
        return [parse_value(item) for item in items]
    return text


_OVERRIDE_KEY = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*")


def parse_set_option(text: str) -> tuple[str, Any]:
    """Split one ``--set key=value`` option and parse the value (see :func:`parse_value`).

    Examples
    --------
    >>> parse_set_option("learning_rate=0.01")
    ('learning_rate', 0.01)
    >>> parse_set_option("train.epochs_note=x")[0]
    'train.epochs_note'
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not _OVERRIDE_KEY.fullmatch(key):
        problem = "expected key=value, e.g. learning_rate=0.01 or train.seed=3"
        raise ConfigError("--set", "", problem, text)
    if not raw.strip():
        raise ConfigError("--set", key, "missing value after =", text)
    return key, parse_value(raw)


def _override_path(key: str) -> list[str]:
    parts = key.split(".")
    return parts if len(parts) > 1 and parts[0] in SECTIONS else ["search", *parts]


def apply_overrides(data: Mapping, overrides: Mapping[str, Any], source: str) -> dict:
    """Return a copy of TOML data with ``overrides`` set.

    A plain key (``learning_rate``) is a ``[search]`` key; a dotted key whose first part is a
    section (``train.seed``, ``study.trials``, ``data.noise``) reaches other sections, and a
    deeper one a field of a table (``learning_rate.low``).

    Values are set as they are: ``--set`` text is parsed once, by :func:`parse_set_option`,
    so a string stays a string (``study.name = "2024"``, ``data.target = "123"``).
    """
    result = copy.deepcopy(dict(data))
    for key, value in overrides.items():
        path = _override_path(key)
        table = result
        for depth, part in enumerate(path[:-1]):
            table = table.setdefault(part, {})
            if not isinstance(table, dict):
                where = ".".join(path[: depth + 1])
                problem = f"is not a table, so --set {key} cannot set a field inside it"
                raise ConfigError(source, where, problem, table)
        table[path[-1]] = value
    return result
