"""Constraints as data (crowdlens.params): one check, one message, the same words in the docs."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from crowdlens.errors import ConfigError
from crowdlens.params import Each, Interval, NonEmpty, Options, OrNone, choices, params_of


@pytest.mark.parametrize(
    ("constraint", "good", "bad", "words"),
    [
        (Interval(int, 1, None), [1, 10**9], [0, 1.5, True, "3", None], "an int >= 1"),
        (
            Interval(float, 0, 1, closed="right"),
            [1, 0.5, 1.0],
            [0, -0.1, 1.01],
            "a float in (0, 1]",
        ),
        (Interval(float, 0, 1, closed="left"), [0, 0.99], [1, 1.0], "a float in [0, 1)"),
        (
            Interval(float, 0, 1, closed="neither"),
            [0.5],
            [0.0, 1.0],
            "a float in the open interval (0, 1)",
        ),
        (Interval(int, 256, 1_048_576), [256, 1_048_576], [255], "an int in [256, 1048576]"),
        (Options((2, 4), note="bands"), [2, 4], [3, "2", True], "one of 2, 4 (bands)"),
        (Options(("INFO",), ignore_case=True), ["info", "INFO"], ["debug", 1], "one of INFO"),
        (NonEmpty("column name"), ["a"], ["", "  ", None, 3], "a non-empty column name"),
        (Each(NonEmpty(), "names", min_len=1), [("a",), ["a", "b"]], [(), ("",), "a"], "names"),
        (OrNone(Interval(float, 0, None)), [None, 0.0], [-1.0], "a float >= 0 or None (off)"),
    ],
)
def test_constraints_accept_reject_and_describe(constraint, good, bad, words):
    assert all(constraint.ok(v) for v in good), good
    assert not any(constraint.ok(v) for v in bad), bad
    assert constraint.describe() == words


# Sections whose modules (stages/, models/predict.py) still check by hand; when
# one declares PARAMS, its valid values appear in docs/configuration.md too.
STILL_HAND_CHECKED: set[str] = set()


def _config_classes() -> list[type]:
    from crowdlens.audit import AuditConfig
    from crowdlens.config import SparkConfig
    from crowdlens.pipeline_config import ModerateConfig
    from crowdlens.release import ReleaseConfig
    from crowdlens.review.server import ReviewConfig
    from crowdlens.training.config import TrainConfig

    hints = typing.get_type_hints(ModerateConfig)
    sections = [hints[f.name] for f in dataclasses.fields(ModerateConfig)]
    found = [c for c in sections if dataclasses.is_dataclass(c)]
    return [*found, SparkConfig, TrainConfig, ReviewConfig, ReleaseConfig, AuditConfig]


@pytest.mark.parametrize("cls", _config_classes(), ids=lambda c: c.__name__)
def test_tables_name_real_fields_and_defaults_pass(cls):
    names = {f.name for f in dataclasses.fields(cls)}
    table = params_of(cls)
    assert "PARAMS" not in names  # a ClassVar, never a setting of the file
    assert table or cls.__name__ in STILL_HAND_CHECKED
    assert set(table) <= names, set(table) - names
    default = cls()
    assert all(c.ok(getattr(default, n)) for n, c in table.items())


def test_a_bad_value_gets_the_one_message_shape():
    from crowdlens.quality.config import QualityConfig

    with pytest.raises(ConfigError) as info:
        QualityConfig(analysis_size=8)
    assert str(info.value) == (
        "The 'analysis_size' parameter of QualityConfig must be an int in [32, 4096]. Got 8."
    )
    with pytest.raises(ConfigError, match=r"'sharpness_min'.*a float >= 0 or None \(off\)\. Got"):
        QualityConfig(sharpness_min=-1.0)


def test_choices_read_the_options():
    from crowdlens.text.config import REDACT_MODES, TextConfig
    from crowdlens.training.config import MODES, TrainConfig

    assert choices(TextConfig, "redact_mode") == REDACT_MODES
    assert "fill" in REDACT_MODES
    assert choices(TrainConfig, "mode") == MODES
    with pytest.raises(TypeError, match="not declared with Options"):
        choices(TextConfig, "padding")
