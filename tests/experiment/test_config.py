"""Experiment files: the shipped ones load, defaults fill in, and every mistake is reported
as one line naming the file and the key path."""

from __future__ import annotations

import importlib.util
import pickle
import textwrap
from pathlib import Path

import pytest

from hpstudy.experiment import config as config_module
from hpstudy.experiment.config import (
    SEARCH_DEFAULTS,
    Choice,
    ConfigError,
    ExperimentConfig,
    Fixed,
    Range,
    StabilityConfig,
    TrainConfig,
    load_config,
    metric_direction,
    parse_config,
    parse_set_option,
    parse_value,
)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "experiments").glob("*.toml"))


def write(tmp_path: Path, text: str, name: str = "exp.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _toml_able(value) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _toml_able(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_toml_able(item) for item in value)
    return isinstance(value, (str, int, float, bool))


# --------------------------------------------------------------------------------------------
# Shipped experiments, defaults, round trip
# --------------------------------------------------------------------------------------------


def test_the_six_experiments_are_shipped():
    names = {path.stem for path in SHIPPED}
    assert {"quick", "digits", "breast_cancer", "moons", "diabetes", "pareto"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_experiment_loads_and_round_trips(path):
    config = load_config(path)
    assert isinstance(config, ExperimentConfig)
    assert config.name == path.stem
    data = config.to_dict()
    assert _toml_able(data)
    again = parse_config(data, str(path))
    assert again == config
    assert again.to_dict() == data


def test_digits_searches_every_hyperparameter():
    config = load_config(ROOT / "experiments" / "digits.toml")
    searched = {name for name, param in config.search.items() if not isinstance(param, Fixed)}
    assert {"learning_rate", "batch_size", "depth", "width", "activation", "initializer",
            "regularizer", "lambda", "optimizer", "momentum", "loss"} <= searched
    assert {1, "full"} <= set(config.search["batch_size"].values)
    assert config.study.pruner != "none"


def test_pareto_is_multi_objective():
    config = load_config(ROOT / "experiments" / "pareto.toml")
    assert config.is_multi_objective
    assert config.objectives == ("val_f1_macro", "stability_noise_sensitivity")
    assert config.directions == ("maximize", "minimize")
    assert config.study.sampler == "nsga2"


def test_defaults_are_filled_in(tmp_path):
    config = load_config(write(tmp_path, '[data]\ndataset = "iris"\n', "my-exp.toml"))
    assert config.name == "my-exp"
    assert config.objectives == ("val_f1_macro",) and config.directions == ("maximize",)
    assert (config.study.trials, config.study.timeout, config.study.seed) == (20, 0, 0)
    assert (config.study.sampler, config.study.pruner) == ("tpe", "median")
    assert not config.is_multi_objective
    assert config.train == TrainConfig()
    assert config.stability == StabilityConfig()
    assert dict(config.search) == {name: Fixed(value) for name, value in SEARCH_DEFAULTS.items()}
    assert "confusion_matrix" in config.tracking.charts
    assert "decision_boundary" not in config.tracking.charts     # iris has 4 features
    assert config.tracking.charts_for == "improving" == config.tracking.model_for
    assert config.to_dict()["search"] == SEARCH_DEFAULTS


def test_defaults_depend_on_the_task(tmp_path):
    config = load_config(write(tmp_path, '[data]\ndataset = "diabetes"\n'))
    assert config.task == "regression"
    assert config.objectives == ("val_rmse",) and config.directions == ("minimize",)
    assert config.tracking.charts == ("loss_curve", "gradient_norms")
    multi = load_config(write(tmp_path, """\
        [study]
        objectives = ["val_accuracy", "stability_flip_rate"]
        [data]
        dataset = "moons"
        """))
    assert (multi.study.sampler, multi.study.pruner) == ("nsga2", "none")
    assert multi.directions == ("maximize", "minimize")
    assert "decision_boundary" in multi.tracking.charts


def test_search_entries_become_fixed_choice_or_range(tmp_path):
    config = load_config(write(tmp_path, """\
        [data]
        dataset = "digits"
        [search]
        learning_rate = { low = 1e-4, high = 0.3, log = true }
        batch_size = [1, 16, "full"]
        width = { low = 16, high = 128, step = 16 }
        momentum = { low = 0, high = 0.9 }
        epochs = 7
        """))
    search = config.search
    assert search["learning_rate"] == Range(1e-4, 0.3, True, None)
    assert search["batch_size"] == Choice((1, 16, "full"))
    assert search["width"] == Range(16, 128, False, 16) and search["width"].is_int
    assert search["momentum"] == Range(0.0, 0.9) and not search["momentum"].is_int
    assert search["epochs"] == Fixed(7)
    assert list(search) == list(SEARCH_DEFAULTS)


def test_csv_dataset_task_comes_from_the_objective(tmp_path):
    config = parse_config({"data": {"dataset": "data/houses.csv", "target": "price"},
                           "study": {"objective": "val_mae"}}, "x.toml")
    assert config.task == "regression" and config.directions == ("minimize",)
    assert config.data.options == {"target": "price"}


def test_metric_direction():
    assert metric_direction("val_log_loss") == "minimize"
    assert metric_direction("test_rmse") == "minimize"
    assert metric_direction("stability_jacobian_norm") == "minimize"
    assert metric_direction("val_ks") == "maximize"
    assert metric_direction("val_r2") == "maximize"


# --------------------------------------------------------------------------------------------
# Overrides
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("learning_rate=0.01", ("learning_rate", 0.01)),
    ("activation=tanh", ("activation", "tanh")),
    ("batch_size=full", ("batch_size", "full")),
    ("batch_size = 32", ("batch_size", 32)),
    ("train.nesterov=true", ("train.nesterov", True)),
    ("activation=[relu, tanh]", ("activation", ["relu", "tanh"])),
    ('activation=["relu", "tanh"]', ("activation", ["relu", "tanh"])),
    ("width={ low = 8, high = 32 }", ("width", {"low": 8, "high": 32})),
    ("study.name=a=b", ("study.name", "a=b")),
])
def test_parse_set_option(text, expected):
    assert parse_set_option(text) == expected


