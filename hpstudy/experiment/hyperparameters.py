"""The hyperparameters a study searches: one registry that everything else reads.

Validation and defaults (:mod:`hpstudy.experiment.config`), the search space
(:mod:`hpstudy.experiment.space`), the console table (:mod:`hpstudy.experiment.console`) and
the reports (:mod:`hpstudy.report.analysis`) all read :data:`HYPERPARAMETERS`. Adding one means
an entry here and the code that uses its value (``objective.fit_options`` or
``objective.network_kwargs``, and the network library).

This module imports only the standard library and the name registries of :mod:`hpstudy.nn`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hpstudy.nn import ACTIVATIONS, INITIALIZERS, LOSSES, OPTIMIZERS, REGULARIZERS, SCHEDULES

__all__ = ["HYPERPARAMETERS", "KEEP_FIXED", "Hyperparameter", "console_names", "report_order"]

#: :attr:`Hyperparameter.inactive` value meaning "its fixed value, else its default"
KEEP_FIXED = "keep-fixed"


@dataclass(frozen=True)
class Hyperparameter:
    """One hyperparameter: its values, its default, when it applies and how it is shown.

    Attributes
    ----------
    name : str
        The ``[search]`` key, the Optuna parameter and the MLflow param.
    kind : str
        ``"int"``, ``"float"`` or ``"categorical"``.
    default : Any
        The value when the experiment file does not mention it.
    doc : str
        What it is, in a few words.
    rule : str
        Numeric: the valid values in words (``"> 0"``), used in messages as
        ``must be an integer >= 1``.
    accept : callable
        Numeric: ``value -> bool``, the predicate :attr:`rule` describes.
    values : tuple of str
        Categorical: the valid names.
    words : tuple of str
        Numeric: names accepted besides numbers (``batch_size = "full"``), in which case
        :attr:`message` replaces the rule for a wrong value.
    message : str or None
        The problem reported for a wrong single value, when :attr:`words` is not empty.
    parent : str or None
        The hyperparameter whose value decides whether this one is used (a conditional one).
    applies : callable
        ``parent value -> bool``: whether it is used.
    inactive : Any
        The value it takes when it is not used (:data:`KEEP_FIXED`: its fixed value, else its
        default).
    order : int
        Position in reports and the console table (the registry order is the search order, in
        which a parent comes before the parameters that depend on it).
    console : bool
        Whether the console's table of top trials has a column for it.
    summary : bool
        Whether the report's one-line description of the best trial names it (when searched).
    value_order : tuple
        Categorical values in the order a reader expects them in reports (others follow).
    """

    name: str
    kind: str
    default: Any
    doc: str
    order: int
    rule: str = ""
    accept: Callable[[Any], bool] | None = None
    values: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    message: str | None = None
    parent: str | None = None
    applies: Callable[[Any], bool] | None = None
    inactive: Any = None
    console: bool = True
    summary: bool = False
    value_order: tuple = ()

    @property
    def is_numeric(self) -> bool:
        """Whether it takes numbers (and ranges ``{ low, high }``)."""
        return self.kind != "categorical"

    @property
    def is_int(self) -> bool:
        """Whether it takes integers."""
        return self.kind == "int"

    def is_active(self, params: dict[str, Any]) -> bool:
        """Whether it is used given the values chosen so far (an unchosen parent: yes)."""
        return self.parent is None or self.parent not in params or self.applies(params[self.parent])


def _registry(*params: Hyperparameter) -> dict[str, Hyperparameter]:
    return {param.name: param for param in params}


def _names(*names) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


#: Every hyperparameter, in search order (a conditional one after the one it depends on).
HYPERPARAMETERS: dict[str, Hyperparameter] = _registry(
    Hyperparameter("learning_rate", "float", 0.01, "step size", 0, "> 0", lambda v: v > 0,
                   summary=True),
    Hyperparameter("batch_size", "int", 32, "rows per step (1 = stochastic GD, full = batch GD)",
                   1, ">= 1", lambda v: v >= 1, words=("full",),
                   message='must be a positive integer or "full"', summary=True),
    Hyperparameter("depth", "int", 2, "number of hidden layers", 2, ">= 1", lambda v: v >= 1),
    Hyperparameter("width", "int", 64, "units of every hidden layer ([width] * depth)", 3, ">= 1",
                   lambda v: v >= 1),
    Hyperparameter("activation", "categorical", "relu", "hidden activation (not softmax)", 4,
                   values=tuple(a for a in ACTIVATIONS if a != "softmax"),
                   value_order=("sigmoid", "tanh", "relu", "leaky_relu")),
    Hyperparameter("initializer", "categorical", "auto",
                   "auto: he_* for relu-like activations, xavier_* otherwise", 5,
                   values=_names("auto", *INITIALIZERS), summary=True,
                   value_order=("auto", "he_normal", "he_uniform", "xavier_normal",
                                "xavier_uniform", "lecun_normal", "normal")),
    Hyperparameter("regularizer", "categorical", "none", "weight penalty", 6,
                   values=tuple(REGULARIZERS)),
    Hyperparameter("lambda", "float", 1e-4, "regularization strength", 7, ">= 0",
                   lambda v: v >= 0, parent="regularizer", applies=lambda r: r != "none",
                   inactive=0.0),
    Hyperparameter("optimizer", "categorical", "adam", "gradient-descent variant", 8,
                   values=tuple(OPTIMIZERS), summary=True),
    Hyperparameter("momentum", "float", 0.9, "momentum coefficient", 9, "in [0, 1)",
                   lambda v: 0 <= v < 1, parent="optimizer", applies=lambda o: o == "momentum",
                   inactive=KEEP_FIXED, console=False),
    Hyperparameter("epochs", "int", 20, "passes over the training set", 12, ">= 1",
                   lambda v: v >= 1),
    Hyperparameter("loss", "categorical", "auto",
                   "auto: cross_entropy (classification) / mse (regression)", 10,
                   values=_names("auto", *LOSSES), summary=True),
    Hyperparameter("schedule", "categorical", "constant", "learning-rate schedule", 11,
                   values=tuple(SCHEDULES), console=False),
)


def report_order() -> tuple[str, ...]:
    """Hyperparameter names in the order reports and the console show them."""
    return tuple(sorted(HYPERPARAMETERS, key=lambda name: HYPERPARAMETERS[name].order))


def console_names() -> tuple[str, ...]:
    """The hyperparameters with a column in the console table, in report order."""
    return tuple(name for name in report_order() if HYPERPARAMETERS[name].console)
