"""Configuration: TOML sections, validation messages, and the generated docs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crowdlens.config import load_config, parse_conf_pairs
from crowdlens.errors import ConfigError
from crowdlens.pipeline_config import ModerateConfig

REPO = Path(__file__).resolve().parents[1]


def test_every_section_loads_from_toml(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text(
        """
[spark]
master = "local[1]"
conf = { "spark.executor.memory" = "3g" }
[decode]
max_pixels = 1000
[quality]
min_short_side = 150
[model]
bundle = "models/grocery-lite0"
[text]
redact_mode = "pixelate"
entities = ["PERSON", "EMAIL_ADDRESS"]
[policy]
reject_flags = ["low_resolution"]
[validate]
mismatch_prob = 0.0005
"""
    )
    cfg = load_config(ModerateConfig, f)
    assert cfg.spark.master == "local[1]" and cfg.spark.conf == {"spark.executor.memory": "3g"}
    assert cfg.decode.max_pixels == 1000 and cfg.quality.min_short_side == 150
    assert cfg.model.bundle == "models/grocery-lite0"
    assert cfg.text.entities == ("PERSON", "EMAIL_ADDRESS")
    assert cfg.policy.reject_flags == ("low_resolution",)


def test_unknown_setting_names_the_valid_ones(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("[quality]\nblur_treshold = 3\n")
    with pytest.raises(ConfigError, match="Unknown setting 'blur_treshold'.*Valid settings:"):
        load_config(ModerateConfig, f)


def test_bad_values_use_one_message_shape(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("[spark]\nphotos_per_partition = 0\n")
    with pytest.raises(
        ConfigError,
        match=r"The 'photos_per_partition' parameter of SparkConfig must be an int >= 1\. Got 0\.",
    ):
        load_config(ModerateConfig, f)
    f.write_text('[decode]\nmax_pixels = "many"\n')
    with pytest.raises(ConfigError, match="must be an integer. Got 'many'"):
        load_config(ModerateConfig, f)


def test_missing_or_broken_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(ModerateConfig, tmp_path / "nope.toml")
    (tmp_path / "bad.toml").write_text("[spark\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(ModerateConfig, tmp_path / "bad.toml")


def test_conf_pairs():
    assert parse_conf_pairs(["a=b", "c = d=e"]) == {"a": "b", "c": "d=e"}
    with pytest.raises(ConfigError, match="key=value"):
        parse_conf_pairs(["novalue"])


def test_configuration_doc_is_current():
    out = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "config_doc.py")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert out == (REPO / "docs" / "configuration.md").read_text(), (
        "docs/configuration.md is stale: run scripts/config_doc.py > docs/configuration.md"
    )
