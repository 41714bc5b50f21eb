"""Tables derived from a :class:`~hpstudy.report.records.StudyRecord`: plain lists and dicts that
the figures draw and the renderers print (and that tests check).

Completed trials carry the objective. Pruned trials are counted beside them but their values
are not mixed in: a trial pruned at epoch 3 was not worse at epoch 20, it was not trained that
far. Failed trials (diverged, errors) have no value at all.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from hpstudy.evaluation.metrics import METRICS, SPLITS, STABILITY_METRICS, find_metric
from hpstudy.experiment.hyperparameters import HYPERPARAMETERS, report_order
from hpstudy.report.records import RELU_FAMILY, SATURATING, UNFINISHED, StudyRecord, TrialRecord

#: metrics on the leaderboard, each as validation and test value
MAIN_METRICS = {task: tuple(m.name for m in METRICS.values()
                            if m.leaderboard and m.task == task and m.prefixes == SPLITS)
                for task in ("classification", "regression")}
#: stability scores compared between the top trials (lower is more stable for every one)
STABILITY = STABILITY_METRICS
#: the stability scores on the leaderboard (all of :data:`STABILITY` are in the winner's table)
LEADER_STABILITY = tuple(name for name in STABILITY if find_metric(name).leaderboard)
#: order of categorical values that have a natural one
CATEGORY_ORDER = {name: hp.value_order for name, hp in HYPERPARAMETERS.items() if hp.value_order}
#: hyperparameters the one-line description of the best trial names (when searched)
SUMMARY_PARAMS = tuple(name for name, hp in HYPERPARAMETERS.items() if hp.summary)


def param_order(names) -> list[str]:
    """``names`` in the registry's report order, the rest alphabetically after them."""
    names = list(dict.fromkeys(names))
    order = report_order()
    known = [p for p in order if p in names]
    return known + sorted(p for p in names if p not in order)


def category_key(param: str, value) -> tuple:
    """Sort key for a category: known order, then numbers ascending, ``"full"`` last."""
    order = CATEGORY_ORDER.get(param, ())
    if value in order:
        return (0, order.index(value), "")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (1, float(value), "")
    return (2, 0.0, str(value))


def shown_value(trial: TrialRecord, param: str):
    """The trial's value of ``param``, or None when the parameter was not used (conditional)."""
    if trial.suggested and param not in trial.suggested:
        return None
    return trial.params.get(param)


# ----------------------------------------------------------------------------------------------
# objective by category
# ----------------------------------------------------------------------------------------------
@dataclass
class Group:
    """The trials that share one value (or pair of values) of some hyperparameters.

    ``values`` are the first-objective values of the completed trials, ``best`` the best of
    them by the study's direction, ``median`` their median (None without completed trials).
    """

    label: str
    key: tuple
    completed: int = 0
    pruned: int = 0
    failed: int = 0
    values: list[float] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    best: float | None = None
    median: float | None = None

    @property
    def total(self) -> int:
        return self.completed + self.pruned + self.failed


def _add(group: Group, trial: TrialRecord) -> None:
    if trial.value is not None:
        group.completed += 1
        group.values.append(trial.value)
        group.numbers.append(trial.number)
    elif trial.outcome == "pruned":
        group.pruned += 1
    elif trial.outcome not in UNFINISHED:
        group.failed += 1


def _finish(groups: dict, maximize: bool) -> list[Group]:
    for g in groups.values():
        if g.values:
            g.best = max(g.values) if maximize else min(g.values)
            g.median = statistics.median(g.values)
    return [groups[k] for k in sorted(groups)]


def group_by(record: StudyRecord, *params: str) -> list[Group]:
    """Trials grouped by the values of ``params`` (one or two), in natural order.

    A trial that did not use one of the parameters is left out (e.g. ``lambda``).
    """
    groups: dict[tuple, Group] = {}
    for trial in record.trials:
        values = [shown_value(trial, p) for p in params]
        if any(v is None for v in values):
            continue
        key = tuple(category_key(p, v) for p, v in zip(params, values, strict=True))
        label = " × ".join(str(v) for v in values)
        _add(groups.setdefault(key, Group(label, tuple(values))), trial)
    return _finish(groups, record.maximize)


def categories(record: StudyRecord, param: str) -> list:
    """The values ``param`` took in the study, in natural order."""
    return categories_of(record.trials, param)


def categories_of(trials: list[TrialRecord], param: str) -> list:
    """The values ``param`` took in ``trials``, in natural order."""
    found = {shown_value(t, param) for t in trials} - {None}
    return sorted(found, key=lambda v: category_key(param, v))


