"""Every bad argument raises ValueError/TypeError naming the argument; unknown names list the
valid choices."""

from __future__ import annotations

import re

import numpy as np
import pytest

from hpstudy.nn import (
    ACTIVATIONS,
    INITIALIZERS,
    LOSSES,
    OPTIMIZERS,
    REGULARIZERS,
    SCHEDULES,
    EarlyStopping,
    Network,
    get_activation,
    get_loss,
    get_optimizer,
)
from hpstudy.nn.network import DTYPES
from hpstudy.nn.optimizers import get_schedule
from hpstudy.nn.regularization import strengths

X = np.random.default_rng(0).normal(size=(8, 3))
Y = np.eye(2)[[0, 1] * 4]


def fit(**kwargs):
    net = Network.mlp([3, 4, 2], seed=0)
    options = dict(epochs=1, batch_size=4, learning_rate=0.1) | kwargs
    return net.fit(options.pop("X", X), options.pop("Y", Y), **options)


def mlp(**kwargs):
    return Network.mlp(**(dict(sizes=[3, 4, 2]) | kwargs))


# (call, exception, words the message must contain)
UNKNOWN_NAMES = [
    ("activation", lambda: mlp(activation="relux"), ACTIVATIONS),
    ("output", lambda: mlp(output="softmaxx"), ACTIVATIONS),
    ("initializer", lambda: mlp(initializer="glorot"), [*INITIALIZERS, "auto"]),
    ("dtype", lambda: mlp(dtype="float16"), DTYPES),
    ("loss", lambda: fit(loss="hinge"), LOSSES),
    ("optimizer", lambda: fit(optimizer="rmsprop"), OPTIMIZERS),
    ("schedule", lambda: fit(schedule="linear"), SCHEDULES),
    ("regularizer", lambda: strengths("l3", 0.1), REGULARIZERS),
    ("activation", lambda: get_activation("gelu"), ACTIVATIONS),
    ("loss", lambda: get_loss("hinge"), LOSSES),
    ("optimizer", lambda: get_optimizer("lbfgs"), OPTIMIZERS),
    ("schedule", lambda: get_schedule("warmup"), SCHEDULES),
]


@pytest.mark.parametrize(("argument", "call", "valid"), UNKNOWN_NAMES,
                         ids=[f"{a}-{i}" for i, (a, _, _) in enumerate(UNKNOWN_NAMES)])
def test_unknown_name_lists_valid_choices(argument, call, valid):
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    assert argument in message
    for name in valid:
        assert re.search(rf"\b{name}\b", message), f"{name!r} missing from: {message}"


