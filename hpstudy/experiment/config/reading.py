"""Reading an experiment file: TOML as data, then overrides, then validation."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hpstudy.experiment.config.experiment import ExperimentConfig, parse_config
from hpstudy.experiment.config.overrides import apply_overrides
from hpstudy.experiment.errors import ConfigError

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)")


def read_toml(source: str | Path) -> dict[str, Any]:
    """Read a TOML file as data, turning every failure into a :class:`ConfigError`."""
    path = Path(source)
    source = str(source)
    if not path.exists():
        raise ConfigError(source, "", "file not found; give the path of an experiment .toml file")
    if path.is_dir():
        raise ConfigError(source, "", "is a directory; give the path of an experiment .toml file")
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        match = _TOML_POSITION.search(message)
        if match is None:
            raise ConfigError(source, "", f"invalid TOML: {message}") from None
        text = _TOML_POSITION.sub("", message)
        where, problem = f"line {match.group(1)}", f"invalid TOML: {text} (column {match.group(2)})"
        raise ConfigError(source, where, problem) from None
    except UnicodeDecodeError:
        raise ConfigError(source, "", "not UTF-8 text; save the file as UTF-8") from None
    except OSError as error:
        raise ConfigError(source, "", f"cannot be read: {error.strerror}") from None


def load_config(path: str | Path, overrides: Mapping[str, Any] | None = None) -> ExperimentConfig:
    """Read, override and validate an experiment file.

    Parameters
    ----------
    path : str or Path
        The ``.toml`` file.
    overrides : Mapping, optional
        Key -> value, values already parsed (see :func:`parse_set_option`); set as they
        are (see :func:`apply_overrides`).

    Returns
    -------
    ExperimentConfig

    Raises
    ------
    ConfigError
        For a missing or unreadable file, a TOML syntax error or any invalid setting.
    """
    source = str(path)
    data = read_toml(source)
    if overrides:
        data = apply_overrides(data, overrides, source)
    return parse_config(data, source)
