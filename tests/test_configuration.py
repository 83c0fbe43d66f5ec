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


# --- one config boundary (issue 15) -------------------------------------------


def test_tables_keep_their_values(tmp_path):
    # _coerce once turned every table value into a string: '[20.0]', then dropped it.
    f = tmp_path / "c.toml"
    f.write_text(
        "[report]\nthresholds = {sharpness = [20.0], brightness = 0.2}\n"
        '[spark]\nconf = {"spark.executor.cores" = 4, "spark.ui.enabled" = false}\n'
    )
    cfg = load_config(ModerateConfig, f)
    assert cfg.report.thresholds == {"sharpness": [20.0], "brightness": 0.2}
    assert cfg.spark.conf == {"spark.executor.cores": "4", "spark.ui.enabled": "false"}


REFUSED = [
    # a table value of the wrong shape
    ("[report]\nthresholds = {sharpness = {x = 1}}\n", "'thresholds' parameter of ReportConfig"),
    # cross-field checks run when the file is loaded, not when the job reaches them
    (
        "[quality]\nhash_distance = 20\nhash_bands = 2\n",
        r"'hash_distance'.*at most 4096 probe keys per band \(raise quality.hash_bands",
    ),
    (
        "[quality]\nbrightness_min = 0.5\nbrightness_max = 0.4\n",
        "'brightness_max'.*greater than brightness_min",
    ),
    ("[train]\nresume = true\n", "'resume' parameter of TrainConfig.*checkpoint_dir"),
    ('[train]\nmode = "head"\ninit_head = "m"\n', "'init_head'.*unset unless mode = 'finetune'"),
    ("[trian]\nepochs = 3\n", r"Unknown section \[trian\].*Valid sections: spark, ingest"),
]


@pytest.mark.parametrize(("text", "message"), REFUSED)
def test_bad_files_are_refused_at_load_time(tmp_path, text, message):
    from crowdlens.config import load_section
    from crowdlens.training.config import TrainConfig

    f = tmp_path / "c.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=message):
        if text.startswith("[train]"):
            load_section(TrainConfig, f, "train")  # what `crowdlens train --config` reads
        else:
            load_config(ModerateConfig, f)  # what `crowdlens moderate --config` reads


def test_every_mode_resolves_what_the_trainer_needs():
    from crowdlens.training.config import MODES, TrainConfig

    for mode in MODES:
        cfg = TrainConfig(mode=mode).resolved()
        assert cfg.epochs and cfg.lr and cfg.batch_size and cfg.backbone, mode
        assert cfg.resolved() == cfg


def test_one_file_holds_every_command_s_sections(tmp_path):
    from crowdlens.config import SparkConfig, load_section
    from crowdlens.review.server import ReviewConfig
    from crowdlens.stages.decide import load_policy
    from crowdlens.training.config import TrainConfig

    f = tmp_path / "c.toml"
    f.write_text(
        '[spark]\nmaster = "local[1]"\n[quality]\nmin_short_side = 150\n'
        '[policy]\nmismatch = "reject"\n[train]\nmode = "head"\nepochs = 3\n'
        "[review]\nport = 9000\n[release]\njpeg_quality = 80\n"
    )
    assert load_config(ModerateConfig, f).quality.min_short_side == 150
    assert load_section(TrainConfig, f, "train").epochs == 3
    assert load_section(SparkConfig, f, "spark").master == "local[1]"
    assert load_section(ReviewConfig, f, "review").port == 9000
    assert load_policy(f).mismatch == "reject"


def test_cli_choices_come_from_the_config():
    from crowdlens.cli import build_parser
    from crowdlens.cli.moderate import config_from_args
    from crowdlens.text.config import REDACT_MODES

    parser = build_parser()
    for mode in REDACT_MODES:
        args = parser.parse_args(["moderate", "in", "--out", "o", "--redact-mode", mode])
        assert config_from_args(args).text.redact_mode == mode
    args = parser.parse_args(["train", "--train", "t", "--out", "o", "--optimizer", "adamw"])
    assert args.optimizer == "adamw"


def test_every_section_is_documented():
    from crowdlens.config import SECTIONS

    doc = (REPO / "docs" / "configuration.md").read_text()
    for name in SECTIONS:
        assert f"### [{name}]" in doc, name
