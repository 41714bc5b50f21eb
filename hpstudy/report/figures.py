"""Report charts, drawn from the plain records of :mod:`hpstudy.report.records` and
:mod:`hpstudy.report.analysis` into PNG files.

Like :mod:`hpstudy.evaluation.charts` (whose house style they share), figures are
:class:`matplotlib.figure.Figure` objects on the Agg canvas: no pyplot, no global state, nothing
left open. Every function takes a record and a ``path``, writes one PNG and returns the path.

Markers mean the same in every chart: a filled dot is a completed trial (coloured by its
activation where that helps), an open grey circle a pruned trial at the last value it reported
before it was stopped, a red cross at the bottom edge a trial that failed (diverged or raised).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from hpstudy.evaluation.charts import DPI, PALETTE, _log_y, _save, _style, _title
from hpstudy.report import analysis as an
from hpstudy.report.records import UNFINISHED, StudyRecord

ACTIVATION_COLORS = {"sigmoid": PALETTE[3], "tanh": PALETTE[1], "relu": PALETTE[0],
                     "leaky_relu": PALETTE[2], "identity": PALETTE[7]}
PRUNED_COLOR, FAILED_COLOR, BEST_COLOR, MEDIAN_COLOR = "#9a9a9a", "#d62728", "#d62728", "#555"


def new_figure(ncols: int = 1, figsize=(6.4, 4.2), sharey: bool = False):
    """A constrained-layout Figure (not known to pyplot) and its styled axes."""
    fig = Figure(figsize=figsize, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False, sharey=sharey)[0]
    for ax in axes:
        _style(ax)
    return fig, (axes[0] if ncols == 1 else axes)


def activation_color(name) -> str:
    return ACTIVATION_COLORS.get(name, PALETTE[4])


def objective_label(record: StudyRecord) -> str:
    arrow = "higher is better" if record.maximize else "lower is better"
    return f"{record.objectives[0]} ({arrow})"


def _jitter(n: int, seed: int, width: float = 0.28) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-width / 2, width / 2, n)


def _fail_marks(ax, xs: list[float]) -> None:
    """Red crosses on the bottom edge at ``xs`` (data x, axes y): failed trials."""
    if xs:
        ax.scatter(xs, [0.02] * len(xs), marker="x", s=36, color=FAILED_COLOR, zorder=4,
                   transform=ax.get_xaxis_transform(), clip_on=False,
                   label=f"failed ({len(xs)})")


def _outcome_scatter(ax, record: StudyRecord, x_of, color_by: str | None = "activation") -> None:
    """Completed trials as dots at their value, pruned ones as open circles at their last
    reported value, failed ones as crosses; ``x_of(trial)`` gives x or None to skip."""
    done, pruned, failed = [], [], []
    for t in record.trials:
        x = x_of(t)
        if x is None:
            continue
        if t.value is not None:
            done.append((x, t.value, t))
        elif t.outcome == "pruned" and t.last_value is not None:
            pruned.append((x, t.last_value))
        elif t.outcome != "pruned" and t.outcome not in UNFINISHED:
            failed.append(x)
    if pruned:
        ax.scatter(*zip(*pruned, strict=True), s=34, facecolor="none", edgecolor=PRUNED_COLOR,
                   lw=1.1, label=f"pruned ({len(pruned)}; value when stopped)", zorder=2)
    _completed_dots(ax, done, color_by)
    _fail_marks(ax, failed)
    _mark_best(ax, record, done)


def _completed_dots(ax, done: list, color_by: str | None) -> None:
    if not done:
        return
    if color_by is None:
        ax.scatter([d[0] for d in done], [d[1] for d in done], s=40, color=PALETTE[0],
                   edgecolor="white", lw=0.6, zorder=3, label=f"completed ({len(done)})")
        return
    names = an.categories_of([d[2] for d in done], color_by)
    for i, name in enumerate(names):
        pts = [d for d in done if d[2].params.get(color_by) == name]
        color = activation_color(name) if color_by == "activation" else PALETTE[i % 10]
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=40, zorder=3, edgecolor="white",
                   lw=0.6, color=color, label=f"{name} ({len(pts)})")


def _mark_best(ax, record: StudyRecord, done: list) -> None:
    best = [d for d in done if d[2].number == record.best]
    if best:
        x, y, _ = best[0]
        ax.scatter([x], [y], s=170, marker="*", color="gold", edgecolor="#222", lw=0.8,
                   zorder=5, label=f"best (trial {record.best})")


def _legend(ax, **kwargs) -> None:
    options = {"fontsize": 8, "frameon": False, "loc": "best"}
    options.update(kwargs)
    ax.legend(**options)


# ----------------------------------------------------------------------------------------------
# what mattered
# ----------------------------------------------------------------------------------------------
def plot_importances(record: StudyRecord, path) -> Path:
    """fANOVA importance of each hyperparameter as horizontal bars, largest on top."""
    items = list(record.importances.items())[::-1]
    fig, ax = new_figure(figsize=(6.4, 0.5 + 0.36 * max(3, len(items))))
    ax.grid(axis="y", visible=False)
    bars = ax.barh([k for k, _ in items], [v for _, v in items], color=PALETTE[0], height=0.62)
    for bar, (_, v) in zip(bars, items, strict=True):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {v:.0%}", va="center",
                fontsize=8.5)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlim(0, max(v for _, v in items) * 1.15)
    ax.set_xlabel(f"share of the variance of {record.objectives[0]} (fANOVA)")
    _title(ax, "Parameter importance", f"{len(record.completed())} completed trials")
    return _save(fig, path)


def _category_panel(ax, record: StudyRecord, param: str) -> None:
    """Dots for completed trials, open circles for pruned ones (value when stopped) and a black
    bar at the median of the completed trials, one column per value of ``param``."""
    groups = an.group_by(record, param)
    pruned = {g.key: [t.last_value for t in record.trials if t.outcome == "pruned"
                      and t.last_value is not None and an.shown_value(t, param) == g.key[0]]
              for g in groups}
    for i, g in enumerate(groups):
        ax.scatter(i + 0.22 + _jitter(len(pruned[g.key]), 50 + i, 0.14), pruned[g.key], s=24,
                   facecolor="none", edgecolor=PRUNED_COLOR, lw=1.0, zorder=2)
        if g.values:
            color = activation_color(g.key[0]) if param == "activation" else PALETTE[0]
            ax.scatter(i - 0.08 + _jitter(len(g.values), i, 0.3), g.values, s=28, color=color,
                       zorder=3, edgecolor="white", lw=0.5)
            ax.plot([i - 0.3, i + 0.14], [g.median] * 2, color="#111", lw=2.2, zorder=4)
            ax.annotate(f"{g.median:.3g}", (i + 0.14, g.median), xytext=(2, 3), fontsize=7.5,
                        textcoords="offset points", color="#111")
    labels = [f"{g.label}\n{g.completed} done · {g.pruned} pruned"
              + (f" · {g.failed} failed" if g.failed else "") for g in groups]
    ax.set_xticks(range(len(groups)), labels, fontsize=8)
    ax.set_xlim(-0.6, len(groups) - 0.4)
    ax.grid(axis="x", visible=False)
    ax.set_title(f"by {param}", fontsize=11, loc="left", fontweight="bold")


def plot_categories(record: StudyRecord, path, params=("activation", "initializer")) -> Path:
    """The objective for each value of ``params``: completed trials (dots, median bar) and
    pruned ones (open circles at the value they were stopped on)."""
    params = [p for p in params if an.categories(record, p)]
    fig, axes = new_figure(len(params), figsize=(5.6 * len(params), 4.2), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, param in zip(axes, params, strict=True):
        _category_panel(ax, record, param)
    axes[0].set_ylabel(objective_label(record))
    return _save(fig, path)


def plot_cross(record: StudyRecord, path, rows: str = "activation",
               cols: str = "initializer") -> Path:
    """Heat map of the median objective for each pair of values, annotated with the best
    value and the number of completed (and pruned) trials."""
    r_vals, c_vals = an.categories(record, rows), an.categories(record, cols)
    cells = {g.key: g for g in an.group_by(record, rows, cols)}
    grid = np.array([[getattr(cells.get((rv, cv)), "median", None) for cv in c_vals]
                     for rv in r_vals], dtype=float)
    fig, ax = new_figure(figsize=(1.8 + 1.55 * len(c_vals), 1.2 + 0.78 * len(r_vals)))
    ax.grid(False)
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=_cmap(record.maximize), aspect="auto")
    for i, rv in enumerate(r_vals):
        for j, cv in enumerate(c_vals):
            shade = image.norm(grid[i, j]) if np.isfinite(grid[i, j]) else 0.0
            dark = shade > 0.6 if record.maximize else shade < 0.4
            ax.text(j, i, _cell_label(cells.get((rv, cv))), ha="center", va="center",
                    fontsize=8, color="white" if dark and np.isfinite(grid[i, j]) else "#111")
    fig.colorbar(image, ax=ax, shrink=0.85).set_label(f"median {record.objectives[0]}",
                                                     fontsize=8)
    ax.set_xticks(range(len(c_vals)), [str(v) for v in c_vals], fontsize=8.5)
    ax.set_yticks(range(len(r_vals)), [str(v) for v in r_vals], fontsize=8.5)
    ax.set_xlabel(cols)
    ax.set_ylabel(rows)
    _title(ax, f"{rows} × {cols}", "median of completed trials")
    return _save(fig, path)


def _cmap(maximize: bool):
    from matplotlib import colormaps

    return colormaps["YlGnBu" if maximize else "YlGnBu_r"].with_extremes(bad="#f2f2f2")


def _cell_label(g) -> str:
    if g is None:
        return "no trial"
    if g.median is None:
        return f"none completed\n{g.pruned} pruned, {g.failed} failed"
    extra = f", {g.pruned} pruned" if g.pruned else ""
    return f"median {g.median:.3g}\nbest {g.best:.3g}\n{g.completed} done{extra}"


def _log_axis(ax, values) -> None:
    ax.set_xscale("log")
    if values and max(values) / max(min(values), 1e-300) < 20:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.2g}"))


def plot_against(record: StudyRecord, path, param: str, log: bool = True,
                 color_by: str | None = "activation", title: str | None = None) -> Path:
    """The objective against a numeric hyperparameter (log axis when ``log``)."""
    fig, ax = new_figure()
    _outcome_scatter(ax, record, lambda t: _numeric(an.shown_value(t, param)), color_by)
    xs = [v for t in record.trials if (v := _numeric(an.shown_value(t, param))) is not None]
    if log and xs and min(xs) > 0:
        _log_axis(ax, xs)
    if param == "lambda":
        _no_regularizer_line(ax, record)
    ax.set_xlabel(param + (" (log scale)" if log else ""))
    ax.set_ylabel(objective_label(record))
    _legend(ax, fontsize=7.5)
    _title(ax, title or f"{param} against the objective")
    return _save(fig, path)


def _numeric(value) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


def _no_regularizer_line(ax, record: StudyRecord) -> None:
    values = [t.value for t in record.completed() if t.params.get("regularizer") == "none"]
    if values:
        best = max(values) if record.maximize else min(values)
        ax.axhline(best, color="#555", ls="--", lw=1,
                   label=f"best without regularizer ({len(values)} trials)")


def _jittered_x(record: StudyRecord, param: str, spread: float, seed: int):
    """``x_of(trial)``: the trial's numeric ``param`` plus a fixed random offset per trial."""
    offsets = dict(zip((t.number for t in record.trials),
                       _jitter(len(record.trials), seed, spread), strict=True))

    def x_of(trial):
        value = _numeric(an.shown_value(trial, param))
        return None if value is None else value + offsets[trial.number]

    return x_of


