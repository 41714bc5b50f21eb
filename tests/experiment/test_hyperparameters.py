"""The hyperparameter registry is consistent, and the views other modules keep follow it
(a new entry: tests/experiment/test_extending.py)."""

from __future__ import annotations

import pytest

from hpstudy.experiment.config import SEARCH_DEFAULTS, check_param_value
from hpstudy.experiment.hyperparameters import HYPERPARAMETERS, console_names, report_order
from hpstudy.experiment.space import INACTIVE_VALUES
from hpstudy.report.analysis import param_order


@pytest.mark.parametrize("hp", list(HYPERPARAMETERS.values()), ids=lambda hp: hp.name)
def test_every_entry_is_consistent(hp):
    names = list(HYPERPARAMETERS)
    assert hp.kind in ("int", "float", "categorical")
    if hp.is_numeric:
        assert hp.accept is not None and hp.rule and not hp.values
    else:
        assert hp.values and hp.accept is None and not hp.words
    assert bool(hp.words) == (hp.message is not None)
    assert check_param_value("t", f"search.{hp.name}", hp.name, hp.default) == hp.default
    if hp.parent is not None:   # a parent is chosen first
        assert names.index(hp.parent) < names.index(hp.name) and hp.applies is not None
        assert hp.name in INACTIVE_VALUES
    assert set(hp.value_order) <= set(hp.values)


def test_orders_are_a_permutation_and_views_follow_the_registry():
    assert sorted(hp.order for hp in HYPERPARAMETERS.values()) == list(range(len(HYPERPARAMETERS)))
    assert tuple(SEARCH_DEFAULTS) == tuple(HYPERPARAMETERS)
    assert param_order(["zeta", *reversed(HYPERPARAMETERS)]) == [*report_order(), "zeta"]
    assert set(console_names()) < set(report_order())
