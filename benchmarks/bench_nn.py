"""Benchmark: hpstudy.nn against scikit-learn's MLPClassifier (and PyTorch, if importable).

Run with ``make bench`` (or ``python benchmarks/bench_nn.py``). Each case trains the same MLP
(ReLU hidden layers, softmax output, cross-entropy, plain SGD without momentum or weight decay,
shuffled mini-batches, float32 data) with every library in one run and prints

- the training time of each library: the best of ``REPEATS`` runs of the whole ``fit`` call,
  building the model included (interleaved hpstudy, sklearn, torch, hpstudy, ...; the best,
  not the mean, because noise on a shared machine only ever adds time);
- the time ratio sklearn / hpstudy (> 1 means hpstudy is faster);
- both test accuracies, on held-out rows never trained on;
- hpstudy's matmul throughput: the FLOPs of the training run's matrix products divided by its
  time, as a fraction of NumPy's own float32 matmul rate for a shape like the large case's,
  ``(128×784) @ (784×256)``, measured in the same run (best of many repeats).

FLOPs counted per batch of n rows and per layer (fan_in → fan_out): ``2·n·fan_in·fan_out`` for
the forward product ``a W``, the same for the weight gradient ``aᵀ δ``, and the same again for
the input gradient ``δ Wᵀ`` of every layer but the first. Element-wise work, the per-epoch
diagnostics pass and the end-of-epoch evaluation are real costs but are not counted, so the
fraction is a lower bound of the BLAS efficiency of the hot path.

Settings kept identical across libraries: architecture, epochs (sklearn ``max_iter``), batch
size, learning rate, ``alpha=0`` / ``l2=0``, ``momentum=0`` (``nesterovs_momentum=False``),
``shuffle=True``; sklearn's tolerance-based stopping is disabled (``tol=0``,
``n_iter_no_change`` larger than the epochs), so both run every epoch. Initial weights differ
(each library's default for ReLU), so accuracies agree only roughly.

hpstudy trains with its defaults, so its time includes what every epoch of a study records
besides the training steps (train metric and per-layer diagnostics on up to 512 rows, the
divergence checks); ``--no-diagnostics`` switches the diagnostics off.

Targets (PASS/FAIL printed; ``--strict`` exits 1 on a FAIL): sklearn/hpstudy ≥ 3 on the two
small cases and ≥ 1.5 on the large one; matmul throughput ≥ 45 % on the large one. The matmul
rate is measured before and after the cases (the better one counts). The BLAS thread count is
printed: NumPy's OpenBLAS uses every core by default; ``--blas-threads N`` limits both libraries
to N threads (with threadpoolctl, which scikit-learn installs). On a machine shared with other
work, timings with 2 BLAS threads vary a lot from run to run (a multi-threaded product waits
for a busy core); ``--blas-threads 1`` gives steadier ratios.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np

REPEATS = 3
MATMUL_SHAPE = (128, 784, 256)  # (n, k, m): (n×k) @ (k×m)


@dataclass
class Case:
    """One benchmark problem and the targets it must meet."""

    name: str
    n_train: int
    n_features: int
    hidden: list[int]
    batch_size: int
    epochs: int
    learning_rate: float
    min_ratio: float
    min_matmul_fraction: float | None = None
    n_classes: int = 10
    n_test: int = 0


CASES = [
    Case("digits 1797x64 [64,64]", 1797, 64, [64, 64], 32, 20, 0.1, 3.0),
    Case("synthetic 5000x30 [32]", 5000, 30, [32], 16, 10, 0.05, 3.0, n_classes=4, n_test=2000),
    Case("synthetic 20000x784 [256,256]", 20000, 784, [256, 256], 128, 3, 0.05, 1.5,
         min_matmul_fraction=0.45, n_test=5000),
]


# -- data ---------------------------------------------------------------------------------------

def digits_data(seed: int = 0):
    """sklearn's 8×8 digits scaled to [0, 1]; 75 % train, 25 % held out (stratified)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)


def teacher_data(case: Case, seed: int = 0):
    """Rows from N(0, I) labelled by a random tanh teacher network (argmax of its outputs)."""
    rng = np.random.default_rng(seed)
    n = case.n_train + case.n_test
    X = rng.standard_normal((n, case.n_features), dtype=np.float32)
    W1 = rng.standard_normal((case.n_features, 64)) / np.sqrt(case.n_features)
    W2 = rng.standard_normal((64, case.n_classes))
    y = np.argmax(np.tanh(X @ W1) @ W2, axis=1)
    return X[: case.n_train], X[case.n_train :], y[: case.n_train], y[case.n_train :]


