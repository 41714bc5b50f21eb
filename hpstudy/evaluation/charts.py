"""Charts of training and evaluation, written as PNG files.

Every function takes plain data (arrays or the records of :mod:`hpstudy.evaluation.ranking`)
and a ``path``, writes one PNG and returns the path as a :class:`pathlib.Path` (parent folders
are created).

Figures are built as :class:`matplotlib.figure.Figure` objects and rendered by the Agg canvas,
without pyplot: nothing is registered in pyplot's figure manager (so nothing is left open), the
user's interactive backend is not switched, no global ``rcParams`` are touched, and charts can
be drawn from several threads (Optuna's ``n_jobs``). matplotlib is imported with this module,
never by ``import hpstudy.evaluation``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.ticker import (
    FuncFormatter,
    LogLocator,
    MaxNLocator,
    NullFormatter,
    PercentFormatter,
)

from hpstudy.evaluation._validation import as_labels, as_proba
from hpstudy.evaluation.ranking import cumulative_gain_curve, gain_lift_table, roc_curves

__all__ = [
    "PALETTE",
    "plot_loss_curves",
    "plot_confusion_matrix",
    "plot_cumulative_gain",
    "plot_lift",
    "plot_ks",
    "plot_roc",
    "plot_gradient_norms",
    "plot_decision_boundary",
    "plot_regression",
]

DPI = 110
# Tableau 10: distinct, colour-blind friendly enough, the matplotlib default users recognise.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
TRAIN_COLOR, VAL_COLOR = PALETTE[0], PALETTE[1]
POSITIVE_COLOR, NEGATIVE_COLOR = PALETTE[3], PALETTE[0]
MODEL_COLOR, BASELINE_COLOR, PERFECT_COLOR, KS_COLOR = PALETTE[0], "#8a8a8a", PALETTE[2], "#222"


# ----------------------------------------------------------------------------------------------
# shared helpers
# ----------------------------------------------------------------------------------------------
def _figure(ncols: int = 1, figsize: tuple[float, float] = (6.4, 4.6)):
    """A new constrained-layout Figure (not known to pyplot) and its axes."""
    fig = Figure(figsize=figsize, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    for ax in axes:
        _style(ax)
    return fig, (axes[0] if ncols == 1 else axes)


def _style(ax, grid: bool = True) -> None:
    """House style: light grid below the data, no top/right spines, readable fonts."""
    ax.set_axisbelow(True)
    if grid:
        ax.grid(True, color="#d9d9d9", linewidth=0.7)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=9)


def _title(ax, title: str, subtitle: str | None = None) -> None:
    """Bold title on the left, an optional grey subtitle on the right of the same line."""
    ax.set_title(title, fontsize=12, fontweight="bold", loc="left")
    if subtitle:
        ax.set_title(subtitle, fontsize=9, color="#555", loc="right")


def _save(fig: Figure, path) -> Path:
    """Write `fig` as PNG at `path` (creating folders) and return the path.

    A laid-out Agg figure at :data:`DPI` is laid out once and drawn once: ``savefig`` would
    first draw it without rendering, only to run the layout (a fifth of a chart's time).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = fig.get_layout_engine()
    if engine is not None and isinstance(fig.canvas, FigureCanvasAgg) and fig.dpi == DPI:
        engine.execute(fig)
        fig.set_layout_engine("none")
        fig.set_facecolor("white")
        fig.canvas.print_png(path)
    else:
        fig.savefig(path, dpi=DPI, facecolor="white", format="png")
    fig.clear()
    return path


def _colors(k: int) -> list:
    """k distinct colours: the palette, extended with tab20 colours beyond ten classes."""
    if k <= len(PALETTE):
        return list(PALETTE[:k])
    from matplotlib import colormaps

    return [colormaps["tab20"](i % 20) for i in range(k)]


def _names(class_names, k: int) -> list[str]:
    if class_names is None:
        return [str(c) for c in range(k)]
    names = [str(c) for c in class_names]
    if len(names) != k:
        raise ValueError(f"class_names must have one name per class ({k}); got {len(names)}")
    return names


def _binary_or_ovr(y_true, score):
    """Return ("binary", y01, score) or ("ovr", labels, proba) for 1-D or (n, k) scores."""
    arr = np.asarray(score, dtype=np.float64)
    if arr.ndim == 2 and arr.shape[1] == 2:
        arr = arr[:, 1]
    if arr.ndim == 1 or (arr.ndim == 2 and arr.shape[1] == 1):
        return "binary", np.asarray(y_true), arr.reshape(-1)
    y = as_labels(y_true, "y_true")
    return "ovr", y, as_proba(arr, y.size, "score")


def _percent_axes(ax, x: bool = True, y: bool = True) -> None:
    if x:
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    if y:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))


