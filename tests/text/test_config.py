"""TextConfig validation: one message shape, naming the parameter."""

from __future__ import annotations

import pytest

from crowdlens.errors import ConfigError
from crowdlens.text.config import TextConfig


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"redact_mode": "smudge"}, "The 'redact_mode' parameter of TextConfig must be one of"),
        (
            {"padding": -1.0},
            "The 'padding' parameter of TextConfig must be a float in [0, 2]. Got -1.0.",
        ),
        ({"languages": ("de",)}, "offline spaCy model"),
        ({"phone_regions": ("usa",)}, "two-letter region codes"),
        ({"gate_box_threshold": 1.0}, "open interval"),
        ({"score_threshold": 2}, "'score_threshold'"),
    ],
)
def test_bad_values_are_named(kwargs, message):
    with pytest.raises(ConfigError) as info:
        TextConfig(**kwargs)
    assert message in str(info.value)


def test_defaults_and_toml_mapping():
    from crowdlens.config import from_mapping

    cfg = from_mapping(
        TextConfig, {"redact_mode": "pixelate", "entities": "PERSON, EMAIL_ADDRESS"}, "t"
    )
    assert cfg.redact_mode == "pixelate" and cfg.entities == ("PERSON", "EMAIL_ADDRESS")
    assert TextConfig().gate is True
