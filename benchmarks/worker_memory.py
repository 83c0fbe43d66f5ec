"""One Python worker's memory, in this process: what its parts hold and how it grows.

    python benchmarks/worker_memory.py                    # parts, then 6 batches of 16 photos
    python benchmarks/worker_memory.py --batches 30       # does the high-water mark stop growing?
    python benchmarks/worker_memory.py --no-text          # the worker of a text-off job
    MALLOC_TRIM_THRESHOLD_=... python benchmarks/worker_memory.py   # another heap setting

A ``moderate`` job's executor holds one Python worker per task, and on 12 MP
photos with text on each worker is most of the executor's memory. This runs
what such a worker runs, without Spark: the per-photo steps of ``moderate``
(read, decode, quality, model, text, validation; ``pipeline.per_photo_steps``)
on Arrow-batch-sized pandas batches of the phone photos that
``benchmarks/pipeline.py`` makes (made here if missing).

It prints:

1. the resident memory (``VmRSS``) each part adds as it loads: libraries,
   the PII analyzer, the gate detector, the OCR engine, the classifier;
2. after every batch: the worker's RSS, its high-water mark (``VmHWM``) and
   its CPU seconds so far.

glibc's malloc settings are read at process start: the script sets the photo
jobs' settings (``spark/session.MALLOC_ONNX``: ``MALLOC_*`` and
``GLIBC_TUNABLES``) for itself unless the environment already has
``MALLOC_*`` values, and re-executes itself once.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from memory import summed_mb  # imports nothing heavy: the parts below measure


def status(key: str) -> float:
    """A memory line of this process's ``/proc/.../status`` (VmRSS:, VmHWM:), in MB."""
    return summed_mb([os.getpid()], "/proc/{}/status", key)


class Parts:
    """Prints the RSS each loaded part adds."""

    def __init__(self) -> None:
        self.last = status("VmRSS:")
        print(f"\n| part | RSS added MB | RSS MB |\n|---|---|---|\n| start | | {self.last:.0f} |")

    def mark(self, what: str) -> None:
        now = status("VmRSS:")
        print(f"| {what} | {now - self.last:+.0f} | {now:.0f} |", flush=True)
        self.last = now


def load_parts(text: bool, bundle: str) -> None:
    """Load what a worker loads, one part at a time (each is cached for the batches)."""
    parts = Parts()
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow  # noqa: F401

    parts.mark("numpy, pandas, pyarrow")
    import onnxruntime  # noqa: F401

    parts.mark("ONNX Runtime")
    if text:
        from crowdlens.text.config import TextConfig
        from crowdlens.text.gate import get_gate
        from crowdlens.text.ocr import get_ocr
        from crowdlens.text.pii import get_analyzer

        cfg = TextConfig()
        get_analyzer(cfg.languages, cfg.phone_regions)
        parts.mark(f"PII analyzer (spaCy + presidio, {', '.join(cfg.languages)})")
        get_gate(cfg.gate_max_side, cfg.gate_box_threshold, cfg.threads, cfg.det_int8)
        parts.mark("text gate detector")
        get_ocr(cfg.ocr_max_side, cfg.text_score, cfg.threads, cfg.det_box_threshold)
        parts.mark("OCR engine")
    from crowdlens.models.runtime import get_bundle

    get_bundle(bundle)
    parts.mark("classifier bundle")
    print("(the OCR engine and the classifier's session load on first use: in batch 0)")


def run_batches(photos: Sequence[Path], text: bool, bundle: str, batches: int, size: int) -> None:
    import pandas as pd

    from crowdlens import schema as S
    from crowdlens.config import replace
    from crowdlens.io.ingest import path_id
    from crowdlens.pipeline import per_photo_steps
    from crowdlens.pipeline_config import ModerateConfig
    from crowdlens.spark.rows import steps_in_process

    cfg = ModerateConfig()
    cfg = replace(cfg, model=replace(cfg.model, bundle=bundle),
                  text=replace(cfg.text, enabled=text))  # fmt: skip
    columns = list(S.INPUT_COLUMNS)
    with tempfile.TemporaryDirectory() as out:
        steps = per_photo_steps(columns, cfg, max_bytes=1 << 30, policy=None, out_dir=out,
                                root=str(photos[0].parent))  # fmt: skip
        run = steps_in_process(columns, steps, working=S.PER_PHOTO_ONLY)
        print("\n| batch | photos so far | RSS MB | high-water MB | CPU s |\n|---|---|---|---|---|")
        t0 = time.process_time()
        for b in range(batches):
            chosen = [photos[(b * size + i) % len(photos)] for i in range(size)]
            batch = pd.DataFrame({
                S.IMAGE_ID: [f"{path_id(str(p))}-{b}-{i}" for i, p in enumerate(chosen)],
                S.PATH: [str(p) for p in chosen],
                S.LABEL: [p.name.rsplit("-", 1)[0] for p in chosen],
            })  # fmt: skip
            rows = run(batch)
            if len(rows) != size or not (rows[S.STATUS] == S.STATUS_OK).all():
                sys.exit(f"batch {b}: {len(rows)} rows, not all ok: nothing measured")
            del rows
            print(f"| {b} | {(b + 1) * size} | {status('VmRSS:'):.0f} | {status('VmHWM:'):.0f} "
                  f"| {time.process_time() - t0:.1f} |", flush=True)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    ap.add_argument("--batches", type=int, default=6, help="Arrow batches to run (6)")
    ap.add_argument("--batch", type=int, default=16, help="photos per batch (16, crowdlens')")
    ap.add_argument("--photos", type=int, default=24, help="phone photos to cycle through (24)")
    ap.add_argument("--notes", type=int, default=4, help="of them with a personal note (4)")
    ap.add_argument("--megapixels", type=float, default=12.0)
    ap.add_argument("--no-text", dest="text", action="store_false", help="text stage off")
    a = ap.parse_args(argv)
    if not any(k.startswith("MALLOC_") for k in os.environ):
        from crowdlens.spark.session import MALLOC_ONNX

        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **MALLOC_ONNX})
    from pipeline import make_phone_photos
    from scaling import bundle_path

    settings = {k: v for k, v in os.environ.items() if k.startswith(("MALLOC_", "GLIBC_"))}
    folder = make_phone_photos(a.photos, a.megapixels, a.notes, 0, False)
    photos = sorted(folder.glob("*.jpg"))
    bundle = str(bundle_path())
    print(f"{len(photos)} photos at {a.megapixels:g} MP from {folder}; text "
          f"{'on' if a.text else 'off'}; {settings}")  # fmt: skip
    load_parts(a.text, bundle)
    run_batches(photos, a.text, bundle, a.batches, a.batch)


if __name__ == "__main__":
    main()
