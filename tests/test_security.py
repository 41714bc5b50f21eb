"""Security: what hpstudy exposes and what it executes.

- ``hpstudy ui`` and ``hpstudy server`` bind to 127.0.0.1 unless told otherwise, and never
  switch MLflow's host-header (DNS rebinding) and CORS protections off;
- saved models load without pickle (``allow_pickle=False``): a model file carrying a pickle
  payload fails to load and runs nothing;
- experiment files are TOML read as data, never evaluated: code in a value is just a string;
- no user string reaches a shell: no ``shell=True``, ``os.system``, ``eval`` or ``exec`` in the
  package, commands are argument lists, and a study name full of shell syntax is refused as a
  name (and stays data where it is a value);
- report HTML escapes user strings: tested in
  ``tests/report/test_report.py::test_names_and_values_from_users_are_escaped``.
"""

from __future__ import annotations

import ast
import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, tiny_experiment, write_experiment

from hpstudy.cli import _parser, main, server_argv, server_env, ui_argv
from hpstudy.nn import Network

PACKAGE = ROOT / "hpstudy"

# ------------------------------------------------------------------------------------------
# Servers bind to loopback, with MLflow's protections on
# ------------------------------------------------------------------------------------------


def argv_option(argv: list[str], option: str) -> str:
    return argv[argv.index(option) + 1]


def test_ui_binds_to_loopback_by_default():
    args = _parser().parse_args(["ui"])
    argv = ui_argv("sqlite:///mlruns/mlflow.db", args.host, args.port)
    assert argv[:4] == [sys.executable, "-m", "mlflow", "ui"]
    assert argv_option(argv, "--host") == "127.0.0.1"
    assert "--disable-security-middleware" not in argv


def test_server_binds_to_loopback_by_default_and_keeps_mlflow_protections():
    args = _parser().parse_args(["server", "--backend-store-uri", "postgresql://u@db/mlflow"])
    assert args.host == "127.0.0.1"
    argv = server_argv(args.backend_store_uri, args.artifacts_destination, args.host, args.port,
                       args.workers, args.allowed_hosts, args.cors_allowed_origins)
    assert argv[:4] == [sys.executable, "-m", "mlflow", "server"]
    assert argv_option(argv, "--host") == "127.0.0.1"
    assert argv_option(argv, "--backend-store-uri") == "postgresql://u@db/mlflow"
    assert Path(argv_option(argv, "--artifacts-destination")).is_absolute()
    for option in ("--allowed-hosts", "--cors-allowed-origins", "--disable-security-middleware",
                   "--no-serve-artifacts"):
        assert option not in argv  # MLflow's defaults: localhost and private addresses only


def test_server_passes_explicit_lists_and_refuses_wildcards(capsys):
    argv = server_argv("postgresql://u@db/mlflow", "s3://bucket/art", "0.0.0.0", 5001, 2,
                       "mlflow.lab.example:5001", "https://lab.example")
    assert argv_option(argv, "--allowed-hosts") == "mlflow.lab.example:5001"
    assert argv_option(argv, "--cors-allowed-origins") == "https://lab.example"
    assert argv_option(argv, "--artifacts-destination") == "s3://bucket/art"
    for option in ("--allowed-hosts", "--cors-allowed-origins"):
        code = main(["server", "--backend-store-uri", "postgresql://u@db/mlflow", option,
                     "a.example, *"])
        assert code == 2
        assert "would switch off MLflow's protection" in capsys.readouterr().err


def test_server_environment_cannot_switch_the_protections_off(monkeypatch):
    monkeypatch.setenv("MLFLOW_SERVER_DISABLE_SECURITY_MIDDLEWARE", "true")
    monkeypatch.setenv("SOMETHING_ELSE", "kept")
    env = server_env()
    assert "MLFLOW_SERVER_DISABLE_SECURITY_MIDDLEWARE" not in env
    assert env["SOMETHING_ELSE"] == "kept"


def test_makefile_targets_bind_to_loopback():
    makefile = (ROOT / "Makefile").read_text()
    assert "HOST    ?= 127.0.0.1" in makefile
    assert "0.0.0.0" not in makefile.replace("HOST=0.0.0.0", "")  # only in a usage comment


def test_server_password_is_not_printed():
    from hpstudy.experiment.storage import redact

    assert redact("postgresql://user:s3cret@db:5432/mlflow") == "postgresql://user:***@db:5432/mlflow"
    assert redact("postgresql://user@db/mlflow") == "postgresql://user@db/mlflow"


# ------------------------------------------------------------------------------------------
# Models load without pickle
# ------------------------------------------------------------------------------------------


