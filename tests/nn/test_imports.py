"""``import hpstudy.nn`` stays light: NumPy and the standard library only."""

from __future__ import annotations

import json
import subprocess
import sys

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
