"""The objective: what one trial does, from suggested hyperparameters to logged results.

suggest → build → train (per-epoch hook: step metrics, Optuna report, pruning) → evaluate on
validation and test → stability scores → log to MLflow → return the objective value(s).

Outcomes and how they are recorded:

===========  =========================  ==========================  =========================
outcome      Optuna state               MLflow status               ``hpstudy.reason`` tag
===========  =========================  ==========================  =========================
completed    COMPLETE                   FINISHED                    —
pruned       PRUNED                     KILLED                      ``pruned at epoch N: …``
diverged     FAIL (counts as done)      FAILED                      ``training diverged …``
error        FAIL                       FAILED                      the exception, one line
interrupted  FAIL                       KILLED                      ``interrupted …``
===========  =========================  ==========================  =========================
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
from threadpoolctl import threadpool_limits  # installed with scikit-learn, a dependency

from hpstudy import __version__
from hpstudy.evaluation import stability
from hpstudy.evaluation.metrics import classification_metrics, regression_metrics
from hpstudy.experiment import artifacts
from hpstudy.experiment.hyperparameters import HYPERPARAMETERS
from hpstudy.experiment.outcomes import COUNTED, OUTCOME, VALUES  # noqa: F401 - re-exported
from hpstudy.experiment.space import suggest_params
from hpstudy.nn import Callback, DivergenceError, Network
from hpstudy.nn.training import metric_name

#: a trial's step metrics go to MLflow at most this often while it trains (and with its final
#: metrics at the end: one call for a trial shorter than this)
FLUSH_SECONDS = 10.0
#: a trial whose largest training product (rows × fan-in × fan-out) has fewer multiply-adds
#: trains on one BLAS thread. Measured on digits, 2 cores: batch sizes 1 to 128 train as fast
#: on one thread as on two on an idle machine (full batch: two threads up to 25 % faster), and
#: 2 to 40 times faster on one when the other core is busy (a second worker, anything else)
ONE_THREAD_MACS = 1 << 25
#: momentum of a network trained without the hyperparameter (its registry default)
MOMENTUM = HYPERPARAMETERS["momentum"].default


def network_spec(params: dict, dataset, train_cfg) -> dict:
    """Loss, output activation and layer sizes of a trial's network.

    ``loss = "auto"`` is cross-entropy for classification and MSE for regression; ``output =
    "auto"`` is softmax for cross-entropy and MSE classification, one sigmoid unit for binary
    cross-entropy, identity for regression.
    """
    classification = dataset.task == "classification"
    loss = params.get("loss", "auto")
    if loss == "auto":
        loss = "cross_entropy" if classification else "mse"
    output = train_cfg.output
    if output == "auto":
        output = ("sigmoid" if loss == "binary_cross_entropy" else "softmax") if classification \
            else "identity"
    n_out = (1 if loss == "binary_cross_entropy" else dataset.n_classes) if classification else 1
    hidden = [int(params["width"])] * int(params["depth"])
    spec = {"loss": loss, "output": output, "sizes": [dataset.n_features, *hidden, n_out],
            "activations": [params["activation"]] * len(hidden) + [output]}
    if not classification:  # regression targets are standardised with training statistics
        spec["target_offset"] = float(np.mean(dataset.y_train))
        spec["target_scale"] = float(np.std(dataset.y_train)) or 1.0
    return spec


def targets(y: np.ndarray, dataset, spec: dict) -> np.ndarray:
    """Training targets for the network: one-hot rows, a 0/1 column, or a standardised value
    column ``(y − mean_train) / std_train`` for regression."""
    if dataset.task != "classification":
        t = (np.asarray(y, dtype=float) - spec["target_offset"]) / spec["target_scale"]
        return t.reshape(-1, 1)
    if spec["sizes"][-1] == 1:
        return np.asarray(y, dtype=float).reshape(-1, 1)
    return np.eye(dataset.n_classes)[y]


def build_network(params: dict, dataset, train_cfg, seed: int) -> tuple[Network, dict]:
    """The untrained network for ``params`` and its spec (see :func:`network_spec`)."""
    spec = network_spec(params, dataset, train_cfg)
    return Network.mlp(**network_kwargs(params, spec, train_cfg, seed)), spec


def network_kwargs(params: dict, spec: dict, train_cfg, seed: int) -> dict:
    """Keyword arguments of :meth:`Network.mlp` for ``params`` (plain, picklable values)."""
    return {"sizes": spec["sizes"], "activation": params["activation"],
            "output": spec["output"], "initializer": params["initializer"], "seed": seed,
            "dtype": train_cfg.dtype, "leaky_alpha": train_cfg.leaky_alpha}


def fit_options(params: dict, train_cfg, spec: dict, seed: int) -> dict:
    """Keyword arguments of :meth:`Network.fit` for a trial's hyperparameters."""
    from hpstudy.nn.regularization import strengths

    l1, l2 = strengths(params["regularizer"], params.get("lambda", 0.0))
    return {"loss": spec["loss"], "epochs": int(params["epochs"]),
            "batch_size": params["batch_size"], "learning_rate": float(params["learning_rate"]),
            "optimizer": params["optimizer"], "momentum": float(params.get("momentum", MOMENTUM)),
            "nesterov": train_cfg.nesterov, "l1": l1, "l2": l2, "schedule": params["schedule"],
            "early_stopping": train_cfg.early_stopping or None, "seed": seed}


