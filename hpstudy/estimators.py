"""scikit-learn estimators on top of :class:`hpstudy.nn.Network`: ``MLPClassifier``, ``MLPRegressor``.

They subclass scikit-learn's ``BaseEstimator`` with ``ClassifierMixin`` / ``RegressorMixin``,
check their input with scikit-learn's own validation (``validate_data``, ``check_is_fitted``,
``check_classification_targets``), and pass ``sklearn.utils.estimator_checks.check_estimator``:
they work in ``Pipeline``, ``cross_val_score``, ``GridSearchCV`` and ``clone``. This module sits
one layer above :mod:`hpstudy.nn`, which stays pure NumPy.

Parameters and scikit-learn's ``sklearn.neural_network.MLPClassifier`` / ``MLPRegressor``:

====================== ============================ ==============================================
hpstudy                scikit-learn                 note
====================== ============================ ==============================================
hidden_layer_sizes     hidden_layer_sizes           same (an int means one hidden layer)
activation             activation                   same idea; names of :data:`hpstudy.nn.ACTIVATIONS`
                                                    (``sigmoid`` is sklearn's ``logistic``; also
                                                    ``leaky_relu``)
optimizer              solver                       differs, so not renamed: sklearn's ``sgd`` is
                                                    SGD with momentum; ours are ``sgd`` (plain),
                                                    ``momentum``, ``adam``; no ``lbfgs``
learning_rate_init     learning_rate_init           same: the base step size η₀
schedule               learning_rate                differs: η per epoch from ``constant``,
                                                    ``step``, ``exponential``, ``cosine``
max_iter               max_iter                     same: epochs (all run unless early stopping)
batch_size             batch_size                   same; ``"auto"`` = min(200, n_samples),
                                                    ``"full"`` = batch gradient descent
l2                     alpha                        differs in scale: ``l2·ΣW²`` is added to the
                                                    mean batch loss, sklearn adds
                                                    ``alpha/2·ΣW²/n_batch``; so
                                                    ``l2 = alpha / (2·batch_size)``
l1                     —                            ``l1·Σ|W|``
momentum               momentum                     same (used by ``optimizer="momentum"``)
nesterovs_momentum     nesterovs_momentum           same (used by ``optimizer="momentum"``)
early_stopping         early_stopping               same: hold out ``validation_fraction``
                                                    (stratified for the classifier), stop after
                                                    ``n_iter_no_change`` epochs without a better
                                                    validation *loss* (sklearn: score, with
                                                    ``tol``), keep the best weights
validation_fraction    validation_fraction          same
n_iter_no_change       n_iter_no_change             the patience of early stopping; without it
                                                    nothing stops training early (no ``tol``)
random_state           random_state                 same: int, None or ``RandomState``; draws the
                                                    seeds of initialisation, shuffling and split
loss                   loss (regressor)             ``cross_entropy`` (softmax), ``mse`` on
                                                    one-hot targets, ``binary_cross_entropy``
                                                    (one sigmoid unit, 2 classes); regressor:
                                                    ``mse``
initializer            —                            :data:`hpstudy.nn.INITIALIZERS` or ``"auto"``
dtype                  —                            ``float32`` / ``float64`` network arithmetic;
                                                    ``"auto"``: float32 for float32 ``X``, else
                                                    float64 (as sklearn)
leaky_alpha            —                            slope of ``leaky_relu`` below zero
====================== ============================ ==============================================

Not offered: ``shuffle`` (always on), ``tol``, ``verbose``, ``warm_start``, ``power_t``,
``beta_1``/``beta_2``/``epsilon``, ``max_fun``, ``partial_fit``, multilabel targets.

Learned attributes end in ``_``: ``network_`` (the trained :class:`~hpstudy.nn.Network`),
``history_`` (its :class:`~hpstudy.nn.History`), ``loss_curve_``, ``n_iter_`` (epochs run),
``n_features_in_``, ``feature_names_in_`` (for data frames with string column names),
``out_activation_``, and ``classes_`` (classifier) or ``n_outputs_`` (regressor).

Output/loss pairs: the classifier uses a softmax output with ``cross_entropy`` (or ``mse`` on
one-hot targets, as the seeds compare), or one sigmoid unit with ``binary_cross_entropy`` for two
classes; the regressor an identity output with ``mse``. For softmax + cross-entropy and sigmoid +
binary cross-entropy the output error is ``δ = ŷ − y`` (see :mod:`hpstudy.nn.losses`).
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state, check_scalar
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from hpstudy.nn import Network

#: rows per step for ``batch_size="auto"``, as scikit-learn: min(200, n_samples)
AUTO_BATCH_ROWS = 200
CLASSIFIER_LOSSES = ("binary_cross_entropy", "cross_entropy", "mse")
REGRESSOR_LOSSES = ("mse",)


def _check_loss(loss, valid) -> str:
    if loss not in valid:
        raise ValueError(f"unknown loss {loss!r}; valid names: {', '.join(valid)}")
    return loss


def _can_stratify(codes, validation_fraction) -> bool:
    """Whether a split with ``test_size=validation_fraction`` can keep every class on both
    sides: each class has 2 rows or more, and each side has at least one row per class
    (otherwise the split is a plain random one, where scikit-learn's MLP would raise)."""
    counts = np.bincount(codes)
    n_val = int(np.ceil(validation_fraction * len(codes)))
    return counts.min() >= 2 and min(n_val, len(codes) - n_val) >= len(counts)


def _hidden_sizes(hidden_layer_sizes) -> list:
    """``hidden_layer_sizes`` as a list; a single int is one hidden layer (as scikit-learn)."""
    if isinstance(hidden_layer_sizes, numbers.Integral):
        return [hidden_layer_sizes]
    return list(hidden_layer_sizes)


class _BaseMLP(BaseEstimator):
    """Shared settings and training of :class:`MLPClassifier` and :class:`MLPRegressor`."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, loss="cross_entropy",
                 optimizer="adam", learning_rate_init=0.001, schedule="constant",
                 batch_size="auto", max_iter=200, l1=0.0, l2=0.0, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=10, random_state=None, initializer="auto", dtype="auto",
                 leaky_alpha=0.01):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.loss = loss
        self.optimizer = optimizer
        self.learning_rate_init = learning_rate_init
        self.schedule = schedule
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.l1 = l1
        self.l2 = l2
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.initializer = initializer
        self.dtype = dtype
        self.leaky_alpha = leaky_alpha

    def _split(self, X, T, seed, codes):
        """``(X_train, T_train, validation or None)``: hold out ``validation_fraction`` rows
        when early stopping is on, stratified by the class ``codes`` when given and possible."""
        if not self.early_stopping:
            return X, T, None
        check_scalar(self.validation_fraction, "validation_fraction", numbers.Real,
                     min_val=0.0, max_val=1.0, include_boundaries="neither")
        stratify = codes if codes is not None and _can_stratify(
            codes, self.validation_fraction) else None
        X_train, X_val, T_train, T_val = train_test_split(
            X, T, test_size=self.validation_fraction, random_state=seed, stratify=stratify)
        return X_train, T_train, (X_val, T_val)

    def _dtype(self, X) -> str:
        """The network's dtype: ``dtype``, or for ``"auto"`` that of ``X`` (as scikit-learn's
        MLP: float32 data is trained in float32, anything else in float64)."""
        if self.dtype == "auto":
            return "float32" if X.dtype == np.float32 else "float64"
        return self.dtype

    def _batch_size(self):
        """Rows per step for the trainer: ``"auto"`` is min(200, n) (the trainer caps at n)."""
        if isinstance(self.batch_size, str) and self.batch_size not in ("auto", "full"):
            raise ValueError(f"batch_size must be a positive integer, 'auto' or 'full'; "
                             f"got {self.batch_size!r}")
        return AUTO_BATCH_ROWS if self.batch_size == "auto" else self.batch_size

    def _train(self, X, T, output, loss, codes=None):
        """Build ``network_`` for ``X`` (n, d) and targets ``T`` (n, n_out) and train it."""
        init_seed, shuffle_seed, split_seed = (
            int(s) for s in check_random_state(self.random_state).randint(2**31 - 1, size=3))
        if not isinstance(self.early_stopping, bool | np.bool_):
            raise TypeError(f"early_stopping must be True or False (the patience is "
                            f"n_iter_no_change), got {self.early_stopping!r}")
        patience = None
        if self.early_stopping:
            patience = check_scalar(self.n_iter_no_change, "n_iter_no_change", numbers.Integral,
                                    min_val=1)
        sizes = [X.shape[1], *_hidden_sizes(self.hidden_layer_sizes), T.shape[1]]
        self.network_ = Network.mlp(sizes, activation=self.activation, output=output,
                                    initializer=self.initializer, seed=init_seed,
                                    dtype=self._dtype(X), leaky_alpha=self.leaky_alpha)
        X_train, T_train, val = self._split(X, T, split_seed, codes)
        self.history_ = self.network_.fit(
            X_train, T_train, loss=loss, epochs=self.max_iter, batch_size=self._batch_size(),
            learning_rate=self.learning_rate_init, optimizer=self.optimizer,
            momentum=self.momentum, nesterov=self.nesterovs_momentum, l1=self.l1, l2=self.l2,
            validation=val, schedule=self.schedule, early_stopping=patience, seed=shuffle_seed)
        self.loss_curve_ = list(self.history_.train_loss)
        self.n_iter_ = len(self.loss_curve_)
        self.out_activation_ = output
        return self

    def _forward(self, X) -> np.ndarray:
        """Output activations (n, n_out) as float64, after checking fit and ``X``."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return self.network_.forward(X).astype(np.float64)


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multilayer-perceptron classifier trained from scratch in NumPy (see the module doc).

    ``loss`` is ``cross_entropy`` (default, softmax output), ``mse`` (softmax output, one-hot
    targets) or ``binary_cross_entropy`` (two classes, one sigmoid output unit). Labels may be
    of any type scikit-learn accepts (ints, strings, ...); ``classes_`` lists them sorted.
    """

    def fit(self, X, y):
        """Learn from ``X`` (n, d) and class labels ``y`` (n,); returns ``self``.

        ``y`` of shape (n, 1) is raveled with a ``DataConversionWarning``; continuous targets
        are refused (``check_classification_targets``).
        """
        loss = _check_loss(self.loss, CLASSIFIER_LOSSES)
        X, y = validate_data(self, X, y, dtype=(np.float64, np.float32))
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        codes, k = encoder.transform(y), len(self.classes_)
        if k < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes; y has "
                             f"{k} class: {self.classes_.tolist()}")
        if loss == "binary_cross_entropy":
            if k != 2:
                raise ValueError(f"loss 'binary_cross_entropy' needs 2 classes, y has {k}")
            return self._train(X, codes[:, None].astype(float), "sigmoid", loss, codes=codes)
        return self._train(X, np.eye(k)[codes], "softmax", loss, codes=codes)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n, n_classes) as float64, columns in the order of ``classes_``."""
        out = self._forward(X)
        if out.shape[1] == 1:  # one sigmoid unit: p(classes_[1])
            return np.hstack([1.0 - out, out])
        return out

    def predict(self, X) -> np.ndarray:
        """Predicted labels (n,), drawn from ``classes_``."""
        proba = self.predict_proba(X)  # checks that the classifier is fitted
        return self.classes_[np.argmax(proba, axis=1)]


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multilayer-perceptron regressor: identity output, mean squared error (module doc).

    ``score`` is R² (scikit-learn's ``r2_score``, uniform over outputs).
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, loss="mse",
                 optimizer="adam", learning_rate_init=0.001, schedule="constant",
                 batch_size="auto", max_iter=200, l1=0.0, l2=0.0, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=10, random_state=None, initializer="auto", dtype="auto",
                 leaky_alpha=0.01):
        super().__init__(
            hidden_layer_sizes, activation, loss=loss, optimizer=optimizer,
            learning_rate_init=learning_rate_init, schedule=schedule, batch_size=batch_size,
            max_iter=max_iter, l1=l1, l2=l2, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, n_iter_no_change=n_iter_no_change,
            random_state=random_state, initializer=initializer, dtype=dtype,
            leaky_alpha=leaky_alpha)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X, y):
        """Learn from ``X`` (n, d) and targets ``y`` (n,) or (n, m); returns ``self``."""
        loss = _check_loss(self.loss, REGRESSOR_LOSSES)
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True,
                             dtype=(np.float64, np.float32))
        self._y_1d = y.ndim == 1
        T = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        self.n_outputs_ = T.shape[1]
        return self._train(X, T, "identity", loss)

    def predict(self, X) -> np.ndarray:
        """Predictions as float64: (n,) when fitted on 1-D targets, else (n, n_outputs_)."""
        out = self._forward(X)
        return out[:, 0] if self._y_1d else out