def case_data(case: Case):
    if case.name.startswith("digits"):
        X_tr, X_te, y_tr, y_te = digits_data()
        case.n_train = len(X_tr)
        return X_tr, X_te, y_tr, y_te
    return teacher_data(case)


# -- the libraries ------------------------------------------------------------------------------

DIAGNOSTICS = True


def train_hpstudy(case: Case, X, y, seed: int):
    """Train with hpstudy.nn; returns a predict function."""
    from hpstudy.nn import Network

    k = int(y.max()) + 1
    net = Network.mlp([X.shape[1], *case.hidden, k], activation="relu", output="softmax",
                      seed=seed, dtype="float32")
    Y = np.eye(k, dtype=np.float32)[y]
    net.fit(X, Y, loss="cross_entropy", epochs=case.epochs, batch_size=case.batch_size,
            learning_rate=case.learning_rate, optimizer="sgd", seed=seed, diagnostics=DIAGNOSTICS)
    return net.predict


def train_sklearn(case: Case, X, y, seed: int):
    """Train with sklearn's MLPClassifier set up as plain mini-batch SGD; returns predict."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=tuple(case.hidden), activation="relu", solver="sgd",
                        alpha=0.0, batch_size=case.batch_size, learning_rate="constant",
                        learning_rate_init=case.learning_rate, max_iter=case.epochs,
                        shuffle=True, random_state=seed, tol=0.0, momentum=0.0,
                        nesterovs_momentum=False, early_stopping=False,
                        n_iter_no_change=10**9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    return clf.predict


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def train_torch(case: Case, X, y, seed: int):
    """The same MLP and SGD in PyTorch (CPU, float32); returns a predict function."""
    import torch

    torch.manual_seed(seed)
    k = int(y.max()) + 1
    sizes = [X.shape[1], *case.hidden]
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers, torch.nn.Linear(sizes[-1], k))
    opt = torch.optim.SGD(model.parameters(), lr=case.learning_rate)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    gen = torch.Generator().manual_seed(seed)
    for _ in range(case.epochs):
        perm = torch.randperm(len(Xt), generator=gen)
        for start in range(0, len(Xt), case.batch_size):
            idx = perm[start : start + case.batch_size]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(Xt[idx]), yt[idx]).backward()
            opt.step()

    def predict(X_new):
        with torch.no_grad():
            return model(torch.from_numpy(np.asarray(X_new, np.float32))).argmax(1).numpy()

    return predict


# -- measuring ----------------------------------------------------------------------------------

def training_flops(case: Case, n_classes: int) -> float:
    """FLOPs of the forward and backward matrix products of the whole training run."""
    sizes = [case.n_features, *case.hidden, n_classes]
    per_row = 0
    for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        products = 2 if layer == 0 else 3  # forward, weight gradient (, input gradient)
        per_row += products * 2 * fan_in * fan_out
    return float(per_row) * case.n_train * case.epochs


def matmul_rate(shape=MATMUL_SHAPE, seconds: float = 1.0) -> float:
    """Best FLOP/s of a float32 ``(n×k) @ (k×m)`` product with NumPy, over repeated blocks."""
    n, k, m = shape
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, k), dtype=np.float32)
    b = rng.standard_normal((k, m), dtype=np.float32)
    out = np.empty((n, m), dtype=np.float32)
    flops, best, deadline = 2.0 * n * k * m, np.inf, time.perf_counter() + seconds
    for _ in range(10):  # warm up threads and caches
        np.matmul(a, b, out=out)
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        for _ in range(20):
            np.matmul(a, b, out=out)
        best = min(best, (time.perf_counter() - start) / 20)
    return flops / best


def time_case(case: Case, libraries: dict, repeats: int = REPEATS) -> dict:
    """Train every library ``repeats`` times (interleaved); best time and test accuracy each."""
    X_tr, X_te, y_tr, y_te = case_data(case)
    best = dict.fromkeys(libraries, np.inf)
    accuracy = {}
    for repeat in range(repeats):
        for name, train in libraries.items():
            start = time.perf_counter()
            predict = train(case, X_tr, y_tr, seed=0)
            best[name] = min(best[name], time.perf_counter() - start)
            if repeat == 0:
                accuracy[name] = float(np.mean(predict(X_te) == y_te))
    return {"seconds": best, "accuracy": accuracy, "n_classes": int(y_tr.max()) + 1}


# -- report -------------------------------------------------------------------------------------

def blas_threads() -> str:
    """NumPy's BLAS thread count as reported by threadpoolctl (if installed), else the env."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return os.environ.get("OPENBLAS_NUM_THREADS", "default")
    infos = [i for i in threadpool_info() if i["user_api"] == "blas" and "numpy" in i["filepath"]]
    return ", ".join(f"{i['internal_api']} {i['num_threads']}" for i in infos) or "unknown"


