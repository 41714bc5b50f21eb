"""Reports built from real (small) studies on temporary stores.

One module-scoped fixture runs two studies once: ``quick`` (experiments/quick.toml with a wider
search and a median pruner; its first trials are enqueued so that the study surely has
completed, pruned and failed (diverged) trials and the best one logs charts) and ``tiny``
(a second study to compare with). The report is built once from them; the tests read the
records, the CSV, the HTML and the Markdown.
"""

from __future__ import annotations

import copy
import csv
import io
import re
import shutil
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import hypothesis
import hypothesis.strategies as st
import optuna
import pytest
from conftest import EXPERIMENTS, STORE_ENV, make_stores, tiny_experiment, write_experiment

from hpstudy.cli import main
from hpstudy.report import ReportError, build_report, output_folder, safe_name
from hpstudy.report.records import StudyRecord
from hpstudy.report.render import render_html

pytestmark = pytest.mark.slow
State = optuna.trial.TrialState

GOOD = {"learning_rate": 0.05, "batch_size": 16, "depth": 1, "width": 8, "optimizer": "adam",
        "initializer": "he_normal", "regularizer": "none"}
#: five completed trials (both activation families, two initializers), one too slow to keep
#: up (pruned by the median pruner) and one that diverges (sgd with an absurd learning rate)
ENQUEUED = [
    {**GOOD, "activation": "relu"},
    {**GOOD, "activation": "tanh", "initializer": "xavier_normal", "depth": 2},
    {**GOOD, "activation": "relu", "regularizer": "l2", "lambda": 1e-4, "batch_size": 64},
    {**GOOD, "activation": "tanh", "learning_rate": 0.02},
    {**GOOD, "activation": "relu", "initializer": "xavier_normal", "width": 4},
    {**GOOD, "activation": "tanh", "learning_rate": 1e-5},
    {**GOOD, "activation": "relu", "learning_rate": 1e6, "optimizer": "sgd"},
]


def quick_config(directory: Path) -> Path:
    """experiments/quick.toml with a median pruner, a search wide enough for the enqueued
    trials, and every classification chart logged by improving trials."""
    text = (EXPERIMENTS / "quick.toml").read_text()
    text = text.replace('pruner = "none"', 'pruner = "median"').replace("epochs = 5", "epochs = 6")
    text = text.replace("learning_rate = { low = 1e-3, high = 0.1, log = true }",
                        "learning_rate = { low = 1e-5, high = 1e6, log = true }\n"
                        'initializer = ["he_normal", "xavier_normal"]\n'
                        'regularizer = ["none", "l2"]\n'
                        "lambda = { low = 1e-5, high = 1e-2, log = true }")
    text = text.replace('optimizer = "adam"', 'optimizer = ["adam", "sgd"]')
    text = text.replace('charts = ["loss_curve", "decision_boundary"]',
                        'charts = ["loss_curve", "confusion_matrix", "gain", "lift", "ks", '
                        '"gradient_norms"]')
    return write_experiment(directory, text, "quick.toml")


@pytest.fixture(scope="module")
def made(tmp_path_factory, mlflow_template):
    """Run both studies once, build the report of ``quick`` once; yield what the tests need."""
    root = tmp_path_factory.mktemp("report")
    stores = make_stores(root, mlflow_template)
    with pytest.MonkeyPatch.context() as mp:
        for var in STORE_ENV:
            mp.delenv(var, raising=False)
        mp.chdir(root)
        study = optuna.create_study(study_name="quick", storage=stores.optuna_storage(),
                                    direction="maximize")
        for params in ENQUEUED:
            study.enqueue_trial(params)
        out = io.StringIO()
        with redirect_stdout(out):
            assert main(["study", str(quick_config(root)), "--trials", str(len(ENQUEUED)),
                         "--no-progress", *stores.args()]) == 0
            assert main(["study", str(tiny_experiment(root, "tiny", trials=3)), "--no-progress",
                         *stores.args()]) == 0
        result = build_report("quick", out=root / "reports", top=3, storage=str(stores.journal),
                              tracking_uri=stores.uri)
        yield {"root": root, "stores": stores, "result": result,
               "record": result.records[0], "study": stores.load_study("quick")}