# ----------------------------------------------------------------------------------------------
# training curves
# ----------------------------------------------------------------------------------------------
def _finite(values) -> np.ndarray:
    arr = np.asarray(values if values is not None else [], dtype=np.float64).reshape(-1)
    return np.where(np.isfinite(arr), arr, np.nan)


def _spans_orders(*series: np.ndarray, ratio: float = 50.0) -> bool:
    """True when the positive values of the series span more than `ratio` (use a log axis)."""
    values = np.concatenate([s[np.isfinite(s)] for s in series]) if series else np.array([])
    return values.size > 0 and values.min() > 0 and values.max() / values.min() > ratio


def _log_y(ax, values: np.ndarray) -> None:
    """Log y axis; within less than two decades tick labels are plain numbers (0.04, 0.06)."""
    ax.set_yscale("log")
    finite = values[np.isfinite(values) & (values > 0)]
    if finite.size and finite.max() / finite.min() < 100:
        narrow = finite.max() / finite.min() < 10
        subs = (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0) if narrow else (1.0, 2.0, 3.0, 5.0)
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=subs))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
    ax.grid(True, which="minor", axis="y", color="#eeeeee", linewidth=0.6)


def _curve_panel(ax, train, val, name: str, lower_is_better: bool,
                 train_label: str | None = None) -> None:
    """Train and validation series over epochs 1..E, marking the best validation epoch."""
    epochs_t = np.arange(1, train.size + 1)
    ax.plot(epochs_t, train, color=TRAIN_COLOR, lw=1.8, label=train_label or f"train {name}")
    if val.size and np.any(np.isfinite(val)):
        epochs_v = np.arange(1, val.size + 1)
        ax.plot(epochs_v, val, color=VAL_COLOR, lw=1.8, label=f"validation {name}")
        best = int(np.nanargmin(val) if lower_is_better else np.nanargmax(val))
        ax.scatter([best + 1], [val[best]], s=36, color=VAL_COLOR, edgecolor="white", zorder=3,
                   label=f"best validation: {val[best]:.4g} (epoch {best + 1})")
    if _spans_orders(train, val):
        _log_y(ax, np.concatenate([train, val]))
    ax.set_xlabel("epoch")
    ax.set_ylabel(name)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    ax.legend(loc="best", fontsize=9)


