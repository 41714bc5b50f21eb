"""The one exception the data layer raises for bad data and bad data options."""

from __future__ import annotations

from hpstudy.errors import HpstudyError


class DataError(HpstudyError, ValueError):
    """A dataset, a data file or a data option is wrong; the message says where and how.

    The message is a single line ``"<source>: <problem>"`` where ``source`` is the file path
    as given or the built-in dataset name, and ``problem`` says what is wrong and what would
    be right, e.g. ``data/x.csv: target column 'label' not found; columns are: a, b, c``.

    Parameters
    ----------
    source : str or os.PathLike
        The file path (as the user gave it) or the dataset name.
    problem : str
        What is wrong and what would be right. Line breaks are folded into spaces.

    Attributes
    ----------
    source : str
    problem : str
    """

    def __init__(self, source: object, problem: str) -> None:
        self.source = str(source)
        self.problem = " ".join(str(problem).split())
        super().__init__(f"{self.source}: {self.problem}")

    def __reduce__(self):
        return (type(self), (self.source, self.problem))


def plural(count: int, noun: str) -> str:
    """Count and noun for messages: ``plural(1, "row") == "1 row"``, ``plural(2, "row") ==
    "2 rows"``."""
    return f"{int(count)} {noun}{'' if count == 1 else 's'}"
