"""Reading a study for a report loads neither the objective (training, evaluation, artifacts)
nor matplotlib, and the trial's artifact writer does not import the objective (no import
circle). The hyperparameter registry reads the names of ``hpstudy.nn`` (pure NumPy)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import hpstudy.experiment.artifacts as artifacts_module

HEAVY = ("hpstudy.experiment.objective", "hpstudy.experiment.finish",
         "hpstudy.experiment.artifacts", "hpstudy.experiment.retraining", "matplotlib", "mlflow")


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint(' '.join(sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


@pytest.mark.parametrize("module", ["hpstudy.report", "hpstudy.report.records",
                                    "hpstudy.report.analysis", "hpstudy.report.text"])
def test_report_records_need_only_registries_and_stores(module):
    loaded = _loaded_after(f"import {module}")
    assert not set(HEAVY) & loaded


def test_artifacts_do_not_import_the_objective():
    """Not even inside a function: the objective imports the artifacts."""
    tree = ast.parse(Path(artifacts_module.__file__).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names}
    assert "hpstudy.experiment.objective" not in imported
