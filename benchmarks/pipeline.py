"""Phone-size photos: the whole ``moderate`` with and without the text stage, in one run.

    python benchmarks/pipeline.py                 # 60 photos at 12 MP, 6 of them with a note
    python benchmarks/pipeline.py --quick         # 12 photos at 3 MP (proves the script works)
    python benchmarks/pipeline.py --photos 120 --megapixels 12 --notes 10 --stage-photos 20

The grocery photos are 348 x 348 pixels; a statistics office receives phone
photos of 3-12 MP. This makes phone-size photos from the shared train split
(a 4:3 centre crop upscaled with Lanczos, plus sensor-like noise so that
JPEG sizes and decode costs are those of a real camera file: ~3-5 MB at
12 MP, q90), and pastes a handwritten-style note carrying a name, a phone
number and an e-mail on a few of them, at the size such a note has in a
real photo, so the text path (detection, recognition, PII, redaction) is
exercised, not only the gate.

It prints, measured in this one run:

1. ``moderate`` on a 1-worker standalone cluster (2 cores), text off and text
   on, same photos: job seconds (Spark start-up excluded), photos/s, and the
   ratio with/without text (the goal of issue #14 is >= 0.5), plus the peak
   resident memory of the executor (its JVM and Python workers) per run;
2. a per-stage table: CPU seconds per photo of each step (read, decode,
   quality, model, gate, detection, recognition, PII, redaction, write),
   timed in this process with one thread on ``--stage-photos`` photos, so the
   table says where the time goes.

The photos are made once into ``benchmarks/_work/phone-<MP>mp`` (gitignored)
and reused; pass ``--remake`` to make them again.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from memory import measure
from scaling import _SUMMARY, DATA, REPO, bundle_path, photos_of, write_manifest

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
WORK = REPO / "benchmarks" / "_work"

NOTES = (  # (name, phone, e-mail): invented people
    ("Maria Garcia", "+34 612 345 678", "maria.garcia@correo.es"),
    ("John Okafor", "+44 7700 900123", "j.okafor@mail.co.uk"),
    ("Ana Souza", "+55 11 91234 5678", "ana.souza@email.com.br"),
    ("Pierre Martin", "+33 6 12 34 56 78", "pierre.martin@poste.fr"),
)


def _font(size: int):
    from PIL import ImageFont

    for name in ("ComicNeue-Regular.ttf", "Humor-Sans.ttf", "DejaVuSans.ttf"):
        for root in ("/usr/share/fonts/truetype", "/usr/share/fonts/opentype"):
            for found in Path(root).rglob(name):
                return ImageFont.truetype(str(found), size)
    return ImageFont.load_default(size)


def paste_note(image, note: tuple[str, str, str], rng: random.Random):
    """A paper note with three lines of personal data, on a copy of ``image``."""
    from PIL import Image, ImageDraw

    w, h = image.size
    size = max(18, h // 40)  # ~75 px letters at 3000 px high: a note held near the item
    font = _font(size)
    pad = size // 2
    lines = [f"Name: {note[0]}", f"Tel: {note[1]}", note[2]]
    width = max(int(font.getlength(t)) for t in lines) + 2 * pad
    height = len(lines) * int(size * 1.4) + 2 * pad
    paper = Image.new("RGB", (width, height), (246, 244, 236))
    draw = ImageDraw.Draw(paper)
    for i, t in enumerate(lines):
        draw.text((pad, pad + i * int(size * 1.4)), t, fill=(20, 30, 90), font=font)
    paper = paper.rotate(rng.uniform(-6, 6), expand=True, fillcolor=(246, 244, 236))
    out = image.copy()
    out.paste(paper, (rng.randint(0, max(0, w - paper.width)), h - paper.height - h // 20))
    return out


def make_phone_photos(n: int, megapixels: float, notes: int, seed: int, remake: bool) -> Path:
    """``n`` phone-size photos (JPEG q90) under a cached work folder; returns it."""
    import numpy as np
    from PIL import Image

    folder = WORK / f"phone-{megapixels:g}mp-{n}-{notes}-{seed}"
    if folder.is_dir() and not remake and len(list(folder.glob("*.jpg"))) == n:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    width = round((megapixels * 1e6 * 4 / 3) ** 0.5)
    height = width * 3 // 4
    for i, src in enumerate(photos_of("train", n)):
        with Image.open(src) as im:
            im = im.convert("RGB")
            cw, ch = im.width, im.width * 3 // 4
            top = (im.height - ch) // 2
            big = im.crop((0, top, cw, top + ch)).resize((width, height), Image.LANCZOS)
        noisy = np.asarray(big, dtype=np.int16) + nrng.normal(0, 4, (height, width, 1)).astype(
            np.int16
        )
        big = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
        if i < notes:
            big = paste_note(big, NOTES[i % len(NOTES)], rng)
        big.save(folder / f"{src.parent.name}-{i:04d}.jpg", quality=90)
    return folder


def run_moderate(
    cluster, manifest: Path, text: bool, out: Path, conf: dict[str, str] | None = None
) -> dict[str, float]:
    """One ``crowdlens moderate`` on the cluster; job seconds and the executor's peak memory."""
    config = out.with_suffix(".toml")
    spark = "".join(f'"{k}" = "{v}"\n' for k, v in (conf or {}).items())
    spark = f"[spark.conf]\n{spark}" if spark else ""
    config.write_text(
        f"write_report = false\n[text]\nenabled = {'true' if text else 'false'}\n"
        f'[model]\nbundle = "{bundle_path()}"\n'
        f'[ingest]\nallowed_roots = ["{WORK}"]\n'  # the manifest names photos by absolute path
        + spark
    )
    run = measure(cluster, manifest, config, out)
    stdout = run["stdout"]
    m = _SUMMARY.search(stdout)
    if not m:
        sys.exit(f"cannot find the summary line in:\n{stdout}")
    n, seconds = int(m.group(1)), float(m.group(2))
    _check_results(out, text)
    return {"photos": n, "seconds": seconds, "photos_per_s": n / seconds,
            "cpu_s": run["executor_cpu_s"], "jvm_cpu_s": run["executor_jvm_cpu_s"],
            **{k: run[k] for k in ("executor_peak_mb", "executor_peak_pss_mb", "jvm_peak_mb",
                                   "python_peak_mb")}}  # fmt: skip


