"""Configuration: typed, frozen dataclasses, validated once at the boundary.

A config file is TOML with one table per section (``[spark]``, ``[decode]``,
``[train]``, ...; :data:`SECTIONS`); command-line flags override it. One file
may serve every command: :func:`load_config` reads ``moderate``'s sections,
:func:`load_section` any one section, and each refuses unknown sections and
settings by name. Each config class declares its constraints as data
(``PARAMS``, :mod:`crowdlens.params`) and checks them, with its cross-field
rules, in ``__post_init__``: a bad file fails when it is loaded, in one
message shape naming the parameter, what it must be, and what it was.
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from crowdlens.errors import ConfigError, param_error
from crowdlens.params import Each, Interval, NonEmpty, Options, Params, validate

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
        (_key_tp, item_tp) = typing.get_args(tp) or (str, Any)
        return {str(k): _coerce_item(owner, f"{name}.{k}", item_tp, v) for k, v in value.items()}
    if typing.get_origin(tp) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(owner, name, args[0], value)
    return value


def _coerce_item(owner: str, name: str, tp: Any, value: Any) -> Any:
    """A value inside a table: kept as TOML gave it unless the field says its type.

    ``dict[str, str]`` (Spark's ``conf``) turns ``4`` and ``true`` into ``"4"``
    and ``"true"``; ``dict[str, Any]`` keeps lists and numbers as they are.
    """
    if tp is Any:
        return value
    if tp is str and isinstance(value, bool | int | float):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return _coerce(owner, name, tp, value)


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


LOG_LEVELS = ("ALL", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF")


@dataclass(frozen=True)
class SparkConfig:
    """How to reach Spark. Any master URL works: local[N], spark://, yarn, k8s://."""

    master: str = "local[*]"
    app_name: str = "crowdlens"
    conf: dict[str, str] = field(default_factory=dict)
    log_level: str = "ERROR"
    photos_per_partition: int = 64

    PARAMS: ClassVar[Params] = {
        "master": NonEmpty("Spark master URL such as local[*]"),
        "log_level": Options(LOG_LEVELS, ignore_case=True),
        "photos_per_partition": Interval(int, 1, None),
    }

    def __post_init__(self) -> None:
        validate(self)


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

    PARAMS: ClassVar[Params] = {
        "label_column": NonEmpty("column name"),
        "allowed_roots": Each(NonEmpty(), "a list of non-empty folder paths or URL prefixes"),
    }

    def __post_init__(self) -> None:
        validate(self)


@dataclass(frozen=True)
class DecodeConfig:
    """Safe decoding limits."""

    max_pixels: int = 50_000_000
    max_file_mb: float = 200.0

    PARAMS: ClassVar[Params] = {
        "max_pixels": Interval(int, 1, None),
        "max_file_mb": Interval(float, 0, None, closed="neither"),
    }

    def __post_init__(self) -> None:
        validate(self)


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


#: Every section a crowdlens command reads. One TOML file may hold them all:
#: each command reads its own sections and leaves the others' alone.
SECTIONS = (
    *("spark", "ingest", "decode", "quality", "model", "validate", "text", "policy", "report"),
    *("train", "review", "release"),
)


def _sections(path: str | Path | None) -> dict[str, Any]:
    data = load_toml(path)
    unknown = sorted(k for k, v in data.items() if isinstance(v, Mapping) and k not in SECTIONS)
    if unknown:
        raise ConfigError(
            f"Unknown section [{unknown[0]}] in config file {str(path)!r}. "
            f"Valid sections: {', '.join(SECTIONS)}."
        )
    return data


def load_config(cls: type[T], path: str | Path | None) -> T:
    """Load ``cls`` (e.g. ``ModerateConfig``, one field per section) from a TOML file.

    Sections that belong to other commands (``[train]`` for ``moderate``) are skipped.
    """
    own = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    data = {k: v for k, v in _sections(path).items() if k in own or k not in SECTIONS}
    return from_mapping(cls, data, f"config file {str(path)!r}" if path else "config")


def load_section(cls: type[T], path: str | Path | None, section: str) -> T:
    """Section ``[section]`` of the TOML file at ``path`` as ``cls``; defaults without a file.

    The one loader for a single section (``[train]``, ``[review]``, ``[policy]``, ...).

    Example::

        cfg = load_section(ReviewConfig, "crowdlens.toml", "review")
    """
    if section not in SECTIONS:
        raise ValueError(f"{section!r} is not a config section; add it to SECTIONS")
    data = _sections(path).get(section, {})
    if not isinstance(data, Mapping):
        raise ConfigError(f"[{section}] in config file {str(path)!r} must be a table.")
    return from_mapping(cls, data, f"[{section}] of config file {str(path)!r}")


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