# ----------------------------------------------------------------------------------------------
# records
# ----------------------------------------------------------------------------------------------
def test_records_hold_the_counts_and_the_best_trial(made):
    record, study = made["record"], made["study"]
    states = [t.state for t in study.trials]
    assert record.counts["completed"] == states.count(State.COMPLETE) >= 5
    assert record.counts["pruned"] == states.count(State.PRUNED) >= 1
    assert record.counts["diverged"] == 1 and states.count(State.FAIL) == 1
    assert [t.number for t in record.trials] == [t.number for t in study.trials]
    assert record.best == study.best_trial.number
    assert record.best_trial.value == pytest.approx(study.best_value)
    assert record.top == [t.number for t in sorted(
        (t for t in study.trials if t.state == State.COMPLETE),
        key=lambda t: (-t.value, t.number))][:3]
    failed = next(t for t in record.trials if t.state == "FAIL")
    assert failed.outcome == "diverged" and failed.values is None and "diverged" in failed.reason
    pruned = next(t for t in record.trials if t.state == "PRUNED")
    assert pruned.values is None and pruned.last_value is not None


def test_records_join_each_trial_to_its_run(made):
    record, stores = made["record"], made["stores"]
    runs = {r.info.run_id: r for r in stores.trial_runs("quick")}
    for trial in record.trials:
        run = runs[trial.run_id]
        assert run.data.tags["hpstudy.trial"] == str(trial.number)
        assert trial.run_url.endswith(f"#/experiments/{record.experiment_id}/runs/{trial.run_id}")
        assert trial.run_url.startswith("http://127.0.0.1:5000/")
    best = record.best_trial
    assert best.metrics["test_accuracy"] == pytest.approx(runs[best.run_id].data.metrics[
        "test_accuracy"])
    assert record.dataset == "moons" and len(record.fingerprint) >= 8
    assert (record.sampler, record.pruner, record.objectives) == ("tpe", "median",
                                                                  ["val_accuracy"])


def test_records_read_histories_and_the_winners_artifacts(made):
    record = made["record"]
    for number in record.top:
        epochs, losses = _history(record, number, "val_loss")
        assert epochs == list(range(1, len(epochs) + 1)) and len(epochs) >= 3
    assert set(record.gradient_pair) == {"saturating", "relu"}
    assert {"confusion_matrix", "gain", "lift", "ks"} <= set(record.winner_charts)
    assert all(png[:8] == b"\x89PNG\r\n\x1a\n" for png in record.winner_charts.values())
    assert record.gain_lift and {"bin", "lift", "cumulative_gain"} <= set(record.gain_lift[0])


def _history(record: StudyRecord, number: int, key: str):
    from hpstudy.report.analysis import history

    return history(record, number, key)


# ----------------------------------------------------------------------------------------------
# files
# ----------------------------------------------------------------------------------------------
def test_the_report_lands_in_reports_study(made):
    result = made["result"]
    assert result.folder == (made["root"] / "reports" / "quick").resolve()
    assert {p.name for p in result.folder.iterdir()} >= {"report.html", "report.md",
                                                         "trials.csv", "figures"}


def test_csv_has_one_row_per_trial(made):
    record, result = made["record"], made["result"]
    rows = list(csv.DictReader(result.csv.open(encoding="utf-8")))
    assert [int(r["number"]) for r in rows] == [t.number for t in record.trials]
    columns = set(rows[0])
    assert {"number", "state", "run_id", "duration_seconds", "value"} <= columns
    assert set(ENQUEUED[0]) <= columns  # every parameter
    assert {"test_accuracy", "val_f1_macro", "stability_noise_sensitivity"} <= columns
    states = {r["state"] for r in rows}
    assert states == {"COMPLETE", "PRUNED", "FAIL"}
    best = next(r for r in rows if int(r["number"]) == record.best)
    assert float(best["value"]) == pytest.approx(record.best_trial.value)


def test_html_has_the_leaderboard_and_embeds_every_image(made):
    record, html = made["record"], made["result"].html.read_text(encoding="utf-8")
    assert "Leaderboard" in html and "What mattered" in html and "How they learned" in html
    for number in record.top:
        assert f'href="{record.trial(number).run_url}"' in html
    images = re.findall(r'<img src="([^"]*)"', html)
    assert len(images) >= 10
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert len(images) == len(list((made["result"].folder / "figures").glob("*.png")))
    for external in ("<script", "<link", "@import", "url(", 'src="http', "src='http"):
        assert external not in html


def test_markdown_links_the_pngs_beside_it(made):
    folder = made["result"].folder
    text = (folder / "report.md").read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert links and all((folder / link).is_file() for link in links)
    assert "## Leaderboard" in text


def test_the_report_is_logged_to_the_parent_run(made):
    stores, result = made["stores"], made["result"]
    (parent,) = stores.parent_runs("quick")
    assert result.logged_to == [parent.info.run_id]
    paths = {a.path for a in stores.client().list_artifacts(parent.info.run_id, "report")}
    assert {"report/report.html", "report/report.md", "report/trials.csv"} <= paths


# ----------------------------------------------------------------------------------------------
# escaping and file names
# ----------------------------------------------------------------------------------------------
EVIL = '<script>alert("x")</script>'


