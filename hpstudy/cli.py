"""``hpstudy`` command line: parse arguments, call one function, map errors to exit codes.

Exit codes: 0 success, 1 a check failed (``gradcheck``), 2 bad input (any
:class:`~hpstudy.errors.HpstudyError`: config, data, storage, names, options; one line on
stderr, no traceback), 130 interrupted (Ctrl-C / SIGTERM; rerun to resume). Every other
exception is a bug and shows its traceback.
Heavy libraries are imported inside the commands so that ``hpstudy --help`` answers at once.
Set ``HPSTUDY_DEBUG=1`` to see the traceback behind a one-line error.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys

from hpstudy import __version__
from hpstudy.errors import HpstudyError, UsageError


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

    p = sub.add_parser("server", help="run an MLflow tracking server on a database, for studies "
                       "spread over several machines (bound to 127.0.0.1 unless --host)")
    p.add_argument("--backend-store-uri", required=True, metavar="URL",
                   help="database of the runs, e.g. postgresql://hpstudy@dbhost/mlflow")
    p.add_argument("--artifacts-destination", default="mlruns/artifacts", metavar="DIR",
                   help="where the server keeps the artifacts workers send it, a folder or an "
                        "object-store URI (default: mlruns/artifacts)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: only this machine can connect; "
                        "0.0.0.0 for every interface)")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--workers", type=int, help="server processes (default: MLflow's, 4)")
    p.add_argument("--allowed-hosts", metavar="LIST",
                   help="Host headers to answer, e.g. mlflow.lab.example:5000,localhost:5000, "
                        "instead of MLflow's default (localhost and private addresses); its "
                        "DNS-rebinding protection stays on")
    p.add_argument("--cors-allowed-origins", metavar="LIST",
                   help="web origins allowed to call the server, instead of MLflow's default "
                        "(localhost); its CORS protection stays on")

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
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    if args.trials is not None and args.trials < 1:
        raise UsageError(f"--trials must be >= 1, got {args.trials}")
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


def _check_port(port: int) -> None:
    if not 0 < port < 65536:
        raise UsageError(f"--port must be in 1..65535, got {port}")


def ui_argv(uri: str, host: str, port: int) -> list[str]:
    """The ``mlflow ui`` command of ``hpstudy ui``: an argument list, run without a shell."""
    from pathlib import Path

    return [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri,
            "--default-artifact-root", str(Path("mlruns/artifacts").resolve()),
            "--host", host, "--port", str(port)]


def server_argv(backend_store_uri: str, artifacts_destination: str, host: str = "127.0.0.1",
                port: int = 5000, workers: int | None = None, allowed_hosts: str | None = None,
                cors_allowed_origins: str | None = None) -> list[str]:
    """The ``mlflow server`` command of ``hpstudy server``: an argument list, run without a
    shell. Artifacts are proxied by the server (``mlflow-artifacts:``), so workers on other
    machines need no access to ``artifacts_destination``. MLflow's host and CORS checks stay on:
    given lists replace its defaults, and ``*`` (which would switch them off) is refused.
    """
    from pathlib import Path

    _check_port(port)
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be >= 1, got {workers}")
    for option, value in (("--allowed-hosts", allowed_hosts),
                          ("--cors-allowed-origins", cors_allowed_origins)):
        if value is not None and "*" in [v.strip() for v in value.split(",")]:
            raise UsageError(f"{option} '*' would switch off MLflow's protection; list the "
                             "hosts or origins instead")
    dest = artifacts_destination if "://" in artifacts_destination \
        else str(Path(artifacts_destination).resolve())
    argv = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend_store_uri,
            "--artifacts-destination", dest, "--host", host, "--port", str(port)]
    extra = (("--workers", workers), ("--allowed-hosts", allowed_hosts),
             ("--cors-allowed-origins", cors_allowed_origins))
    return argv + [str(x) for option, value in extra if value is not None for x in (option, value)]


def server_env() -> dict[str, str]:
    """The environment of ``hpstudy ui`` / ``server``: this one, without the variable that
    would switch MLflow's security middleware (host and CORS checks) off."""
    return {k: v for k, v in os.environ.items()
            if k != "MLFLOW_SERVER_DISABLE_SECURITY_MIDDLEWARE"}


def cmd_ui(args) -> int:
    import subprocess
    from pathlib import Path

    from hpstudy.experiment.storage import redact

    uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or \
        "sqlite:///mlruns/mlflow.db"
    if uri.startswith("sqlite:///"):
        db = Path(uri[len("sqlite:///"):])
        if not db.is_file():
            raise UsageError(f"{db}: no MLflow database yet; run `make study` first")
    _check_port(args.port)
    print(f"MLflow UI on http://{args.host}:{args.port}  (store {redact(uri)}; Ctrl-C to stop)",
          flush=True)
    # A separate process (argument list, no shell): the CLI itself never imports mlflow.
    return subprocess.call(ui_argv(uri, args.host, args.port), env=server_env())


def cmd_server(args) -> int:
    import subprocess

    from hpstudy.experiment.storage import redact

    argv = server_argv(args.backend_store_uri, args.artifacts_destination, args.host, args.port,
                       args.workers, args.allowed_hosts, args.cors_allowed_origins)
    dest = argv[argv.index("--artifacts-destination") + 1]
    print(f"MLflow tracking server on http://{args.host}:{args.port} (runs in "
          f"{redact(args.backend_store_uri)}, artifacts in {dest}); workers pass --tracking-uri "
          f"http://<this machine>:{args.port}; Ctrl-C to stop", flush=True)
    return subprocess.call(argv, env=server_env())


def cmd_gradcheck(args) -> int:
    from hpstudy.nn.gradcheck import main

    return main(seed=args.seed)


COMMANDS = {"study": cmd_study, "train": cmd_train, "ui": cmd_ui, "server": cmd_server,
            "report": cmd_report, "datasets": cmd_datasets, "gradcheck": cmd_gradcheck}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("hpstudy: interrupted; finished trials are stored, run the same command again "
              "to resume", file=sys.stderr)
        return 130
    except HpstudyError as err:  # bad input: one line; anything else is a bug and shows a traceback
        if os.environ.get("HPSTUDY_DEBUG"):
            raise
        message = " ".join(str(err).split("\n")[0].split())
        print(f"hpstudy {args.command}: error: {message}", file=sys.stderr)
        return 2


def run() -> None:
    """The ``hpstudy`` console script: :func:`main`, then exit without a last garbage collection.

    A study or report process ends holding the modules of MLflow, Optuna, scikit-learn, SciPy
    and matplotlib; the interpreter's shutdown collects them again and again as it clears
    each module, 1 to 1.5 s after the command is done (measured with ``hpstudy study``).
    ``gc.freeze()`` takes them out of those collections; the process is ending, the memory goes
    back with it, and every file and database write was closed by the command itself.
    """
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
