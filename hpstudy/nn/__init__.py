"""hpstudy.nn — a neural-network library written from scratch in NumPy.

Dense layers; sigmoid, ReLU, leaky ReLU, tanh, softmax and identity activations; He, Xavier and
LeCun initialisation; MSE and (binary) cross-entropy; backpropagation; batch, stochastic and
mini-batch gradient descent with SGD, momentum and Adam; L1/L2 regularisation; and a scalar
autograd engine (:mod:`hpstudy.nn.autograd`) that checks the vectorised backprop.

This package imports only NumPy and the standard library.
"""

from hpstudy.nn.activations import ACTIVATIONS, Activation, get_activation
from hpstudy.nn.initializers import INITIALIZERS, resolve_initializer
from hpstudy.nn.losses import LOSSES, Loss, get_loss
from hpstudy.nn.network import Network
from hpstudy.nn.optimizers import OPTIMIZERS, SCHEDULES, Optimizer, get_optimizer
from hpstudy.nn.regularization import REGULARIZERS
from hpstudy.nn.training import Callback, DivergenceError, EarlyStopping, History, fit

__all__ = [
    "ACTIVATIONS", "INITIALIZERS", "LOSSES", "OPTIMIZERS", "REGULARIZERS", "SCHEDULES",
    "Activation", "Callback", "DivergenceError", "EarlyStopping", "History", "Loss",
    "Network",
    "Optimizer", "fit", "get_activation", "get_loss", "get_optimizer", "resolve_initializer",
]