@pytest.mark.parametrize("text", ["learning_rate", "=3", "a b=1", "epochs="])
def test_parse_set_option_rejects(text):
    with pytest.raises(ConfigError, match="--set"):
        parse_set_option(text)


def test_parse_value_keeps_plain_words():
    assert parse_value("relu") == "relu"
    assert parse_value("1e-3") == 0.001


def test_overrides_reach_search_and_other_sections(tmp_path):
    path = write(tmp_path, """\
        [data]
        dataset = "digits"
        [search]
        learning_rate = { low = 1e-4, high = 0.3, log = true }
        width = { low = 16, high = 128 }
        """)
    config = load_config(path, {
        "learning_rate": 0.05, "activation": "tanh", "batch_size": "full", "depth": 3,
        "width.high": 64, "train.seed": 7, "study.trials": 5, "data.val_size": 0.25,
    })
    assert config.search["learning_rate"] == Fixed(0.05)
    assert config.search["activation"] == Fixed("tanh")
    assert config.search["batch_size"] == Fixed("full")
    assert config.search["depth"] == Fixed(3)
    assert config.search["width"] == Range(16, 64)
    assert (config.train.seed, config.study.trials) == (7, 5)
    assert config.data.options["val_size"] == 0.25
    assert load_config(path).search["learning_rate"] != Fixed(0.05)   # file untouched


def test_override_values_are_set_as_given_not_parsed_again(tmp_path):
    """--set text is parsed once (parse_set_option); --name passes its text as it is."""
    path = write(tmp_path, '[data]\ndataset = "digits"\n')
    assert load_config(path, {"study.name": "2024"}).name == "2024"
    key, value = parse_set_option('data.target="123"')   # the shell's --set data.target='"123"'
    data = config_module.apply_overrides({"data": {"dataset": "x.csv"}}, {key: value}, "t")
    assert data["data"]["target"] == "123"
    assert config_module.apply_overrides({}, {"activation": "[relu, tanh]"}, "t") == {
        "search": {"activation": "[relu, tanh]"}}


