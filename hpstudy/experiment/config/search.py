"""The ``[search]`` section: one value, a list of choices or a range per hyperparameter.

:class:`Fixed`, :class:`Choice` and :class:`Range` are the three forms a value takes;
:class:`SearchSpace` holds one per hyperparameter. ``space.py`` turns it into Optuna calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from hpstudy.experiment.config._checks import check_bool, check_keys, choose, is_int, is_number
from hpstudy.experiment.errors import ConfigError
from hpstudy.experiment.hyperparameters import HYPERPARAMETERS

#: The value every ``[search]`` parameter takes when the file does not mention it, in search
#: order (a view of :data:`~hpstudy.experiment.hyperparameters.HYPERPARAMETERS`).
SEARCH_DEFAULTS: dict[str, Any] = {name: hp.default for name, hp in HYPERPARAMETERS.items()}

#: Conditional hyperparameters: name -> (the parameter it depends on, when it is used).
#: An unused one is not searched: ``lambda`` is then 0.0 and ``momentum`` keeps its fixed or
#: default value.
CONDITIONS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    name: (hp.parent, hp.applies) for name, hp in HYPERPARAMETERS.items() if hp.parent
}


def is_active(name: str, params: Mapping[str, Any]) -> bool:
    """Whether hyperparameter ``name`` is used given the values chosen so far.

    Parameters
    ----------
    name : str
        A key of :data:`SEARCH_DEFAULTS`.
    params : Mapping
        Values chosen so far; a condition on a parameter not yet chosen counts as met.
    """
    return HYPERPARAMETERS[name].is_active(params)


def can_be_active(name: str, space: Mapping[str, Any]) -> bool:
    """Whether ``name`` is used for at least one value its parent can take in ``space``."""
    hp = HYPERPARAMETERS[name]
    return hp.parent is None or any(hp.applies(value) for value in space.values_of(hp.parent))


@dataclass(frozen=True)
class Fixed:
    """A hyperparameter that is not searched: ``name = value`` in ``[search]``."""

    value: Any


@dataclass(frozen=True)
class Choice:
    """A categorical hyperparameter: ``name = [a, b, c]`` (distinct, at least one)."""

    values: tuple


@dataclass(frozen=True)
class Range:
    """A numeric range ``{ low, high, log = false, step }``, both ends included.

    An integer parameter (``batch_size``, ``depth``, ``width``, ``epochs``) has int bounds and
    step; the others have float bounds. ``log`` samples uniformly in ``log(x)``; ``step``
    restricts values to ``low + k * step`` and cannot be combined with ``log``.
    """

    low: int | float
    high: int | float
    log: bool = False
    step: int | float | None = None

    @property
    def is_int(self) -> bool:
        """Whether the range holds integers (both bounds are ints)."""
        return is_int(self.low) and is_int(self.high)

    def grid_values(self) -> list | None:
        """Every value of the range, or ``None`` for a continuous (float, no step) range."""
        if self.is_int:
            return list(range(self.low, self.high + 1, self.step or 1))
        if self.step is None:
            return None
        count = round((self.high - self.low) / self.step)
        # Rounded so that 0.1 + 2 * 0.1 is 0.3 (and still within the range).
        return [min(round(self.low + k * self.step, 12), self.high) for k in range(count + 1)]

    def to_dict(self) -> dict[str, Any]:
        """The range as a TOML table (``step`` left out when absent)."""
        table = {"low": self.low, "high": self.high, "log": self.log}
        if self.step is not None:
            table["step"] = self.step
        return table


Param = Fixed | Choice | Range


def param_names(name: str) -> tuple[str, ...]:
    """Valid names of a categorical hyperparameter (``activation``, ``loss``, ...).

    Hidden layers may use every activation but ``softmax``; ``initializer`` and ``loss`` also
    accept ``"auto"``.
    """
    return HYPERPARAMETERS[name].values


def _number_problem(name: str, value: Any) -> str | None:
    """What is wrong with ``value`` as a value of numeric parameter ``name`` (None if fine)."""
    hp = HYPERPARAMETERS[name]
    if hp.is_int and not is_int(value):
        return "must be an integer " + hp.rule
    if not hp.is_int and not is_number(value):
        return "must be a finite number " + hp.rule
    return None if hp.accept(value) else "must be " + hp.rule


def _normalized(name: str, value: int | float) -> int | float:
    """Ints stay ints for an integer parameter; a float parameter's values become floats."""
    return value if HYPERPARAMETERS[name].is_int else float(value)


