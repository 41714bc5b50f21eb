"""Reports: what one or more studies found, on one page, read from what they stored.

``build_report(["digits"])`` reads the Optuna study and the MLflow runs (never retraining,
never predicting), builds plain records (:mod:`.records`, :mod:`.analysis`), draws the charts
(:mod:`.figures`) and writes, in ``reports/<study>/``:

- ``report.html``: one self-contained page (images embedded, no external resources);
- ``report.md`` with ``figures/*.png`` beside it;
- ``trials.csv``: one row per trial (number, state, run id, every parameter, every final
  metric, duration).

The folder is also logged to each study's parent MLflow run (artifact path ``report``, or
``reports/<a>+<b>`` for a comparison). Study names become folder names only through
:func:`safe_name`, and the folder must resolve inside ``out``.
"""

from __future__ import annotations

import datetime as _dt
import re
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from hpstudy.report.records import ReportError, StudyRecord

__all__ = ["FORMATS", "ReportError", "ReportResult", "build_report", "output_folder", "safe_name"]

FORMATS = ("html", "md", "csv")
MAX_NAME = 80


@dataclass
class ReportResult:
    """What :func:`build_report` wrote (paths are None for formats not asked for)."""

    folder: Path
    records: list[StudyRecord]
    html: Path | None = None
    markdown: Path | None = None
    csv: Path | None = None
    seconds: float = 0.0
    logged_to: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def safe_name(name: str) -> str:
    """A file/folder name made of ``[A-Za-z0-9_.-]`` only, never ``.``/``..``/hidden.

    Other characters become ``_``; runs of dots become ``_``; leading/trailing dots are dropped;
    long names are cut and suffixed with a checksum of the original (so they stay distinct).
    """
    text = re.sub(r"[^A-Za-z0-9_.-]", "_", str(name))
    text = re.sub(r"\.{2,}", "_", text).strip(".") or "study"
    if len(text) > MAX_NAME:
        text = f"{text[:MAX_NAME - 9]}-{zlib.crc32(str(name).encode()):08x}"
    return text


def output_folder(out, names: list[str]) -> Path:
    """``out/<name>`` for one study, ``out/<a>+<b>`` for several (each part :func:`safe_name`).

    The folder always lies inside ``out``: :func:`safe_name` leaves only ``[A-Za-z0-9_.-]``
    and never ``.``, ``..`` or a leading dot, so no part can climb out of it (a property test
    in ``tests/report/test_report.py`` checks this for arbitrary names).

    Raises
    ------
    ReportError
        If ``names`` is empty (the folder would be ``out`` itself).
    """
    if not names:
        raise ReportError("name at least one study to report on")
    base = Path(out).resolve()
    return base / "+".join(safe_name(n) for n in names)


def parse_formats(formats) -> list[str]:
    """``"html,md"`` or a list → validated list of formats."""
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    items = [f.strip().lower() for f in items if f.strip()]
    bad = [f for f in items if f not in FORMATS]
    if bad or not items:
        raise ReportError(f"--format must be a comma-separated list of {', '.join(FORMATS)}; "
                         f"got {','.join(items) or 'nothing'}")
    return list(dict.fromkeys(items))


def _draw(records: list[StudyRecord], folder: Path) -> dict:
    from hpstudy.report.figures import draw_study, plot_compare
    from hpstudy.report.render import COMPARE

    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    figs = {}
    for r in records:
        prefix = f"{safe_name(r.name)}__" if len(records) > 1 else ""
        figs[r.name] = draw_study(r, folder, prefix)
    if len(records) > 1:
        figs[COMPARE] = {"compare.png": plot_compare(records, folder / "compare.png")}
    return figs


def _write(path: Path, text: str) -> Path:
    """Write through a temporary file and rename, so a report is never half-written."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def _write_all(records, figs, folder: Path, formats: list[str], result: ReportResult) -> None:
    from hpstudy.report.markdown import render_markdown
    from hpstudy.report.render import render_html, write_csv

    stamp = _dt.datetime.now().astimezone().isoformat(" ", "seconds")
    if "html" in formats:
        result.html = _write(folder / "report.html", render_html(records, figs, stamp))
    if "md" in formats:
        result.markdown = _write(folder / "report.md",
                                 render_markdown(records, figs, folder, stamp))
    if "csv" in formats:
        tmp = folder / ".trials.csv.tmp"
        write_csv(records, tmp)
        result.csv = tmp.replace(folder / "trials.csv")


def _log(reader, records: list[StudyRecord], folder: Path, result: ReportResult) -> None:
    """Log the report folder to each study's parent run (a failure is a note, not an error)."""
    path = "report" if len(records) == 1 else f"reports/{folder.name}"
    for r in records:
        if not r.parent_run_id:
            result.notes.append(f"study {r.name!r} has no parent run: report not logged")
            continue
        try:
            reader.log_artifacts(r.parent_run_id, folder, path)
            result.logged_to.append(r.parent_run_id)
        except Exception as err:  # noqa: BLE001 - the report on disk is what matters
            result.notes.append(f"could not log the report to MLflow: {err}".splitlines()[0])


def build_report(studies, out="reports", formats=FORMATS, top: int = 5,
                 storage: str | None = None, tracking_uri: str | None = None,
                 log: bool = True) -> ReportResult:
    """Report one or more studies (see the module docstring).

    Parameters
    ----------
    studies : str or list of str
        Study names (Optuna study = MLflow experiment).
    out : str or Path, default "reports"
        Base folder; the report goes to ``out/<study>`` or ``out/<a>+<b>``.
    formats : str or sequence, default ("html", "md", "csv")
    top : int, default 5
        Trials on the leaderboard.
    storage, tracking_uri : str, optional
        The Optuna storage and MLflow tracking URI the studies used (defaults as for
        ``hpstudy study``).
    log : bool, default True
        Also log the report to each study's parent run.

    Raises
    ------
    ReportError
        No study named, an unknown study, a study without a completed trial or without MLflow
        runs, bad ``formats`` or ``top``.
    """
    from hpstudy.experiment.tracking import RunReader
    from hpstudy.report.records import read_study

    start = time.perf_counter()
    names = list(dict.fromkeys([studies] if isinstance(studies, str) else studies))
    formats = parse_formats(formats)
    folder = output_folder(out, names)
    reader = RunReader(tracking_uri)
    records = [read_study(n, reader, storage, top) for n in names]
    folder.mkdir(parents=True, exist_ok=True)
    result = ReportResult(folder, records)
    if "md" in formats:
        figs = _draw(records, folder / "figures")
        _write_all(records, figs, folder, formats, result)
    else:
        with tempfile.TemporaryDirectory(prefix="hpstudy-figures-") as tmp:
            _write_all(records, _draw(records, Path(tmp)), folder, formats, result)
    if log:
        _log(reader, records, folder, result)
    result.seconds = time.perf_counter() - start
    return result
