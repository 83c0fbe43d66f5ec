"""Configuration: typed, frozen dataclasses, validated once at the boundary.

A config file is TOML with one table per section (``[spark]``, ``[decode]``,
...); command-line flags override it. Every bad value is reported in one
message shape, naming the parameter, what it must be, and what it was.
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from crowdlens.errors import ConfigError, param_error

T = TypeVar("T")


def check(owner: object, name: str, ok: bool, expected: str) -> None:
    """Raise the standard parameter error unless ``ok``."""
    if not ok:
        raise param_error(type(owner).__name__, name, expected, getattr(owner, name))


def _coerce(owner: str, name: str, tp: Any, value: Any) -> Any:
    """Coerce a TOML/CLI value to a field's declared type, or explain why not."""
    origin = typing.get_origin(tp)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise param_error(owner, name, "a boolean (true or false)", value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise param_error(owner, name, "an integer", value)
        try:
            return int(value)
        except ValueError:
            raise param_error(owner, name, "an integer", value) from None
    if tp is float:
        if isinstance(value, bool):
            raise param_error(owner, name, "a number", value)
        try:
            return float(value)
        except (TypeError, ValueError):
            raise param_error(owner, name, "a number", value) from None
    if tp is str:
        if not isinstance(value, str):
            raise param_error(owner, name, "a string", value)
        return value
    if origin is tuple:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple):
            raise param_error(owner, name, "a list", value)
        (item_tp, *_rest) = typing.get_args(tp) or (str,)
        return tuple(_coerce(owner, name, item_tp, v) for v in value)
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise param_error(owner, name, "a table of key = value pairs", value)
        return {str(k): str(v) for k, v in value.items()}
    if typing.get_origin(tp) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(owner, name, args[0], value)
    return value


def from_mapping(cls: type[T], data: Mapping[str, Any], where: str) -> T:
    """Build dataclass ``cls`` from a mapping, rejecting unknown keys by name."""
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(
            f"Unknown setting {unknown[0]!r} in {where}. Valid settings: {', '.join(sorted(known))}."
        )
    kwargs = {}
    for key, value in data.items():
        if dataclasses.is_dataclass(hints[key]) and isinstance(value, Mapping):
            kwargs[key] = from_mapping(hints[key], value, f"{where}.{key}")
        else:
            kwargs[key] = _coerce(cls.__name__, key, hints[key], value)
    return cls(**kwargs)


def replace(obj: T, **changes: Any) -> T:
    """``dataclasses.replace`` that drops ``None`` (flags the user did not give)."""
    changes = {k: v for k, v in changes.items() if v is not None}
    return dataclasses.replace(obj, **changes) if changes else obj  # type: ignore[type-var]


@dataclass(frozen=True)
class SparkConfig:
    """How to reach Spark. Any master URL works: local[N], spark://, yarn, k8s://."""

    master: str = "local[*]"
    app_name: str = "crowdlens"
    conf: dict[str, str] = field(default_factory=dict)
    log_level: str = "ERROR"
    photos_per_partition: int = 64

    def __post_init__(self) -> None:
        check(self, "master", bool(self.master.strip()), "a Spark master URL such as local[*]")
        check(
            self,
            "log_level",
            self.log_level.upper() in ("ALL", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF"),
            "one of DEBUG, INFO, WARN, ERROR, OFF",
        )
        check(self, "photos_per_partition", self.photos_per_partition >= 1, "an int >= 1")


@dataclass(frozen=True)
class IngestConfig:
    """How photos are found and which paths may be read (docs/architecture.md: confinement).

    ``allowed_roots`` (folders or URL prefixes) confine every photo path,
    after ``..`` and symlinks are resolved; without them, local paths must lie
    inside the input's own folder tree unless ``confine_to_input`` is false.
    URLs other than object stores (``http``, ``https``, ``ftp``, ...) are read
    only with ``allow_remote``. See :mod:`crowdlens.io.confine`.
    """

    folder_labels: bool = True
    label_column: str = "label"
    allowed_roots: tuple[str, ...] = ()
    allow_remote: bool = False
    confine_to_input: bool = True

    def __post_init__(self) -> None:
        check(self, "label_column", bool(self.label_column), "a non-empty column name")
        check(
            self,
            "allowed_roots",
            isinstance(self.allowed_roots, tuple)
            and all(isinstance(r, str) and r.strip() for r in self.allowed_roots),
            "a list of non-empty folder paths or URL prefixes",
        )


@dataclass(frozen=True)
class DecodeConfig:
    """Safe decoding limits."""

    max_pixels: int = 50_000_000
    max_file_mb: float = 200.0

    def __post_init__(self) -> None:
        check(self, "max_pixels", self.max_pixels >= 1, "an int >= 1")
        check(self, "max_file_mb", self.max_file_mb > 0, "a number > 0")


def load_toml(path: str | Path | None) -> dict[str, Any]:
    """Read a TOML config file, or ``{}`` when no path is given."""
    if path is None:
        return {}
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"Config file {str(p)!r} does not exist; pass an existing TOML file.")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file {str(p)!r} is not valid TOML: {exc}") from None


def load_config(cls: type[T], path: str | Path | None) -> T:
    """Load dataclass ``cls`` (e.g. ``ModerateConfig``) from a TOML file."""
    data = load_toml(path)
    return from_mapping(cls, data, f"config file {str(path)!r}" if path else "config")


def parse_conf_pairs(pairs: list[str] | None) -> dict[str, str]:
    """Parse repeated ``--conf key=value`` flags."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"--conf takes key=value (for example spark.executor.memory=4g). Got {pair!r}."
            )
        out[key.strip()] = value.strip()
    return out
