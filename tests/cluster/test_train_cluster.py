"""``crowdlens train --mode finetune --num-processes 2`` across a real
standalone cluster (one DDP process in a barrier task on each worker), and a
run killed mid-way that ``--resume`` finishes with the same model."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from cluster_helpers import BARRIER_CONF, executors_of, run_cli, start_cli, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

CLASSES = "Banana,Kiwi,Red-Bell-Pepper"
EPOCHS = 3


def train_args(shared: Path, cluster, out: Path, ckpt: Path) -> list[str]:
    """A tiny but real fine-tuning run: 3 classes, 12 photos each, 64-pixel input."""
    conf = [x for c in BARRIER_CONF for x in ("--conf", c)]
    return [
        "train", "--train", str(shared / "train"), "--val", str(shared / "val"),
        "--out", str(out), "--mode", "finetune", "--classes", CLASSES,
        "--max-per-class", "12", "--input-size", "64", "--batch-size", "8",
        "--epochs", str(EPOCHS), "--seed", "3",
        "--num-processes", "2", "--no-local-mode",  # in barrier tasks on the executors
        "--checkpoint-dir", str(ckpt), "--master", cluster.master_url, *conf,
    ]  # fmt: skip


def val_logits(bundle: Path, shared: Path) -> np.ndarray:
    """The bundle's logits on the validation photos of its classes (ONNX Runtime)."""
    from crowdlens.models.bundle import load_bundle
    from crowdlens.models.predict import prepare
    from crowdlens.models.preprocess import stack
    from crowdlens.models.runtime import run

    b = load_bundle(bundle)
    photos = [p for c in CLASSES.split(",") for p in sorted((shared / "val").rglob(f"{c}/*.jpg"))]
    arrays, errors = prepare([p.read_bytes() for p in photos], b, 10**8)
    assert not any(errors), errors
    return run(b, stack(arrays))["logits"]


@pytest.fixture(scope="module")
def uninterrupted(cluster, shared_data, tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("train-cluster")
    out = work / "bundle"
    run_cli(train_args(shared_data, cluster, out, work / "ckpt"))
    return out


def test_finetune_with_two_processes_across_the_cluster_writes_a_bundle(uninterrupted, shared_data):
    from crowdlens.models.bundle import load_bundle

    b = load_bundle(uninterrupted)
    assert sorted(b.labels) == sorted(CLASSES.split(","))
    assert b.extra["training"]["num_processes"] == 2
    assert b.metrics["processes"] == 2  # both DDP ranks ran
    assert len(b.metrics["history"]) >= EPOCHS
    logits = val_logits(uninterrupted, shared_data)
    assert logits.shape[1] == 3 and np.isfinite(logits).all()


def _descendants(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-eo", "pid,ppid"], capture_output=True, text=True).stdout
    children: dict[int, list[int]] = {}
    for line in out.splitlines()[1:]:
        p, pp = map(int, line.split())
        children.setdefault(pp, []).append(p)
    found, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            found.add(c)
            todo.append(c)
    return found


def test_training_killed_mid_run_resumes_to_the_same_model(
    cluster, uninterrupted, shared_data, tmp_path
):
    out, ckpt, log = tmp_path / "bundle", tmp_path / "ckpt", tmp_path / "train.log"
    args = train_args(shared_data, cluster, out, ckpt)
    proc = start_cli(args, log)
    try:
        # The first checkpoint (end of epoch 1) is on disk: training is in epoch 2.
        wait_for(lambda: list(ckpt.glob("ckpt-*.pt")), "the first checkpoint", 600, proc)
        # Everything this run started, also the DDP processes in the executors.
        started = {proc.pid, *_descendants(proc.pid)}
        started |= {d for e in executors_of(cluster) for d in _descendants(e)}
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert not out.exists(), "the run finished before it was killed: nothing was tested"
    # A killed driver ends the application: its executors and their training
    # processes go with it (otherwise they would race the resumed run).
    wait_for(
        lambda: not {p for p in started if _alive(p)},
        "the killed run's processes to end",
        60,
    )
    time.sleep(1)
    kept = sorted(p.name for p in ckpt.glob("ckpt-*.pt"))
    run_cli([*args, "--resume"])
    resumed = load_history(out)
    assert kept, "no checkpoint survived the kill"
    reference = load_history(uninterrupted)
    assert [h["epoch"] for h in resumed] == [h["epoch"] for h in reference]
    for got, want in zip(resumed, reference, strict=True):
        assert got == pytest.approx(want, rel=1e-6), (got, want)
    np.testing.assert_allclose(
        val_logits(out, shared_data), val_logits(uninterrupted, shared_data), rtol=0, atol=1e-5
    )


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def load_history(bundle: Path) -> list:
    from crowdlens.models.bundle import load_bundle

    return load_bundle(bundle).metrics["history"]