def plot_loss_curves(train_loss: Sequence[float], val_loss: Sequence[float] | None, path,
                     title: str = "Training curves", metric: Mapping | None = None,
                     loss_name: str = "loss", penalty: str | None = None) -> Path:
    """Train and validation loss per epoch (log scale when they span orders of magnitude).

    Parameters
    ----------
    train_loss : sequence of float, length E
        Training loss per epoch (non-finite values, e.g. after divergence, are not drawn).
    val_loss : sequence of float or None
        Validation loss per epoch; its minimum is marked.
    path : str or Path
        PNG file to write.
    title : str
    metric : mapping, optional
        ``{"name": "accuracy", "train": [...], "val": [...], "greater_is_better": True}``
        (e.g. from ``History.metric_name``, ``train_metric``, ``val_metric``): drawn in a second
        panel, best validation epoch marked (``greater_is_better`` defaults to True).
    loss_name : str, default "loss"
        Label of the loss axis (e.g. "cross-entropy").
    penalty : str, optional
        The regularisation penalty that ``train_loss`` includes (e.g. "L2 penalty (λ = 0.003)"),
        named in the train curve's label: the training loss is the objective minimised, data
        loss plus penalty, while the validation loss is the data loss alone.

    Returns
    -------
    Path
    """
    train = _finite(train_loss)
    if train.size == 0:
        raise ValueError("train_loss must hold at least one epoch; got an empty sequence")
    fig, axes = _figure(2 if metric else 1, (11.0, 4.4) if metric else (6.8, 4.4))
    ax_loss = axes[0] if metric else axes
    train_label = f"train {loss_name} + {penalty}" if penalty else None
    _curve_panel(ax_loss, train, _finite(val_loss), loss_name, lower_is_better=True,
                 train_label=train_label)
    if metric:
        name = str(metric.get("name", "metric"))
        _curve_panel(axes[1], _finite(metric.get("train")), _finite(metric.get("val")), name,
                     lower_is_better=not metric.get("greater_is_better", True))
    fig.suptitle(title, fontsize=13, fontweight="bold", x=0.02, ha="left")
    return _save(fig, path)


def plot_gradient_norms(grad_norms, path, layer_names: Sequence[str] | None = None,
                        title: str = "Gradient norm per layer") -> Path:
    """Gradient norm of every layer over epochs, on a log scale.

    Vanishing gradients show as the curves of the first layers lying decades below the last
    ones; exploding gradients as curves shooting up. Layers are coloured from input (dark) to
    output (light) along the viridis map.

    Parameters
    ----------
    grad_norms : array-like of shape (epochs, n_layers)
        E.g. ``History.layer_series("grad_norm")``. Values <= 0 or non-finite are not drawn.
    path : str or Path
    layer_names : sequence of str, optional
        Default ``layer 1 .. layer L``.
    title : str

    Returns
    -------
    Path
    """
    g = np.asarray(grad_norms, dtype=np.float64)
    if g.ndim == 1:
        g = g[:, None]
    if g.ndim != 2 or g.size == 0:
        raise ValueError(f"grad_norms must have shape (epochs, n_layers); got {g.shape}")
    names = layer_names or [f"layer {i + 1}" for i in range(g.shape[1])]
    if len(names) != g.shape[1]:
        raise ValueError(f"layer_names must name each of the {g.shape[1]} layers; "
                         f"got {len(names)}")
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    fig, ax = _figure(figsize=(6.8, 4.4))
    epochs = np.arange(1, g.shape[0] + 1)
    masked = np.where(np.isfinite(g) & (g > 0), g, np.nan)
    for i, name in enumerate(names):
        color = cmap(0.05 + 0.75 * i / max(1, g.shape[1] - 1))
        ax.plot(epochs, masked[:, i], lw=1.8, color=color, label=name,
                marker="o" if g.shape[0] <= 30 else None, ms=3)
    if np.any(np.isfinite(masked)):
        _log_y(ax, masked.ravel())
    ax.set_xlabel("epoch")
    ax.set_ylabel("gradient norm ‖∂L/∂W‖ (log scale)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=9, frameon=False)
    _title(ax, title)
    return _save(fig, path)


# ----------------------------------------------------------------------------------------------
# classification
# ----------------------------------------------------------------------------------------------
def _cell_text(count: int, share: float, normalize: bool, k: int) -> str:
    if count == 0:
        return "" if k > 5 else "0"
    if not normalize:
        return f"{count:d}"
    pct = f"{100 * share:.0f}%" if k > 5 else f"{100 * share:.1f}%"
    return pct if k > 10 else f"{pct}\n{count:d}"


def plot_confusion_matrix(cm, class_names: Sequence[str] | None, path, normalize: bool = True,
                          title: str = "Confusion matrix") -> Path:
    """Heat map of a confusion matrix, each cell annotated.

    Parameters
    ----------
    cm : array-like of shape (k, k)
        Counts; rows are true classes, columns predicted classes (:func:`~.metrics.confusion`).
    class_names : sequence of str or None
        Default ``0 .. k-1``.
    path : str or Path
    normalize : bool, default True
        Colour and annotate by the share of each true class (row-normalised: the diagonal is
        the recall of each class), with the count below (up to 10 classes); otherwise by
        counts. Empty cells are left blank when k > 5.
    title : str

    Returns
    -------
    Path
    """
    counts = np.asarray(cm)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] < 1:
        raise ValueError(f"cm must be a square (k, k) matrix of counts; got shape {counts.shape}")
    k = counts.shape[0]
    names = _names(class_names, k)
    rows = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
    values = shares if normalize else counts
    side = min(11.0, max(4.8, 0.62 * k + 2.4))
    fig, ax = _figure(figsize=(side + 1.0, side))
    _style(ax, grid=False)
    ax.grid(False)
    image = ax.imshow(values, cmap="Blues", vmin=0, vmax=1 if normalize else max(1, values.max()))
    cbar = fig.colorbar(image, ax=ax, shrink=0.8,
                        format=PercentFormatter(1.0, decimals=0) if normalize else None)
    cbar.set_label("share of true class" if normalize else "count", fontsize=9)
    size = 10 if k <= 5 else (9 if k <= 10 else 7.5)
    threshold = 0.55 * (1 if normalize else max(1, values.max()))
    for i in range(k):
        for j in range(k):
            text = _cell_text(int(counts[i, j]), shares[i, j], normalize, k)
            ax.text(j, i, text, ha="center", va="center", fontsize=size, linespacing=1.1,
                    color="white" if values[i, j] > threshold else "#222",
                    in_layout=False)  # inside its cell: nothing for the layout to measure
    rotate = k * max(map(len, names)) > 48
    ax.set_xticks(range(k), names, rotation=40 if rotate else 0, ha="right" if rotate else "center",
                  rotation_mode="anchor")
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    accuracy = np.trace(counts) / max(1, counts.sum())
    _title(ax, title, f"accuracy {accuracy:.1%} on {int(counts.sum())} rows")
    return _save(fig, path)


