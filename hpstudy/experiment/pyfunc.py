"""Load an hpstudy model as an MLflow pyfunc model, without pickle.

MLflow's ``loader_module`` workflow: the logged model directory holds ``network.npz`` (weights
and JSON architecture, read with ``allow_pickle=False``) and ``preprocess.json`` (feature names,
the training split's scaling, class names, task). ``mlflow.pyfunc.load_model`` imports this
module and calls :func:`_load_pyfunc`. This module does not import mlflow itself.

``predict`` takes raw (unscaled) features, as a DataFrame with the training feature names or as
an array in that column order, and returns class probabilities (n, k) for classification or
predictions (n,) for regression.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from hpstudy.nn import Network

NETWORK_FILE = "network.npz"
PREPROCESS_FILE = "preprocess.json"


class HpstudyPyfuncModel:
    """A trained network plus the scaling it was trained behind."""

    def __init__(self, network: Network, preprocess: dict):
        self.network = network
        self.feature_names = list(preprocess["feature_names"])
        self.mean = np.asarray(preprocess["mean"], dtype=float)
        self.scale = np.asarray(preprocess["scale"], dtype=float)
        self.task = preprocess["task"]
        self.class_names = preprocess.get("class_names")
        self.target_offset = float(preprocess.get("target_offset", 0.0))
        self.target_scale = float(preprocess.get("target_scale", 1.0))

    def _features(self, model_input) -> np.ndarray:
        columns = getattr(model_input, "columns", None)
        if columns is not None and set(self.feature_names) <= {str(c) for c in columns}:
            model_input = model_input[self.feature_names]
        X = np.asarray(model_input, dtype=float)
        if X.ndim != 2 or X.shape[1] != len(self.feature_names):
            raise ValueError(
                f"model input must have {len(self.feature_names)} feature columns "
                f"({', '.join(self.feature_names[:5])}…), got shape {X.shape}"
            )
        return (X - self.mean) / self.scale

    def predict(self, model_input, params=None):
        """Probabilities (n, k) for classification, predictions (n,) for regression."""
        X = self._features(model_input)
        if self.task == "classification":
            return self.network.predict_proba(X)
        out = self.network.forward(X).astype(float) * self.target_scale + self.target_offset
        return out[:, 0] if out.shape[1] == 1 else out


def write_model_data(directory, network: Network, preprocess: dict) -> Path:
    """Write ``network.npz`` and ``preprocess.json`` into ``directory`` (created)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    network.save(directory / NETWORK_FILE)
    (directory / PREPROCESS_FILE).write_text(json.dumps(preprocess, indent=1))
    return directory


def _load_pyfunc(data_path):
    """MLflow's entry point: build the model from the directory ``data_path``."""
    data_path = Path(data_path)
    preprocess = json.loads((data_path / PREPROCESS_FILE).read_text())
    return HpstudyPyfuncModel(Network.load(data_path / NETWORK_FILE), preprocess)
