"""Random experiment files and CSV files, generated with Hypothesis, through ``hpstudy study``:
each one either runs (exit 0: one trial, logged in both stores) or is refused (exit 2: one line
``hpstudy study: error: ...`` and nothing stored). Never a traceback, never another exit code,
never a half-logged study; strings that look like code or shell commands stay strings.

Every case runs in a fresh folder with fresh stores, with ``--trials 1`` and small values (at
most a few epochs of a few hundred rows), so that the valid ones finish in about a second. The
examples are derandomized (the same ones in every run, so CI is stable) and counted; the
counts are printed (``pytest -s``).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import optuna
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hpstudy.cli import main

pytestmark = pytest.mark.slow

CONFIG_EXAMPLES, CSV_EXAMPLES = 45, 30
FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

#: strings that must stay data: code, shell syntax, a path escape, control characters
HOSTILE = ["__import__('os').system('touch PWNED')", "$(touch PWNED)", "`touch PWNED`",
           "; touch PWNED", "../../PWNED", "a\nb", "\x00", "<script>alert(1)</script>"]
NAMES = ["relu", "tanh", "sigmoid", "softmax", "adam", "sgd", "momentum", "moons", "iris",
         "val_accuracy", "val_f1_macro", "val_rmse", "full", "auto", "none", "random", "tpe",
         "grid", "median", "l2", "he_normal", "float32", "float64", "classification", "y"]


# ------------------------------------------------------------------------------------------
# TOML written by hand (the standard library only reads it)
# ------------------------------------------------------------------------------------------


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") \
            if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def toml_document(doc: dict) -> str:
    return "".join(f"[{toml_key(section)}]\n" + "".join(
        f"{toml_key(k)} = {toml_value(v)}\n" for k, v in table.items()) + "\n"
        for section, table in doc.items())


# ------------------------------------------------------------------------------------------
# Experiment files: a small valid one, then random edits
# ------------------------------------------------------------------------------------------


def base_config(name: str) -> dict:
    return {
        "study": {"name": name, "objective": "val_accuracy", "trials": 1, "sampler": "random",
                  "pruner": "none", "seed": 0},
        "data": {"dataset": "moons", "n_samples": 120, "noise": 0.1},
        "train": {"early_stopping": 0},
        "search": {"learning_rate": {"low": 1e-3, "high": 0.1, "log": True},
                   "batch_size": [16, 32], "depth": 1, "width": [4, 8],
                   "activation": ["relu", "tanh"], "epochs": 2},
        "stability": {"noise_levels": [0.05], "draws": 1, "retrain_top": 0},
        "tracking": {"charts": [], "charts_for": "none", "model_for": "none"},
    }


KEYS = {
    "study": ["name", "objective", "objectives", "trials", "sampler", "pruner", "seed",
              "timeout", "direction", "trails"],
    "data": ["dataset", "n_samples", "noise", "target", "task", "val_size", "test_size",
             "scaling", "missing", "seed", "features", "categorical", "sep"],
    "train": ["early_stopping", "dtype", "seed", "output", "leaky_alpha", "nesterov", "epochs"],
    "search": ["learning_rate", "batch_size", "depth", "width", "activation", "initializer",
               "regularizer", "lambda", "optimizer", "momentum", "epochs", "loss", "schedule",
               "dropout"],
    "stability": ["noise_levels", "draws", "retrain_top", "retrain_k", "retrain_method"],
    "tracking": ["charts", "charts_for", "model_for", "log_models"],
    "extra": ["anything"],
}

scalars = st.one_of(
    st.sampled_from([-1, 0, 1, 2, 3, 5]),
    st.sampled_from([-1.0, 0.0, 1e-9, 1e-3, 0.05, 0.5, 1.0, 2.0, math.nan, math.inf]),
    st.booleans(),
    st.sampled_from(NAMES + HOSTILE),
    st.text(max_size=6),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.fixed_dictionaries({}, optional={"low": scalars, "high": scalars, "log": scalars,
                                        "step": scalars, "x": scalars}),
)


@st.composite
def config_docs(draw) -> dict:
    """The base config with 0 to 3 random edits: set a (known or unknown) key to a random
    value, delete a key, or delete a section."""
    doc = base_config("fuzz")
    for _ in range(draw(st.integers(0, 3))):
        section = draw(st.sampled_from(sorted(KEYS)))
        table = doc.setdefault(section, {})
        action = draw(st.sampled_from(["set", "set", "set", "delete", "drop section"]))
        if action == "set":
            table[draw(st.sampled_from(KEYS[section]))] = draw(values)
        elif action == "delete" and table:
            del table[draw(st.sampled_from(sorted(table)))]
        elif action == "drop section":
            del doc[section]
    return doc


# ------------------------------------------------------------------------------------------
# CSV files: a few columns of numbers, words, gaps; a target column or not
# ------------------------------------------------------------------------------------------

cells = {
    "int": st.integers(-3, 3).map(str),
    "float": st.floats(-10, 10, allow_nan=False).map(lambda x: f"{x:.3g}"),
    "word": st.sampled_from(["a", "b", "c"]),
    "gappy": st.sampled_from(["1", "2", "", "NaN", "nan", "inf"]),
    "junk": st.sampled_from(["", "x", "1", "\"q\"", "1,5", "é"]),
}


@st.composite
def csv_cases(draw) -> tuple[str, dict]:
    """``(csv text, [data] table)``: 0-60 rows, 1-4 columns, maybe a header problem; the
    choices are weighted so that about half of the files can be used."""
    kinds = draw(st.lists(st.sampled_from(["int", "int", "float", "float", "word", "gappy",
                                           "junk"]), min_size=1, max_size=4))
    names = [f"c{i}" for i in range(len(kinds))]
    target = draw(st.sampled_from(["y", "y", "y", "y", "missing", "c0"]))
    if target == "y":
        names.append("y")
        kinds.append(draw(st.sampled_from(["word", "word", "int", "float", "gappy"])))
    if draw(st.integers(0, 3)) == 0 and len(names) > 1:
        names[1] = draw(st.sampled_from(["", names[0], "y y"]))  # empty or duplicate header
    rows = draw(st.one_of(st.integers(0, 5), st.integers(30, 60)))
    lines = [",".join(names)] + [",".join(draw(cells[k]) for k in kinds) for _ in range(rows)]
    data = {"target": "y" if target == "missing" else target}
    options = st.lists(st.sampled_from(["task", "missing", "categorical"]), max_size=2,
                       unique=True)
    for key in draw(st.one_of(st.just([]), options)):
        data[key] = draw(st.sampled_from({
            "task": ["classification", "regression", "clustering"],
            "missing": ["error", "drop", "mean", "zero"],
            "categorical": [["c0"], ["nope"], "c0"]}[key]))
    return "\n".join(lines) + "\n", data


# ------------------------------------------------------------------------------------------
# One case: fresh folder and stores, hpstudy study, then the checks
# ------------------------------------------------------------------------------------------


def run_case(template: Path, write) -> tuple[int, str, str, Path]:
    """Run ``hpstudy study`` on the experiment ``write(folder)`` writes, in a fresh folder;
    returns ``(exit code, stdout, stderr, folder)``. The folder is removed by the caller."""
    folder = Path(tempfile.mkdtemp(prefix="hpstudy-fuzz-"))
    shutil.copyfile(template, folder / "mlflow.db")
    config = write(folder)
    out, err, here = io.StringIO(), io.StringIO(), os.getcwd()
    os.chdir(folder)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["study", str(config), "--trials", "1", "--no-progress",
                         "--tracking-uri", f"sqlite:///{folder / 'mlflow.db'}",
                         "--storage", str(folder / "optuna.journal")])
    finally:
        os.chdir(here)
    return code, out.getvalue(), err.getvalue(), folder


def stored(folder: Path) -> tuple[int, int]:
    """``(Optuna trials, MLflow runs)`` in the folder's stores, over every study."""
    from mlflow import MlflowClient

    from hpstudy.experiment.storage import open_storage

    journal = folder / "optuna.journal"
    trials = 0
    if journal.exists():
        storage = open_storage(str(journal))
        trials = sum(len(optuna.load_study(study_name=s.study_name, storage=storage).trials)
                     for s in optuna.get_all_study_summaries(storage, False))
    client = MlflowClient(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}")
    runs = sum(len(client.search_runs([e.experiment_id]))
               for e in client.search_experiments())
    return trials, runs