def predictions(net: Network, X: np.ndarray, task: str, spec: dict | None = None) -> np.ndarray:
    """Class probabilities (n, k) for classification, predictions (n,) for regression (in the
    target's own units when ``spec`` carries the target scaling)."""
    if task == "classification":
        proba = net.predict_proba(X).astype(np.float64)  # float32 rows sum to 1 ± 1e-7 only
        proba /= proba.sum(axis=1, keepdims=True)
        return proba
    out = net.forward(X)[:, 0].astype(float)
    if spec is not None:
        out = out * spec["target_scale"] + spec["target_offset"]
    return out


def evaluate(net: Network, dataset, spec: dict) -> dict:
    """Final ``val_``/``test_`` metrics of a trained network."""
    out = {}
    for split in ("val", "test"):
        X, y = getattr(dataset, f"X_{split}"), getattr(dataset, f"y_{split}")
        pred = predictions(net, X, dataset.task, spec)
        metrics = classification_metrics(y, pred) if dataset.task == "classification" \
            else regression_metrics(y, pred)
        out.update({f"{split}_{k}": float(v) for k, v in metrics.items()})
    return out


def stability_metrics(net: Network, dataset, cfg) -> dict:
    """``stability_*`` scores of the trained network on the test split.

    Inputs are in standardised feature units; a regression network's outputs are in
    standardised target units, so its sensitivities are unit-free and comparable across
    datasets.
    """
    X = dataset.X_test
    scores = stability.noise_sensitivity(net, X, levels=tuple(cfg.noise_levels),
                                         draws=cfg.draws, seed=0, task=dataset.task)
    scores["jacobian_norm"] = stability.jacobian_norm(net, X, task=dataset.task)
    return {f"stability_{k}": float(v) for k, v in scores.items()}


def blas_threads(spec: dict, batch_size, n_train: int):
    """A context that limits BLAS to one thread for a small network (see
    :data:`ONE_THREAD_MACS`), else does nothing."""
    rows = n_train if batch_size in (None, "full") else min(int(batch_size), n_train)
    widest = max(a * b for a, b in zip(spec["sizes"][:-1], spec["sizes"][1:], strict=False))
    if rows * widest >= ONE_THREAD_MACS:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


@dataclass
class TrialResult:
    """What a finished trial produced (kept in memory for charts and the model)."""

    params: dict
    net: Network
    history: object
    metrics: dict
    spec: dict
    seconds: float


