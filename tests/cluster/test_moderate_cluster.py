"""``crowdlens moderate`` on a real standalone cluster: same results as local
mode, and an executor killed in the middle of the job changes nothing."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pandas as pd
import pytest
from cluster_helpers import (
    REPO,
    assert_same_results,
    executors_of,
    rest,
    results_table,
    run_cli,
    start_cli,
    wait_for,
)

from crowdlens.config import load_config
from crowdlens.pipeline import moderate
from crowdlens.pipeline_config import ModerateConfig
from crowdlens.spark.standalone import free_port

pytestmark = [pytest.mark.cluster, pytest.mark.spark, pytest.mark.slow]

SAMPLE = REPO / "examples" / "sample" / "photos"
N_TRAIN = 200  # grocery train photos: ~34 tasks, enough that a kill lands mid-job
CONFIG = """\
write_report = false
[spark]
photos_per_partition = 8   # ~34 small tasks: retries and re-runs are cheap
[text]
enabled = false            # OCR costs ~1 s per photo; it has its own tests
[model]
bundle = "{bundle}"
[ingest]
# The manifest lives in a temporary folder and names photos elsewhere by
# absolute path: allow exactly those two trees (confinement, docs/architecture.md).
allowed_roots = ["{data}", "{sample}"]
"""


@pytest.fixture(scope="module")
def job(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(manifest, config): grocery train photos spread over all classes, plus
    the sample (exact and near duplicates, broken files, problem photos)."""
    work = tmp_path_factory.mktemp("cluster-moderate")
    train = sorted((shared_data / "train").rglob("*.jpg"))
    step = max(1, len(train) // N_TRAIN)
    photos = train[::step][:N_TRAIN] + sorted(p for p in SAMPLE.rglob("*") if p.is_file())
    manifest = work / "manifest.csv"
    pd.DataFrame(
        {"path": [str(p) for p in photos], "label": [p.parent.name for p in photos]}
    ).to_csv(manifest, index=False)
    # The pretrained ImageNet bundle, exported once (and cached). Its folder, not
    # the registry name: label validation reads a bundle folder only.
    from crowdlens.models.hub import resolve_bundle

    config = work / "crowdlens.toml"
    config.write_text(
        CONFIG.format(
            bundle=resolve_bundle("efficientnet_lite0").path, data=shared_data, sample=SAMPLE
        )
    )
    return manifest, config


@pytest.fixture(scope="module")
def local_results(spark, job, tmp_path_factory) -> pd.DataFrame:
    manifest, config = job
    out = tmp_path_factory.mktemp("local") / "out"
    moderate(spark, manifest, out, load_config(ModerateConfig, config))
    return results_table(out / "results.parquet")


@pytest.fixture(scope="module")
def cluster_results(cluster, job, tmp_path_factory) -> pd.DataFrame:
    manifest, config = job
    out = tmp_path_factory.mktemp("cluster") / "out"
    run_cli(
        ["moderate", str(manifest), "--out", str(out), "--config", str(config),
         "--master", cluster.master_url],
    )  # fmt: skip
    return results_table(out / "results.parquet")


def test_cluster_gives_the_same_results_as_local_mode(local_results, cluster_results):
    assert len(cluster_results) == N_TRAIN + len([p for p in SAMPLE.rglob("*") if p.is_file()])
    # The comparison means something only if every kind of row is there.
    assert {"ok", "error"} <= set(cluster_results["status"])
    assert cluster_results["pred_label"].notna().sum() > N_TRAIN
    assert cluster_results["duplicate_of"].notna().sum() >= 2
    assert_same_results(cluster_results, local_results)


def _midway(port: int, cluster) -> dict | None:
    """The per-photo stage while it runs: some tasks done and many still to do."""
    try:
        app = rest(port, "applications")[0]["id"]
        # Our application (not another program's UI on a reused port).
        if app not in {a["id"] for a in cluster.state().get("activeapps", [])}:
            return None
        stages = rest(port, f"applications/{app}/stages?status=active")
    except (OSError, ValueError, IndexError, KeyError):
        return None  # the driver's UI is not up yet
    for st in stages:
        done, total = st["numCompleteTasks"], st["numTasks"]
        if total >= 20 and 2 <= done <= total // 2:
            return {"app": app, "stage": st["stageId"], "done": done, "total": total}
    return None


def test_executor_killed_mid_job_completes_with_the_same_results(
    cluster, job, cluster_results, tmp_path
):
    manifest, config = job
    out = tmp_path / "out"
    ui = free_port()
    log = tmp_path / "moderate.log"
    proc = start_cli(
        ["moderate", str(manifest), "--out", str(out), "--config", str(config),
         "--master", cluster.master_url,
         # The driver's status store, read over its REST API, says when the job is mid-way.
         "--conf", "spark.ui.enabled=true", "--conf", f"spark.ui.port={ui}"],
        log,
    )  # fmt: skip
    try:
        where = wait_for(
            lambda: _midway(ui, cluster), "the per-photo stage to be mid-way", 600, proc
        )
        app = where["app"]
        victims = executors_of(cluster, app)
        assert len(victims) == 2, f"expected one executor per worker for {app}: {victims}"
        os.kill(victims[0], signal.SIGKILL)
        assert proc.wait(timeout=600) == 0, log.read_text()[-5000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    # The worker replaced the killed executor: the application had a third one.
    executors = sorted(p.name for p in cluster.work_dir.glob(f"worker-*/{app}/*"))
    assert len(executors) >= 3, (where, executors)
    assert_same_results(results_table(out / "results.parquet"), cluster_results)
