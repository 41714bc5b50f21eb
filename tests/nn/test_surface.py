"""Network's public surface is exactly what docs/interfaces.md documents; its private vectors
are touched only by the network and its kernel module."""

from __future__ import annotations

import re
from pathlib import Path

from hpstudy.nn import Network

ROOT = Path(__file__).resolve().parents[2]


def documented_names() -> set[str]:
    """``net.x`` and ``Network.x`` names in the hpstudy.nn code block of docs/interfaces.md."""
    text = (ROOT / "docs" / "interfaces.md").read_text(encoding="utf-8")
    section = text.split("## hpstudy.nn", 1)[1]
    block = section.split("```python", 1)[1].split("```", 1)[0]
    return set(re.findall(r"\b(?:net|Network)\.([A-Za-z_]\w*)", block))


def test_public_names_of_network_are_the_documented_ones():
    net = Network.mlp([3, 4, 2], seed=0)
    public = {name for name in dir(net) if not name.startswith("_")}
    assert public == documented_names()


def test_only_the_network_and_its_kernels_touch_the_parameter_vectors():
    private = re.compile(r"\._(theta|grad|grad_W|grad_b|grad_hat|W_hat|workspaces)\b")
    users = {path.relative_to(ROOT).as_posix() for path in (ROOT / "hpstudy").rglob("*.py")
             if private.search(path.read_text(encoding="utf-8"))}
    assert users == {"hpstudy/nn/network.py", "hpstudy/nn/_kernels.py"}
