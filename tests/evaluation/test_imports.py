"""``import hpstudy.evaluation`` stays light: matplotlib only comes with the charts module."""

from __future__ import annotations

import subprocess
import sys


def test_import_does_not_load_matplotlib_until_charts_are_used():
    code = (
        "import sys, hpstudy.evaluation as ev\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported eagerly'\n"
        "assert not {'optuna', 'mlflow'} & set(sys.modules), 'forbidden import'\n"
        "assert callable(ev.charts.plot_roc)\n"
        "assert 'matplotlib' in sys.modules\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'charts must not need pyplot'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
