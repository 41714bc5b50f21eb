"""``import hpstudy.nn`` stays light: NumPy and the standard library only."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import hpstudy.nn

HEAVY = ("optuna", "mlflow", "pandas", "matplotlib", "sklearn", "scipy", "threadpoolctl", "torch")


def test_import_hpstudy_nn_does_not_import_heavy_packages():
    code = (
        "import json, sys\n"
        "import hpstudy.nn, hpstudy.nn.autograd, hpstudy.nn.gradcheck\n"
        "net = hpstudy.nn.Network.mlp([2, 3, 2])\n"
        "net.fit([[0.0, 1.0], [1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]], epochs=1)\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_hpstudy_nn_sources_import_only_numpy_and_the_standard_library():
    allowed = set(sys.stdlib_module_names) | {"numpy", "hpstudy"}
    for path in Path(hpstudy.nn.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name}:{node.lineno} imports {name}"