def plot_depth_width(record: StudyRecord, path) -> Path:
    """The objective against depth (hidden layers) and against width (units per layer)."""
    params = [p for p in ("depth", "width") if an.categories(record, p)]
    fig, axes = new_figure(len(params), figsize=(5.4 * len(params), 4.2), sharey=True)
    axes = np.atleast_1d(axes)
    labels = {"depth": "depth (hidden layers)", "width": "width (units per hidden layer)"}
    for i, (ax, param) in enumerate(zip(axes, params, strict=True)):
        spread = 0.25 if param == "depth" else 0.0
        _outcome_scatter(ax, record, _jittered_x(record, param, spread, i))
        ax.set_xlabel(labels[param])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(f"by {param}", fontsize=11, loc="left", fontweight="bold")
    axes[0].set_ylabel(objective_label(record))
    _legend(axes[-1], fontsize=7.5, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _save(fig, path)


def _batch_label(value) -> str:
    return "full batch" if value in ("full", None) else str(value)


def _median_bars(ax, rows: list[dict], sizes: list, key: str) -> None:
    """A black bar at the median of ``key`` for each batch size (all trials)."""
    for i, size in enumerate(sizes):
        values = [r[key] for r in rows if r["batch_size"] == size and r[key] is not None]
        if values:
            ax.plot([i - 0.3, i + 0.3], [float(np.median(values))] * 2, color="#111", lw=2,
                    zorder=4)


def plot_batch_size(record: StudyRecord, path) -> Path:
    """Seconds per epoch and final validation loss by batch size (one dot per trial)."""
    rows = an.batch_effects(record)
    sizes = sorted({r["batch_size"] for r in rows}, key=lambda v: an.category_key("batch_size", v))
    fig, axes = new_figure(2, figsize=(11.0, 4.2))
    losses = sorted({r["loss"] for r in rows})
    for ax, key, label in ((axes[0], "epoch_seconds", "seconds per epoch (last epoch run)"),
                           (axes[1], "val_loss", "final validation loss")):
        for k, loss in enumerate(losses):
            pts = [(sizes.index(r["batch_size"]), r[key]) for r in rows
                   if r["loss"] == loss and r[key] is not None and r[key] > 0]
            if pts:
                x = np.array([p[0] for p in pts]) + _jitter(len(pts), k)
                ax.scatter(x, [p[1] for p in pts], s=30, color=PALETTE[k % 10], alpha=0.85,
                           edgecolor="white", lw=0.5, label=f"loss: {loss}")
        if key == "epoch_seconds":  # losses of different loss functions have no common median
            _median_bars(ax, rows, sizes, key)
        values = np.array([r[key] for r in rows if r[key] is not None and r[key] > 0])
        if values.size and values.max() / values.min() > 20:
            _log_y(ax, values)
        ax.set_xticks(range(len(sizes)), [_batch_label(s) for s in sizes])
        ax.set_xlabel("batch size (1 = stochastic, full = batch gradient descent)")
        ax.set_ylabel(label)
        ax.grid(axis="x", visible=False)
    _legend(axes[1])
    _title(axes[0], "Time per epoch")
    _title(axes[1], "Final loss")
    return _save(fig, path)


# ----------------------------------------------------------------------------------------------
# how they learned
# ----------------------------------------------------------------------------------------------
def _trial_tag(record: StudyRecord, number: int) -> str:
    p = record.trial(number).params
    return f"#{number} {p.get('activation', '')} {p.get('depth', '?')}×{p.get('width', '?')}"


def _curve(ax, record, number, key, color, ls="-", lw=1.8, label=None):
    epochs, values = an.history(record, number, key)
    if epochs:
        ax.plot(epochs, values, color=color, ls=ls, lw=lw, label=label)
    return values


def _loss_label(record: StudyRecord, number: int, prefix: str = "") -> str:
    loss = record.trial(number).params.get("loss")
    return f"{prefix}{_trial_tag(record, number)}" + (f" ({loss})" if loss else "")


def plot_learning_curves(record: StudyRecord, path) -> Path:
    """Validation loss and validation metric per epoch of the top trials over the median one."""
    fig, axes = new_figure(2, figsize=(11.0, 4.4))
    curves = [(n, PALETTE[i % 10], "-", 1.8, _loss_label(record, n))
              for i, n in enumerate(n for n in record.top if n in record.histories)]
    m = record.median
    if m is not None and m in record.histories and m not in record.top:
        curves.append((m, MEDIAN_COLOR, "--", 1.6, _loss_label(record, m, "median trial ")))
    losses = []
    for number, color, ls, lw, label in curves:
        losses += _curve(axes[0], record, number, "val_loss", color, ls, lw, label)
        _curve(axes[1], record, number, record.step_metric, color, ls, lw, label)
    values = np.array([v for v in losses if v > 0])
    if values.size and values.max() / values.min() > 20:
        _log_y(axes[0], values)
    for ax, ylabel in ((axes[0], "validation loss"), (axes[1], record.step_metric)):
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _legend(axes[1], fontsize=7.5)
    kinds = {record.trial(c[0]).params.get("loss") for c in curves} - {None}
    _title(axes[0], "Validation loss",
           "loss functions differ: compare shapes, not levels" if len(kinds) > 1 else None)
    _title(axes[1], f"Validation {record.step_metric.removeprefix('val_')}")
    return _save(fig, path)


def _layer_panel(ax, record: StudyRecord, number: int, label: str) -> list[float]:
    from matplotlib import colormaps

    keys = [k for k in record.histories.get(number, {}) if k.endswith("_grad_norm")]
    keys.sort(key=lambda k: int(k[5:].split("_")[0]))
    cmap, values = colormaps["viridis"], []
    for i, key in enumerate(keys):
        color = cmap(0.05 + 0.75 * i / max(1, len(keys) - 1))
        name = "output layer" if i == len(keys) - 1 else f"hidden layer {i + 1}"
        values += _curve(ax, record, number, key, color, label=f"{name} (layer {i + 1})")
    t = record.trial(number)
    ax.set_title(f"{label}: trial {number}, {t.params.get('activation')}, "
                 f"{t.depth} × {t.params.get('width')}", fontsize=10.5, loc="left",
                 fontweight="bold")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _legend(ax, fontsize=7.5)
    return values


def plot_gradient_pair(record: StudyRecord, path) -> Path:
    """Per-layer gradient norms of the best sigmoid/tanh trial beside the best ReLU-family trial,
    on one log scale: vanishing gradients show as the first layers lying far below the output
    layer."""
    pair = [(k, n) for k, n in record.gradient_pair.items() if n in record.histories]
    fig, axes = new_figure(len(pair), figsize=(5.6 * len(pair), 4.2), sharey=True)
    axes = np.atleast_1d(axes)
    values = []
    for ax, (kind, number) in zip(axes, pair, strict=True):
        label = "best sigmoid/tanh" if kind == "saturating" else "best ReLU family"
        values += _layer_panel(ax, record, number, label)
    positive = np.array([v for v in values if v > 0])
    if positive.size:
        _log_y(axes[0], positive)
    axes[0].set_ylabel("gradient norm ‖∂L/∂W‖ (log scale)")
    return _save(fig, path)


def plot_gradient_ratios(record: StudyRecord, path) -> Path:
    """First-layer over output-layer gradient norm of every trial, by depth and activation."""
    ratios = an.gradient_ratios(record)
    acts = an.categories_of(record.trials, "activation")
    depths = sorted({r["depth"] for r in ratios if r["depth"] is not None})
    fig, ax = new_figure(figsize=(6.4, 4.2))
    step = 0.8 / max(1, len(acts))
    for k, act in enumerate(acts):
        pts = [r for r in ratios if r["activation"] == act and r["depth"] in depths]
        if not pts:
            continue
        x = np.array([depths.index(r["depth"]) for r in pts]) - 0.4 + step * (k + 0.5)
        x = x + _jitter(len(pts), k, step * 0.6)
        done = np.array([r["completed"] for r in pts])
        y = np.array([r["ratio"] for r in pts])
        color = activation_color(act)
        ax.scatter(x[done], y[done], s=30, color=color, edgecolor="white", lw=0.5, label=act)
        ax.scatter(x[~done], y[~done], s=30, facecolor="none", edgecolor=color, lw=1.1)
    ax.axhline(1.0, color="#555", lw=1, ls="--")
    _label_vanishing(ax, ratios, depths, acts, step)
    if ratios:
        _log_y(ax, np.array([r["ratio"] for r in ratios] + [1.0]))
    ax.set_xticks(range(len(depths)), [f"{d} hidden layer{'s' if d > 1 else ''}" for d in depths])
    ax.grid(axis="x", visible=False)
    ax.set_ylabel("‖∂L/∂W¹‖ / ‖∂L/∂Wᴸ‖ at the last epoch")
    _legend(ax, title="activation\n(open: pruned)", title_fontsize=8, loc="center left",
            bbox_to_anchor=(1.01, 0.5))
    _title(ax, "Gradient reaching the first layer")
    return _save(fig, path)


def _label_vanishing(ax, ratios: list[dict], depths: list, acts: list, step: float) -> None:
    """Name the trials whose first layer got less than a tenth of the output layer's gradient."""
    for r in ratios:
        if r["ratio"] < 0.1 and r["depth"] in depths and r["activation"] in acts:
            x = depths.index(r["depth"]) - 0.4 + step * (acts.index(r["activation"]) + 0.5)
            ax.annotate(f"#{r['trial']}", (x, r["ratio"]), xytext=(6, -3), fontsize=7.5,
                        textcoords="offset points", color="#333")


def plot_history(record: StudyRecord, path) -> Path:
    """Every trial's value in trial order, and the best value so far."""
    rows = an.optimization_history(record)
    fig, ax = new_figure(figsize=(6.4, 4.2))
    _outcome_scatter(ax, record, lambda t: t.number, color_by=None)
    steps = [(r["trial"], r["best"]) for r in rows if r["best"] is not None]
    if steps:
        ax.step([s[0] for s in steps], [s[1] for s in steps], where="post", color=BEST_COLOR,
                lw=1.6, label="best so far", zorder=4)
    ax.set_xlabel("trial")
    ax.set_ylabel(objective_label(record))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _legend(ax, fontsize=7.5)
    _title(ax, "Optimization history", f"sampler {record.sampler}, pruner {record.pruner}")
    return _save(fig, path)


def plot_parallel(record: StudyRecord, path) -> Path:
    """Parallel coordinates of the completed trials, coloured by the objective (best on top)."""
    from matplotlib import colormaps

    data = an.parallel_coordinates(record)
    n = len(data["axes"])
    fig, ax = new_figure(figsize=(max(7.0, 1.25 * n + 1.5), 4.6))
    ax.grid(False)
    cmap = colormaps["Blues"]
    good = (lambda y: y) if record.maximize else (lambda y: 1.0 - y)
    lines = sorted(data["lines"], key=lambda r: (r["trial"] == record.best,
                                                 good(r["positions"][-1])))
    for line in lines:
        y = np.array([np.nan if p is None else p for p in line["positions"]], dtype=float)
        best = line["trial"] == record.best
        ax.plot(range(n), y, color=BEST_COLOR if best else cmap(0.25 + 0.75 * good(y[-1])),
                lw=2.6 if best else 1.2, zorder=3 if best else 2)
    for i, axis in enumerate(data["axes"]):
        ax.axvline(i, color="#444", lw=0.8)
        for pos, text in axis["ticks"]:
            ax.text(i + 0.04, pos, text, fontsize=7, va="center", color="#222",
                    bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 0.5})
    ax.set_xticks(range(n), [a["name"] for a in data["axes"]], fontsize=8.5, rotation=20,
                  ha="right", rotation_mode="anchor")
    ax.set_yticks([])
    ax.set_xlim(-0.2, n - 0.6)
    ax.set_ylim(-0.06, 1.06)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    _title(ax, "Parallel coordinates", f"{len(lines)} completed trials; darker blue = better "
           f"{record.objectives[0]}; red = best (trial {record.best})")
    return _save(fig, path)


