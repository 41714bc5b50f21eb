"""Plain records of what a study stored, read from the Optuna storage and the MLflow runs.

Nothing here trains, predicts or draws: :func:`read_study` joins each Optuna trial with its
MLflow run into a :class:`TrialRecord`, adds the study-level facts (dataset, objectives,
sampler, pruner, counts, wall time, best trial, parameter importances) and the few things the
report plots in detail (metric histories of the top, median and gradient-comparison trials; the
winner's logged charts and gain/lift table) into a :class:`StudyRecord`.

Sources
-------
- Optuna: states, values, intermediate values, durations, user attributes ``hparams``
  (every hyperparameter), ``metrics`` (final metrics), ``mlflow_run_id`` and the outcome.
- MLflow (one ``search_runs`` per study): params, latest metric values, tags and status of
  every run; metric histories only for the trials plotted; artifacts only of the best trial
  and the parent run (``summary.json``, ``config.json``).
"""

from __future__ import annotations

import csv
import io
import json
import statistics
import warnings
from dataclasses import dataclass, field

import optuna

from hpstudy.errors import HpstudyError
from hpstudy.evaluation.chart_registry import winner_charts
from hpstudy.experiment.outcomes import OUTCOME, best_trial, counts, ranked
from hpstudy.experiment.storage import open_storage, resolve_storage_url, study_names

State = optuna.trial.TrialState
#: activations whose gradients vanish in deep stacks, and the ReLU family that avoids it
SATURATING, RELU_FAMILY = ("sigmoid", "tanh"), ("relu", "leaky_relu")
#: the best trial's artifacts the report embeds, in the order it shows them
WINNER_CHARTS = winner_charts()
#: prefixes and names of the final metrics a trial logs once, at its end
FINAL_PREFIXES = ("val_", "test_", "stability_")
FINAL_NAMES = ("epochs_run", "n_parameters", "train_seconds")


class ReportError(HpstudyError, RuntimeError):
    """A report cannot be made as asked (unknown study, no completed trial, missing runs)."""


@dataclass
class TrialRecord:
    """One trial as the report sees it.

    Attributes
    ----------
    number : int
    state : str
        Optuna state: ``COMPLETE``, ``PRUNED``, ``FAIL``, ``RUNNING`` or ``WAITING``.
    outcome : str
        ``completed``, ``pruned``, ``diverged``, ``error``, ``interrupted``, ``running`` or
        ``queued`` (the last two: not finished, see :data:`UNFINISHED`).
    values : list of float or None
        The objective values (completed trials only).
    params : dict
        Every hyperparameter the trial used, searched and fixed.
    suggested : list of str
        The parameters Optuna suggested for this trial (a conditional one, such as ``lambda``
        without a regularizer, is not suggested and its value in ``params`` is unused).
    metrics : dict
        Final metrics (``val_*``, ``test_*``, ``stability_*``, ``epochs_run``, …).
    last : dict
        Latest value of every metric of the run (``train_loss``, ``epoch_seconds``,
        ``layer1_grad_norm``, …): for a pruned trial, its state when it stopped.
    last_value : float or None
        Last intermediate value reported to Optuna (what a pruned trial was pruned on).
    run_id, run_url : str or None
        The MLflow run and its address in the MLflow UI.
    seconds : float or None
        Duration of the trial.
    reason : str or None
        Why it did not complete.
    """

    number: int
    state: str
    outcome: str
    values: list[float] | None = None
    params: dict = field(default_factory=dict)
    suggested: list[str] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    last: dict = field(default_factory=dict)
    last_value: float | None = None
    run_id: str | None = None
    run_url: str | None = None
    seconds: float | None = None
    reason: str | None = None

    @property
    def value(self) -> float | None:
        """The first objective value (None unless completed)."""
        return self.values[0] if self.values else None

    @property
    def depth(self) -> int | None:
        depth = self.params.get("depth")
        return None if depth is None else int(depth)


