"""Saving and loading networks: a pickle-free ``.npz`` round trip and clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hpstudy.nn import Network, _kernels


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("activation", "output"), [("relu", "softmax"), ("leaky_relu", "sigmoid"),
                                                    ("tanh", "identity"), ("sigmoid", "tanh")])
def test_round_trip_gives_same_predictions(tmp_path, activation, output, dtype):
    rng = np.random.default_rng(0)
    net = Network.mlp([4, 6, 5, 3], activation=activation, output=output, seed=1, dtype=dtype,
                      leaky_alpha=0.2)
    for p in net.parameters():
        p += rng.normal(0, 0.1, p.shape)  # biases non-zero too
    path = net.save(tmp_path / "model.npz")
    loaded = Network.load(path)
    X = rng.normal(size=(10, 4))
    assert loaded.sizes == net.sizes and loaded.dtype == net.dtype
    assert [layer.activation.config() for layer in loaded.layers] == \
        [layer.activation.config() for layer in net.layers]
    np.testing.assert_array_equal(loaded.forward(X), net.forward(X))
    np.testing.assert_array_equal(_kernels.get_state(loaded), _kernels.get_state(net))


def test_saved_file_needs_no_pickle_and_has_json_metadata(tmp_path):
    net = Network.mlp([3, 4, 2], seed=0)
    path = net.save(tmp_path / "model.npz")
    with np.load(path, allow_pickle=False) as data:  # would raise on object arrays
        arrays = {name: data[name] for name in data.files}
    assert set(arrays) == {"meta", "W0", "W1", "b0", "b1"}
    meta = json.loads(str(arrays["meta"]))
    assert meta["sizes"] == [3, 4, 2] and meta["dtype"] == "float32"
    assert not list(tmp_path.glob("*.tmp*"))  # the temporary file is gone


def test_loaded_network_is_independent_and_trainable(tmp_path):
    X = np.random.default_rng(0).normal(size=(20, 3))
    Y = np.eye(2)[(X[:, 0] > 0).astype(int)]
    net = Network.mlp([3, 4, 2], seed=0)
    loaded = Network.load(net.save(tmp_path / "m.npz"))
    loaded.fit(X, Y, epochs=2, learning_rate=0.1)
    assert not np.array_equal(_kernels.get_state(loaded), _kernels.get_state(net))
    assert np.array_equal(_kernels.get_state(Network.load(tmp_path / "m.npz")), _kernels.get_state(net))


def test_save_overwrites_an_existing_model(tmp_path):
    path = tmp_path / "m.npz"
    Network.mlp([3, 4, 2], seed=0).save(path)
    second = Network.mlp([3, 4, 2], seed=1)
    second.save(path)
    assert np.array_equal(_kernels.get_state(Network.load(path)), _kernels.get_state(second))


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no_such.npz"):
        Network.load(tmp_path / "no_such.npz")


def test_non_model_npz_gives_clear_error(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, a=np.arange(3))
    with pytest.raises(ValueError, match="not an hpstudy model"):
        Network.load(path)


@pytest.mark.parametrize("meta", [np.array(5), np.array("[1, 2]"), np.array("not json")])
def test_npz_with_foreign_meta_gives_clear_error(tmp_path, meta):
    path = tmp_path / "other.npz"
    np.savez(path, meta=meta)
    with pytest.raises(ValueError, match="not an hpstudy model"):
        Network.load(path)


def test_other_format_version_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    np.savez(path, meta=np.array(json.dumps({"format": "hpstudy.nn.Network/99"})))
    with pytest.raises(ValueError, match="unsupported model format"):
        Network.load(path)


def test_model_with_missing_arrays_gives_clear_error(tmp_path):
    path = Network.mlp([3, 4, 2], seed=0).save(tmp_path / "m.npz")
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files if name != "W1"}
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="W1"):
        Network.load(path)


def test_file_that_is_not_npz_gives_clear_error(tmp_path):
    path = tmp_path / "model.npz"
    path.write_text("hello, I am not a model\n")
    with pytest.raises(ValueError, match="not an hpstudy model"):
        Network.load(path)


def test_plain_npy_array_gives_clear_error(tmp_path):
    path = tmp_path / "model.npz"
    with open(path, "wb") as f:
        np.save(f, np.arange(4))
    with pytest.raises(ValueError, match="not an hpstudy model"):
        Network.load(path)