def _check_results(out: Path, text: bool) -> None:
    """Stop when a run measured failures: a photo the text stage could not read is cheap."""
    import pandas as pd

    from crowdlens import schema as S

    df = pd.read_parquet(out / "results.parquet")
    failed = df[df[S.TEXT_ERROR].notna()] if text else df.iloc[:0]
    if len(failed) or not (df[S.STATUS] == S.STATUS_OK).all():
        sys.exit(f"{out.name}: {len(failed)} text errors, {int((df[S.STATUS] != S.STATUS_OK).sum())} "
                 f"photos not ok (first: {failed[S.TEXT_ERROR].head(1).tolist()}); nothing measured")  # fmt: skip
    if text:
        print(f"{out.name}: {int(df[S.HAS_TEXT].sum())} of {len(df)} photos with text, "
              f"{int(df[S.PII_TYPES].map(len).gt(0).sum())} with personal data")  # fmt: skip


def _timed(costs: dict[str, float], step: str, fn: Callable[..., object], *args, **kwargs):
    """``fn(*args, **kwargs)``, adding its CPU seconds (all threads of this process) to
    ``costs[step]``."""
    t0 = time.process_time()
    value = fn(*args, **kwargs)
    costs[step] = costs.get(step, 0.0) + time.process_time() - t0
    return value


class _Lines:
    """An OCR that returns lines already read (to time the PII step alone)."""

    def __init__(self, lines: list) -> None:
        self.lines = lines

    def read(self, image: object) -> list:
        return self.lines


def _preview(image, found, target: str) -> None:
    """The reviewer preview as ``text_row`` writes it (``found`` in ``image``'s pixels)."""
    from crowdlens.text.preview import render_preview
    from crowdlens.text.redact import save_clean

    polygons = [line.polygon for line in found.lines]
    save_clean(render_preview(image, polygons, found.line_pii), target, jpeg_quality=85)


def wants_preview(cfg, found) -> bool:
    """Whether ``text_row`` writes a preview for this photo (every photo with text before ``previews`` modes)."""
    try:
        from crowdlens.stages.text import wants_preview as wants
    except ImportError:  # a tree from before the modes
        return bool(found.has_text)
    return wants(cfg.previews, found)