def _f1_macro(y: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Macro F1 from a confusion matrix (equals sklearn's f1_score(average="macro") with
    zero_division=0 over the labels 0..k-1 present in y or predicted)."""
    cm = np.bincount(y * k + labels, minlength=k * k).reshape(k, k)
    tp = np.diag(cm).astype(float)
    denom = cm.sum(axis=0) + cm.sum(axis=1)
    present = denom > 0
    f1 = np.divide(2 * tp, denom, out=np.zeros(k), where=present)
    return float(f1[present].mean()) if present.any() else 0.0


def epoch_value(name: str, y: np.ndarray, pred: np.ndarray, task: str) -> float:
    """The validation value of metric ``name`` (without ``val_``) after an epoch.

    Accuracy, macro F1 and the regression errors are computed here in NumPy because they run
    every epoch of every trial; anything else goes through :mod:`hpstudy.evaluation.metrics`.
    """
    if task == "classification":
        labels = pred.argmax(axis=1)
        if name == "accuracy":
            return float(np.mean(labels == y))
        if name == "f1_macro":
            return _f1_macro(y, labels, pred.shape[1])
        return float(classification_metrics(y, pred)[name])
    err = pred - y
    fast = {"mse": lambda: np.mean(err**2), "rmse": lambda: np.sqrt(np.mean(err**2)),
            "mae": lambda: np.mean(np.abs(err))}
    if name in fast:
        return float(fast[name]())
    return float(regression_metrics(y, pred)[name])


class EpochHook(Callback):
    """Per-epoch hook: buffer step metrics for MLflow and report the objective to Optuna.

    Step metrics: ``train_loss``, ``val_loss``, ``train_<acc|r2>``, ``val_<objective metric>``,
    ``learning_rate``, ``epoch_seconds`` and the per-layer diagnostics. They are sent in batches
    every ``flush_every`` epochs (None: never by count) or once the oldest buffered row is
    ``flush_seconds`` old (None: never by time), and with the trial's final metrics
    (:meth:`take`) or by :meth:`flush` when it ends. Raises ``optuna.TrialPruned`` when the
    pruner says so (single-objective studies whose objective is a ``val_`` metric).
    """

    def __init__(self, trial, tracker, run_id, dataset, spec: dict, metric: str | None,
                 prune: bool, flush_every: int | None = 10, flush_seconds: float | None = None):
        self.trial, self.tracker, self.run_id, self.dataset = trial, tracker, run_id, dataset
        self.spec = spec
        self.metric, self.prune, self.flush_every = metric, prune, flush_every
        self.flush_seconds, self.since = flush_seconds, time.monotonic()
        self.rows: list = []

    def on_epoch_end(self, net, epoch, logs):
        row = {k: v for k, v in logs.items() if k not in ("epoch", "seconds", "train_metric",
                                                           "val_metric")}
        row["epoch_seconds"] = logs["seconds"]
        row[f"train_{metric_name(net)}"] = logs["train_metric"]  # History.metric_name
        if self.metric:
            pred = predictions(net, self.dataset.X_val, self.dataset.task, self.spec)
            value = epoch_value(self.metric, self.dataset.y_val, pred, self.dataset.task)
            row[f"val_{self.metric}"] = value
            if self.prune:
                self.trial.report(value, step=epoch)
        if not self.rows:
            self.since = time.monotonic()
        self.rows.append((row, epoch))
        if (self.flush_every is not None and len(self.rows) >= self.flush_every) or (
                self.flush_seconds is not None
                and time.monotonic() - self.since >= self.flush_seconds):
            self.flush()
        if self.prune and self.metric and self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned at epoch {epoch}: val_{self.metric} = {value:.4g}")
        return False

    def flush(self) -> None:
        if self.rows and self.tracker is not None:
            self.tracker.log_metrics(self.run_id, self.rows)
        self.rows = []

    def take(self) -> list:
        """The buffered ``[(row, epoch), ...]``, for the caller to send; the buffer is emptied."""
        rows, self.rows = self.rows, []
        return rows


def _dominates(a, b, directions) -> bool:
    """True when value vector ``a`` is at least as good as ``b`` everywhere and better once."""
    sign = [1 if d == "maximize" else -1 for d in directions]
    pairs = [(s * x, s * y) for s, x, y in zip(sign, a, b, strict=True)]
    return all(x >= y for x, y in pairs) and any(x > y for x, y in pairs)


def is_improving(trial, values: list, directions: list) -> bool:
    """Does this trial beat (or tie) every completed one so far / sit on the Pareto front?"""
    study = getattr(trial, "study", None)
    if study is None:  # a single run (optuna.trial.FixedTrial): always worth keeping
        return True
    done = [t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
            if t.number != trial.number and t.values is not None]
    if len(directions) == 1:
        sign = 1 if directions[0] == "maximize" else -1
        return all(sign * values[0] >= sign * t.values[0] for t in done)
    return not any(_dominates(t.values, values, directions) for t in done)


@contextlib.contextmanager
def signals_deferred():
    """Hold SIGINT and SIGTERM back for the duration (main thread only), so that a run is
    never created without its id being recorded; a held signal is delivered on exit."""
    main = threading.current_thread() is threading.main_thread()
    held = {signal.SIGINT, signal.SIGTERM}
    if main:
        signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        if main:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, held)


class Objective:
    """The callable Optuna runs for each trial (one per worker process).

    Parameters
    ----------
    cfg : ExperimentConfig
    dataset : hpstudy.data.Dataset
    tracker : Tracker
        Where the trial's run is logged.
    experiment_id, parent_id : str
        The study's MLflow experiment and parent run.
    """

    def __init__(self, cfg, dataset, tracker, experiment_id=None, parent_id=None,
                 run_name: str | None = None):
        self.cfg, self.dataset, self.tracker = cfg, dataset, tracker
        self.experiment_id, self.parent_id, self.run_name = experiment_id, parent_id, run_name
        objectives = cfg.objectives
        val_metric = objectives[0][4:] if objectives[0].startswith("val_") else None
        self.step_metric = val_metric or ("f1_macro" if dataset.task == "classification"
                                          else "rmse")
        self.prune = len(objectives) == 1 and val_metric is not None \
            and cfg.study.pruner != "none"

    def logged_params(self, params: dict, spec: dict, seed: int) -> dict:
        """Searched values, the fixed training settings, data identity, seed and version."""
        train = {f"train.{k}": v for k, v in self.cfg.to_dict()["train"].items()}
        return {**params, **train, "hidden_sizes": spec["sizes"][1:-1], "loss_resolved":
                spec["loss"], "output": spec["output"], "dataset": self.dataset.name,
                "dataset_fingerprint": self.dataset.fingerprint, "seed": seed,
                "hpstudy_version": __version__}

    def __call__(self, trial) -> float | list[float]:
        params = suggest_params(trial, self.cfg.search)
        seed = int(self.cfg.train.seed) + trial.number
        net, spec = build_network(params, self.dataset, self.cfg.train, seed)
        run_id = hook = None
        try:
            with signals_deferred():  # a Ctrl-C now would leave the new run RUNNING
                run_id = self.tracker.start_trial(self.experiment_id, self.parent_id,
                                                  self.cfg.study.name, trial.number,
                                                  self.logged_params(params, spec, seed),
                                                  run_name=self.run_name)
                for key, value in (("mlflow_run_id", run_id), ("host", socket.gethostname()),
                                   ("pid", os.getpid()), ("hparams", params)):
                    trial.set_user_attr(key, value)
            hook = EpochHook(trial, self.tracker, run_id, self.dataset, spec, self.step_metric,
                             self.prune, flush_every=None, flush_seconds=FLUSH_SECONDS)
            with blas_threads(spec, params["batch_size"], len(self.dataset.y_train)):
                result = self._train(net, spec, params, seed, hook)
            values = [result.metrics[name] for name in self.cfg.objectives]
            self._log_result(trial, run_id, result, values, hook)
        except BaseException as err:  # record every way a trial can end, then let Optuna see it
            if run_id is not None:
                self._record_failure(trial, run_id, hook, err)
            raise
        # outcome and values before the run ends: if the worker dies before Optuna hears of
        # it, the recovery completes the trial with them (runner.settle_dead_trials)
        trial.set_user_attr(VALUES, [float(v) for v in values])
        trial.set_user_attr(OUTCOME, "completed")
        self.tracker.end_run(run_id, "FINISHED", "COMPLETE")
        return values[0] if len(values) == 1 else values

    def _train(self, net, spec, params, seed, hook) -> TrialResult:
        ds, start = self.dataset, time.perf_counter()
        options = fit_options(params, self.cfg.train, spec, seed)
        history = net.fit(ds.X_train, targets(ds.y_train, ds, spec), callbacks=[hook],
                          validation=(ds.X_val, targets(ds.y_val, ds, spec)), **options)
        metrics = evaluate(net, ds, spec)
        metrics.update(stability_metrics(net, ds, self.cfg.stability))
        metrics.update(epochs_run=history.epochs, n_parameters=net.n_parameters,
                       train_seconds=time.perf_counter() - start)
        return TrialResult(params, net, history, metrics, spec, time.perf_counter() - start)

    def _log_result(self, trial, run_id, result: TrialResult, values: list, hook) -> None:
        # the step metrics still buffered and the final ones in one call
        self.tracker.log_metrics(run_id, [*hook.take(), (result.metrics, result.history.epochs)])
        trial.set_user_attr("metrics", {k: v for k, v in result.metrics.items()
                                        if np.isfinite(v)})
        improving = is_improving(trial, values, self.cfg.directions)
        charts = self.cfg.tracking.charts_for == "all" or (
            self.cfg.tracking.charts_for == "improving" and improving)
        model = self.cfg.tracking.model_for == "all" or (
            self.cfg.tracking.model_for == "improving" and improving)
        wanted = list(self.cfg.tracking.charts) if charts else []
        pred = predictions(result.net, self.dataset.X_test, self.dataset.task, result.spec) \
            if wanted else None
        with tempfile.TemporaryDirectory(prefix="hpstudy-trial-") as tmp:
            artifacts.write_trial_artifacts(Path(tmp), result, self.dataset, wanted, pred)
            self.tracker.log_artifacts(run_id, tmp)
        if model:
            self.tracker.log_model(run_id, result.net,
                                   artifacts.preprocess_info(self.dataset, result.spec))
            trial.set_user_attr("has_model", True)

    def _record_failure(self, trial, run_id, hook, err: BaseException) -> None:
        outcome, status, state, reason = classify_failure(err)
        trial.set_user_attr(OUTCOME, outcome)
        trial.set_user_attr("reason", reason)
        rows = hook.take() if hook is not None else []
        try:  # the step metrics still buffered go with the state tags
            self.tracker.end_run(run_id, status, state, reason, rows=rows)
        except Exception:  # noqa: BLE001 - the run must end whatever the metrics did
            self.tracker.end_run(run_id, status, state, reason)


def classify_failure(err: BaseException) -> tuple[str, str, str, str]:
    """``(outcome, MLflow status, Optuna state, one-line reason)`` for an exception."""
    if isinstance(err, optuna.TrialPruned):
        return "pruned", "KILLED", "PRUNED", str(err) or "pruned"
    if isinstance(err, DivergenceError):
        return "diverged", "FAILED", "FAIL", str(err)
    if isinstance(err, KeyboardInterrupt | SystemExit):
        return "interrupted", "KILLED", "FAIL", "interrupted (Ctrl-C or SIGTERM) during the trial"
    first = (str(err).splitlines() or [""])[0]
    return "error", "FAILED", "FAIL", f"{type(err).__name__}: {first}"


def trial_summary(trial) -> dict:
    """A JSON-able record of a frozen Optuna trial (number, state, values, params, metrics)."""
    return json.loads(json.dumps({
        "number": trial.number, "state": trial.state.name, "values": trial.values,
        "params": trial.params, "outcome": trial.user_attrs.get(OUTCOME),
        "run_id": trial.user_attrs.get("mlflow_run_id"),
        "metrics": trial.user_attrs.get("metrics", {}),
        "seconds": trial.duration.total_seconds() if trial.duration else None,
    }, default=str))