def plot_pareto(record: StudyRecord, path) -> Path:
    """The two objectives of every completed trial, the Pareto front joined and labelled."""
    data = an.pareto_points(record)
    fig, ax = new_figure(figsize=(6.4, 4.6))
    pts = data["points"]
    ax.scatter([p["x"] for p in pts], [p["y"] for p in pts], s=30, color="#b0b0b0",
               edgecolor="white", lw=0.5, label=f"completed ({len(pts)})")
    front = data["front"]
    ax.plot([p["x"] for p in front], [p["y"] for p in front], "-o", color=PALETTE[3], lw=1.6,
            ms=6, label=f"Pareto front ({len(front)})", zorder=3)
    for p in front:
        ax.annotate(f"#{p['trial']}", (p["x"], p["y"]), textcoords="offset points",
                    xytext=(5, 4), fontsize=7.5)
    arrows = ["↑ better" if d == "maximize" else "↓ better" for d in record.directions[:2]]
    ax.set_xlabel(f"{record.objectives[0]} ({arrows[0].replace('↑', '→').replace('↓', '←')})")
    ax.set_ylabel(f"{record.objectives[1]} ({arrows[1]})")
    _legend(ax)
    _title(ax, "Pareto front")
    return _save(fig, path)


def plot_compare(records: list[StudyRecord], path) -> Path:
    """The first objective of every completed trial of each study, one panel per objective."""
    names = list(dict.fromkeys(r.objectives[0] for r in records))
    fig, axes = new_figure(len(names), figsize=(max(6.4, 1.3 * len(records) + 3) * len(names)
                                                 ** 0.8, 4.4))
    axes = np.atleast_1d(axes)
    for ax, name in zip(axes, names, strict=True):
        group = [r for r in records if r.objectives[0] == name]
        for i, r in enumerate(group):
            values = [t.value for t in r.completed()]
            ax.boxplot([values], positions=[i], widths=0.5, showfliers=False,
                       medianprops={"color": "#222"})
            ax.scatter(i + _jitter(len(values), i), values, s=22, color=PALETTE[i % 10],
                       edgecolor="white", lw=0.4, zorder=3)
        ax.set_xticks(range(len(group)), [f"{r.name}\n{len(r.completed())} completed"
                                          for r in group], fontsize=8.5)
        ax.grid(axis="x", visible=False)
        ax.set_ylabel(f"{name} ({'higher' if group[0].maximize else 'lower'} is better)")
    _title(axes[0], "Objective of the completed trials")
    return _save(fig, path)