def _gain_binary(ax, y, score) -> None:
    curve = cumulative_gain_curve(y, score)
    rate = curve["positive_rate"]
    ax.plot([0, rate, 1], [0, 1, 1], color=PERFECT_COLOR, lw=1.4, ls="--",
            label=f"perfect model (all positives in the top {rate:.0%})")
    ax.plot(curve["population_share"], curve["cumulative_gain"], color=MODEL_COLOR, lw=2.2,
            label="model")
    table = gain_lift_table(y, score, bins=min(10, curve["n"]))
    ax.scatter(table["population_share"], table["cumulative_gain"], s=18, color=MODEL_COLOR,
               zorder=3, label="deciles")


def _gain_ovr(ax, y, proba, names) -> None:
    for c, color in enumerate(_colors(proba.shape[1])):
        positive = (y == c).astype(int)
        if positive.sum() == 0:
            continue
        curve = cumulative_gain_curve(positive, proba[:, c])
        rate = curve["positive_rate"]
        ax.plot(curve["population_share"], curve["cumulative_gain"], color=color, lw=1.7,
                label=names[c])
        ax.plot([0, rate, 1], [0, 1, 1], color=color, lw=0.9, ls=":", alpha=0.7)
    ax.plot([], [], color="#555", lw=0.9, ls=":", label="perfect (per class)")


