"""The hyperparameter registry is consistent, and everything that lists hyperparameters reads
it: a new entry is validated, searched, shown and ordered without touching another file."""

from __future__ import annotations

import optuna
import pytest

from hpstudy.experiment.config import (
    SEARCH_DEFAULTS,
    ConfigError,
    Fixed,
    Range,
    check_param_value,
    parse_config,
)
from hpstudy.experiment.console import top_table
from hpstudy.experiment.hyperparameters import (
    HYPERPARAMETERS,
    Hyperparameter,
    console_names,
    report_order,
)
from hpstudy.experiment.space import INACTIVE_VALUES, fixed_params, suggest_params
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


@pytest.fixture
def dropout(monkeypatch):
    """A new float hyperparameter, added to the registry only."""
    hp = Hyperparameter("dropout", "float", 0.0, "share of hidden units dropped", 13,
                        "in [0, 1)", lambda v: 0 <= v < 1, summary=True)
    monkeypatch.setitem(HYPERPARAMETERS, "dropout", hp)
    return hp


def _config(**search):
    return parse_config({"data": {"dataset": "digits"}, "search": search}, "t.toml")


def test_a_new_hyperparameter_is_validated_searched_and_shown(dropout):
    assert _config().search["dropout"] == Fixed(0.0)
    space = _config(dropout={"low": 0.0, "high": 0.5}).search
    assert space["dropout"] == Range(0.0, 0.5)
    with pytest.raises(ConfigError, match=r"search\.dropout: must be in \[0, 1\), got 1"):
        _config(dropout=1)
    with pytest.raises(ConfigError, match=r"search\.dropot: unknown key \(did you mean \"dropout\"\?\)"):
        parse_config({"data": {"dataset": "digits"}, "search": {"dropot": 0.1}}, "t.toml")
    params = suggest_params(optuna.trial.FixedTrial({"dropout": 0.25}), space)
    assert params["dropout"] == 0.25
    assert fixed_params(_config().search)["dropout"] == 0.0
    assert console_names()[-1] == "dropout" and report_order()[-1] == "dropout"
    assert param_order(["dropout", "learning_rate"]) == ["learning_rate", "dropout"]


def test_console_table_has_a_column_for_the_new_hyperparameter(dropout):
    trial = optuna.trial.create_trial(
        value=0.9, params={}, distributions={},
        user_attrs={"hparams": {"learning_rate": 0.1, "dropout": 0.25},
                    "metrics": {"val_f1_macro": 0.9}})
    study = optuna.create_study(direction="maximize")
    study.add_trial(trial)
    header = top_table(study, ["val_f1_macro"]).splitlines()[0].split()
    assert header == ["trial", "val_f1_macro", "learning_rate", "dropout"]