@pytest.mark.parametrize(("overrides", "key"), [
    ({"learning_rate": 0}, "search.learning_rate"),
    ({"activation": "swish"}, "search.activation"),
    ({"lr": "0.1"}, "search.lr"),
    ({"train.epochs": "3"}, "train.epochs"),
    ({"study.trials": "zero"}, "study.trials"),
    ({"depth.low": "1"}, "search.depth"),
])
def test_bad_overrides_name_the_key(tmp_path, overrides, key):
    path = write(tmp_path, '[data]\ndataset = "digits"\n[search]\ndepth = 2\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    assert str(info.value).startswith(f"{path}: {key}")


# --------------------------------------------------------------------------------------------
# Every invalid case: one line, the file, the key path, what would be right
# --------------------------------------------------------------------------------------------

DIGITS = '[data]\ndataset = "digits"\n'

INVALID = {
    # name: (file text, key path, words the message must contain)
    "syntax": ('[study]\ntrials = 4\nname = \n', "line 3", "invalid TOML"),
    "unknown_section": (DIGITS + "[extras]\na = 1\n", "extras", "valid: study, data"),
    "top_level_key": ("trials = 4\n" + DIGITS, "trials", "under [study]"),
    "section_not_table": ("search = 3\n" + DIGITS, "search", "must be a table"),
    "section_as_key": (DIGITS + "search = 3\n", "data.search", "is a section"),
    "unknown_key": (DIGITS + "[study]\ntrails = 4\n", "study.trails", 'did you mean "trials"'),
    "key_in_wrong_section": (DIGITS + "[train]\nepochs = 4\n", "train.epochs",
                             "belongs in [search]"),
    "unknown_search_key": (DIGITS + "[search]\nlearning_rat = 0.1\n", "search.learning_rat",
                           "learning_rate"),
    "trials_bool": (DIGITS + "[study]\ntrials = true\n", "study.trials", "integer"),
    "trials_zero": (DIGITS + "[study]\ntrials = 0\n", "study.trials", ">= 1"),
    "trials_float": (DIGITS + "[study]\ntrials = 4.0\n", "study.trials", "integer"),
    "timeout_negative": (DIGITS + "[study]\ntimeout = -1\n", "study.timeout", ">= 0"),
    "seed_negative": (DIGITS + "[study]\nseed = -1\n", "study.seed", ">= 0"),
    "bad_name": (DIGITS + '[study]\nname = "my study"\n', "study.name", "letters, digits"),
    "unknown_objective": (DIGITS + '[study]\nobjective = "val_f1"\n', "study.objective",
                          "did you mean"),
    "objective_wrong_task": ('[data]\ndataset = "diabetes"\n[study]\nobjective = "val_f1_macro"\n',
                             "study.objective", "not a regression metric"),
    "flip_rate_regression": ('[data]\ndataset = "diabetes"\n[study]\n'
                             'objective = "stability_flip_rate"\n', "study.objective",
                             "val_rmse"),
    "direction_bad": (DIGITS + '[study]\ndirection = "up"\n', "study.direction",
                      "maximize, minimize"),
    "directions_length": (DIGITS + '[study]\nobjectives = ["val_accuracy", "val_log_loss"]\n'
                          'directions = ["maximize"]\n', "study.directions",
                          "one direction per objective"),
    "direction_with_objectives": (DIGITS + '[study]\nobjectives = ["val_accuracy", '
                                  '"val_log_loss"]\ndirection = "maximize"\n',
                                  "study.direction", "directions"),
    "objective_and_objectives": (DIGITS + '[study]\nobjective = "val_accuracy"\n'
                                 'objectives = ["val_accuracy", "val_ks"]\n',
                                 "study.objectives", "not both"),
    "objectives_single": (DIGITS + '[study]\nobjectives = ["val_accuracy"]\n',
                          "study.objectives", "at least 2"),
    "objectives_duplicate": (DIGITS + '[study]\nobjectives = ["val_ks", "val_ks"]\n',
                             "study.objectives", "only once"),
    "pruner_multi": (DIGITS + '[study]\nobjectives = ["val_accuracy", "val_log_loss"]\n'
                     'pruner = "median"\n', "study.pruner", "single objective"),
    "cmaes_multi": (DIGITS + '[study]\nobjectives = ["val_accuracy", "val_log_loss"]\n'
                    'sampler = "cmaes"\n', "study.sampler", "one objective"),
    "unknown_sampler": (DIGITS + '[study]\nsampler = "bayes"\n', "study.sampler",
                        "tpe, random, cmaes, gp, nsga2, grid"),
    "unknown_pruner": (DIGITS + '[study]\npruner = "asha"\n', "study.pruner",
                       "none, median, percentile, hyperband, successive_halving"),
    "grid_continuous": (DIGITS + '[study]\nsampler = "grid"\n[search]\n'
                        'learning_rate = { low = 0.01, high = 0.1 }\n',
                        "search.learning_rate", "range with step"),
    "no_dataset": ("[study]\ntrials = 3\n", "data.dataset", "required"),
    "unknown_dataset": ('[data]\ndataset = "mnist"\n', "data.dataset", "digits"),
    "dataset_task_conflict": ('[data]\ndataset = "iris"\ntask = "regression"\n', "data.task",
                              "classification dataset"),
    "val_size_range": (DIGITS + "val_size = 1.5\n", "data.val_size", "in (0.0, 1.0)"),
    "split_too_big": (DIGITS + "val_size = 0.5\ntest_size = 0.5\n", "data.test_size", "< 1"),
    "csv_without_task": ('[data]\ndataset = "x.csv"\n', "study.objective", "required"),
    "scaling_unknown": (DIGITS + 'scaling = "zscore"\n', "data.scaling", "standard"),
    "data_unknown_key": (DIGITS + 'colour = "red"\n', "data.colour", "valid keys"),
    "output_unknown": (DIGITS + '[train]\noutput = "softplus"\n', "train.output", "softmax"),
    "dtype_unknown": (DIGITS + '[train]\ndtype = "float16"\n', "train.dtype", "float32"),
    "nesterov_int": (DIGITS + "[train]\nnesterov = 1\n", "train.nesterov", "true or false"),
    "early_stopping_negative": (DIGITS + "[train]\nearly_stopping = -2\n",
                                "train.early_stopping", ">= 0"),
    # [search] values
    "lr_zero": (DIGITS + "[search]\nlearning_rate = 0\n", "search.learning_rate", "> 0"),
    "lr_negative_choice": (DIGITS + "[search]\nlearning_rate = [0.1, -0.1]\n",
                           "search.learning_rate", "> 0"),
    "lr_string": (DIGITS + '[search]\nlearning_rate = "fast"\n', "search.learning_rate",
                  "number"),
    "batch_size_zero": (DIGITS + "[search]\nbatch_size = 0\n", "search.batch_size", '"full"'),
    "batch_size_word": (DIGITS + '[search]\nbatch_size = ["half"]\n', "search.batch_size",
                        '"full"'),
    "batch_size_bool": (DIGITS + "[search]\nbatch_size = true\n", "search.batch_size",
                        "positive integer"),
    "depth_zero": (DIGITS + "[search]\ndepth = 0\n", "search.depth", ">= 1"),
    "depth_bool": (DIGITS + "[search]\ndepth = true\n", "search.depth", "integer"),
    "width_zero_range": (DIGITS + "[search]\nwidth = { low = 0, high = 8 }\n", "search.width",
                         "low must be >= 1"),
    "width_float": (DIGITS + "[search]\nwidth = 1.5\n", "search.width", "integer"),
    "lambda_negative": (DIGITS + "[search]\nlambda = -0.1\n", "search.lambda", ">= 0"),
    "momentum_one": (DIGITS + "[search]\nmomentum = 1.0\n", "search.momentum", "[0, 1)"),
    "momentum_negative": (DIGITS + "[search]\nmomentum = { low = -0.1, high = 0.9 }\n",
                          "search.momentum", "[0, 1)"),
    "epochs_zero": (DIGITS + "[search]\nepochs = 0\n", "search.epochs", ">= 1"),
    "inverted_range": (DIGITS + "[search]\nlearning_rate = { low = 0.3, high = 0.1 }\n",
                       "search.learning_rate", "low must be < high"),
    "degenerate_range": (DIGITS + "[search]\ndepth = { low = 2, high = 2 }\n", "search.depth",
                         "use a fixed value"),
    "log_touches_zero": (DIGITS + "[search]\nlambda = { low = 0, high = 0.01, log = true }\n",
                         "search.lambda", "low must be > 0 for a log range"),
    "log_crosses_zero": (DIGITS + "[search]\nlearning_rate = { low = -1, high = 1, log = true }\n",
                         "search.learning_rate", "low must be > 0 for a log range"),
    "range_missing_high": (DIGITS + "[search]\nwidth = { low = 8 }\n", "search.width",
                           "both low and high"),
    "range_unknown_field": (DIGITS + "[search]\nwidth = { low = 8, high = 16, stp = 2 }\n",
                            "search.width.stp", 'did you mean "step"'),
    "range_log_not_bool": (DIGITS + '[search]\nwidth = { low = 8, high = 16, log = "yes" }\n',
                           "search.width.log", "true or false"),
    "step_zero": (DIGITS + "[search]\nwidth = { low = 16, high = 128, step = 0 }\n",
                  "search.width", "step must be > 0"),
    "step_negative": (DIGITS + "[search]\nmomentum = { low = 0.1, high = 0.9, step = -0.1 }\n",
                      "search.momentum", "step must be > 0"),
    "step_with_log": (DIGITS + "[search]\nwidth = { low = 16, high = 128, step = 16, log = true }"
                      "\n", "search.width", "step cannot be combined with log"),
    "step_not_multiple": (DIGITS + "[search]\nwidth = { low = 16, high = 100, step = 16 }\n",
                          "search.width", "multiple of step"),
    "step_float_for_int": (DIGITS + "[search]\nwidth = { low = 16, high = 128, step = 1.5 }\n",
                           "search.width", "integer"),
    "range_for_names": (DIGITS + "[search]\nactivation = { low = 1, high = 2 }\n",
                        "search.activation", "list of names"),
    "empty_choices": (DIGITS + "[search]\nactivation = []\n", "search.activation",
                      "at least one"),
    "duplicate_choices": (DIGITS + '[search]\nactivation = ["relu", "tanh", "relu"]\n',
                          "search.activation", "duplicate"),
    "duplicate_numbers": (DIGITS + "[search]\nbatch_size = [16, 32, 16]\n",
                          "search.batch_size", "duplicate"),
    "unknown_activation": (DIGITS + '[search]\nactivation = ["relu", "tahn"]\n',
                           "search.activation", 'did you mean "tanh"'),
    "softmax_hidden": (DIGITS + '[search]\nactivation = "softmax"\n', "search.activation",
                       "leaky_relu"),
    "unknown_initializer": (DIGITS + '[search]\ninitializer = "glorot"\n',
                            "search.initializer", "xavier_normal"),
    "unknown_regularizer": (DIGITS + '[search]\nregularizer = "l3"\n', "search.regularizer",
                            "elastic"),
    "unknown_optimizer": (DIGITS + '[search]\noptimizer = ["sgd", "rmsprop"]\n',
                          "search.optimizer", "momentum, adam"),
    "unknown_loss": (DIGITS + '[search]\nloss = "hinge"\n', "search.loss", "cross_entropy"),
    "unknown_schedule": (DIGITS + '[search]\nschedule = "linear"\n', "search.schedule",
                         "cosine"),
    "bce_multiclass": ('[data]\ndataset = "iris"\n[search]\n'
                       'loss = ["cross_entropy", "binary_cross_entropy"]\n', "search.loss",
                       "needs 2 classes"),
    "ce_regression": ('[data]\ndataset = "diabetes"\n[search]\nloss = "cross_entropy"\n',
                      "search.loss", "regression"),
    # [stability]
    "noise_zero": (DIGITS + "[stability]\nnoise_levels = [0.1, 0]\n", "stability.noise_levels",
                   "> 0"),
    "noise_empty": (DIGITS + "[stability]\nnoise_levels = []\n", "stability.noise_levels",
                    "non-empty"),
    "draws_zero": (DIGITS + "[stability]\ndraws = 0\n", "stability.draws", ">= 1"),
    "retrain_k_one": (DIGITS + "[stability]\nretrain_k = 1\n", "stability.retrain_k", ">= 2"),
    "retrain_top_negative": (DIGITS + "[stability]\nretrain_top = -1\n",
                             "stability.retrain_top", ">= 0"),
    "retrain_method": (DIGITS + '[stability]\nretrain_method = "jackknife"\n',
                       "stability.retrain_method", "bootstrap, replace"),
    # [tracking]
    "unknown_chart": (DIGITS + '[tracking]\ncharts = ["loss_curve", "heatmap"]\n',
                      "tracking.charts", "decision_boundary"),
    "duplicate_chart": (DIGITS + '[tracking]\ncharts = ["roc", "roc"]\n', "tracking.charts",
                        "only once"),
    "charts_not_list": (DIGITS + '[tracking]\ncharts = "roc"\n', "tracking.charts", "list"),
    "chart_regression": ('[data]\ndataset = "diabetes"\n[tracking]\ncharts = ["roc"]\n',
                         "tracking.charts", "classification task"),
    "boundary_not_2d": (DIGITS + '[tracking]\ncharts = ["decision_boundary"]\n',
                        "tracking.charts", "2 input features"),
    "charts_for": (DIGITS + '[tracking]\ncharts_for = "best"\n', "tracking.charts_for",
                   "all, improving, none"),
    "model_for": (DIGITS + '[tracking]\nmodel_for = true\n', "tracking.model_for",
                  "all, improving, none"),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_file_names_file_and_key(tmp_path, case):
    text, key, words = INVALID[case]
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {key}: "), message
    assert words in message, message
    assert "\n" not in message
    assert info.value.key == key and info.value.source == str(path)


def test_the_documented_example_message(tmp_path):
    path = write(tmp_path, DIGITS + "[search]\nlearning_rate = { low = 0, high = 0.3, log = true }"
                 "\n", "x.toml")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: search.learning_rate: low must be > 0 for a log range, got 0"


def test_missing_file(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=r"nope\.toml: file not found"):
        load_config(path)


def test_directory_is_not_a_file(tmp_path):
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


def test_syntax_error_reports_the_line(tmp_path):
    path = write(tmp_path, '[data]\ndataset = "digits"\n\n[search]\nwidth = [1, 2\n')
    with pytest.raises(ConfigError, match="invalid TOML: Unclosed array .*end of document"):
        load_config(path)
    path = write(tmp_path, '[data]\ndataset = "digits"\n\n[search]\nwidth = = 3\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == "line 5"
    assert str(info.value).startswith(f"{path}: line 5: invalid TOML: ")
    assert "(column 9)" in str(info.value)


@pytest.mark.parametrize("sampler", sorted(config_module.SAMPLER_REQUIREMENTS))
def test_sampler_missing_its_package(tmp_path, sampler, monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None)
    path = write(tmp_path, DIGITS + f'[study]\nsampler = "{sampler}"\n')
    with pytest.raises(ConfigError, match=r"study\.sampler: sampler .*pip install"):
        load_config(path)


def test_cmaes_with_only_categorical_params_is_fine(tmp_path):
    path = write(tmp_path, DIGITS + '[study]\nsampler = "cmaes"\n[search]\nactivation = '
                 '["relu", "tanh"]\n')
    assert load_config(path).study.sampler == "cmaes"


def test_grid_accepts_choices_and_stepped_ranges(tmp_path):
    path = write(tmp_path, DIGITS + """\
        [study]
        sampler = "grid"
        [search]
        learning_rate = { low = 0.1, high = 0.3, step = 0.1 }
        depth = { low = 1, high = 3 }
        activation = ["relu", "tanh"]
        momentum = { low = 0.5, high = 0.9 }   # continuous but unused: optimizer is adam
        """)
    config = load_config(path)
    assert config.search["learning_rate"].grid_values() == pytest.approx([0.1, 0.2, 0.3])
    assert config.search["depth"].grid_values() == [1, 2, 3]


def test_config_error_is_a_picklable_value_error():
    error = ConfigError("x.toml", "study.trials", "must be >= 1", 0)
    assert isinstance(error, ValueError)
    assert str(error) == "x.toml: study.trials: must be >= 1, got 0"
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == str(error) and again.key == "study.trials"
    assert str(ConfigError("x.toml", "", "file not found")) == "x.toml: file not found"