def format_rows(results: list[tuple[Case, dict]], rate: float, has_torch: bool) -> list[str]:
    head = f"{'case':<31} {'hpstudy s':>9} {'sklearn s':>9} "
    head += f"{'torch s':>8} " if has_torch else ""
    head += f"{'skl/hp':>7} {'acc hp':>7} {'acc skl':>7} "
    head += f"{'acc tch':>7} " if has_torch else ""
    head += f"{'GFLOP/s':>8} {'matmul%':>8}"
    lines = [head, "-" * len(head)]
    for case, r in results:
        s, a = r["seconds"], r["accuracy"]
        gflops = training_flops(case, r["n_classes"]) / s["hpstudy"] / 1e9
        line = f"{case.name:<31} {s['hpstudy']:>9.3f} {s['sklearn']:>9.3f} "
        line += f"{s['torch']:>8.3f} " if has_torch else ""
        line += f"{s['sklearn'] / s['hpstudy']:>7.2f} {a['hpstudy']:>7.3f} {a['sklearn']:>7.3f} "
        line += f"{a['torch']:>7.3f} " if has_torch else ""
        line += f"{gflops:>8.1f} {100 * gflops * 1e9 / rate:>7.1f}%"
        lines.append(line)
    return lines


def verdicts(results: list[tuple[Case, dict]], rate: float) -> list[tuple[str, bool]]:
    out = []
    for case, r in results:
        s = r["seconds"]
        ratio = s["sklearn"] / s["hpstudy"]
        out.append((f"{case.name}: sklearn/hpstudy {ratio:.2f} >= {case.min_ratio}",
                    ratio >= case.min_ratio))
        if case.min_matmul_fraction is not None:
            frac = training_flops(case, r["n_classes"]) / s["hpstudy"] / rate
            out.append((f"{case.name}: matmul throughput {100 * frac:.1f}% >= "
                        f"{100 * case.min_matmul_fraction:.0f}%", frac >= case.min_matmul_fraction))
    return out


def blas_limit(threads: int | None):
    """A context limiting BLAS to ``threads`` threads (threadpoolctl), or doing nothing."""
    import contextlib

    if threads is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads, user_api="blas")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=REPEATS, help="timings per library (best kept)")
    parser.add_argument("--case", action="append", help="run only cases whose name contains this")
    parser.add_argument("--blas-threads", type=int, help="limit BLAS to this many threads")
    parser.add_argument("--no-diagnostics", action="store_true", help="hpstudy without diagnostics")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    args = parser.parse_args(argv)
    global DIAGNOSTICS
    DIAGNOSTICS = not args.no_diagnostics
    with blas_limit(args.blas_threads):
        return run(args)


def run(args) -> int:
    has_torch = torch_available()
    libraries = {"hpstudy": train_hpstudy, "sklearn": train_sklearn}
    if has_torch:
        libraries["torch"] = train_torch
    import sklearn

    print(f"hpstudy.nn benchmark — Python {platform.python_version()}, NumPy {np.__version__}, "
          f"scikit-learn {sklearn.__version__}, torch {'yes' if has_torch else 'not installed'}")
    print(f"CPUs: {os.cpu_count()}; NumPy BLAS threads: {blas_threads()}; "
          f"best of {args.repeats} runs per library; hpstudy diagnostics "
          f"{'on' if DIAGNOSTICS else 'off'}")
    rate = matmul_rate()
    results = []
    for case in CASES:
        if args.case and not any(c in case.name for c in args.case):
            continue
        results.append((case, time_case(case, libraries, args.repeats)))
    rate = max(rate, matmul_rate())
    n, k, m = MATMUL_SHAPE
    print(f"NumPy float32 matmul ({n}x{k})@({k}x{m}): {rate / 1e9:.1f} GFLOP/s "
          f"(best of before and after the cases)\n")
    print("\n".join(format_rows(results, rate, has_torch)))
    print()
    checks = verdicts(results, rate)
    for text, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    return 1 if args.strict and not all(ok for _, ok in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
