"""Shared fixtures: temporary MLflow / Optuna stores and small experiment files.

Every test that runs a study works in its own ``tmp_path``: the MLflow tracking store is
``sqlite:///<tmp>/mlflow.db``, the Optuna storage ``<tmp>/optuna.journal``, and the working
directory is ``<tmp>`` so the artifact root ``mlruns/artifacts`` lands there too. Nothing is
ever written under the repository's ``mlruns/``.

A fresh MLflow SQLite database spends several seconds in its schema migrations, so one
empty, fully migrated database is made per session and copied into each test's folder.
Heavy libraries (mlflow, optuna) are imported inside the fixtures, so tests that do not use
them do not pay for them.
"""

from __future__ import annotations

import shutil
import signal
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "experiments"
STORE_ENV = ("MLFLOW_TRACKING_URI", "HPSTUDY_STORAGE")


@dataclass
class Stores:
    """The temporary stores of one test (see the module docstring)."""

    root: Path

    @property
    def db(self) -> Path:
        return self.root / "mlflow.db"

    @property
    def uri(self) -> str:
        return f"sqlite:///{self.db}"

    @property
    def journal(self) -> Path:
        return self.root / "optuna.journal"

    @property
    def artifacts(self) -> Path:
        return self.root / "mlruns" / "artifacts"

    def args(self) -> list[str]:
        """The command-line options pointing ``hpstudy`` at these stores."""
        return ["--tracking-uri", self.uri, "--storage", str(self.journal)]

    def client(self):
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.uri)

    def optuna_storage(self):
        from hpstudy.experiment.storage import open_storage

        return open_storage(str(self.journal))

    def load_study(self, name: str):
        import optuna

        return optuna.load_study(study_name=name, storage=self.optuna_storage())

    def experiment_id(self, name: str) -> str:
        exp = self.client().get_experiment_by_name(name)
        assert exp is not None, f"no MLflow experiment {name!r} in {self.uri}"
        return exp.experiment_id

    def runs(self, name: str, filter_string: str = "") -> list:
        """Every run of the study's experiment (all pages, active ones)."""
        return self.client().search_runs([self.experiment_id(name)], filter_string,
                                         max_results=10000)

    def trial_runs(self, name: str) -> list:
        return self.runs(name, "tags.`hpstudy.role` = 'trial'")

    def parent_runs(self, name: str) -> list:
        return self.runs(name, "tags.`hpstudy.role` = 'study'")


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory) -> Path:
    """An empty MLflow SQLite database with every migration applied (made once)."""
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments(max_results=1)
    return path


def make_stores(root: Path, template: Path) -> Stores:
    """Stores in ``root`` with the MLflow database copied from ``template``."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, root / "mlflow.db")
    return Stores(root)


@pytest.fixture
def restore_process_state():
    """``run_study`` installs a SIGTERM handler for the process; put the old one back."""
    handler = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, handler)


@pytest.fixture
def stores(tmp_path, monkeypatch, mlflow_template, restore_process_state) -> Stores:
    """Temporary stores in ``tmp_path``, which is also the working directory."""
    for var in STORE_ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    return make_stores(tmp_path, mlflow_template)


def write_experiment(directory: Path, text: str, name: str = "exp.toml") -> Path:
    """Write a (dedented) experiment file into ``directory`` and return its path."""
    path = Path(directory) / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


#: A tiny moons study: a few hundred rows, one small hidden layer, a few epochs, no charts and
#: no models, so a trial costs well under a second. Tests append or replace what they need.
TINY = """
[study]
name = "{name}"
objective = "val_accuracy"
trials = {trials}
sampler = "random"
pruner = "none"
seed = 0

[data]
dataset = "moons"
n_samples = 200
noise = 0.1

[train]
early_stopping = 0

[search]
learning_rate = {{ low = 1e-3, high = 0.1, log = true }}
batch_size = [16, 32]
depth = 1
width = [4, 8]
activation = ["relu", "tanh"]
optimizer = "adam"
epochs = {epochs}

[stability]
noise_levels = [0.05]
draws = 1
retrain_top = 0

[tracking]
charts = []
charts_for = "none"
model_for = "none"
"""


def tiny_experiment(directory: Path, name: str = "tiny", trials: int = 3, epochs: int = 3) -> Path:
    """Write the :data:`TINY` experiment (study ``name``) into ``directory``."""
    return write_experiment(directory, TINY.format(name=name, trials=trials, epochs=epochs),
                            f"{name}.toml")
