"""The report as Markdown, with the PNG charts in ``figures/`` beside it.

Text from a study is escaped like HTML (``<``, ``>``, ``&`` become entities, so a Markdown
renderer that passes HTML through shows it as text) and ``|`` is escaped inside tables.
"""

from __future__ import annotations

import html
from pathlib import Path

from hpstudy import __version__
from hpstudy.report import analysis as an
from hpstudy.report.records import StudyRecord
from hpstudy.report.render import COMPARE, LEARNED, MATTERED
from hpstudy.report.text import (
    STABILITY_TEXT,
    WINNER_TITLES,
    figure_text,
    fmt,
    fmt_gain,
    label,
    params_text,
    summary_rows,
)


def md(value) -> str:
    """Escape text for Markdown (HTML entities, and ``|`` so it cannot split a table cell)."""
    text = html.escape(str(value), quote=False).replace("|", "\\|")
    return text.replace("\n", " ")


def md_table(header: list, rows: list[list]) -> str:
    lines = ["| " + " | ".join(md(h) for h in header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(md(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def md_link(url: str | None, text: str) -> str:
    if not url or not url.startswith(("http://", "https://")):
        return md(text)
    return f"[{md(text)}]({url})"


def md_figure(path: Path, base: Path, title: str, caption: str) -> str:
    rel = Path(path).relative_to(base).as_posix()
    return f"![{md(title)}]({rel})\n\n*{md(title)}.* {md(caption)}\n"


def _figures(record: StudyRecord, figs: dict, base: Path, names) -> list[str]:
    out = []
    for name in names:
        if name in figs:
            out.append(md_figure(figs[name], base, *figure_text(record, name)))
    return out


def _summary(record: StudyRecord) -> list[str]:
    rows = [[k, v] for k, v in summary_rows(record)]
    out = ["## Summary\n", md_table(["", ""], rows), "### What the study found\n"]
    out += [f"- {md(s)}" for s in an.findings(record)] + [""]
    return out


def _leaderboard(record: StudyRecord) -> list[str]:
    rows = an.leaderboard(record)
    metrics, stab = an.metric_columns(record), an.stability_columns(record, short=True)
    scores = [[r["rank"], f"#{r['trial']}" + (" (best)" if r["best"] else ""),
               *[fmt(r["metrics"][m]) for m in metrics], *[fmt(r["stability"][s], 3)
                                                           for s in stab]] for r in rows]
    params = list(rows[0]["params"]) if rows else []
    prow = [[r["rank"], f"#{r['trial']}", *[fmt(r["params"][p], 3) for p in params]]
            for r in rows]
    links = ", ".join(md_link(r["run_url"], f"#{r['trial']}") for r in rows)
    return ["## Leaderboard\n", md_table(["rank", "trial", *metrics, *map(label, stab)], scores),
            md_table(["rank", "trial", *params], prow), f"MLflow runs: {links}\n"]


def _winner(record: StudyRecord, figs: dict, base: Path) -> list[str]:
    best = record.best_trial
    out = [f"## The winner up close: trial {best.number}\n", md(params_text(record, best)) + "\n"]
    if record.pareto:
        out += _figures(record, figs, base, ["pareto.png"])
        out += ["### Trials on the Pareto front\n", md_table(*_fmt_rows(an.pareto_table(record)))]
    out += [md_figure(figs[f"winner_{c}.png"], base, t, "") for c, t in WINNER_TITLES.items()
            if f"winner_{c}.png" in figs]
    view = an.gain_lift_view(record.gain_lift)
    if view:
        out += ["### Gain / lift table (test split)\n",
                md_table(view[0], [[fmt_gain(h, v) for h, v in zip(view[0], r, strict=True)]
                                   for r in view[1]])]
    cols = an.stability_columns(record)
    if cols:
        rows = [[f"#{t.number}", fmt(t.value), *[fmt(t.metrics.get(c), 3) for c in cols]]
                for t in record.top_trials()]
        out += ["### Stability next to the other top trials\n",
                md_table(["trial", record.objectives[0], *map(label, cols)], rows),
                md(STABILITY_TEXT) + "\n"]
    return out


def _fmt_rows(view: tuple[list, list[list]]) -> tuple[list, list[list]]:
    return view[0], [[fmt(v, 4) for v in row] for row in view[1]]


def study_markdown(record: StudyRecord, figs: dict, base: Path, level: int = 1) -> list[str]:
    out = [f"{'#' * level} Study: {md(record.name)}\n"] if level else []
    out += _summary(record) + _leaderboard(record)
    out += ["## What mattered\n", *_figures(record, figs, base, MATTERED)]
    out += ["## How they learned\n", *_figures(record, figs, base, LEARNED)]
    return out + _winner(record, figs, base)


def render_markdown(records: list[StudyRecord], figs: dict, base: Path, generated: str) -> str:
    """The report as Markdown; figure links are relative to ``base`` (the report's folder)."""
    out = [f"hpstudy {md(__version__)} report, generated {md(generated)} from the stored runs "
           "(nothing retrained).\n"]
    if len(records) > 1:
        header, rows = an.comparison(records)
        out += ["# Comparison: " + md(" + ".join(r.name for r in records)) + "\n",
                md_table(header, rows), "## Best trial of each study\n",
                md_table(*an.best_params_table(records))]
        if "compare.png" in figs.get(COMPARE, {}):
            out.append(md_figure(figs[COMPARE]["compare.png"], base, "Objective distributions",
                                 "every completed trial of each study"))
    for r in records:
        out += study_markdown(r, figs.get(r.name, {}), base)
    return "\n".join(out)
