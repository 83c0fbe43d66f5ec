"""Photos, manifests and results in an object store, through the S3 API.

The S3 server is moto's server mode on 127.0.0.1 (a real HTTP S3 endpoint,
in-process): AWS itself cannot be reached from the test machine. Credentials
and the endpoint come from the standard AWS environment variables, exactly as
a user would set them, so the jobs run through the CLI in a fresh process (the
Spark workers take their environment from the JVM, which must start after the
variables are set).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from crowdlens import schema as S

pytestmark = pytest.mark.spark

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample"


def crowdlens(env: dict[str, str], *args: str, text: bool = False) -> subprocess.CompletedProcess:
    # OCR costs ~1 s per photo (tests/text covers it): only one test turns it on.
    flags = [] if text else ["--no-text"]
    return subprocess.run(
        [sys.executable, "-m", "crowdlens", "moderate", *args, "--master", "local[2]", *flags],
        capture_output=True,
        text=True,
        env={**os.environ, **env, "SPARK_LOCAL_IP": "127.0.0.1"},
        timeout=600,
    )


def test_folder_prefix_in_s3_to_local_results(s3, tmp_path):
    _, env = s3
    proc = crowdlens(env, "s3://survey/photos", "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert "13 photos" in proc.stdout
    df = pd.read_parquet(tmp_path / "out" / "results.parquet")
    assert len(df) == 13
    assert df[S.PATH].str.startswith("s3://survey/photos/").all()
    assert (df[S.STATUS] == "ok").sum() == 12
    broken = df[df[S.PATH].str.endswith("broken.jpg")].iloc[0]
    assert broken[S.STATUS] == "error" and broken[S.LABEL] == "Lemon"
    assert set(df[S.LABEL]) >= {"Arla-Standard-Milk", "Avocado"}


def test_manifest_in_s3_and_results_written_to_s3(s3):
    s3, env = s3
    proc = crowdlens(env, "s3://survey/manifest.csv", "--out", "s3://survey/runs/r1", text=True)
    assert proc.returncode == 0, proc.stderr
    assert "2 photos" in proc.stdout
    # the release copy went to the bucket too, mirrored and without metadata
    released = "runs/r1/redacted/photos/Arla-Standard-Milk/Arla-Standard-Milk_001.jpg"
    body = s3.get_object(Bucket="survey", Key=released)["Body"].read()
    from PIL import Image

    with Image.open(io.BytesIO(body)) as im:
        assert im.size == (348, 348) and not im.getexif()
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="survey", Prefix="runs/r1/")["Contents"]}
    assert "runs/r1/results.parquet/_SUCCESS" in keys
    assert not any(".tmp-" in k for k in keys)
    # the report went to the bucket, with a thumbnail read from the photo in the bucket
    html = s3.get_object(Bucket="survey", Key="runs/r1/report.html")["Body"].read().decode()
    assert "<html" in html and "data:image/jpeg;base64," in html
    parts = sorted(k for k in keys if k.endswith(".parquet"))
    frames = [
        pd.read_parquet(io.BytesIO(s3.get_object(Bucket="survey", Key=k)["Body"].read()))
        for k in parts
    ]
    df = pd.concat(frames).set_index("country")
    # the error table names the photo that was not found by its id, never by its path
    missing = df[df[S.PATH].str.endswith("missing.jpg")].iloc[0]
    assert missing[S.STATUS] == "error" and str(missing[S.IMAGE_ID]) in html
    assert "missing.jpg" not in html and "s3://survey" not in html
    assert df.loc["KE", S.STATUS] == "ok" and df.loc["KE", S.WIDTH] == 348
    assert df.loc["MX", S.STATUS] == "error" and "not found" in df.loc["MX", S.ERROR]
    again = crowdlens(env, "s3://survey/manifest.csv", "--out", "s3://survey/runs/r1")
    assert again.returncode == 2 and "already exists" in again.stderr


def test_missing_prefix_is_a_clear_error(s3, tmp_path):
    _, env = s3
    proc = crowdlens(env, "s3://survey/nothing-here/", "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr
