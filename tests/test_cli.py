"""The command line: clear one-line errors, exit codes, a summary."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples" / "sample"


def crowdlens(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    return subprocess.run(
        [sys.executable, "-m", "crowdlens", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("crowdlens: error:")]
    assert len(errors) == 1, proc.stderr
    for needle in needles:
        assert needle in errors[0]
    assert "Traceback" not in proc.stderr
    assert "java." not in proc.stderr and "py4j" not in proc.stderr


def test_help_teaches():
    proc = crowdlens("moderate", "--help")
    assert proc.returncode == 0
    assert "manifest" in proc.stdout and "examples:" in proc.stdout


def test_nonexistent_input(tmp_path):
    proc = crowdlens("moderate", str(tmp_path / "nope"), "--out", str(tmp_path / "o"))
    assert_one_line_error(proc, "does not exist", "folder of photos or a manifest")


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no photos here")
    proc = crowdlens("moderate", str(tmp_path / "empty"), "--out", str(tmp_path / "o"))
    assert_one_line_error(proc, "No photos found")


def test_unwritable_output(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the output folder should be")
    proc = crowdlens("moderate", str(SAMPLE / "photos"), "--out", str(blocker / "out"))
    assert_one_line_error(proc, "Cannot write to the output folder")


def test_bad_conf_flag(tmp_path):
    proc = crowdlens(
        "moderate", str(SAMPLE / "photos"), "--out", str(tmp_path / "o"), "--conf", "nonsense"
    )
    assert_one_line_error(proc, "--conf takes key=value")


def test_bad_config_value(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[decode]\nmax_pixels = -1\n")
    proc = crowdlens(
        "moderate", str(SAMPLE / "photos"), "--out", str(tmp_path / "o"), "--config", str(cfg)
    )
    assert_one_line_error(
        proc, "The 'max_pixels' parameter of DecodeConfig must be an int >= 1. Got -1."
    )


@pytest.mark.spark
def test_manifest_without_path_column(tmp_path):
    pd.DataFrame({"file": ["a.jpg"]}).to_csv(tmp_path / "m.csv", index=False)
    proc = crowdlens("moderate", str(tmp_path / "m.csv"), "--out", str(tmp_path / "o"))
    assert_one_line_error(proc, "no 'path' column")


@pytest.mark.spark
def test_sample_run_exits_zero_with_summary(tmp_path):
    """A manifest run through the CLI: bad photos are reported, the run still succeeds.

    OCR is skipped here (tests/test_sample_pipeline.py runs the full default job).
    """
    proc = crowdlens(
        "moderate", str(SAMPLE / "manifest.csv"), "--out", str(tmp_path / "o"), "--no-text"
    )
    assert proc.returncode == 0, proc.stderr
    assert "70 photos" in proc.stdout
    assert "truncated JPEG" in proc.stdout and "not a readable image" in proc.stdout
    df = pd.read_parquet(tmp_path / "o" / "results.parquet")
    assert len(df) == 70 and set(df["country"]) == {"KE", "MX", "PH", "BR", "FR"}
    # quiet logs: no JVM log lines on a normal run
    assert " WARN " not in proc.stderr and "Setting default log level" not in proc.stderr


def test_stage_flags_reach_the_config(tmp_path):
    from crowdlens.cli import build_parser
    from crowdlens.cli.moderate import config_from_args

    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text('[text]\nredact_mode = "pixelate"\n[quality]\nmin_short_side = 200\n')
    args = build_parser().parse_args(
        ["moderate", "in", "--out", "o", "--model", "models/x", "--no-text", "--no-duplicates",
         "--config", str(cfg_file), "--master", "local[1]", "--conf", "spark.a=b"]
    )  # fmt: skip
    cfg = config_from_args(args)
    assert cfg.model.bundle == "models/x"
    assert cfg.text.enabled is False and cfg.text.redact_mode == "pixelate"
    assert cfg.quality.enabled is True and cfg.quality.duplicates is False
    assert cfg.quality.min_short_side == 200
    assert cfg.spark.master == "local[1]" and cfg.spark.conf["spark.a"] == "b"
    default = config_from_args(build_parser().parse_args(["moderate", "in", "--out", "o"]))
    assert default.text.enabled and default.quality.duplicates and default.model.bundle is None
