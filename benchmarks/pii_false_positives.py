"""Benchmark: PII false positives on every photo of the grocery train and val splits.

The grocery photos (``../shared/data/grocery-store/{train,val}``) show
packaging, shelf labels and price tags and carry no personal data, so every
PII hit on them is a false positive. This runs the text path (OCR, then the
same PII decision as the text stage: :func:`crowdlens.text.photo.line_hits`)
over every photo and prints the share of photos with any PII found and which
texts triggered it.

OCR is the expensive part (~0.3-1 s per photo). Its lines are cached per photo,
keyed by the SHA-256 of the file, in a gitignored work folder
(``benchmarks/_work/pii_fp/``), so that the PII rules can be iterated in
seconds; ``--recompute`` reads every photo again (do it after changing the OCR
engine or its settings). By default the gate is not applied: every photo is
read whole by ``ocr.read``. ``--through-gate`` takes the text stage's own
path instead (the gate's detector, int8 unless ``--fp32``, then its boxes
read: :func:`crowdlens.text.photo.read_lines`), cached in its own folder.

    .venv/bin/python benchmarks/pii_false_positives.py            # all train + val
    .venv/bin/python benchmarks/pii_false_positives.py --limit 200 --recompute
    .venv/bin/python benchmarks/pii_false_positives.py --limit 400 --through-gate [--fp32]
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "grocery-store"
WORK = REPO / "benchmarks" / "_work" / "pii_fp"


def _line_to_json(line) -> dict:
    return {
        "polygon": line.polygon,
        "text": line.text,
        "confidence": line.confidence,
        "words": [[w.text, w.confidence, w.polygon, w.start, w.end] for w in line.words],
    }


def _line_from_json(d: dict):
    from crowdlens.text.ocr import TextLine, Word

    words = tuple(Word(t, c, p, s, e) for t, c, p, s, e in d["words"])
    return TextLine(d["polygon"], d["text"], d["confidence"], words)


def _cache_file(path: Path, work: Path, data: bytes | None = None, kind: str = "ocr") -> Path:
    key = hashlib.sha256(path.read_bytes() if data is None else data).hexdigest()
    return work / kind / key[:2] / f"{key}.json"


def _kind(cfg, gate) -> str:
    """The cache folder of a reading path: whole reads, or the gate's (by detector and side).

    The int8 detector's folder carries the digest of its cached model
    (recipe, onnxruntime, calibration photos), so a new int8 model never
    reuses the reads of an old one.
    """
    if gate is None:
        return "ocr"
    if not cfg.det_int8:
        return f"gate-fp32-{cfg.gate_max_side}"
    return f"gate-int8-{_int8_digest()}-{cfg.gate_max_side}"


@functools.cache
def _int8_digest() -> str:
    """The digest in the cached int8 detector's name (hashing its inputs takes ~13 ms)."""
    from crowdlens.text.quantize import int8_path

    return int8_path().stem.rsplit("-", 1)[-1]


def ocr_lines(path: Path, ocr, work: Path, recompute: bool, cfg=None, gate=None) -> list:
    """The OCR lines of ``path`` (through ``gate`` when given), from the cache when present."""
    data = path.read_bytes()
    cached = _cache_file(path, work, data, _kind(cfg, gate))
    if cached.is_file() and not recompute:
        return [_line_from_json(d) for d in json.loads(cached.read_text())]
    import numpy as np

    from crowdlens.decode import decode_image
    from crowdlens.text.photo import read_lines

    rgb = np.asarray(decode_image(data).image)
    lines = ocr.read(rgb) if gate is None else (read_lines(rgb, cfg, ocr, gate) or [])
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps([_line_to_json(ln) for ln in lines], ensure_ascii=False))
    os.replace(tmp, cached)
    return lines