@dataclass
class StudyRecord:
    """Everything a report of one study shows, as plain data (see the module docstring).

    ``ranked`` lists completed trial numbers best first by the first objective; ``best`` is the
    best trial (on a Pareto front, the front's best on the first objective); ``histories`` maps
    a trial number to ``{metric: [(epoch, value), ...]}`` for the plotted trials; ``winner_charts``
    maps a chart name to PNG bytes logged by the best trial; ``gain_lift`` holds the rows of its
    ``gain_lift.csv``.
    """

    name: str
    dataset: str
    fingerprint: str
    task: str
    objectives: list[str]
    directions: list[str]
    sampler: str
    pruner: str
    counts: dict
    wall_seconds: float | None
    trial_seconds: float
    started: str | None
    trials: list[TrialRecord]
    ranked: list[int]
    best: int | None
    top: list[int]
    pareto: list[int] | None = None
    searched: list[str] = field(default_factory=list)
    importances: dict[str, float] = field(default_factory=dict)
    importance_note: str | None = None
    step_metric: str = ""
    median: int | None = None
    gradient_pair: dict[str, int] = field(default_factory=dict)
    histories: dict[int, dict[str, list[float]]] = field(default_factory=dict)
    winner_charts: dict[str, bytes] = field(default_factory=dict)
    gain_lift: list[dict] | None = None
    experiment_id: str = ""
    parent_run_id: str | None = None
    parent_url: str | None = None
    tracking_uri: str = ""
    storage: str = ""

    def trial(self, number: int) -> TrialRecord:
        return self._by_number()[number]

    def _by_number(self) -> dict[int, TrialRecord]:
        return {t.number: t for t in self.trials}

    @property
    def best_trial(self) -> TrialRecord | None:
        return None if self.best is None else self.trial(self.best)

    def top_trials(self) -> list[TrialRecord]:
        return [self.trial(n) for n in self.top]

    def completed(self) -> list[TrialRecord]:
        return [t for t in self.trials if t.state == "COMPLETE" and t.values]

    @property
    def maximize(self) -> bool:
        return self.directions[0] == "maximize"


# ----------------------------------------------------------------------------------------------
# opening the stores
# ----------------------------------------------------------------------------------------------
def _describe(storage, names: list[str]) -> str:
    """``digits (23 completed), quick (6 completed)`` for the error messages."""
    parts = []
    for s in optuna.get_all_study_summaries(storage, include_best_trial=False):
        if s.study_name in names:
            study = optuna.load_study(study_name=s.study_name, storage=storage)
            done = len(study.get_trials(deepcopy=False, states=(State.COMPLETE,)))
            parts.append(f"{s.study_name} ({done} completed)")
    return ", ".join(parts) or "none"


def load_optuna_study(name: str, storage_url: str | None = None) -> optuna.Study:
    """The stored Optuna study ``name`` with at least one completed trial.

    Raises
    ------
    ReportError
        One line naming the study and the storage and listing the studies stored there.
    """
    url = resolve_storage_url(storage_url)
    names = study_names(url)
    if name not in names:
        where = "nothing stored there yet; run `make study` first" if not names else \
            f"studies there: {_describe(open_storage(url), names)}"
        raise ReportError(f"no study {name!r} in the Optuna storage {url} ({where})")
    storage = open_storage(url)
    study = optuna.load_study(study_name=name, storage=storage)
    if not study.get_trials(deepcopy=False, states=(State.COMPLETE,)):
        by_state = ", ".join(f"{n} {k}" for k, n in counts(study).items() if n) or "no trials"
        raise ReportError(f"study {name!r} has no completed trial yet ({by_state}); studies in "
                          f"{url}: {_describe(storage, names)}")
    return study


def _runs_of(reader, name: str) -> dict:
    runs = reader.study_runs(name)
    if runs is None:
        known = ", ".join(reader.study_names()) or "none"
        raise ReportError(f"study {name!r} has no MLflow experiment in {reader.uri} (studies "
                          f"there: {known}); pass the --tracking-uri the study used")
    return runs


