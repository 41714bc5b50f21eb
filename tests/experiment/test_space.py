"""The search space with a real (in-memory) Optuna study: complete suggestions, conditional
parameters, grids, samplers and pruners."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import optuna
import pytest

from hpstudy.experiment import space as space_module
from hpstudy.experiment.config import (
    PRUNERS,
    SAMPLERS,
    SEARCH_DEFAULTS,
    Choice,
    ConfigError,
    Range,
    StudyConfig,
    load_config,
    missing_sampler_modules,
    parse_config,
)
from hpstudy.experiment.space import (
    fixed_params,
    grid_search_space,
    hidden_sizes,
    make_pruner,
    make_sampler,
    suggest_params,
)

ROOT = Path(__file__).resolve().parents[2]
optuna.logging.set_verbosity(optuna.logging.WARNING)


def search(**entries):
    """A validated SearchSpace for digits with the given [search] entries."""
    return parse_config({"data": {"dataset": "digits"}, "search": entries}, "t.toml").search


def run(space, n_trials=12, sampler=None):
    """Optimize a dummy objective; return (study, list of suggested dicts)."""
    seen = []

    def objective(trial):
        params = suggest_params(trial, space)
        seen.append((trial, params))
        return 0.0

    study = optuna.create_study(sampler=sampler or optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=n_trials)
    return study, seen


def test_suggested_dict_is_complete_and_in_range():
    space = load_config(ROOT / "experiments" / "digits.toml").search
    _, seen = run(space, n_trials=20)
    for _, params in seen:
        assert list(params) == list(SEARCH_DEFAULTS)
        for name, param in space.items():
            value = params[name]
            if isinstance(param, Choice):
                assert value in param.values
            elif isinstance(param, Range) and name not in ("lambda", "momentum"):
                assert param.low <= value <= param.high
        assert params["width"] % 16 == 0


def test_suggest_names_are_the_param_names():
    space = search(learning_rate={"low": 1e-3, "high": 0.1, "log": True}, depth=[1, 2])
    study, seen = run(space, n_trials=3)
    for trial, params in seen:
        assert set(trial.params) == {"learning_rate", "depth"}
        assert trial.params["learning_rate"] == params["learning_rate"]
    assert isinstance(study.trials[0].distributions["depth"], optuna.distributions.CategoricalDistribution)


def test_fixed_values_are_returned_not_suggested():
    space = search(epochs=7, activation="tanh", batch_size="full", width=[8, 16])
    _, seen = run(space, n_trials=3)
    for trial, params in seen:
        assert (params["epochs"], params["activation"], params["batch_size"]) == (7, "tanh", "full")
        assert set(trial.params) == {"width"}


def test_lambda_only_when_regularized():
    space = search(regularizer=["none", "l1", "l2", "elastic"],
                   **{"lambda": {"low": 1e-6, "high": 1e-2, "log": True}})
    _, seen = run(space, n_trials=30)
    regularizers = set()
    for trial, params in seen:
        regularizers.add(params["regularizer"])
        if params["regularizer"] == "none":
            assert params["lambda"] == 0.0 and "lambda" not in trial.params
        else:
            assert 1e-6 <= params["lambda"] <= 1e-2 and "lambda" in trial.params
    assert "none" in regularizers and len(regularizers) > 1


def test_momentum_only_with_the_momentum_optimizer():
    space = search(optimizer=["sgd", "momentum", "adam"], momentum={"low": 0.5, "high": 0.99})
    _, seen = run(space, n_trials=30)
    for trial, params in seen:
        if params["optimizer"] == "momentum":
            assert 0.5 <= params["momentum"] <= 0.99 and "momentum" in trial.params
        else:
            assert params["momentum"] == SEARCH_DEFAULTS["momentum"]
            assert "momentum" not in trial.params


def test_fixed_trial_works():
    space = search(regularizer=["none", "l2"], optimizer=["adam", "momentum"],
                   momentum={"low": 0.5, "high": 0.9}, **{"lambda": {"low": 0.1, "high": 1.0}})
    trial = optuna.trial.FixedTrial({"regularizer": "l2", "lambda": 0.5,
                                     "optimizer": "adam"})
    params = suggest_params(trial, space)
    assert (params["lambda"], params["momentum"]) == (0.5, 0.9)


def test_batch_size_keeps_int_and_full():
    space = search(batch_size=[1, 16, "full"])
    _, seen = run(space, n_trials=25)
    values = {params["batch_size"] for _, params in seen}
    assert values == {1, 16, "full"}
    assert all(type(v) is int for v in values - {"full"})


def test_hidden_sizes_share_one_width():
    assert hidden_sizes({"width": 32, "depth": 3}) == [32, 32, 32]


def test_grid_search_space_and_grid_sampler():
    space = search(learning_rate={"low": 0.1, "high": 0.3, "step": 0.1},
                   batch_size=[16, "full"], depth={"low": 1, "high": 2},
                   momentum={"low": 0.5, "high": 0.9})      # continuous but never used
    grid = grid_search_space(space)
    assert set(grid) == {"learning_rate", "batch_size", "depth"}
    assert grid["learning_rate"] == pytest.approx([0.1, 0.2, 0.3])
    study = parse_config({"data": {"dataset": "digits"}, "study": {"sampler": "grid"}}, "t").study
    sampler = make_sampler(study, space)
    assert isinstance(sampler, optuna.samplers.GridSampler)
    optuna_study, seen = run(space, n_trials=50, sampler=sampler)
    points = {(p["learning_rate"], p["batch_size"], p["depth"]) for _, p in seen}
    assert len(seen) == len(points) == 3 * 2 * 2        # the grid is exhausted, then stops
    expected = set(itertools.product(grid["learning_rate"], grid["batch_size"], grid["depth"]))
    assert points == expected


def test_grid_rejects_a_continuous_range():
    space = search(learning_rate={"low": 0.01, "high": 0.1})
    with pytest.raises(ConfigError, match="search.learning_rate"):
        grid_search_space(space)


# --------------------------------------------------------------------------------------------
# fixed_params (hpstudy train)
# --------------------------------------------------------------------------------------------


def test_fixed_params_of_a_fixed_space():
    params = fixed_params(search())
    assert params == {**SEARCH_DEFAULTS, "lambda": 0.0}


def test_fixed_params_lists_what_is_open():
    space = search(learning_rate={"low": 1e-3, "high": 0.1}, activation=["relu", "tanh"],
                   **{"lambda": [0.1, 0.2]})            # lambda unused: regularizer none
    with pytest.raises(ConfigError) as info:
        fixed_params(space)
    message = str(info.value)
    assert message.startswith("t.toml: search: ")
    assert "learning_rate (range" in message and "activation (choices relu, tanh)" in message
    assert "lambda" not in message and "--set" in message


def test_fixed_params_takes_overrides():
    space = search(learning_rate={"low": 1e-3, "high": 0.1}, regularizer=["none", "l2"])
    params = fixed_params(space, learning_rate=0.05, regularizer="l2", **{"lambda": 1e-3})
    assert (params["learning_rate"], params["regularizer"], params["lambda"]) == (0.05, "l2", 1e-3)
    with pytest.raises(ConfigError, match=r"search.learning_rate: must be .*> 0, got -1"):
        fixed_params(space, learning_rate=-1, regularizer="l2")
    with pytest.raises(ConfigError, match="search.lr: unknown hyperparameter"):
        fixed_params(space, lr=0.1)


# --------------------------------------------------------------------------------------------
# Samplers and pruners
# --------------------------------------------------------------------------------------------


def study_config(sampler="tpe", pruner="none", multi=False):
    objectives = ("val_f1_macro", "stability_noise_sensitivity") if multi else ("val_f1_macro",)
    directions = ("maximize", "minimize") if multi else ("maximize",)
    return StudyConfig(name="t", objectives=objectives, directions=directions, trials=8,
                       sampler=sampler, pruner=pruner, seed=1)


@pytest.mark.parametrize("name", SAMPLERS)
def test_each_sampler_constructs_and_samples(name):
    space = search(learning_rate={"low": 1e-3, "high": 0.1, "step": 1e-3} if name == "grid"
                   else {"low": 1e-3, "high": 0.1, "log": True},
                   depth={"low": 1, "high": 3}, activation=["relu", "tanh"])
    if missing_sampler_modules(name):
        with pytest.raises(ConfigError, match="pip install"):
            make_sampler(study_config(name), space)
        return
    sampler = make_sampler(study_config(name), space)
    assert isinstance(sampler, optuna.samplers.BaseSampler)
    _, seen = run(space, n_trials=4, sampler=sampler)
    assert len(seen) == 4


@pytest.mark.parametrize("name", ["tpe", "random", "nsga2"])
def test_multi_objective_samplers(name):
    space = search(depth={"low": 1, "high": 3}, activation=["relu", "tanh"])
    config = study_config(name, multi=True)
    study = optuna.create_study(directions=list(config.directions),
                                sampler=make_sampler(config, space),
                                pruner=make_pruner(config))
    study.optimize(lambda t: (suggest_params(t, space)["depth"], 1.0), n_trials=5)
    assert len(study.best_trials) >= 1


def test_samplers_are_seeded():
    space = search(learning_rate={"low": 1e-3, "high": 0.1, "log": True})
    values = []
    for seed in (None, None, 1, 2):
        sampler = make_sampler(study_config("tpe"), space, seed=seed)    # study seed is 1
        _, seen = run(space, n_trials=3, sampler=sampler)
        values.append([p["learning_rate"] for _, p in seen])
    assert values[0] == values[1] == values[2] != values[3]


def test_make_sampler_reports_a_missing_package(monkeypatch):
    monkeypatch.setattr(space_module, "missing_sampler_modules", lambda name: ["torch"])
    with pytest.raises(ConfigError, match=r"t.toml: study.sampler: .*pip install torch"):
        make_sampler(study_config("gp"), search())


@pytest.mark.parametrize("name", PRUNERS)
def test_each_pruner_constructs(name):
    pruner = make_pruner(study_config(pruner=name))
    assert isinstance(pruner, optuna.pruners.BasePruner)
    expected = {"none": "NopPruner", "median": "MedianPruner", "percentile": "PercentilePruner",
                "hyperband": "HyperbandPruner",
                "successive_halving": "SuccessiveHalvingPruner"}[name]
    assert type(pruner).__name__ == expected


def test_percentile_pruner_keeps_the_best_quarter():
    pruner = make_pruner(study_config(pruner="percentile"))
    assert pruner._percentile == 25.0 and pruner._n_startup_trials == 5
    assert pruner._n_warmup_steps == 2


def test_no_pruner_for_several_objectives():
    assert isinstance(make_pruner(study_config(multi=True)), optuna.pruners.NopPruner)
    with pytest.raises(ConfigError, match="single objective"):
        make_pruner(study_config(pruner="median", multi=True))


def test_only_space_calls_suggest():
    pattern = re.compile(r"\.suggest_(float|int|categorical|uniform|loguniform|discrete_uniform)\(")
    offenders = [
        str(path.relative_to(ROOT)) for path in (ROOT / "hpstudy").rglob("*.py")
        if path.name != "space.py" and pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