def text_costs(c: dict[str, float], data: bytes, parts: dict, target: str) -> bool:
    """Add the CPU seconds of the text stage's steps on one photo to ``c``; gate passed?

    The steps as ``text_row`` runs them: full decode, the gate, recognition
    of its boxes, PII, redaction (photos with something to cover), the
    preview (photos the ``previews`` setting names) and the released copy: re-encoded when
    something was covered, else the lossless metadata-free copy
    (``release_bytes``, re-encoded when it refuses). On a tree from before
    the lossless copy (``PYTHONPATH`` of an older tree) every copy is
    re-encoded. Verification is not a step here (see ``text_row`` in the table).
    """
    import numpy as np

    from crowdlens.text.photo import read_photo
    from crowdlens.text.redact import redact, save_clean

    try:
        from crowdlens.decode import decode_pixels
    except ImportError:  # a tree from before it: Pillow's image, copied into an array

        def decode_pixels(data: bytes) -> np.ndarray:
            from crowdlens.decode import decode_image

            return np.asarray(decode_image(data).image)

    try:
        from crowdlens.text.strip import NotLossless, release_bytes
    except ImportError:  # a tree from before the lossless copy
        release_bytes = None
    cfg, ocr = parts["text"], parts["ocr"]
    full = rgb = _timed(c, "text: full decode", decode_pixels, data)
    boxes = _timed(c, "gate", parts["gate"].find, rgb)
    cover = []
    if len(boxes):
        if cfg.read_gate_boxes:
            lines = _timed(c, "recognition", ocr.read_regions, rgb, boxes)
        else:
            _timed(c, "detection", ocr.detect, rgb)
            lines = _timed(c, "recognition", ocr.read, rgb)
            c["recognition"] = max(0.0, c["recognition"] - c["detection"])
        found = _timed(c, "PII", lambda: read_photo(rgb, cfg, ocr=_Lines(lines),
                                                    analyzer=parts["pii"]))  # fmt: skip
        cover = found.cover
        if cover:
            _timed(c, "redaction", redact, full, cover, cfg.redact_mode)
        if wants_preview(cfg, found):
            _timed(c, "preview", _preview, full, found, target + ".p.jpg")
    t0 = time.process_time()
    if release_bytes is None or cover:
        save_clean(full, target)
    else:
        try:
            with open(target, "wb") as f:
                f.write(release_bytes(data))
        except NotLossless:
            save_clean(full, target)
    c["write"] = c.get("write", 0.0) + time.process_time() - t0
    return bool(len(boxes))


def photo_costs(p: Path, parts: dict, tmp: str) -> tuple[dict[str, float], bool, float]:
    """CPU seconds of each step for one photo, whether it passed the text gate, and the
    CPU seconds of the whole text stage (``text_row``: steps, verification, preview).

    The decode stage decodes once at the reduced size quality and model need
    (``shared_size``) and they read that copy; then the text stage's steps
    (:func:`text_costs`). With ``read_gate_boxes`` (the default) the gate's
    boxes are recognised directly and detection costs nothing more; without
    it, the reader detects again at ``ocr_max_side``.
    """
    from crowdlens import schema as S
    from crowdlens.decode import unpack_pixels
    from crowdlens.models.predict import predict_contents
    from crowdlens.stages.decode import decode_row
    from crowdlens.stages.quality import assess_photo
    from crowdlens.stages.text import text_row

    c: dict[str, float] = {}
    data = _timed(c, "read", p.read_bytes)
    row = _timed(c, "decode (shared copy)", decode_row, data, None, 1 << 62,
                 draft_size=parts["share"], share=True)  # fmt: skip
    shared = unpack_pixels(row[S.PIXELS], row[S.PIXELS_SIZE])
    _timed(c, "quality", assess_photo, None, S.STATUS_OK, row[S.WIDTH], row[S.HEIGHT],
           parts["quality"], None, shared)  # fmt: skip
    _timed(c, "model", predict_contents, [None], parts["bundle"], parts["inference"],
           images=[shared])  # fmt: skip
    passed = text_costs(c, data, parts, f"{tmp}/{p.name}")
    for step in ("recognition", "PII", "redaction", "detection", "preview"):
        c.setdefault(step, 0.0)  # steps a photo may skip
    whole: dict[str, float] = {}
    _timed(whole, "text_row", text_row, p.stem, str(p), data, S.STATUS_OK, parts["text"],
           f"{tmp}/stage", str(p.parent))  # fmt: skip
    return c, passed, whole["text_row"]


