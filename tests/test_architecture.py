"""The architecture contracts of ``pyproject.toml`` ([tool.importlinter]) hold, and they catch
what they are there for: an upward import, an import circle, a heavy import in hpstudy.nn and
mlflow outside experiment/tracking.py. ``make lint`` runs the same ``lint-imports``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import hpstudy

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(project: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` on the hpstudy package and pyproject.toml found in ``project``."""
    env = {**os.environ, "PYTHONPATH": str(project), "COLUMNS": "400"}  # one line a contract
    return subprocess.run([str(LINT), "--no-cache", "--config", str(project / "pyproject.toml")],
                          cwd=project, env=env, capture_output=True, text=True, timeout=300)


def test_the_package_keeps_every_contract():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A copy of the package with one violation of each kind planted in it."""
    project = tmp_path_factory.mktemp("planted")
    shutil.copy(ROOT / "pyproject.toml", project)
    shutil.copytree(Path(hpstudy.__file__).parent, project / "hpstudy",
                    ignore=shutil.ignore_patterns("__pycache__"))
    plants = {
        "nn/_planted.py": "import matplotlib\n",
        "data/_planted.py": "from hpstudy.experiment import runner\n",
        "evaluation/_planted.py": "def f():\n    import mlflow\n",
        "report/_circle_a.py": "from hpstudy.report import _circle_b\n",
        "report/_circle_b.py": "def g():\n    from hpstudy.report import _circle_a\n",
    }
    for name, text in plants.items():
        (project / "hpstudy" / name).write_text(text)
    result = lint(project)
    assert result.returncode != 0, result.stdout
    return result.stdout


@pytest.mark.parametrize(("contract", "evidence"), [
    ("hpstudy.nn is pure NumPy", "hpstudy.nn._planted -> matplotlib"),
    ("Layers:", "hpstudy.data._planted -> hpstudy.experiment.runner"),
    ("Only experiment/tracking.py imports mlflow", "hpstudy.evaluation._planted -> mlflow"),
    ("No import circles", "._circle_"),
])
def test_each_contract_catches_its_violation(planted, contract, evidence):
    status = next(line for line in planted.splitlines() if line.startswith(contract))
    assert " BROKEN" in status, status
    assert evidence in planted