def plot_cumulative_gain(y_true, score, path, class_names: Sequence[str] | None = None,
                         title: str = "Cumulative gain") -> Path:
    """Cumulative gain curve: share of positives captured vs share of rows targeted.

    Rows are taken by descending score; the diagonal is a random ordering and the dashed line a
    perfect model (every positive first). See :func:`~.ranking.cumulative_gain_curve`.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Binary labels in {0, 1}, or class indices when `score` is (n, k) with k > 2.
    score : array-like of shape (n,) or (n, k)
        P(positive), binary probabilities (n, 2) (column 1 is used), or class probabilities
        (n, k): one curve per class, one-vs-rest.
    path : str or Path
    class_names : sequence of str, optional
    title : str

    Returns
    -------
    Path
    """
    kind, y, s = _binary_or_ovr(y_true, score)
    fig, ax = _figure(figsize=(6.4, 5.0))
    ax.plot([0, 1], [0, 1], color=BASELINE_COLOR, lw=1.2, ls="--", label="random")
    if kind == "binary":
        _gain_binary(ax, y, s)
    else:
        _gain_ovr(ax, y, s, _names(class_names, s.shape[1]))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    _percent_axes(ax)
    ax.set_xlabel("share of rows targeted (highest scores first)")
    ax.set_ylabel("share of positives captured")
    ncol = 2 if kind == "ovr" and s.shape[1] > 6 else 1
    ax.legend(loc="lower right", fontsize=8.5, ncol=ncol,
              title=None if kind == "binary" else "class", title_fontsize=8.5)
    _title(ax, title, None if kind == "binary" else "one-vs-rest, per class")
    return _save(fig, path)


def _lift_binary(ax, y, score, bins: int) -> None:
    table = gain_lift_table(y, score, bins=min(bins, np.asarray(y).size))
    x = table["population_share"].to_numpy()
    width = 0.8 / table.shape[0]
    bars = ax.bar(x, table["lift"], width=width, color=MODEL_COLOR, alpha=0.85,
                  label="model (cumulative lift)")
    _label_bars(ax, bars, table["lift"].to_numpy())
    rate = np.mean(np.asarray(y, dtype=float))
    if rate > 0:
        perfect = np.minimum(x, rate) / rate / x
        ax.plot(x, perfect, color=PERFECT_COLOR, lw=1.4, ls="--", marker="o", ms=3,
                label="perfect model")
    ax.set_xticks(x, [f"{v:.0%}" for v in x])
    ax.set_xlim(0, 1 + width)


def _label_bars(ax, bars, values: np.ndarray) -> None:
    """Values inside the top of tall bars (white), above short ones (dark)."""
    tall = np.nan_to_num(values) > 0.15 * max(np.nanmax(values), 1e-12)
    ax.bar_label(bars, labels=[f"{v:.2f}" if t else "" for v, t in zip(values, tall, strict=True)],
                 fontsize=8, padding=-13, color="white", fontweight="bold")
    ax.bar_label(bars, labels=["" if t else f"{v:.2f}" for v, t in zip(values, tall, strict=True)],
                 fontsize=8, padding=2, color="#222")


def _lift_ovr(ax, y, proba, bins: int, names) -> None:
    for c, color in enumerate(_colors(proba.shape[1])):
        positive = (y == c).astype(int)
        if positive.sum() == 0:
            continue
        table = gain_lift_table(positive, proba[:, c], bins=min(bins, y.size))
        ax.plot(table["population_share"], table["lift"], color=color, lw=1.6, marker="o",
                ms=3.5, label=names[c])