def stage_costs(photos: Sequence[Path], det_int8: bool = True) -> dict[str, float]:
    """CPU seconds per photo of each step, one thread, in this process (models warmed first)."""
    from crowdlens.models.predict import InferenceConfig
    from crowdlens.models.runtime import get_bundle
    from crowdlens.quality.config import QualityConfig
    from crowdlens.stages.decode import shared_size
    from crowdlens.text.config import TextConfig
    from crowdlens.text.gate import get_gate
    from crowdlens.text.ocr import get_ocr
    from crowdlens.text.pii import get_analyzer

    cfg = TextConfig(threads=1, det_int8=det_int8)
    inference = InferenceConfig(bundle=str(bundle_path()), threads=1, batch_size=1)
    parts = {
        "text": cfg,
        "quality": QualityConfig(),
        "share": shared_size(QualityConfig(), inference),
        "bundle": get_bundle(bundle_path()),
        "inference": inference,
        "gate": get_gate(cfg.gate_max_side, cfg.gate_box_threshold, 1, cfg.det_int8),
        "ocr": get_ocr(cfg.ocr_max_side, cfg.text_score, 1, cfg.det_box_threshold),
        "pii": get_analyzer(cfg.languages, cfg.phone_regions),
    }
    totals: dict[str, float] = {}
    texts = 0
    stage = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        photo_costs(photos[0], parts, tmp)  # warms every model
        for p in photos:
            costs, has, whole = photo_costs(p, parts, tmp)
            texts += has
            stage += whole
            for step, sec in costs.items():
                totals[step] = totals.get(step, 0.0) + sec
    table = {step: sec / len(photos) for step, sec in totals.items()}
    table["photos with text (gate)"] = texts / len(photos)
    table["text_row"] = stage / len(photos)
    return table


def print_stage_table(photos: Sequence[Path], compare: bool) -> None:
    """The per-stage table (and, with ``compare``, the fp32 gate detector beside it)."""
    runs = {"s/photo": stage_costs(photos)}
    if compare:
        runs["fp32 detector"] = stage_costs(photos, det_int8=False)
    share = runs["s/photo"].pop("photos with text (gate)")
    for table in runs.values():
        table.pop("photos with text (gate)", None)
    whole = [t.pop("text_row") for t in runs.values()]
    names = list(runs)
    print(f"\nCPU seconds per photo, one thread, {len(photos)} photos ({share:.0%} passed the "
          f"text gate):\n\n| step | {' | '.join(names)} |\n|---|{'---|' * len(names)}")  # fmt: skip
    for step in runs["s/photo"]:
        print(f"| {step} | " + " | ".join(f"{t[step]:.3f}" for t in runs.values()) + " |")
    totals = [sum(t.values()) for t in runs.values()]
    print("| **total** | " + " | ".join(f"{t:.3f}" for t in totals) + " |")
    text_steps = ("gate", "detection", "recognition", "PII", "redaction")
    text = [sum(t[s] for s in text_steps) for t in runs.values()]
    print("| text steps | " + " | ".join(f"{t:.3f}" for t in text) + " |")
    firsts = ("read", "decode (shared copy)", "quality", "model")
    stage = [sum(v for k, v in t.items() if k not in firsts) for t in runs.values()]
    print("| text stage (every step after model) | " + " | ".join(f"{t:.3f}" for t in stage) + " |")
    print("| the whole text stage, `text_row` (+ verification, preview) | "
          + " | ".join(f"{t:.3f}" for t in whole) + " |")  # fmt: skip
    if compare:
        print(f"\ntext steps, fp32 / int8 detector: {text[1] / text[0]:.2f}x")