def check_param_value(source: str, key: str, name: str, value: Any) -> Any:
    """Validate one value of hyperparameter ``name`` and return it normalized.

    Parameters
    ----------
    source, key : str
        File and key path used in the error message.
    name : str
        A key of :data:`SEARCH_DEFAULTS`.
    value : Any
        The value (float parameters accept ints and return floats; ``batch_size`` accepts
        ``"full"``).

    Raises
    ------
    ConfigError
        If the value has the wrong type, is out of range or names nothing known.
    """
    hp = HYPERPARAMETERS[name]
    if not hp.is_numeric:
        return choose(source, key, value, hp.values, name)
    if isinstance(value, str) and value in hp.words:
        return value
    problem = _number_problem(name, value)
    if problem:
        raise ConfigError(source, key, hp.message if hp.words else problem, value)
    return _normalized(name, value)


def _parse_choice(source: str, key: str, name: str, values: list) -> Choice:
    if not values:
        raise ConfigError(source, key, "empty list of choices; give at least one value", values)
    seen: list = []
    for value in values:
        value = check_param_value(source, key, name, value)
        if any(type(value) is type(old) and value == old for old in seen):
            raise ConfigError(source, key, "duplicate choice; list each value once", value)
        seen.append(value)
    return Choice(tuple(seen))


def _range_bound(source: str, key: str, name: str, which: str, table: dict) -> int | float:
    if which not in table:
        raise ConfigError(source, key, "a range needs both low and high", table)
    value = table[which]
    problem = _number_problem(name, value)
    if problem:
        raise ConfigError(source, key, f"{which} {problem}", value)
    return _normalized(name, value)


def _range_step(source: str, key: str, name: str, rng: Range, table: dict) -> int | float:
    step = table["step"]
    integer = HYPERPARAMETERS[name].is_int
    if rng.log:
        raise ConfigError(source, key, "step cannot be combined with log = true", step)
    if (integer and not is_int(step)) or not is_number(step):
        kind = "an integer" if integer else "a number"
        raise ConfigError(source, key, f"step must be {kind} > 0", step)
    if step <= 0:
        raise ConfigError(source, key, "step must be > 0", step)
    count = (rng.high - rng.low) / step
    if abs(count - round(count)) > 1e-9 * max(1.0, count):
        raise ConfigError(source, key, "high - low must be a multiple of step", table)
    return _normalized(name, step)


def _parse_range(source: str, key: str, name: str, table: dict) -> Range:
    if not HYPERPARAMETERS[name].is_numeric:
        problem = "a range { low, high } is only for numbers; give a name or a list of names"
        raise ConfigError(source, key, problem, table)
    param = key.rpartition(".")[2]
    check_keys(source, key, table, ("low", "high", "log", "step"))
    log = check_bool(source, f"{key}.log", table.get("log", False))
    if log and is_number(table.get("low")) and table["low"] <= 0:
        raise ConfigError(source, key, "low must be > 0 for a log range", table["low"])
    low = _range_bound(source, key, name, "low", table)
    high = _range_bound(source, key, name, "high", table)
    if low > high:
        raise ConfigError(source, key, "low must be < high", table)
    if low == high:
        raise ConfigError(source, key, f"empty range; use a fixed value {param} = {low}", table)
    rng = Range(low, high, log)
    if "step" in table:
        rng = Range(low, high, log, _range_step(source, key, name, rng, table))
    return rng


def _parse_param(source: str, name: str, value: Any) -> Param:
    key = f"search.{name}"
    if isinstance(value, dict):
        return _parse_range(source, key, name, value)
    if isinstance(value, list):
        return _parse_choice(source, key, name, value)
    return Fixed(check_param_value(source, key, name, value))


@dataclass(frozen=True)
class SearchSpace(Mapping):
    """The ``[search]`` section: a read-only mapping name -> :class:`Fixed`, :class:`Choice`
    or :class:`Range`, with every name of :data:`SEARCH_DEFAULTS` present (in that order).

    Attributes
    ----------
    params : dict
        Name -> parameter.
    source : str
        The experiment file (for error messages of later checks such as ``fixed_params``).
    """

    params: dict[str, Param]
    source: str = field(default="", compare=False)

    def __getitem__(self, name: str) -> Param:
        return self.params[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.params)

    def __len__(self) -> int:
        return len(self.params)

    def values_of(self, name: str) -> tuple:
        """Every value ``name`` can take, or ``()`` for a continuous range."""
        param = self.params[name]
        if isinstance(param, Fixed):
            return (param.value,)
        if isinstance(param, Choice):
            return param.values
        return tuple(param.grid_values() or ())

    def to_dict(self) -> dict[str, Any]:
        """The section as TOML data: value, list, or ``{low, high, log[, step]}``."""
        return {name: _param_to_data(param) for name, param in self.params.items()}


def _param_to_data(param: Param) -> Any:
    if isinstance(param, Fixed):
        return param.value
    if isinstance(param, Choice):
        return list(param.values)
    return param.to_dict()


def parse_search(source: str, table: dict) -> SearchSpace:
    check_keys(source, "search", table, tuple(HYPERPARAMETERS))
    params = {
        name: _parse_param(source, name, table.get(name, hp.default))
        for name, hp in HYPERPARAMETERS.items()
    }
    return SearchSpace(params, source)