def plot_lift(y_true, score, path, bins: int = 10, class_names: Sequence[str] | None = None,
              title: str = "Cumulative lift") -> Path:
    """Cumulative lift by quantile bin: how many times better than random targeting.

    ``lift = cumulative gain / population share`` per bin of :func:`~.ranking.gain_lift_table`
    (1 = random). Binary: bars with their values and the perfect model's lift; multiclass
    (``score`` of shape (n, k), k > 2): one line per class, one-vs-rest.

    Parameters
    ----------
    y_true : array-like of shape (n,)
    score : array-like of shape (n,), (n, 2) or (n, k)
    path : str or Path
    bins : int, default 10
    class_names : sequence of str, optional
    title : str

    Returns
    -------
    Path
    """
    kind, y, s = _binary_or_ovr(y_true, score)
    fig, ax = _figure(figsize=(6.8, 4.6))
    if kind == "binary":
        _lift_binary(ax, y, s, bins)
    else:
        _lift_ovr(ax, y, s, bins, _names(class_names, s.shape[1]))
        ax.set_xlim(0, 1.05)
        _percent_axes(ax, y=False)
    ax.axhline(1.0, color=BASELINE_COLOR, lw=1.2, ls="--", label="random (lift = 1)")
    top = ax.get_ylim()[1]
    ax.set_ylim(0, top * (1.18 if kind == "binary" else 1.0))
    ax.set_xlabel("share of rows targeted (highest scores first)")
    ax.set_ylabel("cumulative lift")
    if kind == "binary":
        ax.legend(loc="upper center", fontsize=8.5, ncol=3, frameon=False)
    else:
        ax.legend(loc="upper right", fontsize=8.5, ncol=2 if s.shape[1] > 6 else 1,
                  title="class", title_fontsize=8.5)
    _title(ax, title, None if kind == "binary" else "one-vs-rest, per class")
    return _save(fig, path)


