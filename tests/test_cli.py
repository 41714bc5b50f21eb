"""The ``hpstudy`` command line: exit codes, one-line errors with nothing stored, ``train``,
``datasets``, ``gradcheck`` and ``--help``."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXPERIMENTS, STORE_ENV, write_experiment

from hpstudy.cli import main
from hpstudy.data import DATASETS

VALID = """
[study]
objective = "val_accuracy"
trials = 2
pruner = "none"

[data]
dataset = "moons"
n_samples = 200

[search]
learning_rate = { low = 1e-3, high = 0.1, log = true }
epochs = 2
"""

#: name -> (experiment text or None for a missing file, text the error line must contain)
BAD_CONFIGS = {
    "log range touching 0": (
        VALID.replace("low = 1e-3", "low = 0"),
        "search.learning_rate: low must be > 0 for a log range, got 0"),
    "unknown key": (
        VALID.replace("trials = 2", "trails = 2"),
        'study.trails: unknown key (did you mean "trials"?)'),
    "unknown activation": (
        VALID + 'activation = ["relu", "swish"]\n',
        'search.activation: unknown activation'),
    "inverted range": (
        VALID.replace("low = 1e-3, high = 0.1", "low = 0.1, high = 1e-3"),
        "search.learning_rate: low must be < high"),
    "bad TOML syntax": (
        VALID.replace("[search]", "[search"),
        "invalid TOML"),
    "missing file": (None, "file not found"),
    "unknown dataset": (
        VALID.replace('"moons"', '"mnist"'),
        'data.dataset: unknown dataset (did you mean "moons"?)'),
    "CSV without the target column": (
        VALID.replace('dataset = "moons"\nn_samples = 200',
                      'dataset = "data.csv"\ntarget = "label"\ntask = "classification"'),
        "target column 'label' not found; columns are: a, b, y"),
}


def assert_one_line_error(err: str, command: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"hpstudy {command}: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


def assert_nothing_stored(tmp_path: Path) -> None:
    assert not (tmp_path / "store").exists(), sorted((tmp_path / "store").rglob("*"))
    assert not (tmp_path / "mlruns").exists()


@pytest.fixture
def clean_cwd(tmp_path, monkeypatch, restore_process_state):
    for var in STORE_ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def store_args(tmp_path: Path) -> list[str]:
    store = tmp_path / "store"
    return ["--tracking-uri", f"sqlite:///{store}/mlflow.db",
            "--storage", str(store / "optuna.journal"), "--no-progress"]


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_invalid_config_exits_2_with_one_line_and_stores_nothing(case, clean_cwd, capsys):
    text, needle = BAD_CONFIGS[case]
    (clean_cwd / "data.csv").write_text("a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n")
    path = clean_cwd / "exp.toml"
    if text is not None:
        write_experiment(clean_cwd, text)
    code = main(["study", str(path), *store_args(clean_cwd)])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == ""
    assert_one_line_error(err, "study", needle)
    if case != "CSV without the target column":  # data problems are reported by their file
        assert str(path) in err
    assert_nothing_stored(clean_cwd)


@pytest.mark.parametrize(("option", "needle"), [
    (["--workers", "0"], "--workers must be >= 1, got 0"),
    (["--trials", "0"], "--trials must be >= 1, got 0"),
    (["--trials", "-3"], "--trials must be >= 1, got -3"),
])
def test_bad_study_options_exit_2(option, needle, clean_cwd, capsys):
    config = write_experiment(clean_cwd, VALID)
    assert main(["study", str(config), *option, *store_args(clean_cwd)]) == 2
    assert_one_line_error(capsys.readouterr().err, "study", needle)
    assert_nothing_stored(clean_cwd)


def test_a_database_without_a_study_lock_exits_2_before_anything_is_stored(clean_cwd, capsys):
    config = write_experiment(clean_cwd, VALID)
    args = store_args(clean_cwd)
    args[args.index("--storage") + 1] = "mssql+pyodbc://hp:secret@dbhost/optuna"
    assert main(["study", str(config), *args]) == 2
    err = capsys.readouterr().err
    assert_one_line_error(err, "study", "mssql+pyodbc://hp:***@dbhost/optuna",
                          "cannot lock a study in a mssql database", "PostgreSQL or MySQL")
    assert "secret" not in err
    assert_nothing_stored(clean_cwd)


def test_bad_set_override_exits_2(clean_cwd, capsys):
    config = write_experiment(clean_cwd, VALID)
    code = main(["study", str(config), "--set", "activation=swish", *store_args(clean_cwd)])
    assert code == 2
    assert_one_line_error(capsys.readouterr().err, "study", "unknown activation")
    assert_nothing_stored(clean_cwd)


@pytest.mark.slow
def test_name_and_set_values_that_look_like_numbers_stay_text(stores, capsys):
    """``--name 2024`` matches the documented name pattern, and ``--set data.target='"123"'``
    names the CSV column "123": neither becomes the integer it looks like."""
    rows = "\n".join(f"{i % 7},{(i * 3) % 5},{i % 2}" for i in range(60))
    (stores.root / "data.csv").write_text("a,b,123\n" + rows + "\n")
    config = write_experiment(stores.root, VALID.replace('dataset = "moons"\nn_samples = 200',
                                                         'dataset = "data.csv"\ntask = '
                                                         '"classification"'))
    code = main(["study", str(config), "--name", "2024", "--set", 'data.target="123"',
                 "--trials", "1", "--no-progress", *stores.args()])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "study '2024': 1 completed" in out
    assert stores.runs("2024")   # the MLflow experiment is named "2024" too


def test_corrupt_journal_exits_2_and_is_left_untouched(stores, capsys):
    garbage = b"{not a journal\n\x00\x01"
    stores.journal.write_bytes(garbage)
    config = write_experiment(stores.root, VALID)
    assert main(["study", str(config), "--no-progress", *stores.args()]) == 2
    assert_one_line_error(capsys.readouterr().err, "study", str(stores.journal),
                          "cannot read the Optuna journal")
    assert stores.journal.read_bytes() == garbage


def test_unusable_tracking_store_exits_2_and_is_left_untouched(clean_cwd, capsys):
    db = clean_cwd / "mlflow.db"
    db.write_bytes(b"not a database " * 10)
    config = write_experiment(clean_cwd, VALID)
    code = main(["study", str(config), "--tracking-uri", f"sqlite:///{db}", "--storage",
                 str(clean_cwd / "optuna.journal"), "--no-progress"])
    assert code == 2
    assert_one_line_error(capsys.readouterr().err, "study",
                          "cannot open the MLflow tracking store")
    assert db.read_bytes() == b"not a database " * 10
    assert not (clean_cwd / "optuna.journal").exists()


# ------------------------------------------------------------------------------------------
# hpstudy train
# ------------------------------------------------------------------------------------------

FIX_QUICK = ["--set", "learning_rate=0.02", "--set", "batch_size=16", "--set", "depth=1",
             "--set", "width=8", "--set", "activation=tanh"]


@pytest.mark.slow
def test_train_logs_one_finished_run_and_prints_metrics(stores, capsys):
    code = main(["train", str(EXPERIMENTS / "quick.toml"), *FIX_QUICK, *stores.args()])
    out, err = capsys.readouterr()
    assert code == 0, err
    (run,) = stores.runs("quick")
    assert run.info.status == "FINISHED"
    assert run.info.run_name.startswith("train-")
    assert run.data.tags["hpstudy.role"] == "train"
    assert run.data.tags["hpstudy.state"] == "COMPLETE"
    assert "mlflow.parentRunId" not in run.data.tags
    params = run.data.params
    assert (params["learning_rate"], params["batch_size"], params["depth"], params["width"],
            params["activation"]) == ("0.02", "16", "1", "8", "tanh")
    assert run.info.run_id in out
    printed = dict(re.findall(r"^\s+((?:val|test|stability)_\S+)\s+(\S+)$", out, re.MULTILINE))
    assert {"val_accuracy", "test_f1_macro", "stability_noise_sensitivity"} <= set(printed)
    for key, text in printed.items():
        assert float(text) == pytest.approx(run.data.metrics[key], rel=1e-3, abs=1e-12), key
    assert stores.client().search_model_versions("name = 'quick'") == []
    assert not stores.journal.exists()  # a single run has no Optuna trial


def test_train_without_enough_set_lists_open_hyperparameters(clean_cwd, capsys):
    code = main(["train", str(EXPERIMENTS / "quick.toml"), "--set", "learning_rate=0.02",
                 *store_args(clean_cwd)[:4]])
    assert code == 2
    err = capsys.readouterr().err
    assert_one_line_error(err, "train", "a single run needs one value per hyperparameter",
                          "batch_size (choices 16, 64)", "depth (range 1..2)",
                          "width (choices 4, 8)", "activation (choices relu, tanh)")
    assert "learning_rate (" not in err
    assert_nothing_stored(clean_cwd)


def test_train_open_list_names_only_open_hyperparameters(clean_cwd, capsys):
    code = main(["train", str(EXPERIMENTS / "quick.toml"), *FIX_QUICK[:8],
                 *store_args(clean_cwd)[:4]])
    assert code == 2
    err = capsys.readouterr().err
    assert_one_line_error(err, "train", "activation (choices relu, tanh)")
    assert "learning_rate (" not in err and "width (" not in err
    assert_nothing_stored(clean_cwd)


@pytest.mark.slow
def test_train_that_diverges_exits_2_with_one_line_and_keeps_the_failed_run(stores, capsys):
    code = main(["train", str(EXPERIMENTS / "quick.toml"), *FIX_QUICK, "--set",
                 "learning_rate=1e30", "--set", "activation=relu", "--set", "optimizer=sgd",
                 *stores.args()])
    assert code == 2
    assert_one_line_error(capsys.readouterr().err, "train", "training diverged in epoch",
                          "is logged as FAILED", "smaller learning_rate")
    (run,) = stores.runs("quick")
    assert run.info.status == "FAILED"


def test_an_internal_error_is_a_bug_with_a_traceback_not_a_user_error(monkeypatch, capsys):
    """Only HpstudyError means bad input; a ValueError from inside is a bug and propagates."""
    import hpstudy.data

    def broken():
        raise ValueError("an internal bug")

    monkeypatch.setattr(hpstudy.data, "list_datasets", broken)
    with pytest.raises(ValueError, match="an internal bug"):
        main(["datasets"])


def test_every_user_error_class_is_an_hpstudy_error():
    from hpstudy.data.errors import DataError
    from hpstudy.errors import HpstudyError, UsageError
    from hpstudy.experiment.errors import ConfigError
    from hpstudy.experiment.runner import StudyError
    from hpstudy.experiment.storage import StorageError
    from hpstudy.experiment.tracking import TrackingError
    from hpstudy.report.records import ReportError

    for cls in (DataError, ConfigError, StorageError, StudyError, TrackingError, ReportError,
                UsageError):
        assert issubclass(cls, HpstudyError), cls


# ------------------------------------------------------------------------------------------
# datasets, gradcheck, --help
# ------------------------------------------------------------------------------------------


def test_datasets_lists_the_builtins(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    listed = [line.split()[0] for line in out.splitlines()[1:] if line.strip()
              and not line.startswith("Any CSV")]
    assert listed == list(DATASETS)
    assert "moons" in out and "regression" in out and ".csv" in out


def test_gradcheck_passes(capsys):
    assert main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\b\d+ passed, 0 failed", out), out[-500:]


def test_help_runs_as_a_program():
    script = Path(sys.executable).with_name("hpstudy")  # the console script of the venv
    command = [str(script)] if script.exists() else [sys.executable, "-m", "hpstudy.cli"]
    result = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for command in ("study", "train", "datasets", "gradcheck"):
        assert command in result.stdout


def test_help_does_not_import_heavy_libraries():
    code = ("import sys\nfrom hpstudy.cli import _parser\n_parser().format_help()\n"
            "print(sorted(m for m in ('mlflow', 'optuna', 'pandas', 'matplotlib', 'sklearn')"
            " if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_version():
    from hpstudy import __version__

    result = subprocess.run([sys.executable, "-m", "hpstudy.cli", "--version"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == f"hpstudy {__version__}"


def test_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["frobnicate"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_console_script_exits_with_the_command_code_without_a_last_collection(monkeypatch):
    """``hpstudy`` is ``cli.run``: the exit code of ``main``, the heap frozen on the way out
    (the interpreter's shutdown then skips collecting it; see ``cli.run``)."""
    import gc
    import tomllib

    from hpstudy import cli

    pyproject = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["hpstudy"] == "hpstudy.cli:run"
    monkeypatch.setattr(cli, "main", lambda: 2)
    try:
        with pytest.raises(SystemExit) as exit_info:
            cli.run()
        assert exit_info.value.code == 2 and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