def _line_hits(lines, cfg, analyzer):
    try:
        from crowdlens.text.photo import line_hits
    except ImportError:  # a tree from before line_hits (to measure "before" side by side)
        from crowdlens.text.pii import document, find_pii, map_spans

        if not lines:
            return []
        text, starts = document(lines)
        found = find_pii(text, analyzer, languages=cfg.languages, entities=cfg.entities,
                         score_threshold=cfg.score_threshold)  # fmt: skip
        return map_spans(lines, starts, found)
    return line_hits(lines, cfg, analyzer)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Share of grocery train+val photos (no personal data) where PII is found.",
        epilog=f"OCR lines are cached per photo (SHA-256 of the file) under {WORK}; "
        "pass --recompute to read the photos again.",
    )
    parser.add_argument("--data", type=Path, default=DATA, help="grocery-store folder")
    parser.add_argument("--splits", nargs="+", default=["train", "val"])
    parser.add_argument("--work", type=Path, default=WORK, help="cache folder (gitignored)")
    parser.add_argument("--recompute", action="store_true", help="ignore cached OCR lines")
    parser.add_argument(
        "--cached-only", action="store_true", help="only photos whose OCR lines are cached"
    )
    parser.add_argument("--ocr-only", action="store_true", help="fill the OCR cache, no PII")
    parser.add_argument("--limit", type=int, default=0, help="first N photos only (0 = all)")
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads")
    parser.add_argument(
        "--shard",
        default="0/1",
        help="I/N: only every N-th photo from the I-th (fill the cache in N processes)",
    )
    parser.add_argument(
        "--through-gate", action="store_true", help="the text stage's path: gate, its boxes read"
    )
    parser.add_argument("--fp32", action="store_true", help="with --through-gate: fp32 detector")
    parser.add_argument("--show", type=int, default=60, help="triggering texts to print")
    args = parser.parse_args(argv)

    from crowdlens.text.config import TextConfig
    from crowdlens.text.ocr import get_ocr

    files = sorted(f for s in args.splits for f in (args.data / s).rglob("*.jpg"))
    if args.limit:
        files = files[: args.limit]
    # A fixed shuffle: a half-filled cache is then a random sample of the splits.
    random.Random(0).shuffle(files)
    shard, shards = (int(v) for v in args.shard.split("/"))
    files = files[shard::shards]
    cfg = TextConfig(threads=args.threads, det_int8=not args.fp32)
    gate = None
    if args.through_gate:
        from crowdlens.text.gate import get_gate

        gate = get_gate(cfg.gate_max_side, cfg.gate_box_threshold, cfg.threads, cfg.det_int8)
    if args.cached_only:
        files = [f for f in files if _cache_file(f, args.work, kind=_kind(cfg, gate)).is_file()]
    if not files:
        sys.exit(f"no photos under {args.data}/{{{','.join(args.splits)}}}")
    ocr = get_ocr(cfg.ocr_max_side, cfg.text_score, cfg.threads, cfg.det_box_threshold)
    analyzer = None
    if not args.ocr_only:
        from crowdlens.text.pii import get_analyzer

        analyzer = get_analyzer(cfg.languages, cfg.phone_regions)

    t_ocr = t_pii = 0.0
    flagged: list[tuple[str, list[tuple[str, str]]]] = []
    types: Counter[str] = Counter()
    for k, path in enumerate(files):
        t0 = time.perf_counter()
        lines = ocr_lines(path, ocr, args.work, args.recompute, cfg, gate)
        t1 = time.perf_counter()
        t_ocr += t1 - t0
        if analyzer is None:
            if k % 200 == 0:
                print(f"{k}/{len(files)} photos read", flush=True)
            continue
        hits = _line_hits(lines, cfg, analyzer)
        t_pii += time.perf_counter() - t1
        if hits:
            found = sorted({(h.entity_type, lines[h.line].text) for h in hits})
            flagged.append((str(path.relative_to(args.data)), found))
            types.update({t for t, _ in found})

    n = len(files)
    print(f"photos: {n} ({', '.join(args.splits)}), path {_kind(cfg, gate)}; "
          f"OCR / lookup {t_ocr:.1f} s")  # fmt: skip
    if analyzer is None:
        return 0
    share = len(flagged) / n
    print(f"photos with any PII found:  {share:.4f} ({len(flagged)}/{n})   goal <= 0.005")
    print(f"PII decision time per photo: {1000 * t_pii / n:.1f} ms")
    print("entity types on flagged photos:", dict(types.most_common()))
    for name, found in flagged[: args.show]:
        print(f"  {name}: " + "; ".join(f"{t} {text!r}" for t, text in found))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