# ----------------------------------------------------------------------------------------------
# all figures of a report
# ----------------------------------------------------------------------------------------------
def study_figures(record: StudyRecord) -> dict:
    """``{file name: draw(path)}`` for the charts that apply to this study, in page order."""
    out = {}
    if record.importances:
        out["importances.png"] = lambda p: plot_importances(record, p)
    if an.categories(record, "activation") or an.categories(record, "initializer"):
        out["categories.png"] = lambda p: plot_categories(record, p)
    if len(an.categories(record, "activation")) > 1 and \
            len(an.categories(record, "initializer")) > 1:
        out["activation_x_initializer.png"] = lambda p: plot_cross(record, p)
    for param in ("learning_rate", "lambda"):
        if len(an.categories(record, param)) > 1:
            out[f"{param}.png"] = lambda p, q=param: plot_against(
                record, p, q, color_by="regularizer" if q == "lambda" else "activation")
    if len(an.categories(record, "batch_size")) > 1:
        out["batch_size.png"] = lambda p: plot_batch_size(record, p)
    if an.categories(record, "depth") or an.categories(record, "width"):
        out["depth_width.png"] = lambda p: plot_depth_width(record, p)
    out.update(_learning_figures(record))
    if record.pareto:
        out["pareto.png"] = lambda p: plot_pareto(record, p)
    return out


