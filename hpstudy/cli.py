"""``hpstudy`` command line: parse arguments, call one function, map errors to exit codes.

Exit codes: 0 success, 1 a check failed (``gradcheck``), 2 bad input (config, data, storage,
names; one line on stderr, no traceback), 130 interrupted (Ctrl-C / SIGTERM; rerun to resume).
Heavy libraries are imported inside the commands so that ``hpstudy --help`` answers at once.
Set ``HPSTUDY_DEBUG=1`` to see the traceback behind a one-line error.
"""

from __future__ import annotations

import argparse
import os
import sys

from hpstudy import __version__


def _add_store_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--storage", metavar="URL",
                   help="Optuna storage: a journal file path or a database URL "
                        "(default: $HPSTUDY_STORAGE or mlruns/optuna.journal)")
    p.add_argument("--tracking-uri", metavar="URI",
                   help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or "
                        "sqlite:///mlruns/mlflow.db)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hpstudy", description="Hyperparameter studies for neural networks written from "
        "scratch in NumPy, searched with Optuna and tracked in MLflow.")
    parser.add_argument("--version", action="version", version=f"hpstudy {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("study", help="run or resume a hyperparameter study")
    p.add_argument("config", help="experiment file, e.g. experiments/digits.toml")
    p.add_argument("--trials", type=int, help="target number of trials in total")
    p.add_argument("--timeout", type=float, help="stop starting trials after S seconds")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--name", help="study name (default: from the experiment file)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set epochs=5 or --set study.seed=3")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_store_options(p)

    p = sub.add_parser("train", help="train and log one run with fixed hyperparameters")
    p.add_argument("config")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="fix a hyperparameter, e.g. --set learning_rate=0.01")
    _add_store_options(p)

    p = sub.add_parser("ui", help="browse the studies in the MLflow UI (bound to 127.0.0.1)")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: only this machine can connect)")
    p.add_argument("--tracking-uri", metavar="URI",
                   help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or "
                        "sqlite:///mlruns/mlflow.db)")

    p = sub.add_parser("report", help="compare the trials of one or more studies on one page "
                       "(HTML, Markdown, CSV)")
    p.add_argument("studies", nargs="+", metavar="STUDY", help="study name(s), e.g. digits")
    p.add_argument("--out", default="reports", metavar="DIR",
                   help="base folder; the report goes to DIR/<study>/ (default: reports)")
    p.add_argument("--format", default="html,md,csv", metavar="LIST",
                   help="comma-separated formats among html, md, csv (default: all three)")
    p.add_argument("--top", type=int, default=5, metavar="K",
                   help="trials on the leaderboard (default 5)")
    _add_store_options(p)

    sub.add_parser("datasets", help="list the built-in datasets")
    p = sub.add_parser("gradcheck", help="check backprop against numeric and autograd gradients")
    p.add_argument("--seed", type=int, default=0)
    return parser


def _overrides(pairs: list[str]) -> dict:
    from hpstudy.experiment.config import parse_set_option

    return dict(parse_set_option(pair) for pair in pairs)


def cmd_study(args) -> int:
    from hpstudy.experiment.console import print_outcome
    from hpstudy.experiment.runner import RunOptions, run_study

    if args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    if args.trials is not None and args.trials < 1:
        raise ValueError(f"--trials must be >= 1, got {args.trials}")
    options = RunOptions(args.config, _overrides(args.set), args.name, args.storage,
                         args.tracking_uri, args.trials, args.timeout, args.workers,
                         progress=not args.no_progress)
    print_outcome(run_study(options))
    return 0


def cmd_train(args) -> int:
    from hpstudy.experiment.console import print_single
    from hpstudy.experiment.single import train_once

    print_single(train_once(args.config, _overrides(args.set), args.storage, args.tracking_uri))
    return 0


def cmd_report(args) -> int:
    from hpstudy.report import build_report

    result = build_report(args.studies, out=args.out, formats=args.format, top=args.top,
                          storage=args.storage, tracking_uri=args.tracking_uri)
    trials = sum(len(r.trials) for r in result.records)
    written = [p.name for p in (result.markdown, result.csv) if p is not None]
    if result.markdown is not None:
        written.insert(1, "figures/")
    print(f"report of {', '.join(repr(r.name) for r in result.records)} ({trials} trials) in "
          f"{result.seconds:.1f} s: {result.folder}/" + (f" ({', '.join(written)})" if written
                                                        else ""))
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if result.html is not None:
        print(result.html)
    return 0


def cmd_datasets(args) -> int:
    from hpstudy.data import list_datasets

    rows = list_datasets()
    print(f"{'name':<14} {'task':<15} {'rows':>6} {'features':>8} {'classes':>7}  description")
    for r in rows:
        classes = r["n_classes"] if r["n_classes"] else "-"
        print(f"{r['name']:<14} {r['task']:<15} {r['n_samples']:>6} {r['n_features']:>8} "
              f"{classes:>7}  {r['description']}")
    print("\nAny CSV file works too: [data] dataset = \"path/to/file.csv\", target = \"column\"")
    return 0


def cmd_ui(args) -> int:
    import subprocess
    from pathlib import Path

    uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or \
        "sqlite:///mlruns/mlflow.db"
    if uri.startswith("sqlite:///"):
        db = Path(uri[len("sqlite:///"):])
        if not db.is_file():
            raise FileNotFoundError(f"{db}: no MLflow database yet; run `make study` first")
    if not 0 < args.port < 65536:
        raise ValueError(f"--port must be in 1..65535, got {args.port}")
    print(f"MLflow UI on http://{args.host}:{args.port}  (store {uri}; Ctrl-C to stop)",
          flush=True)
    # A separate process (argument list, no shell): the CLI itself never imports mlflow.
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri,
           "--default-artifact-root", str(Path("mlruns/artifacts").resolve()),
           "--host", args.host, "--port", str(args.port)]
    return subprocess.call(cmd)


def cmd_gradcheck(args) -> int:
    from hpstudy.nn.gradcheck import main

    return main(seed=args.seed)


COMMANDS = {"study": cmd_study, "train": cmd_train, "ui": cmd_ui, "report": cmd_report,
            "datasets": cmd_datasets, "gradcheck": cmd_gradcheck}


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean bad input: reported in one line with exit code 2."""
    from hpstudy.data.errors import DataError
    from hpstudy.experiment.errors import ConfigError

    errors: list[type[BaseException]] = [DataError, ConfigError, ValueError, FileNotFoundError]
    if "hpstudy.experiment.storage" in sys.modules:
        errors.append(sys.modules["hpstudy.experiment.storage"].StorageError)
    if "hpstudy.experiment.runner" in sys.modules:
        errors.append(sys.modules["hpstudy.experiment.runner"].StudyError)
    if "hpstudy.experiment.tracking" in sys.modules:
        errors.append(sys.modules["hpstudy.experiment.tracking"].TrackingError)
    if "hpstudy.report.records" in sys.modules:
        errors.append(sys.modules["hpstudy.report.records"].ReportError)
    return tuple(errors)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("hpstudy: interrupted; finished trials are stored, run the same command again "
              "to resume", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - sorted into user errors and bugs just below
        if isinstance(err, _user_errors()) and not os.environ.get("HPSTUDY_DEBUG"):
            message = " ".join(str(err).split("\n")[0].split())
            print(f"hpstudy {args.command}: error: {message}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