# ----------------------------------------------------------------------------------------------
# leaderboard, stability, gain/lift
# ----------------------------------------------------------------------------------------------
def metric_groups(record: StudyRecord) -> list[tuple[str, list[str]]]:
    """Leaderboard metrics: ``[(name, [val_name, test_name]), ...]`` for the main metrics the
    top trials have (e.g. ``("accuracy", ["val_accuracy", "test_accuracy"])``)."""
    present = {k for t in record.top_trials() for k in t.metrics}
    groups = [(m, [c for c in (f"val_{m}", f"test_{m}") if c in present])
              for m in MAIN_METRICS[record.task]]
    return [(m, cols) for m, cols in groups if cols]


def metric_columns(record: StudyRecord) -> list[str]:
    """The objectives (when they are metrics), then the columns of :func:`metric_groups`."""
    cols = [o for o in record.objectives if any(o in t.metrics for t in record.top_trials())]
    return list(dict.fromkeys(cols + [c for _, group in metric_groups(record) for c in group]))


def stability_columns(record: StudyRecord, short: bool = False) -> list[str]:
    """Stability scores the top trials have (``short``: the three the leaderboard shows)."""
    present = {k for t in record.top_trials() for k in t.metrics}
    wanted = [c for c in LEADER_STABILITY if c not in record.objectives] if short else STABILITY
    return [c for c in wanted if c in present]


def leaderboard(record: StudyRecord) -> list[dict]:
    """One row per top trial: ``rank``, ``trial``, ``run_url``, ``params`` (searched ones,
    None when unused), ``metrics`` (:func:`metric_columns`) and ``stability`` (the short list
    of :func:`stability_columns`)."""
    params = param_order(record.searched)
    rows = []
    for rank, trial in enumerate(record.top_trials(), 1):
        rows.append({
            "rank": rank, "trial": trial.number, "run_id": trial.run_id, "run_url": trial.run_url,
            "params": {p: shown_value(trial, p) for p in params},
            "metrics": {m: trial.metrics.get(m) for m in metric_columns(record)},
            "stability": {s: trial.metrics.get(s) for s in stability_columns(record, True)},
            "best": trial.number == record.best})
    return rows


def gain_lift_view(rows: list[dict] | None) -> tuple[list[str], list[list]] | None:
    """The gain/lift table as (header, rows) for a page.

    Binary: the decile table as logged. Several classes (one-vs-rest, one block per class): one
    row per class with the top-decile lift and the cumulative gain at 10, 20, 30 and 50 %.
    """
    if not rows:
        return None
    if "class" not in rows[0]:
        header = [c for c in ("bin", "n", "population_share", "positives", "response_rate",
                              "cumulative_gain", "lift") if c in rows[0]]
        return header, [[r[c] for c in header] for r in rows]
    header = ["class", "lift, top 10 %", "gain at 10 %", "gain at 20 %", "gain at 30 %",
              "gain at 50 %"]
    out = []
    for name in dict.fromkeys(r["class"] for r in rows):
        block = sorted((r for r in rows if r["class"] == name), key=lambda r: r["bin"])
        gain = [r["cumulative_gain"] for r in block]
        at = [gain[min(len(gain), round(len(gain) * s)) - 1] for s in (0.1, 0.2, 0.3, 0.5)]
        out.append([name, block[0]["lift"], *at])
    return header, out


# ----------------------------------------------------------------------------------------------
# training dynamics
# ----------------------------------------------------------------------------------------------
def layer_norms(trial: TrialRecord) -> list[float]:
    """Last-epoch gradient norm of each layer, input side first."""
    keys = sorted((k for k in trial.last if k.startswith("layer") and k.endswith("_grad_norm")),
                  key=lambda k: int(k[5:].split("_")[0]))
    return [trial.last[k] for k in keys]


def gradient_ratio(trial: TrialRecord) -> float | None:
    """First-layer gradient norm over output-layer gradient norm at the last epoch.

    ``ratio = ‖∂L/∂W¹‖ / ‖∂L/∂Wᴸ‖``: far below 1 means the gradient vanished on its way back
    to the input (sigmoid and tanh saturate, their derivatives are at most 1/4 and 1).
    """
    norms = layer_norms(trial)
    if len(norms) < 2 or not norms[-1] > 0 or not norms[0] >= 0:
        return None
    return norms[0] / norms[-1]


