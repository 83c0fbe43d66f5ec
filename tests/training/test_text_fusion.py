"""Text evidence end to end on real grocery photos: ``crowdlens train`` (tail mode, real
Spark, the real pretrained backbone and OCR) chooses it out of fold and writes it into
the bundle; ``moderate`` with that bundle judges by image and text."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from crowdlens import schema as S
from crowdlens.cli import main

# Two sibling yoghurts whose packs name them, a juice, and fruit without text.
CLASSES = ("Arla-Mild-Vanilla-Yoghurt", "Arla-Natural-Yoghurt", "Bravo-Apple-Juice", "Banana")
PER_CLASS = 10


@pytest.mark.spark
@pytest.mark.slow
def test_train_chooses_text_evidence_and_moderate_uses_it(spark, shared_data, tmp_path, capsys):
    from crowdlens.config import replace
    from crowdlens.pipeline import moderate
    from crowdlens.pipeline_config import ModerateConfig

    val = tmp_path / "val"  # a folder: label = the photo's folder name
    rows = []
    for c in CLASSES:
        (val / c).mkdir(parents=True)
        for p in sorted((shared_data / "val").rglob(f"{c}/*.jpg"))[:2]:
            shutil.copy(p, val / c / p.name)
            rows.append(p.name)
    bundle = tmp_path / "bundle"
    args = ["train", "--train", str(shared_data / "train"), "--val", str(val), "--out", str(bundle)]
    args += ["--classes", ",".join(CLASSES), "--max-per-class", str(PER_CLASS)]
    args += ["--epochs", "1", "--master", "local[2]"]
    args += ["--features-cache", str(tmp_path / "fc")]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "text evidence" in printed  # the report's "chosen" names it

    stored = json.loads((bundle / "bundle.json").read_text())
    text = stored["extra"]["text_evidence"]
    assert text["used"], text  # the packs' text tells the sibling yoghurts apart
    assert text["cv_top1_fused"] > text["cv_top1_image"]
    assert text["weight"] > 0 and text["temperature"] > 0
    assert 1 <= text["thresholds"]["confirm_max_rank"] <= 3
    assert (bundle / "text_evidence.json").is_file() and (bundle / "text_evidence.npz").is_file()
    assert text["read_settings"]["gate"] is True  # how the photos were read, for moderate
    val_text = stored["metrics"]["text_evidence"]["val"]
    assert val_text["n"] == len(rows)
    # The headline val figures are the bundle's as moderate and evaluate judge it.
    assert stored["metrics"]["val"]["judged_by"] == "image+text"
    assert stored["metrics"]["val"]["top1"] == pytest.approx(val_text["top1"], abs=1e-4)
    assert list((tmp_path / "fc").glob("text-*.parquet"))  # the training photos' text, cached
    # The companions were weighed out of fold; the exported network has them only if used.
    comp = stored["extra"]["companions"]
    assert comp["backbones"] == ["efficientnet_lite0", "mobilenet_v2"]
    assert set(comp["out_of_fold_top1"]) >= {"0.0", str(comp["weight"])}
    assert stored["feature_dim"] == 1280 + (2 * 1280 if comp["used"] else 0)

    # `evaluate` judges as moderate does: by image and text, the image alone beside it.
    assert main(["evaluate", "--model", str(bundle), "--data", str(val), "--compact"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["judged_by"] == "image+text" and report["n"] == len(rows)
    assert report["top1"] == pytest.approx(val_text["top1"], abs=1e-4)  # as training measured
    assert report["image"]["top1"] == pytest.approx(val_text["top1_image"], abs=1e-4)
    assert 0 <= report["image"]["top1"] <= 1 and 0 <= report["top1"] <= 1
    args = ["evaluate", "--model", str(bundle), "--data", str(val), "--no-text-evidence"]
    assert main([*args, "--compact"]) == 0
    alone = json.loads(capsys.readouterr().out)
    assert alone["judged_by"] == "image" and alone["top1"] == report["image"]["top1"]

    cfg = ModerateConfig()
    cfg = replace(cfg, model=replace(cfg.model, bundle=str(bundle)))
    moderate(spark, val, tmp_path / "run", cfg)
    got = pd.read_parquet(tmp_path / "run" / "results.parquet").set_index(S.PATH)
    assert len(got) == len(rows)
    ok = got[got[S.STATUS] == S.STATUS_OK]
    assert len(ok) == len(rows)
    assert set(ok[S.LABEL_EVIDENCE]) == {"image+text"}
    assert ok[S.PRED_LABEL].isin(CLASSES).all()
    assert ok[S.LABEL_VERDICT].isin(S.VERDICTS).all()

    # [validate] text_evidence = false: the image alone, though the text stage reads the photo.
    from crowdlens.stages.validate import ValidateConfig, validate_step

    columns = [S.IMAGE_ID, S.STATUS, S.LABEL, S.LOGITS, S.PRED_LABEL, S.TEXT_REGIONS]
    fused = validate_step(ValidateConfig(bundle=str(bundle)), columns)
    alone = validate_step(ValidateConfig(bundle=str(bundle), text_evidence=False), columns)
    assert S.PRED_LABEL in fused.outputs and S.TEXT_REGIONS in fused.optional
    assert S.PRED_LABEL not in alone.outputs and S.TEXT_REGIONS not in alone.optional

    # Without the text stage the same bundle judges by the image alone.
    plain = replace(cfg, text=replace(cfg.text, enabled=False))
    moderate(spark, val, tmp_path / "plain", plain)
    alone = pd.read_parquet(tmp_path / "plain" / "results.parquet")
    assert set(alone[S.LABEL_EVIDENCE]) == {"image"}