# ----------------------------------------------------------------------------------------------
# trials
# ----------------------------------------------------------------------------------------------
#: outcomes of trials that have not ended yet: counted neither as failed nor as pruned
UNFINISHED = ("running", "queued")


def _outcome(trial) -> str:
    if trial.state == State.COMPLETE:
        return "completed"
    if trial.state == State.PRUNED:
        return "pruned"
    if trial.state == State.RUNNING:
        return "running"
    if trial.state == State.WAITING:  # queued for a worker (the trial target's claim tokens)
        return "queued"
    return trial.user_attrs.get(OUTCOME) or "error"


def _final_metrics(run: dict | None) -> dict:
    """Final metrics of a finished run (a pruned run's step metrics are not final)."""
    if run is None or run["status"] != "FINISHED":
        return {}
    return {k: v for k, v in run["metrics"].items()
            if k.startswith(FINAL_PREFIXES) or k in FINAL_NAMES}


def trial_record(trial, run: dict | None, url: str | None) -> TrialRecord:
    """Join a frozen Optuna trial and its MLflow run record (either may lack details)."""
    attrs = trial.user_attrs
    metrics = {**_final_metrics(run), **attrs.get("metrics", {})}
    steps = sorted(trial.intermediate_values)
    return TrialRecord(
        number=trial.number, state=trial.state.name, outcome=_outcome(trial),
        values=list(trial.values) if trial.state == State.COMPLETE and trial.values else None,
        suggested=sorted(trial.params),
        params=dict(attrs.get("hparams") or trial.params), metrics=metrics,
        last=dict(run["metrics"]) if run else {},
        last_value=float(trial.intermediate_values[steps[-1]]) if steps else None,
        run_id=attrs.get("mlflow_run_id") or (run and run["run_id"]), run_url=url,
        seconds=trial.duration.total_seconds() if trial.duration else None,
        reason=attrs.get("reason") or (run and run["tags"].get("hpstudy.reason")))


def trial_records(study: optuna.Study, runs: dict, reader) -> list[TrialRecord]:
    """One :class:`TrialRecord` per trial, joined to its run by run id or trial number."""
    by_id = {r["run_id"]: r for r in runs["trials"]}
    by_number = {r["tags"].get("hpstudy.trial"): r for r in runs["trials"]}
    out = []
    for t in study.get_trials(deepcopy=False):
        run = by_id.get(t.user_attrs.get("mlflow_run_id")) or by_number.get(str(t.number))
        url = reader.run_url(runs["experiment_id"], run["run_id"]) if run else None
        out.append(trial_record(t, run, url))
    return out


# ----------------------------------------------------------------------------------------------
# study-level facts
# ----------------------------------------------------------------------------------------------
def _wall(study: optuna.Study) -> tuple[float | None, str | None, float]:
    """(first start → last end in seconds, first start ISO, summed trial seconds)."""
    trials = study.get_trials(deepcopy=False)
    starts = [t.datetime_start for t in trials if t.datetime_start]
    ends = [t.datetime_complete for t in trials if t.datetime_complete]
    total = sum(t.duration.total_seconds() for t in trials if t.duration)
    if not starts or not ends:
        return None, None, total
    return (max(ends) - min(starts)).total_seconds(), min(starts).isoformat(" ", "seconds"), total


def importances(study: optuna.Study) -> tuple[dict[str, float], str | None]:
    """fANOVA importances of the first objective over the parameters every completed trial has.

    Returns ``({param: share of variance}, note)``; the note says why nothing was computed, or
    which conditional parameters (searched for some trials only) fANOVA left out.
    """
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances

    done = study.get_trials(deepcopy=False, states=(State.COMPLETE,))
    if len(done) < 3:
        return {}, f"needs at least 3 completed trials, the study has {len(done)}"
    target = (lambda t: t.values[0]) if len(study.directions) > 1 else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=0),
                                          target=target)
    except (ValueError, RuntimeError, ZeroDivisionError) as err:
        return {}, f"not computed: {err}"
    everywhere = set.union(*(set(t.params) for t in done))
    partial = sorted(everywhere - set(found))
    note = (f"{', '.join(partial)}: searched only for some trials, so fANOVA leaves them out"
            if partial else None)
    return {k: float(v) for k, v in found.items()}, note