def test_names_and_values_from_users_are_escaped(made):
    record = copy.deepcopy(made["record"])
    record.name = EVIL
    record.trial(record.best).params["activation"] = EVIL
    record.gain_lift = [{**row, "class": EVIL} for row in record.gain_lift]
    html = render_html([record], {}, "now")
    assert "<script" not in html and "&lt;script&gt;" in html
    from hpstudy.report.markdown import render_markdown

    text = render_markdown([record], {}, made["root"], "now")
    assert "<script" not in text and "&lt;script&gt;" in text


@pytest.mark.parametrize("name", ["..", "../../etc", "a/../../b", "/abs", EVIL, "x" * 300, ""])
def test_a_study_name_never_leaves_the_output_folder(tmp_path, name):
    folder = output_folder(tmp_path / "out", [name])
    assert folder.parent == (tmp_path / "out").resolve()
    assert re.fullmatch(r"[A-Za-z0-9_.+-]+", folder.name) and folder.name not in (".", "..")
    assert not safe_name(name).startswith(".")


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(st.lists(st.text(min_size=0, max_size=120), min_size=1, max_size=3))
def test_any_study_names_give_a_folder_directly_inside_out(names):
    base = Path("/tmp/hpstudy-out").resolve()
    folder = output_folder(base, names)
    assert folder.parent == base and folder.resolve() == folder
    assert folder.name not in (".", "..") and not folder.name.startswith(".")


def test_no_study_named_is_a_report_error(tmp_path):
    with pytest.raises(ReportError, match="name at least one study"):
        output_folder(tmp_path, [])


# ----------------------------------------------------------------------------------------------
# several studies, errors, the command line
# ----------------------------------------------------------------------------------------------
def test_two_studies_compare(made, capsys):
    root, stores = made["root"], made["stores"]
    code = main(["report", "quick", "tiny", "--out", str(root / "reports"), "--top", "2",
                 *stores.args()])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    html_path = Path(out[-1])
    assert html_path == (root / "reports" / "quick+tiny" / "report.html").resolve()
    html = html_path.read_text(encoding="utf-8")
    assert 'id="compare"' in html and "Best trial of each study" in html
    assert html.count("<article>") == 2
    rows = list(csv.DictReader((html_path.parent / "trials.csv").open(encoding="utf-8")))
    assert {r["study"] for r in rows} == {"quick", "tiny"}
    assert (html_path.parent / "figures" / "compare.png").is_file()


def _report_error(made, *names) -> tuple[int, str]:
    err = io.StringIO()
    with redirect_stderr(err), redirect_stdout(io.StringIO()):
        code = main(["report", *names, "--out", str(made["root"] / "reports"),
                     *made["stores"].args()])
    return code, err.getvalue()


def test_a_missing_study_gives_one_clear_line(made):
    code, err = _report_error(made, "nope")
    assert code == 2
    assert err.count("\n") == 1 and "no study 'nope'" in err
    assert "quick (" in err and "tiny (" in err


def test_a_study_without_a_completed_trial_is_refused(made):
    stores = made["stores"]
    study = optuna.create_study(study_name="empty", storage=stores.optuna_storage())
    study.tell(study.ask(), state=State.FAIL)
    code, err = _report_error(made, "empty")
    assert code == 2 and err.count("\n") == 1
    assert "'empty' has no completed trial" in err and "quick (" in err
    with pytest.raises(ReportError):
        build_report("empty", out=made["root"] / "reports", storage=str(stores.journal),
                     tracking_uri=stores.uri)


def test_only_the_formats_asked_for_are_written(made, tmp_path):
    stores = made["stores"]
    result = build_report("tiny", out=tmp_path, formats="csv", storage=str(stores.journal),
                          tracking_uri=stores.uri, log=False)
    assert result.html is None and result.markdown is None
    assert sorted(p.name for p in result.folder.iterdir()) == ["trials.csv"]
    with pytest.raises(ReportError, match="--format"):
        build_report("tiny", out=tmp_path, formats="pdf", storage=str(stores.journal),
                     tracking_uri=stores.uri)
    shutil.rmtree(tmp_path / "tiny")


def test_a_missing_tracking_store_is_not_created(made, tmp_path):
    err = io.StringIO()
    db = tmp_path / "none" / "mlflow.db"
    with redirect_stderr(err), redirect_stdout(io.StringIO()):
        code = main(["report", "quick", "--tracking-uri", f"sqlite:///{db}", "--storage",
                     str(made["stores"].journal), "--out", str(tmp_path)])
    assert code == 2 and "no MLflow database" in err.getvalue() and err.getvalue().count("\n") == 1
    assert not db.exists()