def _learning_figures(record: StudyRecord) -> dict:
    out = {}
    if any(n in record.histories for n in record.top):
        out["learning_curves.png"] = lambda p: plot_learning_curves(record, p)
    if any(n in record.histories for n in record.gradient_pair.values()):
        out["gradient_pair.png"] = lambda p: plot_gradient_pair(record, p)
    if an.gradient_ratios(record):
        out["gradient_ratios.png"] = lambda p: plot_gradient_ratios(record, p)
    out["history.png"] = lambda p: plot_history(record, p)
    if len(record.completed()) >= 2 and record.searched:
        out["parallel.png"] = lambda p: plot_parallel(record, p)
    return out


def draw_study(record: StudyRecord, folder: Path, prefix: str = "") -> dict[str, Path]:
    """Draw every chart of :func:`study_figures` into ``folder``; also write the winner's logged
    charts there as ``winner_<name>.png``. Returns ``{name: path}`` (names without prefix)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, draw in study_figures(record).items():
        out[name] = draw(folder / f"{prefix}{name}")
    for chart, data in record.winner_charts.items():
        if chart == "gradient_norms" and record.best in record.gradient_pair.values():
            continue  # already drawn beside the other family in gradient_pair.png
        path = folder / f"{prefix}winner_{chart}.png"
        path.write_bytes(data)
        out[f"winner_{chart}.png"] = path
    return out