def plot_ks(ks_curve_record: Mapping, path, title: str = "Kolmogorov–Smirnov",
            score_label: str = "score (predicted probability of the positive class)") -> Path:
    """Empirical CDFs of the scores of negatives and positives with the KS gap marked.

    Parameters
    ----------
    ks_curve_record : mapping
        The record of :func:`~.ranking.ks_curve` (``thresholds``, ``cdf_positive``,
        ``cdf_negative``, ``statistic``, ``at``; ``n_positive`` / ``n_negative`` optional).
    path : str or Path
    title : str
    score_label : str
        Label of the x axis.

    Returns
    -------
    Path
    """
    t = np.asarray(ks_curve_record["thresholds"], dtype=np.float64)
    if t.size == 0:
        raise ValueError("ks_curve_record must hold at least one threshold; got none")
    fig, ax = _figure(figsize=(6.8, 4.6))
    x = np.r_[t[0], t]
    for key, color, label in (("cdf_negative", NEGATIVE_COLOR, "negatives"),
                              ("cdf_positive", POSITIVE_COLOR, "positives")):
        count = ks_curve_record.get(f"n_{label[:-1]}")
        suffix = "" if count is None else f" (n = {count})"
        ax.step(x, np.r_[0.0, ks_curve_record[key]], where="post", color=color, lw=1.9,
                label=f"CDF of {label}{suffix}")
    _mark_ks_gap(ax, ks_curve_record)
    ax.set_ylim(0, 1.02)
    _percent_axes(ax, x=False)
    ax.set_xlabel(score_label)
    ax.set_ylabel("cumulative share of the group (score ≤ t)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize=9, frameon=False)
    _title(ax, title)
    return _save(fig, path)


def _mark_ks_gap(ax, record: Mapping) -> None:
    """Vertical segment between the two CDFs at the KS threshold, with its value."""
    stat, at = float(record["statistic"]), float(record["at"])
    if not (np.isfinite(stat) and np.isfinite(at)):
        return
    t = np.asarray(record["thresholds"], dtype=np.float64)
    i = int(np.clip(np.searchsorted(t, at, side="right") - 1, 0, t.size - 1))
    lo, hi = sorted((float(record["cdf_positive"][i]), float(record["cdf_negative"][i])))
    ax.vlines(at, lo, hi, color=KS_COLOR, lw=2.0, linestyles="-", zorder=4)
    ax.plot([at, at], [lo, hi], ls="none", marker="_", ms=10, color=KS_COLOR, zorder=4)
    right = at < t[0] + 0.6 * (t[-1] - t[0])
    ax.annotate(f"KS = {stat:.3f}\nat t = {at:.3g}", xy=(at, (lo + hi) / 2), xytext=(8 if right else -8, 0),
                textcoords="offset points", ha="left" if right else "right", va="center",
                fontsize=10, fontweight="bold", color=KS_COLOR, linespacing=1.3,
                bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": "none", "alpha": 0.85})


def plot_roc(y_true, proba, path, class_names: Sequence[str] | None = None,
             title: str = "ROC curve") -> Path:
    """ROC curves (true positive rate vs false positive rate) with the AUC in the legend.

    Binary: the positive class; multiclass: one curve per class, one-vs-rest
    (:func:`~.ranking.roc_curves`; classes absent from `y_true` are skipped).

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Class indices.
    proba : array-like of shape (n, k) or (n,)
        Class probabilities (or P(class 1) for a binary problem).
    path : str or Path
    class_names : sequence of str, optional
    title : str

    Returns
    -------
    Path
    """
    curves = roc_curves(y_true, proba)
    k = 2 if np.asarray(proba).ndim == 1 else np.asarray(proba).shape[1]
    names = _names(class_names, k)
    colors = _colors(k)
    fig, ax = _figure(figsize=(5.6, 5.6))
    ax.plot([0, 1], [0, 1], color=BASELINE_COLOR, lw=1.2, ls="--", label="random (AUC = 0.5)")
    for c, curve in curves.items():
        color = MODEL_COLOR if k == 2 else colors[c]
        label = f"{names[c]} (AUC = {curve['auc']:.3f})"
        ax.plot(curve["fpr"], curve["tpr"], color=color, lw=2.0 if k == 2 else 1.5, label=label)
    ax.set_xlim(-0.01, 1.0)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(loc="lower right", fontsize=8.5 if k <= 6 else 7.5, ncol=1 if k <= 6 else 2)
    macro = np.mean([curve["auc"] for curve in curves.values()]) if curves else float("nan")
    _title(ax, title, None if k == 2 else f"one-vs-rest, macro AUC = {macro:.3f}")
    return _save(fig, path)


# ----------------------------------------------------------------------------------------------
# 2-D decision boundary and regression
# ----------------------------------------------------------------------------------------------
def _mesh(X: np.ndarray, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.08 * np.where(hi > lo, hi - lo, 1.0)
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    return np.meshgrid(xs, ys)


def _boundary_image(proba: np.ndarray, colors: list, shape: tuple[int, int]) -> np.ndarray:
    """RGBA image: colour of the predicted class, opacity growing with its probability."""
    k = proba.shape[1]
    winner = proba.argmax(axis=1)
    confidence = (proba.max(axis=1) - 1.0 / k) / (1.0 - 1.0 / k)
    rgb = np.array([to_rgb(c) for c in colors])[winner]
    alpha = 0.12 + 0.43 * np.clip(confidence, 0, 1)
    return np.column_stack([rgb, alpha]).reshape(*shape, 4)


def plot_decision_boundary(predict_proba_fn: Callable, X, y, path,
                           class_names: Sequence[str] | None = None,
                           title: str = "Decision regions", resolution: int = 250) -> Path:
    """Predicted class regions of a 2-D classifier on a mesh, with the data points.

    Each mesh cell takes the colour of its predicted class, more opaque where the model is more
    confident (``(max_c p_c − 1/k) / (1 − 1/k)``); the boundaries (where the predicted class
    changes) are drawn as thin dark lines.

    Parameters
    ----------
    predict_proba_fn : callable or model
        ``(m, 2) -> (m, k)`` class probabilities, or an object with ``predict_proba``.
    X : array-like of shape (n, 2)
    y : array-like of shape (n,)
        Class indices (colours of the points).
    path : str or Path
    class_names : sequence of str, optional
    title : str
    resolution : int, default 250
        Mesh points per axis.

    Returns
    -------
    Path
    """
    fn = getattr(predict_proba_fn, "predict_proba", predict_proba_fn)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (n, 2) for a decision boundary; got {X.shape}")
    labels = as_labels(y, "y")
    xx, yy = _mesh(X, int(resolution))
    grid = np.column_stack([xx.ravel(), yy.ravel()]).astype(np.float64)
    proba = as_proba(np.asarray(fn(grid)), grid.shape[0], "predict_proba_fn(mesh)")
    k = max(proba.shape[1], int(labels.max()) + 1)
    colors, names = _colors(k), _names(class_names, k)
    fig, ax = _figure(figsize=(6.6, 5.6))
    ax.grid(False)
    extent = (xx.min(), xx.max(), yy.min(), yy.max())
    ax.imshow(_boundary_image(proba, colors, xx.shape), origin="lower", extent=extent,
              aspect="auto", interpolation="bilinear")
    if proba.shape[1] == 2:  # smooth boundary p = 1/2
        surface, levels = proba[:, 1].reshape(xx.shape), [0.5]
    else:
        surface, levels = proba.argmax(axis=1).reshape(xx.shape), np.arange(proba.shape[1]) + 0.5
    ax.contour(xx, yy, surface, levels=levels, colors="#333", linewidths=0.9)
    for c in range(k):
        mask = labels == c
        ax.scatter(X[mask, 0], X[mask, 1], s=18, color=colors[c], edgecolor="white",
                   linewidth=0.5, label=names[c], zorder=3)
    ax.set_xlabel("feature 1")
    ax.set_ylabel("feature 2")
    ax.legend(title="class", loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=9,
              frameon=False)
    _title(ax, title)
    return _save(fig, path)


def plot_regression(y_true, y_pred, path, title: str = "Predicted vs actual") -> Path:
    """Predicted vs actual values with the identity line, and residuals vs predictions.

    Residual ``r_i = y_i − ŷ_i``. Several outputs (shape (n, m)) are pooled.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,) or (n, m)
    path : str or Path
    title : str

    Returns
    -------
    Path
    """
    t = np.asarray(y_true, dtype=np.float64).reshape(-1)
    p = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    if t.size == 0 or t.shape != p.shape:
        raise ValueError(f"y_pred must have as many values as y_true ({t.size}); got {p.size}")
    fig, (ax, ax_res) = _figure(2, (11.0, 4.8))
    alpha = float(np.clip(30 / np.sqrt(t.size), 0.15, 0.8))
    lo, hi = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
    ax.plot([lo, hi], [lo, hi], color=BASELINE_COLOR, lw=1.2, ls="--", label="ŷ = y")
    ax.scatter(t, p, s=14, alpha=alpha, color=MODEL_COLOR, edgecolor="none", label="rows")
    rmse = float(np.sqrt(np.mean((t - p) ** 2)))
    ss_tot = float(np.sum((t - t.mean()) ** 2))
    r2 = 1 - float(np.sum((t - p) ** 2)) / ss_tot if ss_tot > 0 else float("nan")
    pad = 0.04 * (hi - lo if hi > lo else 1.0)
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel("actual y")
    ax.set_ylabel("predicted ŷ")
    ax.legend(loc="upper left", fontsize=9, title=f"R² = {r2:.3f}   RMSE = {rmse:.3g}",
              title_fontsize=9)
    _title(ax, title)
    ax_res.axhline(0, color=BASELINE_COLOR, lw=1.2, ls="--")
    ax_res.scatter(p, t - p, s=14, alpha=alpha, color=PALETTE[3], edgecolor="none")
    ax_res.set_xlabel("predicted ŷ")
    ax_res.set_ylabel("residual y − ŷ")
    _title(ax_res, "Residuals")
    return _save(fig, path)