def _config_facts(parent: dict | None, files: dict) -> dict:
    """Dataset, fingerprint, sampler, pruner from the parent run (params, summary, config)."""
    params = parent["params"] if parent else {}
    summary = json.loads(files.get("summary.json", b"{}") or b"{}")
    config = json.loads(files.get("config.json", b"{}") or b"{}")
    study_cfg = config.get("study", {})
    return {"dataset": params.get("dataset") or summary.get("dataset") or "?",
            "fingerprint": params.get("dataset_fingerprint")
            or summary.get("dataset_fingerprint") or "?",
            "sampler": params.get("sampler") or study_cfg.get("sampler") or "?",
            "pruner": params.get("pruner") or study_cfg.get("pruner") or "?",
            "objectives": summary.get("objectives") or study_cfg.get("objectives")}


def _task(trials: list[TrialRecord]) -> str:
    keys = {k for t in trials for k in t.metrics}
    return "regression" if {"val_rmse", "test_rmse", "val_r2"} & keys else "classification"


def _objective_names(study: optuna.Study, facts: dict) -> list[str]:
    names = facts.get("objectives")
    if isinstance(names, str):
        names = names.split(",")
    if names and len(names) == len(study.directions):
        return list(names)
    return [f"objective {i + 1}" for i in range(len(study.directions))]


def step_metric(objectives: list[str], task: str) -> str:
    """The validation metric logged every epoch (mirrors :class:`~hpstudy.experiment.objective.
    Objective`): the first objective when it is a ``val_`` metric, else macro F1 or RMSE."""
    if objectives[0].startswith("val_"):
        return objectives[0]
    return "val_f1_macro" if task == "classification" else "val_rmse"


# ----------------------------------------------------------------------------------------------
# the trials shown in detail, and what is read only for them
# ----------------------------------------------------------------------------------------------
def median_trial(completed: list[TrialRecord]) -> int | None:
    """The completed trial whose first objective is the (lower) median of all of them."""
    if not completed:
        return None
    ordered = sorted(completed, key=lambda t: (t.value, t.number))
    middle = statistics.median_low([t.value for t in ordered])
    return next(t.number for t in ordered if t.value == middle)


def gradient_pair(trials: list[TrialRecord], ranked_numbers: list[int]) -> dict[str, int]:
    """``{"saturating": n, "relu": m}``: the best completed sigmoid/tanh trial and the best
    completed ReLU-family trial (a family without a completed trial is left out)."""
    by_number = {t.number: t for t in trials}
    pair = {}
    for label, family in (("saturating", SATURATING), ("relu", RELU_FAMILY)):
        found = [n for n in ranked_numbers if by_number[n].params.get("activation") in family]
        if found:
            pair[label] = found[0]
    return pair


def history_keys(trial: TrialRecord, metric: str) -> list[str]:
    """Step metrics plotted for a trial: losses, the validation metric, per-layer grad norms."""
    layers = sorted((k for k in trial.last if k.startswith("layer") and
                     k.endswith("_grad_norm")), key=lambda k: int(k[5:].split("_")[0]))
    return ["train_loss", "val_loss", metric, *layers]


def read_histories(reader, record: StudyRecord) -> dict[int, dict[str, list]]:
    """Metric histories ``{trial: {key: [(epoch, value), ...]}}`` of the plotted trials only."""
    wanted = dict.fromkeys([*record.top, record.median, *record.gradient_pair.values()])
    out = {}
    for number in (n for n in wanted if n is not None):
        trial = record.trial(number)
        if trial.run_id:
            found = reader.metric_histories(trial.run_id, history_keys(trial, record.step_metric))
            # the final metrics are logged again at the last epoch: keep one value per epoch
            out[number] = {k: sorted(dict(points).items()) for k, points in found.items()}
    return out