def check_case(code: int, out: str, err: str, folder: Path) -> str:
    """The checks of the module docstring; returns ``"ran"`` or ``"refused"``."""
    assert code in (0, 2), (code, err[-2000:])
    assert "Traceback" not in err, err[-3000:]
    assert not list(folder.rglob("PWNED*")), "a string was executed"
    trials, runs = stored(folder)
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("hpstudy study: error: "), err
        assert (trials, runs) == (0, 0), (err, trials, runs)  # nothing half-logged
        return "refused"
    assert "1 completed" in out or "1 diverged" in out or "1 pruned" in out, out[-1500:]
    assert trials == 1 and runs == 2, (trials, runs)  # the trial's run and the parent run
    return "ran"


def test_random_experiment_files_run_or_are_refused(mlflow_template, restore_process_state):
    seen = Counter()

    @settings(FUZZ, max_examples=CONFIG_EXAMPLES)
    @given(config_docs())
    def case(doc):
        def write(folder: Path) -> Path:
            path = folder / "exp.toml"
            path.write_text(toml_document(doc), encoding="utf-8")
            return path

        code, out, err, folder = run_case(mlflow_template, write)
        try:
            seen[check_case(code, out, err, folder)] += 1
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    case()
    print(f"\nfuzz: {sum(seen.values())} experiment files: {dict(seen)}")
    assert seen["ran"] and seen["refused"]  # both kinds were generated


