"""Benchmark: whole studies, hpstudy against Optuna + scikit-learn's MLPClassifier + MLflow.

Run with ``make bench`` (after ``bench_nn.py``) or ``python benchmarks/bench_study.py
[--quick] [--trials N] [--strict] [--json PATH]``. What users feel is how many trials they get
per minute and how soon a good model shows up, so every study here is a whole command in a
fresh process, in its own temporary folder with its own stores (nothing is shared between two
studies), timed from the moment the process is started until it exits.

The studies (all on ``experiments/digits.toml``'s data: ``load_dataset("digits")`` with the
same validation/test sizes, scaling and seed, so both sides see the same rows):

- **peer**: the study a user would write with the libraries hpstudy is built on, following
  MLflow's hyperparameter-tuning pattern: one parent run, one nested run per trial
  (``mlflow.start_run(nested=True)``, ``log_params``, ``log_metrics``), the best parameters and
  value on the parent, and the best model logged with ``mlflow.sklearn.log_model`` at the end;
  MLflow's default store (``sqlite:///mlflow.db`` in the working folder), Optuna's default
  sampler (TPE, seeded), no pruning (``MLPClassifier.fit`` has no per-epoch hook). The search
  space is the closest ``MLPClassifier`` allows: ``learning_rate_init`` (same log range),
  ``batch_size`` (same choices, ``"full"`` = every training row), depth and width (same
  ranges), ``activation`` among its four, L2 ``alpha`` (the same log range as hpstudy's λ),
  and the optimizer (``sgd`` without momentum, ``sgd`` with a searched momentum, ``adam``).
  ``max_iter`` = the experiment's epochs, ``early_stopping=False`` (scikit-learn's own
  training-loss tolerance stays on, as hpstudy's patience does), warnings silenced. It runs
  with one BLAS thread by default, the benefit of the doubt: its products are small, and on
  two threads they are slower (``--peer-threads default,1`` runs it both ways; the faster
  run counts).
- **hpstudy**: ``hpstudy study experiments/digits.toml --trials N`` (the real runner, every
  trial tracked with its curves, metrics, stability scores, charts and model), with
  ``--workers 2`` (``make study`` on two cores) and ``--workers 1``, and ``--workers 2
  --set study.pruner=none``; and "same trials" with 1 and 2 workers (random sampler, no
  pruning: identical trials in both, see :data:`SAME`), the scaling of the runner itself.
  Every hpstudy study starts in a fresh folder, like the peer's, so the tracking database is
  new; hpstudy copies it from its cache of a migrated empty database (``~/.cache/hpstudy``,
  made by the first study ever run), where MLflow migrates each new one (~5 s).
- **profile**: the default study (``--workers 1``, everything in one process) under
  pyinstrument; wall time is split into MLflow tracking (``experiment/tracking.py``, from
  importing mlflow on), charts (``write_trial_artifacts``, the study plots, the chart module
  with its matplotlib import) and stability scores (``stability_metrics`` per trial,
  ``retrain_top`` at the end), each frame counted once under its outermost category.

Per study: wall time, trials counted (completed, pruned or diverged), trials per minute, the
best validation macro F1 and the test macro F1 of that trial, and the time from the start of
the process until a completed trial first reached 99 % of the study's best value.

Targets (PASS/FAIL printed; ``--strict`` exits 1 on a FAIL):
hpstudy (2 workers) ≥ 2× the peer's trials per minute with a best validation F1 at least the
peer's; tracking + charts + stability ≤ 15 % of the profiled study's wall time; 2 workers ≥
1.7× the trials per minute of 1 worker; pruning at least halves the wall time and keeps the
best value within 1 %; ``hpstudy --help`` answers in < 0.5 s (best of 5).

``--seeds 0,1,2,3`` also runs the peer and the default study (2 workers) with each further
study seed and prints their best validation F1 side by side, with the means: a single study's
best is the best of a few dozen noisy trainings, so one seed says little about which search
finds better networks (see :func:`by_seed`).

Timings on a shared machine only ever get longer: where it matters (``--help``) the best of
several runs is kept; whole studies run once each (``--repeats`` runs each again and keeps the
faster), so compare the ratios, and rerun when the machine was busy (the load average is
printed before and after).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "experiments" / "digits.toml"
BIN = Path(sys.executable).parent
HPSTUDY = str(BIN / "hpstudy") if (BIN / "hpstudy").exists() else None
FULL_TRIALS, QUICK_TRIALS = 40, 12
OPTIMIZER_TYPES = [f"sklearn.neural_network._stochastic_optimizers.{n}Optimizer"
                   for n in ("Adam", "SGD")]
BLAS_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

#: the worker comparison on identical work: the default study's sampler and pruner follow a
#: different path with 2 workers than with 1 (TPE sees pending trials, the median pruner fewer
#: finished ones), which changes which trials run (e.g. how many train one row at a time) and
#: so the work done. The random sampler, re-seeded by trial number, proposes the same trials
#: in both, and without pruning each trial does the same work.
SAME = ["study.sampler=random", "study.pruner=none"]

TARGETS = {"peer_ratio": 2.0, "overhead_share": 0.15, "workers_ratio": 1.7,
           "pruning_wall_ratio": 0.5, "pruning_best_drop": 0.01, "help_seconds": 0.5}


@dataclass
class Study:
    """One timed study: what the table shows."""

    label: str
    wall: float
    trials: int
    best_val: float
    best_test: float
    to_99: float | None
    #: (seconds since the process started, value) of every completed trial, by completion
    completions: list = field(default_factory=list)
    #: seconds since the process started: the first trial's start, the last trial's end
    first_start: float = float("nan")
    last_end: float = float("nan")
    #: CPU seconds of the whole command, all its processes (less sensitive to a busy machine)
    cpu: float = float("nan")

    @property
    def per_minute(self) -> float:
        """Trials per minute of the whole command (start-up and finish included)."""
        return 60.0 * self.trials / self.wall if self.wall > 0 else float("nan")

    @property
    def phase(self) -> float:
        """Seconds from the first trial's start to the last trial's end."""
        return self.last_end - self.first_start

    @property
    def phase_per_minute(self) -> float:
        """Trials per minute while trials run (no start-up, no finish)."""
        return 60.0 * self.trials / self.phase if self.phase > 0 else float("nan")


# -- shared --------------------------------------------------------------------------------------

#: keep every study's folder (stores, journal) under this folder instead of deleting it
KEEP: Path | None = None


@contextlib.contextmanager
def _folder(prefix: str):
    """A fresh working folder for one study: temporary, or kept under :data:`KEEP`."""
    if KEEP is None:
        with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
            yield tmp
    else:
        KEEP.mkdir(parents=True, exist_ok=True)
        yield tempfile.mkdtemp(prefix=prefix, dir=KEEP)


def _load_avg() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "?"


def _data_options() -> dict:
    from hpstudy.experiment.config import load_config

    cfg = load_config(str(CONFIG))
    return {"name": cfg.data.dataset, **cfg.data.options, "epochs": _epochs(cfg)}


def _epochs(cfg) -> int:
    return int(cfg.search.params["epochs"].value)


def time_to_99(completions: list[tuple[float, float]], best: float) -> float | None:
    """Seconds until a completed trial first reached 99 % of ``best`` (maximised value)."""
    for seconds, value in sorted(completions):
        if value >= 0.99 * best:
            return seconds
    return None


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


#: CPU seconds (user + system, all processes) of the last command run by :func:`_run`
LAST_CPU = [0.0]


def _run(cmd: list[str], cwd: Path, env: dict | None = None) -> tuple[float, float]:
    """Run ``cmd`` in ``cwd``; returns (wall seconds, epoch time at start). Fails loudly.

    The CPU time of the command and every process it waited for goes to :data:`LAST_CPU`.
    """
    start_epoch, start, cpu = time.time(), time.perf_counter(), _cpu_children()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    LAST_CPU[0] = _cpu_children() - cpu
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise RuntimeError(f"{' '.join(cmd[:4])} ... exited with {proc.returncode}")
    return wall, start_epoch


# -- the peer: Optuna + sklearn MLPClassifier + MLflow, as the docs show --------------------------

def peer_child(trials: int, out: str, seed: int = 0) -> None:
    """The peer's study, run in a fresh process whose working folder is a temporary one.
    ``seed`` seeds its TPE sampler; trial ``n`` fits with ``random_state = n + 1000 * seed``."""
    import warnings

    warnings.filterwarnings("ignore")
    import mlflow
    import mlflow.sklearn
    import optuna
    from sklearn.metrics import f1_score
    from sklearn.neural_network import MLPClassifier

    from hpstudy.data import load_dataset

    opts = json.loads(os.environ["BENCH_DATA"])
    epochs = opts.pop("epochs")
    ds = load_dataset(opts.pop("name"), **opts)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    mlflow.set_experiment("digits-sklearn")
    models = {}

    def objective(trial):
        optimizer = trial.suggest_categorical("optimizer", ["sgd", "momentum", "adam"])
        batch = trial.suggest_categorical("batch_size", [1, 16, 32, 128, "full"])
        params = {
            "learning_rate_init": trial.suggest_float("learning_rate_init", 1e-4, 0.3, log=True),
            "batch_size": len(ds.y_train) if batch == "full" else batch,
            "hidden_layer_sizes": (trial.suggest_int("width", 16, 128, step=16),)
            * trial.suggest_int("depth", 1, 3),
            "activation": trial.suggest_categorical(
                "activation", ["identity", "logistic", "tanh", "relu"]),
            "alpha": trial.suggest_float("alpha", 1e-6, 1e-2, log=True),
            "solver": "adam" if optimizer == "adam" else "sgd",
            "momentum": trial.suggest_float("momentum", 0.5, 0.99)
            if optimizer == "momentum" else 0.0,
        }
        with mlflow.start_run(nested=True, run_name=f"trial-{trial.number:04d}"):
            mlflow.log_params(trial.params)
            clf = MLPClassifier(max_iter=epochs, early_stopping=False, nesterovs_momentum=False,
                                random_state=trial.number + 1000 * seed, **params)
            clf.fit(ds.X_train, ds.y_train)
            val = f1_score(ds.y_val, clf.predict(ds.X_val), average="macro")
            test = f1_score(ds.y_test, clf.predict(ds.X_test), average="macro")
            mlflow.log_metrics({"val_f1_macro": val, "test_f1_macro": test,
                                "val_accuracy": clf.score(ds.X_val, ds.y_val)})
        trial.set_user_attr("test_f1_macro", test)
        models[trial.number] = clf
        return val

    with mlflow.start_run(run_name="digits-sklearn"):
        study = optuna.create_study(direction="maximize",
                                    sampler=optuna.samplers.TPESampler(seed=seed))
        # a diverging fit raises ValueError; like hpstudy's diverged trials it uses the budget
        study.optimize(objective, n_trials=trials, catch=(ValueError,))
        mlflow.log_params(study.best_params)
        mlflow.log_metric("best_val_f1_macro", study.best_value)
        # MLflow 3 saves with skops, which asks to name the optimizer types it may load
        mlflow.sklearn.log_model(models[study.best_trial.number], name="model",
                                 skops_trusted_types=OPTIMIZER_TYPES)
    records = [{"value": t.value, "complete": t.datetime_complete.timestamp(),
                "test": t.user_attrs.get("test_f1_macro")} for t in study.trials
               if t.state == optuna.trial.TrialState.COMPLETE]
    Path(out).write_text(json.dumps({
        "trials": len(study.trials), "completed": records,
        "first_start": min(t.datetime_start.timestamp() for t in study.trials),
        "last_end": max(t.datetime_complete.timestamp() for t in study.trials)}))


def run_peer(trials: int, threads: int | None, data: dict, seed: int = 0) -> Study:
    with _folder("bench-peer-") as tmp:
        env = {**os.environ, "BENCH_DATA": json.dumps(data)}
        for var in BLAS_VARS:
            env.pop(var, None)
            if threads:
                env[var] = str(threads)
        env.pop("MLFLOW_TRACKING_URI", None)
        out = Path(tmp) / "peer.json"
        wall, t0 = _run([sys.executable, str(Path(__file__).resolve()), "--peer-child",
                         "--trials", str(trials), "--out", str(out), "--seed", str(seed)],
                        Path(tmp), env)
        result = json.loads(out.read_text())
    records = result["completed"]
    best = max(records, key=lambda r: r["value"])
    completions = [(r["complete"] - t0, r["value"]) for r in records]
    label = f"peer: sklearn MLP, {'default' if not threads else threads} BLAS thread(s)" + (
        f", seed {seed}" if seed else "")
    return Study(label, wall, result["trials"], best["value"], best["test"],
                 time_to_99(completions, best["value"]), completions,
                 result["first_start"] - t0, result["last_end"] - t0, LAST_CPU[0])


# -- hpstudy ----------------------------------------------------------------------------------

def _hpstudy_cmd(trials: int, workers: int, sets: list[str]) -> list[str]:
    cmd = [HPSTUDY] if HPSTUDY else [sys.executable, "-m", "hpstudy.cli"]
    cmd += ["study", str(CONFIG), "--trials", str(trials), "--workers", str(workers),
            "--no-progress"]
    for s in sets:
        cmd += ["--set", s]
    return cmd


def _read_study(folder: Path, t0: float) -> tuple[int, dict, list, float, float]:
    """(counted trials, best trial's metrics, completions, first start, last end) from the
    study's journal, times in seconds since ``t0``."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(str(folder / "mlruns" / "optuna.journal")))
    study = optuna.load_study(study_name="digits", storage=storage)
    state = optuna.trial.TrialState
    counted = [t for t in study.trials if t.state in (state.COMPLETE, state.PRUNED)
               or t.user_attrs.get("hpstudy_outcome") == "diverged"]
    done = [t for t in study.trials if t.state == state.COMPLETE]
    best = max(done, key=lambda t: (t.value, -t.number))
    completions = [(t.datetime_complete.timestamp() - t0, t.value) for t in done]
    first = min(t.datetime_start.timestamp() for t in counted) - t0
    last = max(t.datetime_complete.timestamp() for t in counted) - t0
    return len(counted), best.user_attrs.get("metrics", {}), completions, first, last


def run_hpstudy(label: str, trials: int, workers: int, sets: list[str] = ()) -> Study:
    env = {k: v for k, v in os.environ.items()
           if k not in ("MLFLOW_TRACKING_URI", "HPSTUDY_STORAGE")}
    with _folder("bench-hpstudy-") as tmp:
        wall, t0 = _run(_hpstudy_cmd(trials, workers, list(sets)), Path(tmp), env)
        cpu = LAST_CPU[0]
        counted, metrics, completions, first, last = _read_study(Path(tmp), t0)
    best = metrics.get("val_f1_macro", float("nan"))
    return Study(label, wall, counted, best, metrics.get("test_f1_macro", float("nan")),
                 time_to_99(completions, best), completions, first, last, cpu)


# -- the profile --------------------------------------------------------------------------------

#: (file suffix, function or None for any) -> category; the outermost match counts
CATEGORIES = [
    ("hpstudy/experiment/tracking.py", None, "tracking"),
    ("hpstudy/evaluation/charts.py", None, "charts"),
    ("hpstudy/experiment/artifacts.py", "write_trial_artifacts", "charts"),
    ("hpstudy/experiment/finish.py", "study_plots", "charts"),
    ("hpstudy/experiment/objective.py", "stability_metrics", "stability"),
    ("hpstudy/experiment/finish.py", "retrain_top", "stability"),
    ("hpstudy/experiment/finish.py", "retraining", "stability"),  # waiting for its workers
    ("hpstudy/experiment/finish.py", "collect", "stability"),
    ("hpstudy/evaluation/stability.py", None, "stability"),
]


def _category(frame) -> str | None:
    path = (frame.file_path or "").replace(os.sep, "/")
    for suffix, function, name in CATEGORIES:
        if path.endswith(suffix) and function in (None, frame.function):
            return name
    return None


def split_profile(root) -> dict[str, float]:
    """Seconds per category (outermost matching frame), plus ``total``."""
    out = {"tracking": 0.0, "charts": 0.0, "stability": 0.0, "total": root.time}
    stack = [root]
    while stack:
        frame = stack.pop()
        name = _category(frame)
        if name:
            out[name] += frame.time
        else:
            stack.extend(frame.children)
    return out


def profile_child(trials: int, out: str) -> None:
    """The default study in this process under pyinstrument; writes the split as JSON."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.002)
    profiler.start()
    from hpstudy.cli import main

    code = main(["study", str(CONFIG), "--trials", str(trials), "--workers", "1",
                 "--no-progress"])
    session = profiler.stop()
    if code:
        raise SystemExit(code)
    Path(out).write_text(json.dumps(split_profile(session.root_frame())))
    if os.environ.get("BENCH_PROFILE_TEXT"):  # the whole call tree, for a closer look
        Path(os.environ["BENCH_PROFILE_TEXT"]).write_text(
            profiler.output_text(unicode=True, show_all=False))


def run_profile(trials: int) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("MLFLOW_TRACKING_URI", "HPSTUDY_STORAGE")}
    with _folder("bench-profile-") as tmp:
        out = Path(tmp) / "profile.json"
        _run([sys.executable, str(Path(__file__).resolve()), "--profile-child", "--trials",
              str(trials), "--out", str(out)], Path(tmp), env)
        return json.loads(out.read_text())


# -- hpstudy --help --------------------------------------------------------------------------------

def help_seconds(repeats: int = 5) -> float:
    cmd = [HPSTUDY, "--help"] if HPSTUDY else [sys.executable, "-m", "hpstudy.cli", "--help"]
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        best = min(best, time.perf_counter() - start)
    return best


# -- the report -----------------------------------------------------------------------------------

def _fmt(value, spec: str) -> str:
    return "-" if value is None or value != value else format(value, spec)


def table(studies: list[Study]) -> str:
    head = (f"{'study':<40} {'wall s':>6} {'CPU s':>6} {'trials':>6} {'per min':>7} {'start s':>7} "
            f"{'trials s':>8} {'per min':>7} {'finish s':>8} {'best val F1':>11} "
            f"{'test F1':>7} {'99% at s':>8}")
    lines = ["whole command: wall time, CPU time of all its processes, trials per minute; trial "
             "phase: from the first trial's start to the last one's end", head, "-" * len(head)]
    for s in studies:
        lines.append(
            f"{s.label:<40} {s.wall:>6.1f} {s.cpu:>6.1f} {s.trials:>6d} {s.per_minute:>7.1f} "
            f"{s.first_start:>7.1f} {s.phase:>8.1f} {s.phase_per_minute:>7.1f} "
            f"{s.wall - s.last_end:>8.1f} {_fmt(s.best_val, '.4f'):>11} "
            f"{_fmt(s.best_test, '.4f'):>7} {_fmt(s.to_99, '.1f'):>8}")
    return "\n".join(lines)


def verdicts(peer: Study, two: Study, one: Study, nopr: Study, same1: Study, same2: Study,
             prof: dict, help_s: float) -> list[tuple[str, str, bool]]:
    """(target, measured, met) for each target; the worker and pruning targets twice: on the
    whole command (what users wait for) and on the trial phase (the scaling of the trials
    themselves, without the fixed start-up and finish)."""
    share = sum(prof[k] for k in ("tracking", "charts", "stability")) / prof["total"]
    ratio = two.per_minute / peer.per_minute
    drop = (nopr.best_val - two.best_val) / nopr.best_val
    workers = two.per_minute / one.per_minute
    workers_phase = two.phase_per_minute / one.phase_per_minute
    same = same2.per_minute / same1.per_minute
    same_phase = same2.phase_per_minute / same1.phase_per_minute
    pruning, pruning_phase = two.wall / nopr.wall, two.phase / nopr.phase
    keep = drop <= TARGETS["pruning_best_drop"]
    return [
        (f"hpstudy (2 workers) vs peer, trials/min >= {TARGETS['peer_ratio']}x, best val F1 >= "
         "peer's", f"{ratio:.2f}x, F1 {two.best_val:.4f} vs {peer.best_val:.4f}",
         ratio >= TARGETS["peer_ratio"] and two.best_val >= peer.best_val),
        (f"tracking + charts + stability <= {TARGETS['overhead_share']:.0%} of the wall time",
         f"{share:.1%} ({prof['tracking']:.1f} + {prof['charts']:.1f} + "
         f"{prof['stability']:.1f} of {prof['total']:.1f} s)",
         share <= TARGETS["overhead_share"]),
        (f"2 workers vs 1, trials/min >= {TARGETS['workers_ratio']}x (whole command)",
         f"{workers:.2f}x", workers >= TARGETS["workers_ratio"]),
        (f"2 workers vs 1, trials/min >= {TARGETS['workers_ratio']}x (trial phase)",
         f"{workers_phase:.2f}x", workers_phase >= TARGETS["workers_ratio"]),
        (f"same trials, 2 workers vs 1, trials/min >= {TARGETS['workers_ratio']}x (whole command)",
         f"{same:.2f}x", same >= TARGETS["workers_ratio"]),
        (f"same trials, 2 workers vs 1, trials/min >= {TARGETS['workers_ratio']}x (trial phase)",
         f"{same_phase:.2f}x", same_phase >= TARGETS["workers_ratio"]),
        (f"pruning: wall time <= {TARGETS['pruning_wall_ratio']}x, best within "
         f"{TARGETS['pruning_best_drop']:.0%} (whole command)",
         f"{pruning:.2f}x, best {two.best_val:.4f} vs {nopr.best_val:.4f} ({-drop:+.2%})",
         pruning <= TARGETS["pruning_wall_ratio"] and keep),
        (f"pruning: wall time <= {TARGETS['pruning_wall_ratio']}x, best within "
         f"{TARGETS['pruning_best_drop']:.0%} (trial phase)", f"{pruning_phase:.2f}x",
         pruning_phase <= TARGETS["pruning_wall_ratio"] and keep),
        (f"hpstudy --help < {TARGETS['help_seconds']} s (best of 5)", f"{help_s:.3f} s",
         help_s < TARGETS["help_seconds"]),
    ]


def by_seed(seeds: list[int], seed0: tuple[Study, Study], trials: int, threads: int | None,
            data: dict) -> list[tuple[int, float, float]]:
    """``(seed, peer's best val F1, hpstudy's)`` for each seed: the default study (2 workers)
    with ``study.seed`` set, against the peer with that seed (seed 0: the studies above).

    One study's best validation F1 is the best of a few dozen noisy trainings (the same
    network trained again with another seed moves it by about ±0.005, ±2 rows of 360), so one
    seed can say little about which search finds better networks; the mean over seeds does.
    """
    rows = []
    for seed in seeds:
        if seed == 0:
            peer, two = seed0
        else:
            peer = run_peer(trials, threads, data, seed)
            two = run_hpstudy(f"hpstudy: 2 workers, seed {seed}", trials, 2,
                              [f"study.seed={seed}"])
            for s in (peer, two):
                print(f"  {s.label}: {s.wall:.1f} s, best val F1 {s.best_val:.4f} "
                      f"({_load_avg()})", flush=True)
        rows.append((seed, peer.best_val, two.best_val))
    return rows


def seed_means(rows: list[tuple[int, float, float]]) -> tuple[float, float]:
    """The peer's and hpstudy's mean best validation F1 over the rows of :func:`by_seed`."""
    return tuple(sum(r[i] for r in rows) / len(rows) for i in (1, 2))


def seeds_table(rows: list[tuple[int, float, float]]) -> str:
    lines = ["best validation F1 by seed (hpstudy: 2 workers, the default study)",
             f"{'seed':>4} {'peer':>7} {'hpstudy':>7}"]
    lines += [f"{seed:>4} {p:>7.4f} {h:>7.4f}" for seed, p, h in rows]
    mean_peer, mean_two = seed_means(rows)
    lines.append(f"{'mean':>4} {mean_peer:>7.4f} {mean_two:>7.4f}")
    return "\n".join(lines)


def _seed_list(text: str) -> list[int]:
    """``--seeds``: comma-separated non-negative integers."""
    try:
        seeds = [int(x) for x in text.split(",")]
    except ValueError:
        seeds = []
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"expected seeds like 0,1,2,3; got {text!r}")
    return seeds


def _best_of(runs: int, fn, *args) -> Study:
    results = [fn(*args) for _ in range(runs)]
    return min(results, key=lambda s: s.wall)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_TRIALS} trials per study instead of {FULL_TRIALS}")
    parser.add_argument("--trials", type=int, help="trials per study (overrides --quick)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per study (fastest kept)")
    parser.add_argument("--peer-threads", default="1", metavar="LIST",
                        help="BLAS threads of the peer, comma-separated runs, 'default' for "
                             "NumPy's own (default 1; the fastest run counts)")
    parser.add_argument("--seeds", default=[0], type=_seed_list, metavar="LIST",
                        help="also compare the best validation F1 of the peer and of the default "
                             "study over these study seeds, e.g. 0,1,2,3 (one more peer and "
                             "hpstudy study per seed; default 0: the studies above only)")
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--keep", metavar="DIR", help="keep each study's folder under DIR")
    parser.add_argument("--peer-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--profile-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    trials = args.trials or (QUICK_TRIALS if args.quick else FULL_TRIALS)
    global KEEP
    KEEP = Path(args.keep).resolve() if args.keep else None
    if args.peer_child:
        peer_child(trials, args.out, args.seed)
        return 0
    if args.profile_child:
        profile_child(trials, args.out)
        return 0

    start = time.perf_counter()
    print(f"bench_study: {trials} trials per study on {CONFIG.name}, {os.cpu_count()} cores, "
          f"Python {sys.version.split()[0]}; load average {_load_avg()}", flush=True)
    data = _data_options()
    help_s = help_seconds()
    r = args.repeats
    studies = {}
    peer_threads = [None if t == "default" else int(t) for t in args.peer_threads.split(",")]
    plan = [(f"peer{t or ''}", lambda t=t: _best_of(r, run_peer, trials, t, data))
            for t in peer_threads]
    plan += [
        ("two", lambda: _best_of(r, run_hpstudy, "hpstudy: 2 workers (make study)", trials, 2)),
        ("one", lambda: _best_of(r, run_hpstudy, "hpstudy: 1 worker", trials, 1)),
        ("same1", lambda: _best_of(r, run_hpstudy, "same trials: 1 worker", trials, 1, SAME)),
        ("same2", lambda: _best_of(r, run_hpstudy, "same trials: 2 workers", trials, 2, SAME)),
        ("nopr", lambda: _best_of(r, run_hpstudy, "hpstudy: 2 workers, no pruning", trials, 2,
                                  ["study.pruner=none"])),
    ]
    for key, fn in plan:
        studies[key] = fn()
        s = studies[key]
        print(f"  {s.label}: {s.wall:.1f} s, {s.trials} trials ({_load_avg()})", flush=True)
    seeds = args.seeds
    seed_rows = by_seed(seeds, (studies[f"peer{peer_threads[0] or ''}"], studies["two"]),
                        trials, peer_threads[0], data) if seeds != [0] else []
    prof = run_profile(trials)
    print(f"  profile: {prof['total']:.1f} s ({_load_avg()})", flush=True)
    peers = [s for k, s in studies.items() if k.startswith("peer")]
    peer = min(peers, key=lambda s: s.wall)

    print()
    print(table([*peers, *(studies[k] for k in ("two", "one", "nopr", "same1", "same2"))]))
    print(f"\nprofile of the default study (1 worker, {trials} trials, pyinstrument): "
          f"{prof['total']:.1f} s; tracking {prof['tracking']:.1f} s "
          f"({prof['tracking'] / prof['total']:.1%}), charts {prof['charts']:.1f} s "
          f"({prof['charts'] / prof['total']:.1%}), stability {prof['stability']:.1f} s "
          f"({prof['stability'] / prof['total']:.1%})")
    print(f"peer for the ratios: {peer.label}; 2 workers vs peer "
          f"{studies['two'].per_minute / peer.per_minute:.2f}x, 1 worker vs peer "
          f"{studies['one'].per_minute / peer.per_minute:.2f}x\n")
    rows = verdicts(peer, studies["two"], studies["one"], studies["nopr"], studies["same1"],
                    studies["same2"], prof, help_s)
    if seed_rows:
        print(seeds_table(seed_rows) + "\n")
        mean_peer, mean_two = seed_means(seed_rows)
        rows.insert(1, (f"mean best val F1 over seeds {','.join(map(str, seeds))}: hpstudy >= peer",
                        f"{mean_two:.4f} vs {mean_peer:.4f}", mean_two >= mean_peer))
    width = max(len(name) for name, _, _ in rows)
    for name, value, ok in rows:
        print(f"{'PASS' if ok else 'FAIL'}  {name:<{width}}  {value}")
    print(f"\n{time.perf_counter() - start:.0f} s in all; load average {_load_avg()}")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"trials": trials, "studies": {k: {**asdict(s), "per_minute": s.per_minute, "phase": s.phase,
                                               "phase_per_minute": s.phase_per_minute}
                                           for k, s in studies.items()},
             "profile": prof, "help_seconds": help_s,
             "seeds": [{"seed": a, "peer": b, "hpstudy": c} for a, b, c in seed_rows],
             "targets": [{"target": n, "value": v, "pass": ok} for n, v, ok in rows]},
            indent=1))
    failed = [name for name, _, ok in rows if not ok]
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
