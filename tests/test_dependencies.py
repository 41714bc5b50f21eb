"""Checks for optional packages guard only packages that may be missing: a check or an
``except ImportError`` fallback for a package hpstudy depends on (directly or through its
dependencies) can never run, and hides what the code really needs."""

from __future__ import annotations

import ast
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import hpstudy
from hpstudy.experiment.config import SAMPLER_REQUIREMENTS

PACKAGE = Path(hpstudy.__file__).parent


def _always_installed() -> set[str]:
    """hpstudy's dependencies and theirs, without extras (canonical names)."""
    seen: set[str] = set()
    todo = ["hpstudy"]
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            requirements = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for req in map(Requirement, requirements):
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return seen - {"hpstudy"}


def _guarded_imports() -> dict[str, str]:
    """Top-level module -> file, for every import inside a ``try`` that catches ImportError."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Try) or not any(
                    "ImportError" in ast.dump(h.type) for h in node.handlers if h.type):
                continue
            for inner in (n for stmt in node.body for n in ast.walk(stmt)):
                if isinstance(inner, ast.ImportFrom) and inner.module and inner.level == 0:
                    found[inner.module.split(".")[0]] = str(path.relative_to(PACKAGE))
                elif isinstance(inner, ast.Import):
                    found |= {a.name.split(".")[0]: str(path.relative_to(PACKAGE))
                              for a in inner.names}
    return found


def test_sampler_requirements_name_only_optional_packages():
    required = _always_installed()
    needs = {package for packages in SAMPLER_REQUIREMENTS.values() for package in packages}
    assert not {canonicalize_name(p) for p in needs} & required


def test_no_import_fallback_for_a_package_that_is_always_installed():
    required = _always_installed()
    dead = {module: where for module, where in _guarded_imports().items()
            if canonicalize_name(module) in required}
    assert not dead