def print_times(runs: dict[str, dict[str, float]], times: int) -> None:
    """Memory at 1x vs Nx photos, and the marginal throughput ratio (fixed costs cancel)."""
    for kind in ("without text", "with text"):
        if f"{kind}, {times}x" in runs:
            one, many = runs[kind], runs[f"{kind}, {times}x"]
            print(f"executor peak {kind}, {times}x / 1x photos: "
                  f"{many['executor_peak_mb'] / one['executor_peak_mb']:.2f} (flat = about 1)")  # fmt: skip
    if f"without text, {times}x" not in runs:
        return
    # Once the fixed cost (start-up, model loading) is paid: photos per wall
    # second (load-sensitive) and executor CPU seconds per photo (not).
    rate, cpu = {}, {}
    for kind in ("without text", "with text"):
        one, many = runs[kind], runs[f"{kind}, {times}x"]
        extra = many["photos"] - one["photos"]
        rate[kind] = extra / (many["seconds"] - one["seconds"])
        cpu[kind] = (many["cpu_s"] - one["cpu_s"]) / extra
        print(f"{kind}: marginal {rate[kind]:.3f} photos/s, {cpu[kind]:.3f} executor CPU s/photo")
    print(f"marginal throughput with text / without text: wall {rate['with text'] / rate['without text']:.2f}, "
          f"CPU {cpu['without text'] / cpu['with text']:.2f} (goal >= 0.5)")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    ap.add_argument("--photos", type=int, default=60, help="photos per moderate run (60)")
    ap.add_argument("--megapixels", type=float, default=12.0, help="photo size (12 MP)")
    ap.add_argument("--notes", type=int, default=6, help="photos carrying a personal note (6)")
    ap.add_argument("--stage-photos", type=int, default=12, help="photos in the per-stage table")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--remake", action="store_true", help="make the photos again")
    ap.add_argument("--quick", action="store_true", help="12 photos at 3 MP, 2 notes")
    ap.add_argument("--compare", action="store_true",
                    help="also time the text steps with the fp32 gate detector")  # fmt: skip
    ap.add_argument(
        "--arrow-batch",
        type=int,
        default=0,
        help="spark.sql.execution.arrow.maxRecordsPerBatch (default: crowdlens')",
    )
    ap.add_argument(
        "--times",
        type=int,
        default=0,
        help="also run text on with the photos repeated N times (memory 1x vs Nx)",
    )
    ap.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                    help="a Spark setting for the moderate runs (repeatable)")  # fmt: skip
    ap.add_argument("--executor-cores", type=int, default=0,
                    help="cores per executor (default: one executor with the worker's 2)")  # fmt: skip
    ap.add_argument("--only-text", action="store_true", help="skip the text-off run")  # fmt: skip
    ap.add_argument("--no-cluster", dest="cluster", action="store_false",
                    help="only the per-stage table")  # fmt: skip
    a = ap.parse_args(argv)
    if a.quick:
        a.photos, a.megapixels, a.notes, a.stage_photos = 12, 3.0, 2, 4
    if not DATA.is_dir():
        sys.exit(f"the grocery data is not at {DATA}: put ../shared beside the repository")
    folder = make_phone_photos(a.photos, a.megapixels, a.notes, a.seed, a.remake)
    photos = sorted(folder.glob("*.jpg"))
    mb = sum(p.stat().st_size for p in photos) / len(photos) / 2**20
    print(f"{len(photos)} photos at {a.megapixels:g} MP ({mb:.1f} MB each on average), "
          f"{a.notes} with a personal note, in {folder}")  # fmt: skip
    if a.cluster:
        from crowdlens.spark.standalone import StandaloneCluster

        conf = dict(c.split("=", 1) for c in a.conf)
        if a.arrow_batch:
            conf["spark.sql.execution.arrow.maxRecordsPerBatch"] = str(a.arrow_batch)
        if a.executor_cores:  # several executors on the one 2-core worker
            conf["spark.executor.cores"] = str(a.executor_cores)
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            manifest = write_manifest(photos, work / "manifest.csv")
            with StandaloneCluster(workers=1, cores=2, memory="4g") as cluster:
                runs = {}
                if not a.only_text:
                    runs["without text"] = run_moderate(
                        cluster, manifest, False, work / "notext", conf
                    )
                runs["with text"] = run_moderate(cluster, manifest, True, work / "text", conf)
                if a.times:
                    many = write_manifest(photos, work / "many.csv", copies=a.times)
                    if not a.only_text:
                        runs[f"without text, {a.times}x"] = run_moderate(
                            cluster, many, False, work / "many-notext", conf
                        )
                    runs[f"with text, {a.times}x"] = run_moderate(
                        cluster, many, True, work / "many", conf
                    )
        print("\nPeak memory per executor (MiB): RSS summed over its JVM and Python workers "
              "(a shared page counts in each), PSS (each page once); the largest JVM and "
              "Python process alone.\n\n| run | photos | job s | photos/s | executor CPU s (JVM) "
              "| executor peak RSS | peak PSS | JVM | largest Python |\n"
              "|---|---|---|---|---|---|---|---|---|")  # fmt: skip
        for name, r in runs.items():
            print(f"| {name} | {r['photos']:.0f} | {r['seconds']:.1f} | {r['photos_per_s']:.2f} "
                  f"| {r['cpu_s']:.0f} ({r['jvm_cpu_s']:.0f}) | {r['executor_peak_mb']:.0f} "
                  f"| {r['executor_peak_pss_mb']:.0f} | {r['jvm_peak_mb']:.0f} "
                  f"| {r['python_peak_mb']:.0f} |")  # fmt: skip
        if "without text" in runs:
            off, on = runs["without text"], runs["with text"]
            print(f"\nthroughput with text / without text: wall {on['photos_per_s'] / off['photos_per_s']:.2f}, "
                  f"executor CPU {off['cpu_s'] / on['cpu_s']:.2f} (goal >= 0.5)")  # fmt: skip
        if a.times:
            print_times(runs, a.times)
    if a.stage_photos:
        print_stage_table(photos[: a.stage_photos], a.compare)


if __name__ == "__main__":
    main()
