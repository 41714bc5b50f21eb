"""scikit-learn-style estimators on top of :class:`~hpstudy.nn.network.Network`.

``fit(X, y)`` takes plain labels (classification) or targets (regression), ``fit`` returns
``self``, and learned state ends in ``_`` (``network_``, ``classes_``, ``history_``,
``loss_curve_``, ``n_features_in_``). They do not depend on scikit-learn: they follow its
conventions so that hpstudy models drop into code written for it.

Output/loss pairs: the classifier uses a softmax output with ``cross_entropy`` (or ``mse`` on
one-hot targets, as the seeds compare), or one sigmoid unit with ``binary_cross_entropy`` for two
classes; the regressor uses an identity output with ``mse``. For softmax + cross-entropy and
sigmoid + binary cross-entropy the output error is ``δ = ŷ − y`` (see :mod:`hpstudy.nn.losses`).
"""

from __future__ import annotations

import numpy as np

from hpstudy.nn._checks import check_choice
from hpstudy.nn.network import Network


class _BaseMLP:
    """Shared settings and training for :class:`MLPClassifier` and :class:`MLPRegressor`."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", initializer="auto",
                 loss=None, optimizer="adam", learning_rate=0.001, batch_size=32, epochs=50,
                 l1=0.0, l2=0.0, momentum=0.9, nesterov=False, schedule="constant",
                 early_stopping=None, validation_fraction=0.1, seed=0, dtype="float32",
                 leaky_alpha=0.01):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation, self.initializer, self.loss = activation, initializer, loss
        self.optimizer, self.learning_rate, self.batch_size = optimizer, learning_rate, batch_size
        self.epochs, self.l1, self.l2 = epochs, l1, l2
        self.momentum, self.nesterov, self.schedule = momentum, nesterov, schedule
        self.early_stopping, self.validation_fraction = early_stopping, validation_fraction
        self.seed, self.dtype, self.leaky_alpha = seed, dtype, leaky_alpha

    def get_params(self, deep=True) -> dict:
        """The constructor settings, as scikit-learn's ``get_params``."""
        names = self.__init__.__code__.co_varnames[1 : self.__init__.__code__.co_argcount]
        return {name: getattr(self, name) for name in names}

    def set_params(self, **params):
        """Change constructor settings; returns ``self``."""
        valid = self.get_params()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"unknown parameter {name!r}; valid: {', '.join(sorted(valid))}")
            setattr(self, name, value)
        return self

    def _split_validation(self, X, T, rng):
        """Hold out ``validation_fraction`` of the rows when early stopping is on."""
        if not self.early_stopping:
            return X, T, None
        n_val = max(1, int(round(len(X) * self.validation_fraction)))
        perm = rng.permutation(len(X))
        val, train = perm[:n_val], perm[n_val:]
        return X[train], T[train], (X[val], T[val])

    def _train(self, X, T, output, loss):
        X = np.asarray(X, dtype=float)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
        sizes = [X.shape[1], *self.hidden_layer_sizes, T.shape[1]]
        self.network_ = Network.mlp(sizes, activation=self.activation, output=output,
                                    initializer=self.initializer, seed=self.seed,
                                    dtype=self.dtype, leaky_alpha=self.leaky_alpha)
        Xt, Tt, val = self._split_validation(X, T, np.random.default_rng(self.seed))
        self.history_ = self.network_.fit(
            Xt, Tt, loss=loss, epochs=self.epochs, batch_size=self.batch_size,
            learning_rate=self.learning_rate, optimizer=self.optimizer, momentum=self.momentum,
            nesterov=self.nesterov, l1=self.l1, l2=self.l2, validation=val,
            schedule=self.schedule, early_stopping=self.early_stopping, seed=self.seed)
        self.loss_curve_ = list(self.history_.train_loss)
        self.n_features_in_ = X.shape[1]
        return self

    def _check_fitted(self):
        if not hasattr(self, "network_"):
            raise ValueError(f"this {type(self).__name__} is not fitted yet; call fit(X, y) first")


class MLPClassifier(_BaseMLP):
    """Multilayer-perceptron classifier trained from scratch in NumPy.

    ``loss`` is ``cross_entropy`` (default, softmax output), ``mse`` (softmax output, one-hot
    targets) or ``binary_cross_entropy`` (two classes, one sigmoid output unit).
    """

    def fit(self, X, y):
        """Learn from ``X`` (n, d) and labels ``y`` (n,) of any hashable type; returns self."""
        loss = self.loss or "cross_entropy"
        check_choice("loss", loss, ("cross_entropy", "mse", "binary_cross_entropy"))
        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        k = len(self.classes_)
        if k < 2:
            raise ValueError(f"y must contain at least 2 classes, got {k}: {self.classes_!r}")
        if loss == "binary_cross_entropy":
            if k != 2:
                raise ValueError(f"loss 'binary_cross_entropy' needs 2 classes, got {k}")
            return self._train(X, codes[:, None].astype(float), "sigmoid", loss)
        return self._train(X, np.eye(k)[codes], "softmax", loss)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n, n_classes), columns in the order of ``classes_``."""
        self._check_fitted()
        return self.network_.predict_proba(X)

    def predict(self, X) -> np.ndarray:
        """Predicted labels (n,), drawn from ``classes_``."""
        proba = self.predict_proba(X)  # checks that the classifier is fitted
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X, y) -> float:
        """Accuracy on ``(X, y)``."""
        return float(np.mean(self.predict(X) == np.asarray(y)))


class MLPRegressor(_BaseMLP):
    """Multilayer-perceptron regressor (identity output, mean squared error)."""

    def fit(self, X, y):
        """Learn from ``X`` (n, d) and targets ``y`` (n,) or (n, m); returns self."""
        check_choice("loss", self.loss or "mse", ("mse",))
        y = np.asarray(y, dtype=float)
        self._y_ndim = y.ndim
        return self._train(X, y.reshape(len(y), -1), "identity", "mse")

    def predict(self, X) -> np.ndarray:
        """Predictions, (n,) for 1-D targets else (n, m)."""
        self._check_fitted()
        out = self.network_.forward(X)
        return out[:, 0] if self._y_ndim == 1 else out

    def score(self, X, y) -> float:
        """Coefficient of determination R² = 1 − SS_res / SS_tot (uniform over outputs)."""
        y = np.asarray(y, dtype=float).reshape(len(X), -1)
        pred = self.predict(X).reshape(len(X), -1)
        ss_res = ((y - pred) ** 2).sum(axis=0)
        ss_tot = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
        return float(np.mean(1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0)))