BAD_ARGUMENTS = [
    # names of the wrong type
    (lambda: mlp(activation=3), TypeError, ["activation", "3"]),
    (lambda: fit(optimizer=None), TypeError, ["optimizer"]),
    (lambda: mlp(dtype=123), TypeError, ["dtype", "123"]),
    (lambda: mlp(dtype=np.int32), ValueError, ["dtype", "int32", "float32", "float64"]),
    # sizes
    (lambda: mlp(sizes=[3]), ValueError, ["sizes"]),
    (lambda: mlp(sizes=[]), ValueError, ["sizes"]),
    (lambda: mlp(sizes=[3, 0, 2]), ValueError, ["sizes", "positive"]),
    (lambda: mlp(sizes=[3, -4, 2]), ValueError, ["sizes", "positive"]),
    (lambda: mlp(sizes=[3, 2.5, 2]), ValueError, ["sizes"]),
    (lambda: mlp(sizes=[3, True, 2]), ValueError, ["sizes"]),
    (lambda: mlp(sizes="3,4,2"), ValueError, ["sizes"]),
    (lambda: mlp(activation="leaky_relu", leaky_alpha=1.5), ValueError, ["leaky_alpha"]),
    # epochs and batch size
    (lambda: fit(epochs=0), ValueError, ["epochs", "> 0"]),
    (lambda: fit(epochs=-3), ValueError, ["epochs"]),
    (lambda: fit(epochs=2.5), TypeError, ["epochs", "integer"]),
    (lambda: fit(epochs=True), TypeError, ["epochs"]),
    (lambda: fit(batch_size=0), ValueError, ["batch_size", ">= 1"]),
    (lambda: fit(batch_size=-1), ValueError, ["batch_size"]),
    (lambda: fit(batch_size="x"), TypeError, ["batch_size", "'x'", "full"]),
    (lambda: fit(batch_size=True), TypeError, ["batch_size", "True"]),
    (lambda: fit(batch_size=2.0), TypeError, ["batch_size"]),
    # rates and strengths
    (lambda: fit(learning_rate=0), ValueError, ["learning_rate", "> 0"]),
    (lambda: fit(learning_rate=-0.1), ValueError, ["learning_rate", "-0.1"]),
    (lambda: fit(learning_rate=float("inf")), ValueError, ["learning_rate", "finite"]),
    (lambda: fit(learning_rate="0.1"), TypeError, ["learning_rate"]),
    (lambda: fit(l1=-0.01), ValueError, ["l1", ">= 0"]),
    (lambda: fit(l2=-1), ValueError, ["l2", ">= 0"]),
    (lambda: fit(l1="big"), TypeError, ["l1"]),
    (lambda: strengths("l2", -0.5), ValueError, ["lambda"]),
    (lambda: fit(optimizer="momentum", momentum=1.5), ValueError, ["momentum", "1.5", "[0, 1)"]),
    (lambda: fit(optimizer="momentum", momentum=-0.1), ValueError, ["momentum"]),
    (lambda: fit(optimizer="momentum", momentum="high"), TypeError, ["momentum"]),
    (lambda: fit(early_stopping=-1), ValueError, ["early_stopping", "> 0"]),
    (lambda: fit(early_stopping=2.5), TypeError, ["early_stopping"]),
    (lambda: EarlyStopping(patience=1.5), TypeError, ["early_stopping"]),
    # losses that need another output
    (lambda: Network.mlp([3, 4, 2], output="sigmoid").fit(X, Y, loss="cross_entropy"),
     ValueError, ["cross_entropy", "softmax", "sigmoid"]),
    (lambda: Network.mlp([3, 4, 1], output="identity").fit(X, Y[:, :1], loss="binary_cross_entropy"),
     ValueError, ["binary_cross_entropy", "sigmoid", "identity"]),
    # shapes
    (lambda: fit(Y=np.eye(3)[[0, 1, 2, 0, 1, 2, 0, 1]]), ValueError, ["Y", "(8, 2)", "(8, 3)"]),
    (lambda: fit(Y=Y[:5]), ValueError, ["Y", "(8, 2)", "(5, 2)"]),
    (lambda: fit(Y=np.zeros(8)), ValueError, ["Y"]),
    (lambda: fit(X=X[:, :2]), ValueError, ["X", "(n, 3)", "(8, 2)"]),
    (lambda: fit(X=X[:, 0]), ValueError, ["X", "(n, 3)"]),
    (lambda: Network.mlp([3, 4, 2]).forward(np.zeros((2, 4))), ValueError, ["X", "(n, 3)"]),
    (lambda: Network.mlp([3, 4, 2]).gradients(X, Y, l1=-1.0), ValueError, ["l1"]),
    (lambda: Network.mlp([3, 4, 2]).gradients(X[:, :2], Y), ValueError, ["X"]),
    # validation and callbacks
    (lambda: fit(validation=X), TypeError, ["validation"]),
    (lambda: fit(validation=(X, Y, Y)), TypeError, ["validation"]),
    (lambda: fit(validation=(X[:, :2], Y)), ValueError, ["X"]),
    (lambda: fit(callbacks=[5]), TypeError, ["callbacks"]),
]


@pytest.mark.parametrize(("call", "error", "words"), BAD_ARGUMENTS,
                         ids=[f"{i}-{words[0]}" for i, (_, _, words) in enumerate(BAD_ARGUMENTS)])
def test_bad_argument_message_names_it(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert type(info.value) is error
    for word in words:
        assert word in str(info.value), f"{word!r} missing from: {info.value}"


@pytest.mark.parametrize("kwargs", [
    {"epochs": np.int64(2)}, {"batch_size": np.int32(4)}, {"learning_rate": np.float32(0.1)},
    {"l1": np.float64(0.001)}, {"batch_size": None}, {"batch_size": "full"}, {"batch_size": 100},
])
def test_numpy_scalars_and_batch_size_forms_are_accepted(kwargs):
    assert fit(**kwargs).epochs == kwargs.get("epochs", 1)


@pytest.mark.parametrize("off", [None, 0, False])
def test_early_stopping_off_values(off):
    assert fit(epochs=3, early_stopping=off).epochs == 3
