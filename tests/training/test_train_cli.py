"""End to end on real grocery photos (a tiny subset): `crowdlens train` in head
mode on Spark, `crowdlens evaluate` on the bundle, finetune through
TorchDistributor with 2 processes, and a readable error from a failing worker."""

from __future__ import annotations

import json

import pytest

from crowdlens.cli import main
from crowdlens.training.config import TrainConfig
from crowdlens.training.distributed import TrainingFailed, run_distributed
from crowdlens.training.finetune import FinetuneJob, train_worker

CLASSES = ("Avocado", "Banana", "Lime")  # all three are in the val split


def _val_manifest(shared_data, tmp_path, per_class: int = 3):
    """Validation photos of the trained classes only (the val split has 60 classes)."""
    rows = ["path,label"]
    for p in sorted((shared_data / "val").rglob("*.jpg")):
        if p.parent.name in CLASSES and sum(r.endswith(p.parent.name) for r in rows) < per_class:
            rows.append(f"{p},{p.parent.name}")
    path = tmp_path / "val.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.spark
@pytest.mark.slow
def test_train_head_then_evaluate_reports_the_same_top1(spark, shared_data, tmp_path, capsys):
    val = _val_manifest(shared_data, tmp_path)
    out = tmp_path / "bundle"
    code = main(
        [
            "train", "--train", str(shared_data / "train"), "--val", str(val),
            "--out", str(out), "--mode", "head", "--classes", ",".join(CLASSES), "--max-per-class", "6",
            "--epochs", "3", "--batch-size", "8", "--master", "local[2]",
            "--tensorboard-dir", str(tmp_path / "tb"), "--allowed-root", str(shared_data),
        ]
    )  # fmt: skip
    assert code == 0
    trained = json.loads(capsys.readouterr().out)
    assert trained["classes"] == 3 and trained["val"]["n"] == 9
    stored = json.loads((out / "bundle.json").read_text())
    assert stored["labels"] == sorted(CLASSES)
    assert stored["extra"]["training"]["mode"] == "head"
    assert stored["metrics"]["val"]["top1"] == trained["val"]["top1"]
    assert stored["temperature"] > 0
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))

    evaluate = ["evaluate", "--model", str(out), "--data", str(val), "--compact"]
    assert main([*evaluate, "--allowed-root", str(shared_data)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 9 and report["skipped"] == 0
    # ONNX Runtime on the bundle and torch at training time agree on the val split.
    assert report["top1"] == pytest.approx(trained["val"]["top1"])
    assert sum(map(sum, report["confusion"]["matrix"])) == 9
    assert report["parent_top1"] >= report["top1"]


def _tiny_job(shared_data, tmp_path, **cfg) -> FinetuneJob:
    paths, targets = [], []
    for t, name in enumerate(CLASSES):
        found = sorted((shared_data / "train").rglob(f"{name}/*.jpg"))[:4]
        paths += [str(p) for p in found]
        targets += [t] * len(found)
    base = TrainConfig(mode="finetune", epochs=1, batch_size=4, input_size=64, **cfg)
    from crowdlens.models.registry import get_pretrained_config

    spec = get_pretrained_config("efficientnet_lite0").preprocess
    import dataclasses

    spec = dataclasses.replace(spec, input_size=64, resize=72)
    return FinetuneJob(
        tuple(paths), tuple(targets), tuple(paths[::4]), tuple(targets[::4]), CLASSES,
        base.resolved(), spec.to_dict(), str(tmp_path / "w.pt"),
    )  # fmt: skip


@pytest.mark.spark
@pytest.mark.slow
def test_finetune_runs_through_torchdistributor_with_two_processes(spark, shared_data, tmp_path):
    job = _tiny_job(shared_data, tmp_path, checkpoint_dir=str(tmp_path / "ck"))
    out = run_distributed(train_worker, job, num_processes=2, spark=spark)
    assert out["world_size"] == 2
    assert out["photos_seen"] == 12  # one epoch of 12 photos, split over two ranks
    assert out["val_logits"].shape == (3, 3)
    assert (tmp_path / "w.pt").is_file()
    assert [p.name for p in (tmp_path / "ck").iterdir()] == ["ckpt-00000003.pt"]


@pytest.mark.spark
@pytest.mark.slow
def test_a_failing_worker_raises_its_own_traceback(spark, shared_data, tmp_path):
    job = _tiny_job(shared_data, tmp_path, backbone="no_such_model")
    with pytest.raises(TrainingFailed, match="Unknown model 'no_such_model'") as info:
        run_distributed(train_worker, job, num_processes=2, spark=spark)
    assert "Traceback (most recent call last)" in str(info.value)