def _number(text: str):
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() and "." not in text and "e" not in text else value


def parse_table(data: bytes) -> list[dict]:
    """Rows of a CSV file as dicts, numbers converted."""
    reader = csv.DictReader(io.StringIO(data.decode("utf-8")))
    return [{k: _number(v) for k, v in row.items()} for row in reader]


def read_winner(reader, trial: TrialRecord | None) -> tuple[dict[str, bytes], list | None]:
    """The best trial's logged charts ``{name: PNG bytes}`` and gain/lift rows (or None)."""
    if trial is None or not trial.run_id:
        return {}, None
    paths = [p for p in reader.artifact_paths(trial.run_id, "charts")
             if p.endswith(".png") and p[len("charts/"):-4] in WINNER_CHARTS]
    files = reader.read_artifacts(trial.run_id, [*paths, "gain_lift.csv"])
    charts = {p[len("charts/"):-4]: files[p] for p in paths if p in files}
    charts = {name: charts[name] for name in WINNER_CHARTS if name in charts}
    table = parse_table(files["gain_lift.csv"]) if "gain_lift.csv" in files else None
    return charts, table


# ----------------------------------------------------------------------------------------------
# one study
# ----------------------------------------------------------------------------------------------
def _base_record(study: optuna.Study, runs: dict, reader, storage: str, top: int) -> StudyRecord:
    parent = runs["parent"]
    files = reader.read_artifacts(parent["run_id"], ["summary.json", "config.json"]) \
        if parent else {}
    facts = _config_facts(parent, files)
    trials = trial_records(study, runs, reader)
    order = [t.number for t in ranked(study)]
    best = best_trial(study)
    wall, started, total = _wall(study)
    multi = len(study.directions) > 1
    return StudyRecord(
        name=study.study_name, dataset=facts["dataset"], fingerprint=facts["fingerprint"],
        task=_task(trials), objectives=_objective_names(study, facts),
        directions=[d.name.lower() for d in study.directions], sampler=facts["sampler"],
        pruner=facts["pruner"], counts=counts(study), wall_seconds=wall, trial_seconds=total,
        started=started, trials=trials, ranked=order, best=best.number if best else None,
        top=order[:top], pareto=sorted(t.number for t in study.best_trials) if multi else None,
        searched=sorted({p for t in study.get_trials(deepcopy=False) for p in t.params}),
        experiment_id=runs["experiment_id"], parent_run_id=parent and parent["run_id"],
        parent_url=parent and reader.run_url(runs["experiment_id"], parent["run_id"]),
        tracking_uri=reader.uri, storage=storage)


def read_study(name: str, reader, storage_url: str | None = None, top: int = 5) -> StudyRecord:
    """Read everything a report of study ``name`` shows (see the module docstring).

    Parameters
    ----------
    name : str
    reader : hpstudy.experiment.tracking.RunReader
    storage_url : str, optional
        Optuna storage (default: ``$HPSTUDY_STORAGE`` or ``mlruns/optuna.journal``).
    top : int
        Number of trials on the leaderboard (and drawn in the loss curves).

    Raises
    ------
    ReportError
        When the study does not exist, has no completed trial or no MLflow experiment.
    """
    if top < 1:
        raise ReportError(f"--top must be >= 1, got {top}")
    study = load_optuna_study(name, storage_url)
    record = _base_record(study, _runs_of(reader, name), reader,
                          resolve_storage_url(storage_url), top)
    record.step_metric = step_metric(record.objectives, record.task)
    record.median = median_trial(record.completed())
    record.gradient_pair = gradient_pair(record.trials, record.ranked)
    record.histories = read_histories(reader, record)
    record.winner_charts, record.gain_lift = read_winner(reader, record.best_trial)
    record.importances, record.importance_note = importances(study)
    return record
