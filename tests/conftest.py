"""Shared fixtures: one real local[2] SparkSession for the whole test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data" / "grocery-store"
SAMPLE = REPO / "examples" / "sample"

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


@pytest.fixture(scope="session")
def spark():
    """A real Spark session in local mode with two cores."""
    from crowdlens.config import SparkConfig
    from crowdlens.spark.session import get_spark

    session = get_spark(
        SparkConfig(
            master="local[2]",
            app_name="crowdlens-tests",
            conf={"spark.sql.shuffle.partitions": "4"},
        )
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is not present (the project's shared data folder)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def grocery_model() -> Path:
    """The shipped grocery classifier, rebuilt from its head if set-up did not yet."""
    model = REPO / "models" / "grocery-lite0"
    if not (model / "model.onnx").is_file() or not (model / "bundle.json").is_file():
        from crowdlens.models.head_bundle import rebuild

        rebuild(model)
    return model


@pytest.fixture(scope="session")
def default_model() -> Path:
    """The shipped model `make demo` uses: what a default `crowdlens train` made
    (Lite2, tuned tail, text evidence), rebuilt from its tail if set-up did not yet."""
    model = REPO / "models" / "grocery-lite2"
    if not (model / "model.onnx").is_file() or not (model / "bundle.json").is_file():
        from crowdlens.training.tail_pack import rebuild

        rebuild(model)
    return model


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    """A moto S3 server on 127.0.0.1 with bucket ``survey``: 12 sample photos, a broken
    one and a manifest. One per session: moto keeps its buckets in process-global
    memory and s3fs caches clients by endpoint, so a second server would see the
    first one's objects under a dead endpoint. Tests write below their own prefix."""
    import io

    import pandas as pd

    moto_server = pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
    }
    client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    client.create_bucket(Bucket="survey")
    for photo in sorted((SAMPLE / "photos").rglob("*.jpg"))[:12]:
        key = f"photos/{photo.relative_to(SAMPLE / 'photos').as_posix()}"
        client.upload_file(str(photo), "survey", key)
    client.put_object(
        Bucket="survey", Key="photos/Lemon/broken.jpg", Body=b"\xff\xd8\xff\xe0broken"
    )
    manifest = pd.DataFrame(
        {
            "path": ["photos/Arla-Standard-Milk/Arla-Standard-Milk_001.jpg", "photos/missing.jpg"],
            "label": ["Arla-Standard-Milk", "Kiwi"],
            "country": ["KE", "MX"],
        }
    )
    buf = io.StringIO()
    manifest.to_csv(buf, index=False)
    client.put_object(Bucket="survey", Key="manifest.csv", Body=buf.getvalue().encode())
    yield client, env
    server.stop()