def gradient_ratios(record: StudyRecord) -> list[dict]:
    """``{trial, activation, depth, ratio, completed}`` for every trial with gradient norms."""
    out = []
    for t in record.trials:
        ratio = gradient_ratio(t)
        if ratio is not None and ratio > 0:
            out.append({"trial": t.number, "activation": t.params.get("activation"),
                        "depth": t.depth, "ratio": ratio, "completed": t.value is not None})
    return out


def family_ratio(ratios: list[dict], family: tuple, min_depth: int = 1) -> float | None:
    """Median gradient ratio of the trials of an activation family with ``depth >= min_depth``."""
    found = [r["ratio"] for r in ratios if r["activation"] in family
             and (r["depth"] or 0) >= min_depth]
    return statistics.median(found) if found else None


def batch_effects(record: StudyRecord) -> list[dict]:
    """Per trial: batch size, seconds of its last epoch, final validation and training loss."""
    out = []
    for t in record.trials:
        if "batch_size" not in t.params or "epoch_seconds" not in t.last:
            continue
        out.append({"trial": t.number, "batch_size": t.params["batch_size"],
                    "epoch_seconds": t.last["epoch_seconds"], "val_loss": t.last.get("val_loss"),
                    "train_loss": t.last.get("train_loss"),
                    "loss": t.params.get("loss", "auto"), "completed": t.value is not None})
    return out


def history(record: StudyRecord, number: int, key: str) -> tuple[list[int], list[float]]:
    """Epochs and values of one metric of a plotted trial (empty when not read)."""
    points = record.histories.get(number, {}).get(key, [])
    return [int(s) for s, _ in points], [float(v) for _, v in points]


def optimization_history(record: StudyRecord) -> list[dict]:
    """Per trial in order: its value (or last reported value when pruned) and the best so far."""
    best, out = None, []
    for t in sorted(record.trials, key=lambda t: t.number):
        if t.value is not None:
            better = best is None or (t.value > best if record.maximize else t.value < best)
            best = t.value if better else best
        out.append({"trial": t.number, "outcome": t.outcome, "value": t.value,
                    "last_value": t.last_value, "best": best})
    return out


# ----------------------------------------------------------------------------------------------
# the study in sentences
# ----------------------------------------------------------------------------------------------
def _g(value, digits: int = 4) -> str:
    if value is None:
        return "—"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def _best_sentence(record: StudyRecord) -> str:
    t = record.best_trial
    p = t.params
    arch = f"{p.get('depth', '?')} × {p.get('width', '?')} {p.get('activation', '')}".strip()
    test = next((m for m in metric_columns(record) if m.startswith("test_")
                 and m[5:] == record.objectives[0][4:]), None)
    extra = f" (test {_g(t.metrics.get(test))})" if test else ""
    shown = [f"{k} {_g(v, 3) if isinstance(v, float) else v}" for k, v in p.items()
             if k in SUMMARY_PARAMS and k in record.searched]
    return (f"Best: trial {t.number}, {record.objectives[0]} = {_g(t.value)}{extra}: "
            f"{arch}, " + ", ".join(shown) + ".")


def _activation_sentence(record: StudyRecord) -> str | None:
    groups = [g for g in group_by(record, "activation") if g.values]
    if len(groups) < 2:
        return None
    ordered = sorted(groups, key=lambda g: g.median, reverse=record.maximize)
    parts = [f"{g.label} {_g(g.median, 3)} ({g.completed} completed, {g.pruned} pruned)"
             for g in ordered]
    return f"Median {record.objectives[0]} by activation: " + "; ".join(parts) + "."


def deepest_shared_depth(ratios: list[dict]) -> int | None:
    """The largest depth at which both sigmoid/tanh and ReLU-family trials have ratios."""
    depths = {f: {r["depth"] for r in ratios if r["activation"] in f and r["depth"]}
              for f in (SATURATING, RELU_FAMILY)}
    shared = depths[SATURATING] & depths[RELU_FAMILY]
    return max(shared) if shared else None


def _gradient_sentence(record: StudyRecord) -> str | None:
    ratios = gradient_ratios(record)
    depth = deepest_shared_depth(ratios)
    if depth is None:
        return None
    at = [r for r in ratios if r["depth"] == depth]
    parts = []
    for act in categories_of(record.trials, "activation"):
        found = [r for r in at if r["activation"] == act]
        if found:
            low = min(found, key=lambda r: r["ratio"])
            lowest = f" (lowest {_g(low['ratio'], 2)}×, trial {low['trial']})" \
                if len(found) > 1 and low["ratio"] < 0.1 else ""
            parts.append(f"{act} {_g(statistics.median(r['ratio'] for r in found), 2)}×{lowest}")
    layers = f"{depth} hidden layer{'s' if depth > 1 else ''}"
    return (f"Gradient flow: in networks with {layers}, the first layer's gradient norm over "
            "the output layer's at the last epoch was (median) " + ", ".join(parts)
            + "; far below 1× means the gradient vanished on its way back.")


def _range_sentence(record: StudyRecord, param: str, name: str) -> str | None:
    top = [v for t in record.top_trials() if isinstance(v := shown_value(t, param), int | float)]
    tried = [v for t in record.trials if isinstance(v := shown_value(t, param), int | float)]
    if not top or len(set(tried)) < 2:
        return None
    return (f"{name}: the top {len(record.top)} trials used {_g(min(top), 2)}–{_g(max(top), 2)}"
            f" (tried {_g(min(tried), 2)}–{_g(max(tried), 2)}).")


def _batch_sentence(record: StudyRecord) -> str | None:
    rows = batch_effects(record)
    sizes = categories_of(record.trials, "batch_size")
    if len(sizes) < 2 or not rows:
        return None
    per = {s: statistics.median(r["epoch_seconds"] for r in rows if r["batch_size"] == s)
           for s in sizes if any(r["batch_size"] == s for r in rows)}
    first, last = sizes[0], sizes[-1]
    used = sorted({str(t.params.get("batch_size")) for t in record.top_trials()})
    return (f"Batch size: an epoch took a median {_g(per.get(first), 2)} s with batch size "
            f"{first} and {_g(per.get(last), 2)} s with {last}; the top {len(record.top)} "
            f"used {', '.join(used)}.")


def _regularizer_sentence(record: StudyRecord) -> str | None:
    done = record.completed()
    pick = max if record.maximize else min
    with_reg = [t for t in done if t.params.get("regularizer", "none") != "none"]
    without = [t for t in done if t.params.get("regularizer", "none") == "none"]
    if not with_reg or not without:
        return None
    best = pick(with_reg, key=lambda t: t.value)
    return (f"Regularization: best with a regularizer {_g(best.value)} ({best.params['regularizer']}, "
            f"λ = {_g(best.params.get('lambda'), 2)}), best without "
            f"{_g(pick(t.value for t in without))}.")


def _stability_sentence(record: StudyRecord) -> str | None:
    key = "stability_noise_sensitivity"
    top = [t for t in record.top_trials() if key in t.metrics]
    best = record.best_trial
    if key not in best.metrics or len(top) < 2:
        return None
    others = statistics.median(t.metrics[key] for t in top if t.number != best.number)
    return (f"Stability: the winner's noise sensitivity is {_g(best.metrics[key], 3)} against a "
            f"median {_g(others, 3)} for the other top-{len(top)} trials (lower is steadier).")


def findings(record: StudyRecord) -> list[str]:
    """A few sentences that answer the study's questions (best trial, what mattered, …)."""
    out = [_best_sentence(record)] if record.best_trial else []
    if record.importances:
        top = list(record.importances.items())[:3]
        out.append("Most important hyperparameters (fANOVA, share of the objective's variance): "
                   + ", ".join(f"{k} {v:.0%}" for k, v in top) + ".")
    makers = (_activation_sentence, lambda r: _range_sentence(r, "learning_rate", "Learning rate"),
              _batch_sentence, _regularizer_sentence, _gradient_sentence, _stability_sentence)
    for make in makers:
        sentence = make(record)
        if sentence:
            out.append(sentence)
    return out


# ----------------------------------------------------------------------------------------------
# several studies
# ----------------------------------------------------------------------------------------------
def comparison(records: list[StudyRecord]) -> tuple[list[str], list[list]]:
    """Side-by-side summary: one row per fact, one column per study."""
    def row(label, fn):
        return [label, *[fn(r) for r in records]]

    def best_metric(r, prefix):
        name = next((m for m in metric_columns(r) if m.startswith(prefix)), None)
        return f"{name} {_g(r.best_trial.metrics.get(name))}" if name else "—"

    rows = [row("dataset", lambda r: f"{r.dataset} ({r.fingerprint})"),
            row("objective", lambda r: ", ".join(f"{o} ({d})" for o, d in
                                                 zip(r.objectives, r.directions, strict=True))),
            row("sampler / pruner", lambda r: f"{r.sampler} / {r.pruner}"),
            row("trials", lambda r: ", ".join(f"{n} {k}" for k, n in r.counts.items() if n)),
            row("wall time", lambda r: duration(r.wall_seconds)),
            row("best trial", lambda r: f"trial {r.best}: {r.objectives[0]} = "
                f"{_g(r.best_trial.value)}"),
            row("best, test", lambda r: best_metric(r, "test_"))]
    return ["", *[r.name for r in records]], rows


