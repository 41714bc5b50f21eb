"""The one base class of the errors a user can fix.

Every exception hpstudy raises for bad input (an experiment file, a data file, a storage URL,
a command-line option, a study name) is a :class:`HpstudyError`. Its text is one line that says
what was wrong, where, and what would be right. The command line prints that line and exits
with code 2; anything that is not a :class:`HpstudyError` is a bug and shows its traceback.

The subclasses live next to the code that raises them (``hpstudy.data.errors.DataError``,
``hpstudy.experiment.errors.ConfigError``, ``StorageError``, ``StudyError``, ``TrackingError``,
``hpstudy.report.records.ReportError``). Each also derives from the built-in exception it
replaced (``ValueError`` or ``RuntimeError``), so callers that caught those still work.

This module imports nothing but the standard library, so every layer may import it.
``hpstudy.nn`` does not: it stays free of the rest of the package, and raises ``ValueError``
for bad arguments as its public contract says.
"""

from __future__ import annotations

__all__ = ["HpstudyError", "UsageError"]


class HpstudyError(Exception):
    """An error the user can fix; its message is one line (what, where, what would be right)."""


class UsageError(HpstudyError, ValueError):
    """A command-line option is out of range or names nothing known, e.g. ``--workers 0``."""