def test_random_csv_files_run_or_are_refused(mlflow_template, restore_process_state):
    seen = Counter()

    @settings(FUZZ, max_examples=CSV_EXAMPLES)
    @given(csv_cases())
    def case(csv_case):
        text, data = csv_case

        def write(folder: Path) -> Path:
            (folder / "data.csv").write_text(text, encoding="utf-8")
            doc = base_config("fuzzcsv")
            doc["data"] = {"dataset": str(folder / "data.csv"), **data}
            doc["study"]["objective"] = "val_accuracy" if data.get("task") != "regression" \
                else "val_rmse"
            path = folder / "exp.toml"
            path.write_text(toml_document(doc), encoding="utf-8")
            return path

        code, out, err, folder = run_case(mlflow_template, write)
        try:
            seen[check_case(code, out, err, folder)] += 1
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    case()
    print(f"\nfuzz: {sum(seen.values())} CSV files: {dict(seen)}")
    assert seen["ran"] and seen["refused"]


# ------------------------------------------------------------------------------------------
# What the fuzz found, kept as plain tests
# ------------------------------------------------------------------------------------------


def test_objective_of_the_other_task_is_refused_before_anything_is_stored(
        mlflow_template, restore_process_state):
    """A CSV file whose (inferred) task is regression, with a classification objective, used
    to fail every trial (KeyError 'accuracy') and stop after three logged failures."""
    def write(folder: Path) -> Path:
        rows = "\n".join(f"{i},{(i * 7) % 11},{i * 0.37:.2f}" for i in range(40))
        (folder / "data.csv").write_text(f"a,b,y\n{rows}\n")
        doc = base_config("othertask")
        doc["data"] = {"dataset": str(folder / "data.csv"), "target": "y"}
        (folder / "exp.toml").write_text(toml_document(doc))
        return folder / "exp.toml"

    code, out, err, folder = run_case(mlflow_template, write)
    try:
        assert check_case(code, out, err, folder) == "refused"
        assert "study.objective: not a regression metric" in err
        assert "is a regression task; set data.task if it is not" in err
    finally:
        shutil.rmtree(folder, ignore_errors=True)