def _best_cell(record: StudyRecord, param: str) -> str:
    best = record.best_trial
    if param not in record.searched:
        return f"{_g(best.params[param], 3)} (fixed)" if param in best.params else "—"
    value = shown_value(best, param)
    return "—" if value is None else _g(value, 3) if isinstance(value, float) else str(value)


def best_params_table(records: list[StudyRecord]) -> tuple[list[str], list[list]]:
    """Hyperparameters of each study's best trial: one row per parameter, one column per study;
    a value the study did not search is marked ``(fixed)``."""
    params = param_order({p for r in records for p in r.best_trial.params})
    rows = [[p, *[_best_cell(r, p) for r in records]] for p in params]
    return ["", *[r.name for r in records]], rows


def pareto_table(record: StudyRecord) -> tuple[list[str], list[list]]:
    """The Pareto-front trials: number, both objectives and the searched parameters."""
    params = param_order(record.searched)
    front = [record.trial(n) for n in record.pareto or [] if record.trial(n).values]
    front.sort(key=lambda t: t.values[0], reverse=record.maximize)
    rows = [[f"#{t.number}", *t.values, *[shown_value(t, p) for p in params]] for t in front]
    return ["trial", *record.objectives, *params], rows


def duration(seconds: float | None) -> str:
    """``1 h 02 min``, ``3 min 05 s``, ``12.3 s``."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


# ----------------------------------------------------------------------------------------------
# parallel coordinates
# ----------------------------------------------------------------------------------------------
def _axis(record: StudyRecord, param: str) -> dict:
    """One axis: how the values of ``param`` map to [0, 1], and its tick labels."""
    values = categories(record, param)
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    if not numeric or len(values) <= 1:
        pos = {v: (i / (len(values) - 1) if len(values) > 1 else 0.5) for i, v in
               enumerate(values)}
        return {"name": param, "kind": "category", "position": pos,
                "ticks": [(p, str(v)) for v, p in pos.items()]}
    lo, hi = float(min(values)), float(max(values))
    log = lo > 0 and hi / lo > 100
    f = (lambda v: math.log10(v)) if log else float
    span = (f(hi) - f(lo)) or 1.0
    return {"name": param, "kind": "log" if log else "linear",
            "scale": (f, f(lo), span), "ticks": [(0.0, f"{lo:.3g}"), (1.0, f"{hi:.3g}")]}


def _position(axis: dict, value) -> float | None:
    if value is None:
        return None
    if axis["kind"] == "category":
        return axis["position"].get(value)
    f, lo, span = axis["scale"]
    return (f(float(value)) - lo) / span


def parallel_coordinates(record: StudyRecord, max_params: int = 8) -> dict:
    """Axes (the most important parameters first, then the objective) and one polyline per
    completed trial: ``{"axes": [{name, ticks}], "lines": [{trial, value, positions}]}``.

    Positions are in [0, 1] (log scale for ranges spanning more than two decades; categories
    evenly spaced); a parameter a trial did not use is None (the line has a gap there).
    """
    order = [p for p in record.importances if p in record.searched]
    params = (order + [p for p in param_order(record.searched) if p not in order])[:max_params]
    axes = [_axis(record, p) for p in params]
    done = record.completed()
    lo = min(t.value for t in done)
    span = (max(t.value for t in done) - lo) or 1.0
    lines = [{"trial": t.number, "value": t.value,
              "positions": [_position(a, shown_value(t, a["name"])) for a in axes]
              + [(t.value - lo) / span]} for t in done]
    ticks = [(0.0, f"{lo:.3g}"), (1.0, f"{lo + span:.3g}")]
    public = [{"name": a["name"], "ticks": a["ticks"]} for a in axes]
    return {"axes": public + [{"name": record.objectives[0], "ticks": ticks}], "lines": lines}


def pareto_points(record: StudyRecord) -> dict:
    """Completed trials' two first objectives, and the Pareto front sorted by the first."""
    done = [t for t in record.completed() if len(t.values) >= 2]
    points = [{"trial": t.number, "x": t.values[0], "y": t.values[1]} for t in done]
    front = sorted((p for p in points if p["trial"] in (record.pareto or [])),
                   key=lambda p: p["x"])
    return {"points": points, "front": front}
