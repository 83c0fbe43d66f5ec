"""A realistic results folder for the report and review-UI tests.

Real photos (copied from the shared grocery-store data) and a results table
with every column of the contract. The classifier and OCR outputs here are
SYNTHETIC: these tests are about the report and the UI, not about the models,
and the classify/text stages are tested with the real models elsewhere. The
decisions come from the real ``decide`` rules.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

from crowdlens import schema as S
from crowdlens.stages.decide import Policy, decide

XSS_TEXT = "<script>alert(1)</script>"
XSS_LABEL = "<img src=x onerror=alert(2)>"
COUNTRIES = ["Kenya", "Peru", "Viet Nam"]


def _photos(shared_data: Path, n: int) -> list[Path]:
    val = sorted(shared_data.joinpath("val").rglob("*.jpg"))
    step = max(1, len(val) // n)
    return val[::step][:n]


def make_results(shared_data: Path, out: Path, n: int = 12, seed: int = 0) -> Path:
    """Write ``out/results.parquet`` (+ photos, + one redacted copy); returns ``out``."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image, ImageFilter

    rng = random.Random(seed)
    photo_dir = out / "photos"
    sources = _photos(shared_data, n)
    labels = sorted({p.parent.name for p in sources})
    rows = []
    for i, src in enumerate(sources):
        dst = photo_dir / src.parent.name / src.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        with Image.open(dst) as im:
            w, h = im.size
        label = src.parent.name
        others = [x for x in labels if x != label]
        kind = i % 4  # 0 confirmed, 1 mismatch, 2 suspect, 3 confirmed + flags/text
        pred = label if kind in (0, 3) else rng.choice(others)
        p_claim = {0: 0.93, 1: 0.008, 2: 0.21, 3: 0.81}[kind]
        top = [(pred, 0.9 if pred != label else p_claim)]
        top += [(x, 0.03) for x in others[:2] if x != pred]
        if pred != label:
            top.append((label, p_claim))
        row = {
            S.IMAGE_ID: f"img{i:03d}",
            S.PATH: str(dst),
            S.LABEL: label,
            S.COUNTRY: COUNTRIES[i % 3],
            S.CONTRIBUTOR: f"c{i % 4}",
            S.STATUS: "ok",
            S.ERROR: None,
            S.WIDTH: w,
            S.HEIGHT: h,
            S.SHARPNESS: rng.uniform(5, 300),
            S.BRIGHTNESS: rng.uniform(0.1, 0.9),
            S.SHORT_SIDE: min(w, h),
            S.QUALITY_FLAGS: ["blurry"] if kind == 3 else [],
            S.PRED_LABEL: pred,
            S.PRED_SCORE: max(s for _, s in top),
            S.TOPK: [
                {"label": lab, "score": float(s)} for lab, s in sorted(top, key=lambda t: -t[1])
            ],
            S.LABEL_PROB: p_claim,
            S.LABEL_RANK: 1 if pred == label else 2,
            S.LABEL_VERDICT: {0: "confirmed", 1: "mismatch", 2: "suspect", 3: "confirmed"}[kind],
            S.LABEL_EVIDENCE: S.EVIDENCE_IMAGE,
            S.TEXT_REGIONS: [],
            S.PII_TYPES: [],
            S.REDACTED_PATH: None,
        }
        if kind == 3:
            box = [[w * 0.1, h * 0.1], [w * 0.6, h * 0.1], [w * 0.6, h * 0.25], [w * 0.1, h * 0.25]]
            row[S.TEXT_REGIONS] = [
                {
                    "polygon": box,
                    "text": "call 0712 345 678",
                    "confidence": 0.9,
                    "pii_types": ["PHONE_NUMBER"],
                },
            ]
            row[S.PII_TYPES] = ["PHONE_NUMBER"]
            red = out / "redacted" / "photos" / label / src.name
            red.parent.mkdir(parents=True, exist_ok=True)
            with Image.open(dst) as im:
                im.filter(ImageFilter.GaussianBlur(6)).save(red)
            row[S.REDACTED_PATH] = red.relative_to(out).as_posix()  # stored relative
        rows.append(row)
    # The attacker: OCR text and a claimed label that are HTML.
    rows[1][S.TEXT_REGIONS] = [
        {
            "polygon": [[5.0, 5.0], [150.0, 5.0], [150.0, 40.0], [5.0, 40.0]],
            "text": XSS_TEXT,
            "confidence": 0.8,
            "pii_types": [],
        },
    ]
    rows[1][S.LABEL_EVIDENCE] = S.EVIDENCE_IMAGE_TEXT  # its text counted for the verdict
    rows[2][S.LABEL] = XSS_LABEL
    rows.append(
        {
            **{k: None for k in rows[0]},
            S.IMAGE_ID: "broken",
            S.PATH: str(photo_dir / "x.jpg"),
            S.STATUS: "error",
            S.ERROR: "truncated JPEG: the upload was cut off",
            S.QUALITY_FLAGS: [],
            S.TOPK: [],
            S.TEXT_REGIONS: [],
            S.PII_TYPES: [],
        }
    )
    for row in rows:
        row[S.DECISION], row[S.REASONS] = decide(row, Policy())
    df = pd.DataFrame(rows)
    table = pa.Table.from_pandas(df, preserve_index=False)
    target = out / "results.parquet"
    target.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, target / "part-00000.parquet")
    return out
