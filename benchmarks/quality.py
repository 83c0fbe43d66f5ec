"""Quality flags and duplicate search: accuracy on a labelled distortion set, and speed.

Builds a labelled set from the grocery val photos (never committed; written
under --work): every source photo gets exactly one role, so distortions of
one photo never meet as "duplicates" of each other:

    clean               the original, unchanged               -> no flag
    gaussian_blur / motion_blur                                -> blurry
    underexposed / overexposed                                 -> too_dark / too_bright
    downscaled          short side 32-96 px                    -> low_resolution
    near_copy           original (clean) + a cropped, resized,
                        recompressed copy                      -> duplicate on the copy
    exact_copy          original (clean) + the same bytes      -> duplicate on the copy
    featureless         floor / wall / ceiling, out of focus   -> low_information
    pocket_shot         featureless and dark                   -> low_information, too_dark
    grayscale           black-and-white, tint up to 1.5 %      -> grayscale
    screenshot          the photo in an 18:9-20.5:9 screen     -> odd_aspect_ratio
    panorama            2.5-5x as wide as high                 -> odd_aspect_ratio
    wide_crop           the photo cut to 4:3 or 16:9           -> no flag (a clean case)

The clean cases are real photos; every positive is a synthetic case made
from a real photo (the shared data holds no real pocket shots or screenshots).

Then runs ingest -> read -> decode -> quality_stage -> duplicates_stage on
Spark, as ``crowdlens moderate`` does, and prints precision / recall / F1 per
flag and the share of clean photos left unflagged. Speed: decode alone vs
decode + quality (same run), and the duplicate join at 1x and 10x photos
(10x = real pHashes of train + val photos).

    .venv/bin/python benchmarks/quality.py            # whole val split
    .venv/bin/python benchmarks/quality.py --quick    # 60 source photos
    .venv/bin/python benchmarks/quality.py --calibrate  # measure percentiles, no Spark
    .venv/bin/python benchmarks/quality.py --cost-only  # cost of the issue-16 checks, no Spark
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "grocery-store"
ROLES = (
    "clean",
    "gaussian_blur",
    "near_copy",
    "motion_blur",
    "underexposed",
    "clean",
    "overexposed",
    "exact_copy",
    "downscaled",
    "featureless",
    "grayscale",
    "screenshot",
    "clean",
    "pocket_shot",
    "panorama",
    "wide_crop",
    "grayscale",
)
CLEAN_ROLES = ("clean", "wide_crop")
FLAGS = (
    "blurry",
    "too_dark",
    "too_bright",
    "low_resolution",
    "duplicate",
    "low_information",
    "grayscale",
    "odd_aspect_ratio",
)


def build_labelled_set(
    sources: list[Path], out: Path, seed: int
) -> tuple[dict[str, set[str]], dict[str, str]]:
    """Write the photos under ``out``; return expected flags and role per file name."""
    from crowdlens.quality.synthetic import ALSO_FLAGS, DISTORTIONS, jpeg_bytes, wide_crop

    rng = np.random.default_rng(seed)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    expected: dict[str, set[str]] = {}
    roles: dict[str, str] = {}

    def put(name: str, data: bytes, flags: set[str], role: str) -> None:
        (out / name).write_bytes(data)
        expected[name], roles[name] = flags, role

    for i, src in enumerate(sources):
        role = ROLES[i % len(ROLES)]
        raw = src.read_bytes()
        # "a_" sorts before "b_": the original is always the first of its pair.
        base = f"{i:05d}"
        if role == "clean":
            put(f"{base}_a_clean.jpg", raw, set(), "clean")
        elif role == "exact_copy":
            put(f"{base}_a_clean.jpg", raw, set(), "clean")
            put(f"{base}_b_exact_copy.jpg", raw, {"duplicate"}, "exact_copy")
        elif role == "near_copy":
            put(f"{base}_a_clean.jpg", raw, set(), "clean")
            copy = DISTORTIONS["near_copy"][0](Image.open(src).convert("RGB"), rng)
            put(f"{base}_b_near_copy.jpg", jpeg_bytes(copy, 85), {"duplicate"}, "near_copy")
        elif role == "wide_crop":
            img = wide_crop(Image.open(src).convert("RGB"), rng)
            put(f"{base}_{role}.jpg", jpeg_bytes(img, 92), set(), role)
        else:
            fn, flag = DISTORTIONS[role]
            img = fn(Image.open(src).convert("RGB"), rng)
            put(f"{base}_{role}.jpg", jpeg_bytes(img, 92), {flag, *ALSO_FLAGS.get(role, ())}, role)
    return expected, roles


def score(
    expected: dict[str, set[str]], got: dict[str, set[str]], roles: dict[str, str]
) -> list[str]:
    lines = [
        f"{'flag':<16}{'n':>5}{'TP':>5}{'FP':>5}{'FN':>5}{'precision':>11}{'recall':>8}{'F1':>7}"
    ]
    for flag in FLAGS:
        tp = sum(flag in expected[k] and flag in got[k] for k in expected)
        fp = sum(flag not in expected[k] and flag in got[k] for k in expected)
        fn = sum(flag in expected[k] and flag not in got[k] for k in expected)
        p = tp / (tp + fp) if tp + fp else float("nan")
        r = tp / (tp + fn) if tp + fn else float("nan")
        f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
        lines.append(f"{flag:<16}{tp + fn:>5}{tp:>5}{fp:>5}{fn:>5}{p:>11.3f}{r:>8.3f}{f1:>7.3f}")
    clean = [k for k in expected if roles[k] in CLEAN_ROLES]
    unflagged = sum(not got[k] for k in clean)
    lines.append(
        f"clean photos left unflagged: {unflagged}/{len(clean)} = {unflagged / len(clean):.1%}"
    )
    new = {"low_information", "grayscale", "odd_aspect_ratio"}
    spared = sum(not (got[k] & new) for k in clean)
    lines.append(
        f"  ... by the issue-16 flags alone: {spared}/{len(clean)} = {spared / len(clean):.1%}"
    )
    wrong = Counter(
        (roles[k], ",".join(sorted(got[k] ^ expected[k])))
        for k in expected
        if got[k] != expected[k]
    )
    for (role, diff), n in wrong.most_common(8):
        lines.append(f"  mistakes: {n:>3} x {role:<14} flags differing: {diff}")
    return lines


def calibrate(sources: list[Path], seed: int) -> None:
    """Percentiles of each measure per role, to choose thresholds (no Spark)."""
    from crowdlens.quality.measures import measure
    from crowdlens.quality.synthetic import DISTORTIONS

    rng = np.random.default_rng(seed)
    names = (
        "blur_extent",
        "sharpness",
        "brightness",
        "dark_fraction",
        "bright_fraction",
        "detail",
        "colorfulness",
        "aspect_ratio",
    )
    per_role: dict[str, list[dict]] = {}
    for src in sources:
        img = Image.open(src).convert("RGB")
        per_role.setdefault("clean", []).append(measure(img).as_dict())
        for role, (fn, _flag) in DISTORTIONS.items():
            if role not in ("near_copy", "downscaled"):
                per_role.setdefault(role, []).append(measure(fn(img, rng)).as_dict())
    q = (0, 1, 5, 50, 95, 99, 100)
    print(f"percentiles {q}")
    for name in names:
        for role, rows in per_role.items():
            v = np.percentile([r[name] for r in rows], q)
            print(f"{name:<16}{role:<15}" + " ".join(f"{x:9.3f}" for x in v))


def new_check_cost(folder: Path, cfg) -> list[str]:
    """Per-photo cost of the issue-16 checks, side by side with the rest (one process).

    Each photo is decoded once as the quality stage does (draft at the analysis
    size); then the original ten measures + pHash, the three new measures, the
    EXIF provenance read and the provenance checks are timed separately. The
    provenance checks get a GPS point and a claimed country on *every* photo
    (the worst case: a point-in-polygon lookup each).
    """
    from crowdlens.decode import decode_image
    from crowdlens.quality import measures as M
    from crowdlens.quality.hashing import phash
    from crowdlens.quality.provenance import provenance_row, read_provenance

    files = sorted(folder.iterdir())
    size = (cfg.analysis_size, cfg.analysis_size)
    t = dict.fromkeys(("old", "new", "exif", "checks"), 0.0)
    provenance_row({S_GPS[0]: 0.0, S_GPS[1]: 0.0}, cfg)  # load the boundaries (once per worker)
    for f in files:
        d = decode_image(f.read_bytes(), draft_size=size)
        arr = np.asarray(d.image)
        t0 = time.perf_counter()
        gray = M.to_gray(arr, cfg.analysis_size)
        M.exposure(gray), M.laplacian_variance(gray), M.blur_extent(gray), M.edge_density(gray)
        M.rms_contrast(gray), M.noise_sigma(gray), phash(d.image)
        t1 = time.perf_counter()
        M.detail(gray), M.colorfulness(arr), M.aspect_ratio(d.width, d.height)
        t2 = time.perf_counter()
        read_provenance(d.exif, cfg.gps_decimals)
        t3 = time.perf_counter()
        meta = {S_GPS[0]: -1.287, S_GPS[1]: 36.818, "country": "Kenya", "software": "x"}
        provenance_row(meta, cfg)
        t4 = time.perf_counter()
        for k, a, b in (("old", t0, t1), ("new", t1, t2), ("exif", t2, t3), ("checks", t3, t4)):
            t[k] += b - a
    n = len(files)
    ms = {k: 1000 * v / n for k, v in t.items()}
    extra = ms["new"] + ms["exif"] + ms["checks"]
    return [
        f"per-photo cost, one process, {n} photos (ms/photo):",
        f"  original measures + pHash          {ms['old']:7.2f}",
        f"  new measures (detail, colour, AR)  {ms['new']:7.2f}",
        f"  EXIF provenance read               {ms['exif']:7.3f}",
        f"  provenance checks (GPS on every)   {ms['checks']:7.2f}",
        f"  issue-16 checks in all             {extra:7.2f} = {extra / ms['old']:.1%} "
        "of the original quality work",
    ]


S_GPS = ("gps_lat", "gps_lon")


def photo_frame(spark, folder: Path):
    """The rows ingest gives a stage: id, path, input position, bytes."""
    from crowdlens import schema as S

    files = sorted(folder.iterdir())
    rows = [(f"img{i:06d}", str(f), i, f.read_bytes()) for i, f in enumerate(files)]
    ddl = f"{S.IMAGE_ID} string, {S.PATH} string, {S.ROW_NUMBER} long, {S.CONTENT} binary"
    return spark.createDataFrame(rows, ddl).repartition(8)


def _decode_batch(batch):
    import pandas as pd

    from crowdlens import schema as S
    from crowdlens.decode import DecodeError, decode_image, sha256_hex

    out = []
    for data in batch[S.CONTENT]:
        try:
            img = decode_image(data)
            out.append((S.STATUS_OK, img.width, img.height, sha256_hex(data)))
        except DecodeError:
            out.append((S.STATUS_ERROR, None, None, sha256_hex(data)))
    return pd.DataFrame(out, columns=[S.STATUS, S.WIDTH, S.HEIGHT, S.SHA256], dtype=object)


def decode_on_spark(df):
    """Full decode of every photo on the workers (the decode stage's work)."""
    from crowdlens import schema as S
    from crowdlens.spark.columns import add_columns

    cols = [S.STATUS, S.WIDTH, S.HEIGHT, S.SHA256]
    return add_columns(df, _decode_batch, [S.CONTENT], cols, name="bench_decode")


def time_it(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--split", default="val")
    ap.add_argument("--limit", type=int, default=0, help="source photos (0 = all)")
    ap.add_argument("--quick", action="store_true", help="60 source photos, 5x join")
    ap.add_argument("--work", type=Path, default=Path("/tmp/crowdlens-quality-bench"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--calibrate", action="store_true", help="print measure percentiles only")
    ap.add_argument("--join-scale", type=int, default=10)
    ap.add_argument(
        "--cost-only", action="store_true", help="per-photo cost of the new checks only, no Spark"
    )
    args = ap.parse_args(argv)
    limit = 60 if args.quick and not args.limit else args.limit
    sources = sorted((args.data / args.split).rglob("*.jpg"))
    if not sources:
        print(f"no photos under {args.data / args.split}", file=sys.stderr)
        return 2
    if limit:
        sources = sources[:: max(1, len(sources) // limit)][:limit]
    if args.calibrate:
        calibrate(sources, args.seed)
        return 0

    from crowdlens import schema as S
    from crowdlens.config import SparkConfig
    from crowdlens.quality.config import QualityConfig
    from crowdlens.quality.duplicates import find_duplicates
    from crowdlens.quality.hashing import phash
    from crowdlens.spark.session import get_spark
    from crowdlens.stages.quality import duplicates_stage, quality_stage

    folder = args.work / "photos"
    expected, roles = build_labelled_set(sources, folder, args.seed)
    print(
        f"labelled set: {len(expected)} photos from {len(sources)} {args.split} photos "
        f"-> {folder}  ({dict(Counter(roles.values()))})"
    )
    cfg = QualityConfig()
    if args.cost_only:
        print("\n".join(new_check_cost(folder, cfg)))
        return 0
    spark = get_spark(SparkConfig(master=args.master, app_name="bench-quality"))
    raw = photo_frame(spark, folder).persist()
    n = raw.count()  # files read once, so the timings below compare like with like
    decoded = decode_on_spark(raw).persist()
    decoded.count()

    # --- accuracy ---------------------------------------------------------------
    measured = quality_stage(decoded, cfg).persist()
    out = duplicates_stage(measured, cfg)
    rows = out.select(S.PATH, S.QUALITY_FLAGS, S.DUPLICATE_KIND).collect()
    got = {Path(r[S.PATH]).name: set(r[S.QUALITY_FLAGS] or []) for r in rows}
    print("\nper-flag accuracy (default QualityConfig):")
    print("\n".join(score(expected, got, roles)))
    measured.unpersist()

    # --- throughput: decode alone vs decode + quality, same photos, same run --------
    def run(df) -> None:
        df.write.format("noop").mode("overwrite").save()

    t_decode = time_it(lambda: run(decode_on_spark(raw)))
    t_both = time_it(lambda: run(quality_stage(decode_on_spark(raw), cfg)))
    print(f"\nthroughput on {n} photos ({args.master}, bytes cached in memory):")
    print(f"  decode alone            {n / t_decode:7.1f} photos/s  ({t_decode:.1f} s)")
    print(f"  decode + quality_stage  {n / t_both:7.1f} photos/s  ({t_both:.1f} s)")
    print(f"  ratio                   {t_decode / t_both:7.2f} (1.0 = quality costs nothing)")
    print()
    print("\n".join(new_check_cost(folder, cfg)))

    # --- duplicate join at 1x and Kx photos ------------------------------------------
    scale = 5 if args.quick else args.join_scale
    pool = sorted((args.data / "train").rglob("*.jpg")) + sorted((args.data / "val").rglob("*.jpg"))
    need = scale * n
    pool = pool[:: max(1, len(pool) // need)][:need]
    t = time.perf_counter()
    hashes = []
    for i, p in enumerate(pool):
        hashes.append((f"h{i:07d}", S.STATUS_OK, p.name, phash(Image.open(p)), i))
    print(
        f"\nduplicate join (pHash of {len(hashes)} real photos computed in "
        f"{time.perf_counter() - t:.1f} s, not part of the timing):"
    )
    schema = f"{S.IMAGE_ID} string, {S.STATUS} string, {S.SHA256} string, {S.PHASH} string, {S.ROW_NUMBER} long"
    timings = {}
    for k in sorted({1, scale}):
        rows_k = hashes[: min(len(hashes), k * n)]
        df = spark.createDataFrame(rows_k, schema).repartition(4).persist()
        df.count()
        dur = time_it(lambda df=df: find_duplicates(df, cfg).count())
        timings[k] = (len(rows_k), dur)
        df.unpersist()
        print(f"  {k:>3}x  {len(rows_k):>6} photos  {dur:6.1f} s")
    if len(timings) == 2:
        (n1, t1), (nk, tk) = timings[1], timings[scale]
        print(
            f"  time ratio {tk / t1:.2f} for {nk / n1:.1f}x photos "
            f"(an all-pairs join would be {(nk / n1) ** 2:.0f}x the pairs)"
        )
    spark.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
