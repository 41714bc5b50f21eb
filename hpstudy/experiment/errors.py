"""Errors raised for bad experiment files.

A :class:`ConfigError` is meant for users: its text is one line naming the file, the key path
inside the file, what is wrong and what would be right, and the value that was found::

    experiments/x.toml: search.learning_rate: low must be > 0 for a log range, got 0

The command line prints it without a traceback and exits with code 2.
"""

from __future__ import annotations

from typing import Any

from hpstudy.errors import HpstudyError

__all__ = ["ConfigError", "show_value"]

#: Marks "no value to show" (``None`` cannot, since TOML has no null but callers may pass it).
_NOTHING = object()


def show_value(value: Any) -> str:
    """Render ``value`` the way it would be written in a TOML file.

    Parameters
    ----------
    value : Any
        A parsed TOML value (str, bool, int, float, list, dict) or any other object.

    Returns
    -------
    str
        ``"relu"`` for strings, ``true``/``false`` for booleans, ``[1, "full"]`` for lists,
        ``{ low = 0, high = 1 }`` for tables and ``repr`` for anything else.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show_value(item) for item in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{key} = {show_value(item)}" for key, item in value.items())
        return "{ " + items + " }" if items else "{}"
    return repr(value)


class ConfigError(HpstudyError, ValueError):
    """A problem in an experiment file (or in a ``--set`` override of it).

    Parameters
    ----------
    source : str
        The file the problem is in (as the user named it).
    key : str
        Dotted key path inside the file, e.g. ``"search.learning_rate"``; ``""`` when the
        problem concerns the whole file (missing file, TOML syntax error).
    problem : str
        What is wrong and what would be right, e.g. ``"low must be > 0 for a log range"``.
    value : Any, optional
        The offending value; shown as ``, got <value>`` in TOML notation when given.

    Attributes
    ----------
    source, key, problem, value
        As given, so callers and tests can inspect them.
    """

    def __init__(self, source: str, key: str, problem: str, value: Any = _NOTHING) -> None:
        self.source = str(source)
        self.key = key
        self.problem = problem
        self.value = None if value is _NOTHING else value
        self.has_value = value is not _NOTHING
        super().__init__(self._text())

    def _text(self) -> str:
        parts = [self.source]
        if self.key:
            parts.append(self.key)
        text = ": ".join(parts) + ": " + self.problem
        if self.has_value:
            text += ", got " + show_value(self.value)
        return " ".join(text.split("\n"))

    def __reduce__(self):
        # Keep the error picklable (e.g. across worker processes).
        return (_rebuild, (self.source, self.key, self.problem, self.has_value, self.value))


def _rebuild(source: str, key: str, problem: str, has_value: bool, value: Any) -> ConfigError:
    return ConfigError(source, key, problem, value if has_value else _NOTHING)