class Payload:
    """Unpickling this creates a file: proof that pickle ran."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_model_with_a_pickle_payload_fails_to_load_and_runs_nothing(tmp_path):
    net = Network.mlp([2, 3, 2], seed=0)
    good = tmp_path / "good.npz"
    net.save(good)
    with np.load(good, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    proof = tmp_path / "PWNED"
    evil = np.empty(1, dtype=object)
    evil[0] = Payload(str(proof))
    arrays["W0"] = evil
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    pickle.loads(pickle.dumps(Payload(str(tmp_path / "control"))))  # the payload works...
    assert (tmp_path / "control").exists()
    with pytest.raises(ValueError):  # ...but loading the model does not unpickle it
        Network.load(bad)
    assert not proof.exists()
    assert Network.load(good).sizes == [2, 3, 2]


# ------------------------------------------------------------------------------------------
# Configs are data
# ------------------------------------------------------------------------------------------

CODE = "__import__('os').system('touch PWNED')"


@pytest.fixture
def cwd(tmp_path, monkeypatch, restore_process_state):
    for var in ("MLFLOW_TRACKING_URI", "HPSTUDY_STORAGE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_code_in_a_config_value_is_a_string(cwd, capsys):
    path = tiny_experiment(cwd, "data")
    text = path.read_text().replace('activation = ["relu", "tanh"]', f'activation = "{CODE}"')
    path.write_text(text)
    assert main(["study", str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "search.activation: unknown activation" in err and CODE in err
    assert not (cwd / "PWNED").exists() and not (cwd / "mlruns").exists()


def test_config_is_parsed_as_toml_only(cwd, capsys):
    path = write_experiment(cwd, f"{CODE}\n")  # Python, not TOML
    assert main(["study", str(path), "--no-progress"]) == 2
    assert "invalid TOML" in capsys.readouterr().err
    assert not (cwd / "PWNED").exists()


@pytest.mark.parametrize("name", ["x; touch PWNED", "$(touch PWNED)", "`touch PWNED`", "..",
                                  ".hidden", "-rf", "a/../../b"])
def test_study_names_with_shell_syntax_or_path_tricks_are_refused(cwd, capsys, name):
    path = tiny_experiment(cwd, "named")
    assert main(["study", str(path), f"--name={name}", "--no-progress"]) == 2
    assert "study.name: must be letters, digits" in capsys.readouterr().err
    assert not (cwd / "PWNED").exists() and not (cwd / "mlruns").exists()


@pytest.mark.slow
def test_shell_syntax_in_values_stays_data(cwd, capsys):
    """A value that a shell would run (here the CSV target column's name) is only a name."""
    target = "y$(touch PWNED);`touch PWNED`"
    rows = "\n".join(f"{i % 7},{(i * 3) % 5},{i % 2}" for i in range(60))
    (cwd / "data.csv").write_text(f"a,b,{target}\n{rows}\n")
    path = tiny_experiment(cwd, "shell")
    text = path.read_text().replace('dataset = "moons"\nn_samples = 200\nnoise = 0.1',
                                    f'dataset = "data.csv"\ntarget = "{target}"')
    path.write_text(text)
    assert main(["study", str(path), "--no-progress", "--trials", "1"]) == 0, \
        capsys.readouterr().err
    assert not list(cwd.rglob("PWNED"))


# ------------------------------------------------------------------------------------------
# No shell, no eval, anywhere in the package
# ------------------------------------------------------------------------------------------

def _dangerous(node: ast.Call, source: str) -> str | None:
    """Why this call (in the module ``source``) is forbidden, or None."""
    for kw in node.keywords:
        if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant) and not kw.value.value):
            return "shell=..."
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    owner = getattr(func.value, "id", None) if isinstance(func, ast.Attribute) else None
    if name in ("eval", "exec", "compile") and owner is None:
        return name
    if (owner, name) in {("os", "system"), ("os", "popen"), ("subprocess", "getoutput"),
                         ("subprocess", "getstatusoutput"), ("pickle", "load"),
                         ("pickle", "loads"), ("yaml", "load"), ("marshal", "loads")}:
        return f"{owner}.{name}"
    if name == "load" and owner == "np" and \
            "allow_pickle=False" not in (ast.get_source_segment(source, node) or ""):
        return "np.load without allow_pickle=False"
    return None


def test_no_shell_eval_or_pickle_in_the_package():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text()
        for node in ast.walk(ast.parse(source, filename=str(path))):
            if isinstance(node, ast.Call):
                why = _dangerous(node, source)
                if why:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {why}")
    assert not found, found


def test_the_check_catches_what_it_looks_for():
    code = ("import os, subprocess, pickle\nsubprocess.run('ls', shell=True)\nos.system('ls')\n"
            "eval('1')\npickle.loads(b'')\nnp.load('x.npy')\nsubprocess.run(['ls'], shell=False)\n")
    calls = [n for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Call)]
    reasons = [_dangerous(n, code) for n in calls]
    assert [r for r in reasons if r] == ["shell=...", "os.system", "eval", "pickle.loads",
                                        "np.load without allow_pickle=False"]


def test_subprocesses_are_started_with_argument_lists():
    """Every subprocess call in the package gets a list (never a string a shell would parse)."""
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and getattr(node.func.value, "id", None) == "subprocess":
                first = node.args[0] if node.args else None
                assert not isinstance(first, ast.Constant | ast.JoinedStr), \
                    f"{path}:{node.lineno}: a command string"


def test_report_escaping_is_tested_in_the_report_suite():
    tests = (ROOT / "tests" / "report" / "test_report.py").read_text()
    assert "def test_names_and_values_from_users_are_escaped" in tests
    assert os.path.exists(PACKAGE / "report" / "render.py")
